"""Key-group schedules (应检尽检): who is due, who is late, by department, employer and township.

Every roster entry keeps ``next_due``, the local date by which the member
must next be sampled: the local date of their last sample plus the group's
interval (a member never sampled is due from the day they were listed; a
group without an interval schedules nobody, ``next_due`` empty). A sample
moves it at once (``record_samples``, called by services.add_sample);
``refresh_all`` recomputes it from the samples in a few set-based UPDATEs
(after an import, and nightly). Relative to a day, an entry is

* on time: ``next_due`` after the day;
* due today: ``next_due`` is the day;
* overdue: ``next_due`` before the day,

so that coverage is one aggregate over the (group, is_active, next_due)
index however large the roster ("分解到部门、细化到人头").
"""

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import xlsxwriter
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    Count,
    DateField,
    DateTimeField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import Coalesce, Substr, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.accounts.models import Organization
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.querysets import DistinctFrom
from fangkong.core.scope import in_scope
from fangkong.core.tabular import (
    HEADER_SEARCH_ROWS,
    Headers,
    ImportFileError,
    RowError,
    read_tables,
    rows_under_header,
)
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import KeyGroup, Person, document_index
from fangkong.policy.services import refresh_statuses
from fangkong.tasks.models import Task
from fangkong.tasks.services import OFFICER_ROLE_FOR_LEVEL, create_task

from .models import RosterEntry, Sample

TASK_KIND = "keygroup_overdue"
BY_CHOICES = ("department", "employer", "township")
CHUNK = 900
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
FILE_TYPES = (".xlsx", ".xlsm", ".ods", ".csv", ".txt")
TASK_HOURS = 24


# Due dates ---------------------------------------------------------------------------------------
def next_due(last_sampled_at, interval_days) -> date | None:
    """The local date by which a member sampled at LAST_SAMPLED_AT is next due; None without an interval."""
    if not interval_days or last_sampled_at is None:
        return None
    if isinstance(last_sampled_at, datetime):
        last_sampled_at = timezone.localtime(last_sampled_at).date() if timezone.is_aware(
            last_sampled_at) else last_sampled_at.date()
    return last_sampled_at + timedelta(days=int(interval_days))


def _due_expression(interval_days: int):
    """next_due in SQL: local date of (last sample + N days), or the listing day when never sampled."""
    tz = timezone.get_current_timezone()
    shifted = ExpressionWrapper(F("last_sampled_at") + timedelta(days=interval_days), output_field=DateTimeField())
    return Coalesce(TruncDate(shifted, tzinfo=tz), TruncDate("added_at", tzinfo=tz), output_field=DateField())


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def record_samples(person_ids, sampled_at) -> int:
    """People PERSON_IDS were sampled at SAMPLED_AT: move their active entries' next due date. Returns rows moved."""
    person_ids = list(dict.fromkeys(person_ids))
    if not person_ids or sampled_at is None:
        return 0
    moved = 0
    later = Q(last_sampled_at__isnull=True) | Q(last_sampled_at__lt=sampled_at)
    for ids in _chunks(person_ids):
        entries = RosterEntry.objects.filter(person_id__in=ids, is_active=True).filter(later)
        intervals = set(entries.order_by().values_list("group__test_interval_days", flat=True).distinct())
        for interval in intervals:
            rows = entries.filter(group__test_interval_days=interval) if interval is not None else entries.filter(
                group__test_interval_days__isnull=True)
            moved += rows.update(last_sampled_at=sampled_at, next_due=next_due(sampled_at, interval))
    return moved


def _update_changed(rows, field: str, value) -> int:
    """UPDATE ROWS SET FIELD = VALUE only where the two differ (NULL counts as a value), so that a nightly
    repair rewrites the few rows that are wrong, not every row and its indexes. Returns the rows changed."""
    return rows.filter(DistinctFrom(F(field), value)).update(**{field: value})


@transaction.atomic
def refresh_all(entries=None) -> int:
    """Recompute last_sampled_at and next_due of ENTRIES (default: every roster entry) from the samples.

    One UPDATE for the last sample (the latest Sample of the person, through
    the (person, sampled_at) index), then one per distinct group interval;
    each writes only the rows whose value changes. Returns how many rows got a new last sample.
    """
    entries = RosterEntry.objects.all() if entries is None else entries
    entries = entries.order_by()
    latest = (Sample.objects.filter(person_id=OuterRef("person_id")).order_by().values("person_id")
              .annotate(last=Max("sampled_at")).values("last")[:1])
    count = _update_changed(entries, "last_sampled_at", Subquery(latest))
    reschedule(entries)
    return count


