"""Background work for the person register: export to xlsx."""

import uuid

import xlsxwriter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import QueryDict

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event

from .filtersets import PersonFilterSet
from .selectors import people_for

EXPORT_COLUMNS = [
    ("姓名", lambda p: p.name),
    ("性别", lambda p: p.get_sex_display()),
    ("出生日期", lambda p: p.birth_date.isoformat() if p.birth_date else ""),
    ("证件类型", lambda p: p.get_doc_type_display()),
    ("证件号码（脱敏）", lambda p: p.doc_masked),
    ("联系电话（脱敏）", lambda p: p.phone_masked),
    ("所属村（社区）", lambda p: p.area.parent.name if p.area.parent_id else ""),
    ("所属网格", lambda p: p.area.name),
    ("网格编码", lambda p: p.area_id),
    ("现住址", lambda p: p.address),
    ("与户主关系", lambda p: p.get_relation_display()),
    ("流动人口", lambda p: "是" if p.is_floating else ""),
    ("租户", lambda p: "是" if p.is_rental_tenant else ""),
    ("困难群体类别", lambda p: p.get_vulnerable_group_display() if p.vulnerable_group else ""),
    ("独居老人", lambda p: "是" if p.lives_alone_elderly else ""),
]


def export_people_job(job, progress, query: str) -> dict:
    """Write the filtered people list (masked) to an xlsx file, with progress."""
    user = get_user_model().objects.select_related("area").get(pk=job.created_by_id)
    filterset = PersonFilterSet(QueryDict(query), queryset=people_for(user, "export"))
    people = filterset.qs.select_related("area__parent").order_by("area_id", "name", "id")
    total = people.count()
    progress(0, total)
    folder = settings.MEDIA_ROOT / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.xlsx"
    workbook = xlsxwriter.Workbook(str(folder / name), {"constant_memory": True})
    sheet = workbook.add_worksheet("人员")
    bold = workbook.add_format({"bold": True})
    for col, (header, _) in enumerate(EXPORT_COLUMNS):
        sheet.write(0, col, header, bold)
    row = 0
    for row, person in enumerate(people.iterator(chunk_size=2000), start=1):
        for col, (_, value) in enumerate(EXPORT_COLUMNS):
            sheet.write_string(row, col, str(value(person) or ""))
        if row % 2000 == 0:
            progress(row, total)
    workbook.close()
    record_event(user, AuditAction.EXPORT, object_type="people.person", object_repr=f"人员名单 {row} 人",
                 changes={"query": query, "rows": row}, area_code=user.area_id or "")
    return {"file": name, "filename": "人员名单.xlsx", "rows": row, "summary": [["导出人数", row]]}
