"""Register import workflows: upload, confirm the columns, dry run, commit.

The dry run and the commit are background jobs (``register.jobs``); the
commit plans again inside one transaction and writes everything or nothing.
"""

import hashlib
import uuid
from collections import defaultdict
from pathlib import Path

import xlsxwriter
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.areas.models import Area, Building, Household
from fangkong.audit.choices import AuditAction
from fangkong.audit.models import AuditEvent
from fangkong.audit.services import record_event
from fangkong.core.choices import JobStatus
from fangkong.core.jobs import start_job
from fangkong.core.scope import in_scope

from .. import identity
from ..models import ImportMapping, ImportStatus, KeyGroup, Person, RegisterImport, document_index
from ..services import recount_population
from . import bulk
from .fields import FIELDS, guess_mapping, normalize_header
from .plan import Plan, make_plan
from .reader import check_size, read_register

BATCH = 2000


def import_folder() -> Path:
    folder = settings.MEDIA_ROOT / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def batch_path(batch: RegisterImport) -> Path:
    return import_folder() / batch.stored_name


@transaction.atomic
def upload_register(user, upload, area: Area) -> RegisterImport:
    """Store an uploaded register, read its headers and guess the columns.

    Raises ValidationError (a size limit, an unreadable file) before anything is kept.
    """
    if not user.has_perm("people.add_person"):
        raise PermissionDenied
    if area is None or not in_scope(area.code, user.scope_prefix):
        raise ValidationError({"area": _("所选区划不在您的管辖范围内。")})
    check_size(upload.size)
    stored = f"{uuid.uuid4().hex}{Path(upload.name).suffix.lower()[:8]}"
    path = import_folder() / stored
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for chunk in upload.chunks():
            digest.update(chunk)
            out.write(chunk)
    try:
        sheets = read_register(path, upload.name)
    except ValueError as exc:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": str(exc)}) from exc
    headers = sheets[0].headers
    remembered = ImportMapping.objects.filter(area=area).values_list("mapping", flat=True).first() or {}
    mapping = {}
    for index, field in guess_mapping(headers).items():
        mapping[normalize_header(headers[index])] = field
    for header in headers:
        key = normalize_header(header)
        if key in remembered:
            mapping[key] = remembered[key]
    batch = RegisterImport.objects.create(
        area=area, filename=upload.name[:200], stored_name=stored, sha256=digest.hexdigest(), size=upload.size,
        sheets=[{"name": s.name, "header_row": s.header_row, "headers": s.headers, "rows": len(s.rows)}
                for s in sheets],
        mapping={k: v for k, v in mapping.items() if v}, created_by=user,
    )
    record_event(user, AuditAction.IMPORT, batch, object_repr=batch.filename,
                 changes={"stage": "upload", "rows": sum(len(s.rows) for s in sheets)})
    return batch


def headers_of(batch: RegisterImport) -> list[str]:
    """Every distinct header of the batch's sheets, in order."""
    seen = {}
    for sheet in batch.sheets:
        for header in sheet["headers"]:
            key = normalize_header(header)
            if key and key not in seen:
                seen[key] = header
    return list(seen)


@transaction.atomic
def save_mapping(user, batch: RegisterImport, mapping: dict) -> RegisterImport:
    """Confirm which column is which (header text -> field code; "" ignores a column)."""
    if effective_status(batch) not in (ImportStatus.UPLOADED, ImportStatus.PLANNED, ImportStatus.FAILED):
        raise ValidationError(_("该批次正在处理或已导入，不能再修改列对应。"))
    clean = {}
    used = {}
    for header, code in mapping.items():
        if not code:
            continue
        if code not in FIELDS:
            raise ValidationError(_("未知的字段：%(code)s") % {"code": code})
        if code in used:
            raise ValidationError(_("“%(a)s”和“%(b)s”都对应到了“%(field)s”，一个字段只能对应一列。") % {
                "a": used[code], "b": header, "field": FIELDS[code][0]})
        used[code] = header
        clean[normalize_header(header)] = code
    if "name" not in clean.values():
        raise ValidationError(_("必须指定“姓名”列。"))
    if "id_number" not in clean.values():
        raise ValidationError(_("必须指定“公民身份号码”列：同一人靠身份证号识别。"))
    batch.mapping = clean
    batch.status = ImportStatus.UPLOADED
    batch.save(update_fields=["mapping", "status"])
    ImportMapping.objects.update_or_create(area=batch.area, defaults={"mapping": clean})
    return batch


def effective_status(batch: RegisterImport) -> str:
    """The batch's status, taking a job that died (reaped or failed) as a failed batch."""
    job = {ImportStatus.PLANNING: batch.plan_job, ImportStatus.COMMITTING: batch.commit_job}.get(batch.status)
    if job is not None and (job.status == JobStatus.FAILED or job.apply_live_progress().is_stale):
        return ImportStatus.FAILED
    return batch.status