def reschedule(entries) -> None:
    """Recompute next_due of ENTRIES from their last_sampled_at: one UPDATE per distinct group interval."""
    entries = entries.order_by()
    intervals = dict(KeyGroup.objects.values_list("pk", "test_interval_days"))
    by_interval: dict = {}
    for group_id in entries.values_list("group_id", flat=True).distinct():
        by_interval.setdefault(intervals.get(group_id), []).append(group_id)
    for interval, group_ids in by_interval.items():
        rows = entries.filter(group_id__in=group_ids)
        if interval:
            _update_changed(rows, "next_due", _due_expression(interval))
        else:
            rows.filter(next_due__isnull=False).update(next_due=None)


# Who sees what -----------------------------------------------------------------------------------
def roster_for(user, group=None, action: str = "view"):
    """The active roster entries USER may see: their area, and only their own department's for a department officer."""
    rows = RosterEntry.objects.restrict(user, action).filter(is_active=True)
    if user.is_authenticated and user.role == Role.DEPT_OFFICER:
        rows = rows.filter(department_id=user.organization_id) if user.organization_id else rows.none()
    if group is not None:
        rows = rows.filter(group_id=getattr(group, "pk", group))
    return rows


def _today(today=None) -> date:
    return today or timezone.localdate()


def _counts(today: date) -> dict:
    return {
        "members": Count("id"),
        "on_time": Count("id", filter=Q(next_due__gt=today)),
        "due_today": Count("id", filter=Q(next_due=today)),
        "overdue": Count("id", filter=Q(next_due__lt=today)),
    }


def _with_rate(row: dict) -> dict:
    scheduled = row["on_time"] + row["due_today"] + row["overdue"]
    row["on_time_pct"] = round(100 * row["on_time"] / scheduled, 1) if scheduled else None
    return row


def coverage(user, group=None, today=None, by: str = "department") -> dict:
    """Members on time / due today / overdue, by department, employer or township, with totals.

    Returns {"by", "today", "rows": [{key, label, members, on_time, due_today, overdue, on_time_pct}], "totals"}.
    """
    if by not in BY_CHOICES:
        raise ValidationError({"by": [_("分组方式应为 department、employer 或 township。")]})
    today = _today(today)
    rows = roster_for(user, group).order_by()
    counts = _counts(today)
    if by == "department":
        data = list(rows.values(key=F("department_id")).annotate(**counts).order_by("key"))
        names = dict(Organization.objects.filter(pk__in=[r["key"] for r in data if r["key"]])
                     .values_list("pk", "name"))
        for r in data:
            r["label"] = names.get(r["key"], "") if r["key"] else _("未指定部门")
    elif by == "employer":
        data = list(rows.values(key=F("employer")).annotate(**counts).order_by("key"))
        for r in data:
            r["label"] = r["key"] or _("未填工作单位")
    else:
        township = Substr(Coalesce("employer_area_id", "area_id"), 1, 9)
        data = list(rows.annotate(key=township).values("key").annotate(**counts).order_by("key"))
        codes = {f"{r['key']}000": r["key"] for r in data if r["key"]}
        names = {codes[code]: name for code, name in Area.objects.filter(code__in=codes).values_list("code", "name")}
        for r in data:
            r["label"] = names.get(r["key"]) or r["key"] or ""
    data.sort(key=lambda r: (-r["overdue"], str(r["label"])))
    totals = {name: sum(r[name] for r in data) for name in ("members", "on_time", "due_today", "overdue")}
    return {"by": by, "today": today, "rows": [_with_rate(r) for r in data], "totals": _with_rate(totals)}


def group_summaries(user, today=None) -> list[dict]:
    """Every active key group with its interval, department and the user's view of its roster (one query)."""
    today = _today(today)
    counts = {r["group_id"]: r for r in roster_for(user).order_by().values("group_id").annotate(**_counts(today))}
    groups = []
    for group in KeyGroup.objects.filter(is_active=True).select_related("department"):
        row = counts.get(group.pk, {"members": 0, "on_time": 0, "due_today": 0, "overdue": 0})
        groups.append({"group": group, **_with_rate({k: row[k] for k in ("members", "on_time", "due_today",
                                                                           "overdue")})})
    return groups


def overdue(user, group=None, today=None):
    """The user's overdue members, longest overdue first."""
    return (roster_for(user, group).filter(next_due__lt=_today(today))
            .select_related("person", "group", "department", "employer_area", "area")
            .order_by("next_due", "id"))


