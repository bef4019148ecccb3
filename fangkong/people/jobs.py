"""Background work for the person register: export to xlsx in the register's own layout.

The columns carry the register's header names, so an unmasked export can be
corrected in Excel and imported again. Masked is the default; the plain ID
number and phone need the reveal permission and a reason, both audited.
"""

import uuid

import xlsxwriter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.urls import reverse

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event

from .filtersets import PersonFilterSet
from .selectors import people_for


def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def _columns(unmasked: bool):
    document = (lambda p: p.document_number) if unmasked else (lambda p: p.doc_masked)
    phone = (lambda p: p.phone) if unmasked else (lambda p: p.phone_masked)
    return [
        ("姓名", lambda p: p.name),
        ("性别", lambda p: p.get_sex_display() if p.sex != "U" else ""),
        ("公民身份号码", document),
        ("联系电话", phone),
        ("出生日期", lambda p: p.birth_date.isoformat() if p.birth_date else ""),
        ("证件类型", lambda p: p.get_doc_type_display()),
        ("楼栋", lambda p: p.household.building.name if p.household_id and p.household.building_id else ""),
        ("单元", lambda p: p.household.unit if p.household_id else ""),
        ("门牌号", lambda p: p.household.door if p.household_id else ""),
        ("与户主关系", lambda p: p.get_relation_display() if p.relation else ""),
        ("人员类别", lambda p: "、".join(kg.name for kg in p.key_groups.all())),
        ("是否流动人口", lambda p: _yes(p.is_floating)),
        ("是否出租房", lambda p: _yes(p.is_rental_tenant)),
        ("困难群体类别", lambda p: p.get_vulnerable_group_display() if p.vulnerable_group else ""),
        ("是否独居老人", lambda p: _yes(p.lives_alone_elderly)),
        ("现住址", lambda p: p.address),
        ("网格编码", lambda p: p.area_id),
        ("所属村（社区）", lambda p: p.area.parent.name if p.area.parent_id else ""),
        ("所属网格", lambda p: p.area.name),
    ]


def export_people_job(job, progress, query: str, unmasked: bool = False, reason: str = "") -> dict:
    """Write the filtered people list to an xlsx file, with progress."""
    user = get_user_model().objects.select_related("area").get(pk=job.created_by_id)
    if unmasked and not (user.has_perm("people.reveal_person") and len(reason.strip()) >= 2):
        raise PermissionDenied("导出明文须有查看明文权限并填写事由")
    filterset = PersonFilterSet(QueryDict(query), queryset=people_for(user, "export"))
    people = (
        filterset.qs.select_related("area__parent", "household__building").prefetch_related("key_groups")
        .order_by("area_id", "name", "id")
    )
    total = people.count()
    progress(0, total)
    folder = settings.MEDIA_ROOT / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.xlsx"
    workbook = xlsxwriter.Workbook(str(folder / name), {"constant_memory": True})
    sheet = workbook.add_worksheet("人员")
    bold = workbook.add_format({"bold": True})
    columns = _columns(unmasked)
    for col, (header, _value) in enumerate(columns):
        sheet.write_string(0, col, header, bold)
    row = 0
    for row, person in enumerate(people.iterator(chunk_size=2000), start=1):
        for col, (_header, value) in enumerate(columns):
            sheet.write_string(row, col, str(value(person) or ""))
        if row % 2000 == 0:
            progress(row, total)
    workbook.close()
    record_event(user, AuditAction.EXPORT, object_type="people.person",
                 object_repr=f"人员名单 {row} 人{'（明文）' if unmasked else ''}",
                 changes={"query": query, "rows": row, "unmasked": unmasked}, reason=reason,
                 area_code=user.area_id or "")
    return {"file": name, "filename": "人员名单.xlsx", "rows": row, "unmasked": unmasked,
            "file_url": reverse("core:job_file", args=[job.pk]), "summary": [["导出人数", row]]}