def start_dry_run(user, batch: RegisterImport):
    if effective_status(batch) in (ImportStatus.PLANNING, ImportStatus.COMMITTING, ImportStatus.COMMITTED):
        raise ValidationError(_("该批次正在处理或已导入。"))
    job = start_job(user, "people.register_dry_run", _("人口信息预检：%(file)s") % {"file": batch.filename},
                    "fangkong.people.register.jobs.dry_run_job", area_code=batch.area_id, batch=batch.pk)
    RegisterImport.objects.filter(pk=batch.pk).update(status=ImportStatus.PLANNING, plan_job=job)
    return job


def start_commit(user, batch: RegisterImport, *, then_dry_run: bool = False):
    """Queue the commit. The batch must have had its dry run, unless the API asks for both in one go."""
    status = effective_status(batch)
    if status == ImportStatus.COMMITTED:
        raise ValidationError(_("该批次已导入，无需重复提交。"))
    if status in (ImportStatus.PLANNING, ImportStatus.COMMITTING):
        raise ValidationError(_("该批次正在处理，请稍候。"))
    if status not in (ImportStatus.PLANNED, ImportStatus.FAILED) and not then_dry_run:
        raise ValidationError(_("请先预检，确认结果后再导入。"))
    job = start_job(user, "people.register_commit", _("人口信息导入：%(file)s") % {"file": batch.filename},
                    "fangkong.people.register.jobs.commit_job", area_code=batch.area_id, batch=batch.pk)
    RegisterImport.objects.filter(pk=batch.pk).update(status=ImportStatus.COMMITTING, commit_job=job)
    return job


def summarize(plan: Plan, limit: int = 50) -> dict:
    """What the batch page shows of a plan: counts, sample changes and rejections."""
    updates = [{"sheet": r.sheet, "row": r.row, "name": identity.mask_name(r.data["name"]), "changes": r.changes}
               for r in plan.accepted if r.action == "update"][:limit]
    new = [{"sheet": r.sheet, "row": r.row, "name": identity.mask_name(r.data["name"]),
            "number": identity.mask_document(r.data["number"])} for r in plan.accepted if r.action == "new"][:limit]
    rejected = [{"sheet": r.sheet, "row": r.row, "reasons": r.reasons} for r in plan.rejected[:limit * 2]]
    return {"counts": plan.counts(), "updates": updates, "new": new, "rejected": rejected}