# Overdue tasks -----------------------------------------------------------------------------------
def _day_start(today: date) -> datetime:
    return timezone.make_aware(datetime.combine(today, time.min))


def overdue_tasks(user, group=None, today=None) -> dict:
    """The user's overdue members of GROUP (or all their groups) as tasks: see create_overdue_tasks."""
    if not (user.has_perm("testing.view_rosterentry") and user.has_perm("tasks.add_task")):
        raise PermissionDenied
    return create_overdue_tasks(overdue(user, group, today), _today(today), created_by=user)


def create_overdue_tasks(entries, today: date, created_by=None) -> dict:
    """One task per (group, area) among the overdue ENTRIES: the employer's township, else the member's grid.

    Run again the same day it creates nothing new. Returns {"created", "existing", "members"}.
    """
    target = Coalesce("employer_area_id", "area_id")
    counted = list(entries.order_by().annotate(target=target)
                   .values("group_id", "target").annotate(n=Count("id")).order_by("group_id", "target"))
    if not counted:
        return {"created": 0, "existing": 0, "members": 0}
    groups = KeyGroup.objects.in_bulk({r["group_id"] for r in counted})
    areas = Area.objects.in_bulk({r["target"] for r in counted})
    employers: dict = {}
    for r in (entries.order_by().annotate(target=target)
              .values("group_id", "target", "employer").annotate(n=Count("id")).order_by("-n")):
        employers.setdefault((r["group_id"], r["target"]), []).append((r["employer"] or _("未填工作单位"), r["n"]))
    group_type = Task._meta.get_field("subject_type").related_model.objects.get_for_model(KeyGroup)
    done = set(Task.objects.filter(kind=TASK_KIND, subject_type=group_type, created_at__gte=_day_start(today))
               .values_list("subject_id", "area_id"))
    created = existing = 0
    deadline = timezone.now() + timedelta(hours=TASK_HOURS)
    with transaction.atomic():
        for r in counted:
            key_group, area = groups[r["group_id"]], areas[r["target"]]
            if (str(key_group.pk), area.pk) in done:
                existing += 1
                continue
            lines = [f"{name}：{n}" for name, n in employers.get((key_group.pk, area.pk), [])[:30]]
            description = _("%(area)s 有 %(n)d 名“%(group)s”人员逾期未检测，请督促其尽快采样。") % {
                "area": area.name, "n": r["n"], "group": key_group.name}
            if lines:
                description += "\n" + _("按工作单位：") + "\n" + "\n".join(lines)
            create_task(kind=TASK_KIND, title=_("重点人群逾期未检：%(group)s %(n)d 人") % {
                            "group": key_group.name, "n": r["n"]},
                        area=area, role=OFFICER_ROLE_FOR_LEVEL.get(area.level, Role.TOWNSHIP_OFFICER),
                        deadline=deadline, subject=key_group, description=description, created_by=created_by)
            created += 1
    return {"created": created, "existing": existing, "members": sum(r["n"] for r in counted)}


# Roster import -----------------------------------------------------------------------------------
HEADERS = {
    "id_number": ["身份证号", "身份证号码", "公民身份号码", "公民身份证号", "证件号码", "身份证"],
    "name": ["姓名", "名字"],
    "employer": ["工作单位", "单位", "单位名称", "所在单位"],
    "township": ["所在乡镇", "乡镇", "乡镇（街道）", "单位所在乡镇", "乡镇街道", "所属乡镇"],
}
TEMPLATE_COLUMNS = ["身份证号", "姓名", "工作单位", "所在乡镇"]