def write_error_report(batch: RegisterImport, plan: Plan) -> str:
    """The rejected rows as they were, plus the reason, for fixing and re-uploading."""
    if not plan.rejected:
        return ""
    name = f"{batch.stored_name.split('.')[0]}-errors.xlsx"
    workbook = xlsxwriter.Workbook(str(import_folder() / name), {"constant_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet(_("错误行"))
    bold = workbook.add_format({"bold": True})
    text = workbook.add_format({"num_format": "@"})
    headers = plan.sheets[0].headers if plan.sheets else []
    for col, title in enumerate([_("工作表"), _("行号"), _("错误原因"), *headers]):
        sheet.write_string(0, col, str(title), bold)
    for line, rejected in enumerate(plan.rejected, start=1):
        sheet.write_string(line, 0, rejected.sheet)
        sheet.write_number(line, 1, rejected.row)
        sheet.write_string(line, 2, "；".join(rejected.reasons))
        for col, value in enumerate(rejected.values, start=3):
            # As text, so that Excel does not mangle the ID numbers a second time.
            sheet.write_string(line, col, "" if value is None else _as_text(value), text)
    workbook.close()
    return name


def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def run_dry_run(batch: RegisterImport, user, progress=None) -> dict:
    plan = make_plan(batch, user, batch_path(batch), progress)
    batch.summary = summarize(plan)
    batch.error_report = write_error_report(batch, plan)
    batch.status = ImportStatus.PLANNED
    batch.save(update_fields=["summary", "error_report", "status"])
    return plan.counts()


def run_commit(batch: RegisterImport, user, progress=None) -> dict:
    """Plan again and write the accepted rows, all in one transaction."""
    with transaction.atomic():
        plan = make_plan(batch, user, batch_path(batch), progress)
        written = _write(plan, user, progress)
        recount_population()
        batch.summary = summarize(plan)
        batch.error_report = write_error_report(batch, plan)
        batch.status = ImportStatus.COMMITTED
        batch.committed_at = timezone.now()
        batch.save(update_fields=["summary", "error_report", "status", "committed_at"])
        record_event(user, AuditAction.IMPORT, batch, object_repr=batch.filename,
                     changes={"stage": "commit", **plan.counts(), **written})
    return plan.counts()


def _write(plan: Plan, user, progress=None) -> dict:
    households = _ensure_households(plan, user)
    rows = plan.accepted
    total = len(rows)
    key_group_links = []
    key_group_ids = dict(KeyGroup.objects.values_list("code", "pk"))
    new_rows = [r for r in rows if r.action == "new"]
    now = bulk.now_value()
    for start in range(0, len(new_rows), BATCH):
        chunk = new_rows[start:start + BATCH]
        bulk.insert_people([
            bulk.person_row(r.data, households.get(_key(r.data)), user.pk, now) for r in chunk])
        if progress:
            progress(start + len(chunk), total)
    with_groups = {document_index(r.data["doc_type"], r.data["number"]): r.data["key_groups"]
                   for r in new_rows if r.data["key_groups"]}
    for start in range(0, len(with_groups), 500):
        indexes = list(with_groups)[start:start + 500]
        for pk, index in Person.objects.filter(doc_index__in=indexes).exclude(doc_index="").values_list(
                "pk", "doc_index"):
            key_group_links.extend((pk, key_group_ids[c]) for c in with_groups[index])
    updated = _update_people([r for r in rows if r.action == "update"], households, user, key_group_links,
                             key_group_ids)
    through = Person.key_groups.through
    through.objects.bulk_create(
        [through(person_id=p, keygroup_id=k) for p, k in set(key_group_links)], batch_size=BATCH,
        ignore_conflicts=True)
    return {"written_new": len(new_rows), "written_updated": updated}


def _apply(person: Person, data: dict, households: dict) -> None:
    person.name = data["name"]
    person.name_pinyin, person.name_initials = identity.name_pinyin(person.name)
    if data["sex"]:
        person.sex = data["sex"]
    if data["birth_date"]:
        person.birth_date = data["birth_date"]
    if data["phone"]:
        person.set_phone(data["phone"])
    if data["address"]:
        person.address = data["address"]
    if data["relation"]:
        person.relation = data["relation"]
    for flag in ("is_floating", "is_rental_tenant", "lives_alone_elderly"):
        if data[flag] is not None:
            setattr(person, flag, data[flag])
    if data["vulnerable_group"] is not None:
        person.vulnerable_group = data["vulnerable_group"]
    key = _key(data)
    if key:
        person.household_id = households[key]
    person.area_id = data["grid"]


def _key(data):
    if not (data["grid"] and (data["building"] or data["door"])):
        return None
    return (data["grid"], data["building"], data["unit"], data["door"])


def _ensure_households(plan: Plan, user) -> dict:
    """Create the buildings and households the plan needs; key -> household id for every row's household."""
    keys = {_key(r.data) for r in plan.accepted} - {None}
    grids = {k[0] for k in keys}
    buildings = {(b.area_id, b.name): b.pk for b in Building.objects.filter(area_id__in=grids)}
    missing = sorted({(g, b) for g, b, _u, _d in keys if b and (g, b) not in buildings})
    units = defaultdict(set)
    for grid, building, unit, _door in keys:
        units[(grid, building)].add(unit)
    Building.objects.bulk_create(
        [Building(area_id=g, name=b, units=max(1, len(units[(g, b)])), created_by=user, updated_by=user)
         for g, b in missing], batch_size=BATCH)
    buildings = {(b.area_id, b.name): b.pk for b in Building.objects.filter(area_id__in=grids)}
    by_id = {pk: name for (_g, name), pk in buildings.items()}
    existing = {}
    for pk, area_id, building_id, unit, door in Household.objects.filter(area_id__in=grids).values_list(
            "pk", "area_id", "building_id", "unit", "door"):
        existing[(area_id, by_id.get(building_id, ""), unit, door)] = pk
    rental = {_key(r.data) for r in plan.accepted if r.data["is_rental_tenant"]}
    addresses = {}
    for row in plan.accepted:
        addresses.setdefault(_key(row.data), row.data["address"])
    new = [Household(area_id=k[0], building_id=buildings.get((k[0], k[1])), unit=k[2], door=k[3],
                     address=addresses.get(k, ""), is_rental=k in rental, created_by=user, updated_by=user)
           for k in sorted(keys - existing.keys())]
    Household.objects.bulk_create(new, batch_size=BATCH)
    for household in new:
        existing[(household.area_id, by_id.get(household.building_id, ""), household.unit, household.door)] = household.pk
    return existing


def _update_people(rows, households, user, key_group_links, key_group_ids) -> int:
    audit_rows = []
    fields = {"name", "name_pinyin", "name_initials", "sex", "birth_date", "phone_sealed", "phone_index",
              "phone_masked", "address", "relation", "is_floating", "is_rental_tenant", "lives_alone_elderly",
              "vulnerable_group", "household", "area", "updated_by", "updated_at"}
    now = timezone.now()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        people = Person.objects.in_bulk([r.person_id for r in chunk])
        for row in chunk:
            person = people[row.person_id]
            _apply(person, row.data, households)
            person.updated_by = user
            person.updated_at = now
            key_group_links.extend((person.pk, key_group_ids[c]) for c in row.data["key_groups"])
            audit_rows.append(AuditEvent(
                user=user, username=user.get_username(), action=AuditAction.UPDATE, object_type="people.person",
                object_id=str(person.pk), object_repr=person.audit_repr()[:200], area_code=person.area_id,
                changes={k: [_plain(v[0]), _plain(v[1])] for k, v in row.changes.items()},
                reason=_("人口信息导入"),
            ))
        Person.objects.bulk_update(list(people.values()), sorted(fields), batch_size=500)
    AuditEvent.objects.bulk_create(audit_rows, batch_size=BATCH)
    return len(rows)


def _plain(value):
    if isinstance(value, (list, str, int, float, bool)) or value is None:
        return value
    return str(value)