HEADER_MAP = Headers(HEADERS)


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _read_rows(upload) -> list[tuple[int, dict]]:
    suffix = Path(getattr(upload, "name", "") or "").suffix.lower()
    if upload.size > MAX_BYTES:
        raise ImportFileError(_("文件超过 %(mb)d MB 上限。") % {"mb": MAX_BYTES // 1024 // 1024})
    if suffix not in FILE_TYPES:
        raise ImportFileError(_("只支持 Excel 工作簿（.xlsx）或 CSV 文件。"))
    return rows_under_header(
        read_tables(upload.read(), suffix), HEADER_MAP, lambda c: "id_number" in c and "name" in c,
        max_rows=MAX_ROWS,
        not_found=_("找不到表头：前 %(n)d 行中须有一行含“身份证号”“姓名”。请使用导入模板。") % {"n": HEADER_SEARCH_ROWS})


def _townships() -> dict[str, list[Area]]:
    found: dict[str, list[Area]] = {}
    for area in Area.objects.filter(level=AreaLevel.TOWNSHIP):
        found.setdefault(area.name, []).append(area)
        found.setdefault(area.code, []).append(area)
    return found


def _department_for(user, group: KeyGroup):
    if user.role == Role.DEPT_OFFICER:
        return user.organization_id
    return group.department_id


def roster_import(user, uploaded_file, group: KeyGroup) -> ImportReport:
    """Add the people of UPLOADED_FILE to GROUP's roster; the whole file or nothing.

    Each row names a person already in the register by ID number (and the
    same name), their employer and, optionally, the employer's township. A
    person already listed is updated (employer, township, back on the
    roster); the same person twice in the file is taken once.
    """
    if not user.has_perm("testing.add_rosterentry"):
        raise PermissionDenied
    if user.role == Role.DEPT_OFFICER and not user.organization_id:
        raise PermissionDenied
    report = ImportReport()
    townships = _townships()
    prefix = user.scope_prefix
    wanted: dict[int, dict] = {}
    for number, record in _read_rows(uploaded_file):
        problems = []
        name = re.sub(r"\s", "", _text(record.get("name")))
        person = None
        try:
            doc = identity.validate_resident_id(_text(record.get("id_number")))
        except ValidationError as exc:
            problems.append(_("身份证号码有误：%(error)s") % {"error": exc.messages[0]})
        else:
            person = Person.objects.current().with_document(document_index(DocumentType.RESIDENT_ID, doc)).first()
            if person is None or not in_scope(person.area_id, prefix):
                problems.append(_("人员库中无此人，请先登记"))
                person = None
            elif not name:
                problems.append(_("请填写姓名。"))
            elif name != person.name:
                problems.append(_("姓名与人员库不符（身份证号对应的姓名不是“%(name)s”）。") % {"name": name})
        employer = _text(record.get("employer"))[:100]
        employer_area = None
        township = re.sub(r"\s", "", _text(record.get("township")))
        if township:
            found = townships.get(township, [])
            if len(found) != 1:
                problems.append(_("找不到乡镇“%(name)s”（或有重名，请改填区划编码）。") % {"name": township}
                                if not found else _("乡镇名称“%(name)s”有重名，请改填区划编码。") % {"name": township})
            else:
                employer_area = found[0]
        if problems:
            report.errors.append(RowError(number, problems))
            continue
        wanted[person.pk] = {"person": person, "employer": employer, "employer_area": employer_area}
    if report.errors:
        return report
    department_id = _department_for(user, group)
    with transaction.atomic():
        existing = {e.person_id: e for e in RosterEntry.objects.filter(group=group, person_id__in=list(wanted))}
        new, changed = [], []
        for person_id, data in wanted.items():
            entry = existing.get(person_id)
            if entry is None:
                new.append(RosterEntry(group=group, person_id=person_id, area_id=data["person"].area_id,
                                       employer=data["employer"], employer_area=data["employer_area"],
                                       department_id=department_id, added_by=user))
                continue
            values = {"employer": data["employer"], "employer_area_id": getattr(data["employer_area"], "pk", None),
                      "is_active": True, "area_id": data["person"].area_id}
            if entry.department_id is None:
                values["department_id"] = department_id
            if all(getattr(entry, k) == v for k, v in values.items()):
                report.unchanged += 1
                continue
            for k, v in values.items():
                setattr(entry, k, v)
            changed.append(entry)
        RosterEntry.objects.bulk_create(new, batch_size=1000)
        RosterEntry.objects.bulk_update(changed, ["employer", "employer_area_id", "is_active", "area_id",
                                                  "department_id"], batch_size=1000)
        report.created, report.updated = len(new), len(changed)
        touched = [e.person_id for e in new] + [e.person_id for e in changed]
        for ids in _chunks(touched):
            refresh_all(RosterEntry.objects.filter(group=group, person_id__in=ids))
        refresh_statuses(touched)  # an overdue member scans yellow from now on, the others when they fall due
        record_event(user, AuditAction.IMPORT, group,
                     object_repr=str(group), changes={"file": getattr(uploaded_file, "name", ""),
                                                      "created": report.created, "updated": report.updated,
                                                      "unchanged": report.unchanged})
    return report


def template_xlsx() -> bytes:
    """The roster workbook: the four columns as text (an ID number keeps its 18 digits) and how to fill them."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet(_("重点人群名单"))
    header = workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    text = workbook.add_format({"num_format": "@"})
    for column, name in enumerate(TEMPLATE_COLUMNS):
        sheet.write_string(0, column, name, header)
    sheet.set_column(0, 0, 22, text)
    sheet.set_column(1, 1, 12, text)
    sheet.set_column(2, 2, 30, text)
    sheet.set_column(3, 3, 16, text)
    sheet.freeze_panes(1, 0)
    townships = list(Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code").values_list("name", flat=True))
    if townships:
        sheet.data_validation(1, 3, MAX_ROWS, 3, {"validate": "list", "source": townships[:200],
                                                  "error_type": "warning"})
    notes = workbook.add_worksheet(_("填写说明"))
    notes.set_column(0, 0, 100)
    lines = [
        _("1. 每行一名人员，从第2行起填写；不要改动表头。身份证号和姓名必填，须与人员库一致（不在人员库的先登记）。"),
        _("2. 身份证号按文本填写 18 位（本表已设为文本格式，末位 X 大小写均可）。"),
        _("3. 工作单位填单位全称；所在乡镇填单位所在的乡镇（街道）名称或区划代码，逾期提醒派给该乡镇，不填则派给本人所在网格。"),
        _("4. 导入到哪个重点人群，在导入页面选择；每次最多 %(rows)d 行，文件不超过 %(mb)d MB。")
        % {"rows": MAX_ROWS, "mb": MAX_BYTES // 1024 // 1024},
        _("5. 整个文件一起导入：任何一行有误则全部不导入，页面会逐行列出问题；已在名单中的人员更新其工作单位。"),
    ]
    for index, line in enumerate(lines):
        notes.write_string(index, 0, line)
    workbook.close()
    return buffer.getvalue()


# Key groups (HQ) ---------------------------------------------------------------------------------
GROUP_FIELDS = ("test_interval_days", "department", "identified_by")


def _check_group(data: dict) -> None:
    interval = data.get("test_interval_days")
    if interval is not None and not 1 <= int(interval) <= 365:
        raise ValidationError({"test_interval_days": [_("检测间隔应为 1 至 365 天，或留空表示不定期检测。")]})


@transaction.atomic
def create_group(user, data: dict) -> KeyGroup:
    """A new key group: code, name, test_interval_days, department, identified_by (HQ)."""
    if not user.has_perm("people.add_keygroup"):
        raise PermissionDenied
    _check_group(data)
    code, name = str(data.get("code") or "").strip(), str(data.get("name") or "").strip()
    problems = {}
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", code):
        problems["code"] = [_("代码为 1 至 40 位字母、数字、下划线或连字符。")]
    elif KeyGroup.objects.filter(code=code).exists():
        problems["code"] = [_("该代码已被使用。")]
    if not name or len(name) > 60:
        problems["name"] = [_("名称必填，至多 60 个字。")]
    elif KeyGroup.objects.filter(name=name).exists():
        problems["name"] = [_("已有同名重点人群。")]
    if problems:
        raise ValidationError(problems)
    group = KeyGroup.objects.create(code=code, name=name, test_interval_days=data.get("test_interval_days"),
                                    department=data.get("department"),
                                    identified_by=str(data.get("identified_by") or "")[:200],
                                    sort_order=(KeyGroup.objects.aggregate(m=Max("sort_order"))["m"] or 0) + 1)
    record_event(user, AuditAction.CREATE, group, object_repr=name,
                 changes={"code": code, "test_interval_days": group.test_interval_days,
                          "department": group.department_id, "identified_by": group.identified_by})
    return group


@transaction.atomic
def update_group(user, group: KeyGroup, data: dict) -> KeyGroup:
    """Change a group's interval, department or how members are identified (HQ); a new interval reschedules."""
    if not user.has_perm("people.change_keygroup"):
        raise PermissionDenied
    _check_group(data)
    before = {"test_interval_days": group.test_interval_days, "department": group.department_id,
              "identified_by": group.identified_by}
    group.test_interval_days = data.get("test_interval_days")
    group.department = data.get("department")
    group.identified_by = str(data.get("identified_by") or "")[:200]
    group.save(update_fields=["test_interval_days", "department", "identified_by"])
    after = {"test_interval_days": group.test_interval_days, "department": group.department_id,
             "identified_by": group.identified_by}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        record_event(user, AuditAction.UPDATE, group, object_repr=group.name, changes=changes)
    if "test_interval_days" in changes:
        reschedule(RosterEntry.objects.filter(group=group))
    return group
