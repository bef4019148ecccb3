"""Register import workflows: upload, confirm the columns, dry run, commit.

The dry run and the commit are background jobs (``register.jobs``). The dry
run keeps its plan; the commit, in one transaction, writes that plan if the
data it was made from is unchanged, plans again otherwise, and writes
everything or nothing (see plan.py).
"""

import hashlib
import uuid
from collections import defaultdict
from datetime import date
from functools import partial
from itertools import islice
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
from ..models import ImportMapping, ImportStatus, KeyGroup, Person, RegisterImport
from ..services import recount_population
from . import bulk, store
from .fields import FIELDS, guess_mapping, normalize_header
from .plan import (
    ADDRESS,
    ALONE,
    BIRTH,
    DOC_INDEX,
    DOC_MASKED,
    FLOATING,
    GRID,
    HOUSEHOLD,
    INITIALS,
    KEY_GROUPS,
    NAME,
    PHONE_INDEX,
    PHONE_MASKED,
    PHONE_SEALED,
    PINYIN,
    RELATION,
    RENTAL,
    ROW,
    SEX,
    SHEET,
    VULNERABLE,
    Plan,
    classify,
    existing_places,
    fingerprint,
    make_plan,
    plan_bytes,
    plan_from_bytes,
)
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
        with store.without_gc():
            sheets = read_register(path, upload.name)
    except ValueError as exc:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": str(exc)}) from exc
    store.keep_sheets(_kept(stored, "sheets"), sheets, digest.hexdigest())
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
    records, outcome = plan.records, plan.outcome
    updates = [{"sheet": records[i][SHEET], "row": records[i][ROW], "name": identity.mask_name(records[i][NAME]),
                "changes": changes} for i, changes in islice(outcome.changes.items(), limit)]
    new = [{"sheet": records[i][SHEET], "row": records[i][ROW], "name": identity.mask_name(records[i][NAME]),
            "number": records[i][DOC_MASKED]}
           for i in islice((i for i, pk in enumerate(outcome.person_ids) if pk is None), limit)]
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
    for col, title in enumerate([_("工作表"), _("行号"), _("错误原因"), *plan.headers]):
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


def _kept(stored_name: str, kind: str) -> Path:
    """Where the upload STORED_NAME's parsed sheets ("sheets") or plan ("plan") are kept."""
    return import_folder() / f"{stored_name.split('.')[0]}.{kind}"


def plan_path(batch: RegisterImport) -> Path:
    return _kept(batch.stored_name, "plan")


def _plan_binding(batch: RegisterImport) -> str:
    return f"plan:{batch.pk}:{batch.sha256}"


def _sheets(batch: RegisterImport) -> list:
    """The batch's sheets as the upload kept them, or read from the file again."""
    kept = store.kept_sheets(_kept(batch.stored_name, "sheets"), batch.sha256)
    return kept if kept is not None else read_register(batch_path(batch), batch.filename)


def run_dry_run(batch: RegisterImport, user, progress=None) -> dict:
    """Plan the batch, show it, and keep it for the commit."""
    with store.without_gc():
        plan = make_plan(batch, user, partial(_sheets, batch), progress)
        store.keep(plan_path(batch), plan_bytes(plan), _plan_binding(batch))
    batch.summary = summarize(plan)
    batch.error_report = write_error_report(batch, plan)
    batch.status = ImportStatus.PLANNED
    batch.save(update_fields=["summary", "error_report", "status"])
    return plan.counts()


def _kept_plan(batch: RegisterImport, user) -> Plan | None:
    """The dry run's plan, if nothing it depended on has changed since; None otherwise.

    Inside the commit's transaction: the records are classified again, and the
    plan is taken only if the outcome is the one the dry run showed.
    """
    data = store.kept(plan_path(batch), _plan_binding(batch))
    plan = plan_from_bytes(data, fingerprint(batch, user)) if data is not None else None
    if plan is None or classify(plan.records, user) != plan.outcome:
        return None
    return plan


def run_commit(batch: RegisterImport, user, progress=None) -> dict:
    """Write the dry run's plan (or, if the data changed since, a new one) in one transaction."""
    with transaction.atomic(), store.without_gc():
        plan = _kept_plan(batch, user)
        replanned = plan is None
        if replanned:
            plan = make_plan(batch, user, partial(_sheets, batch), progress)
            batch.summary = summarize(plan)
            batch.error_report = write_error_report(batch, plan)
        written = _write(plan, user, progress)
        recount_population()
        batch.status = ImportStatus.COMMITTED
        batch.committed_at = timezone.now()
        batch.save(update_fields=["summary", "error_report", "status", "committed_at"])
        record_event(user, AuditAction.IMPORT, batch, object_repr=batch.filename,
                     changes={"stage": "commit", **plan.counts(), **written, "replanned": replanned})
    for kind in ("plan", "sheets"):
        _kept(batch.stored_name, kind).unlink(missing_ok=True)
    return plan.counts()


def _write(plan: Plan, user, progress=None) -> dict:
    household_of = _ensure_households(plan, user)
    records, outcome = plan.records, plan.outcome
    new = [i for i, pk in enumerate(outcome.person_ids) if pk is None]
    total = len(new) + len(outcome.changes)
    now = bulk.now_value()
    with bulk.loading(Person, len(new)):
        for start in range(0, len(new), BATCH):
            chunk = new[start:start + BATCH]
            bulk.insert_people([bulk.person_row(records[i], household_of[i], user.pk, now) for i in chunk])
            if progress:
                progress(start + len(chunk), total)
    key_group_ids = dict(KeyGroup.objects.values_list("code", "pk"))
    key_group_links = []
    with_groups = {records[i][DOC_INDEX]: records[i][KEY_GROUPS] for i in new if records[i][KEY_GROUPS]}
    indexes = list(with_groups)
    for start in range(0, len(indexes), 500):
        for pk, index in Person.objects.filter(doc_index__in=indexes[start:start + 500]).exclude(
                doc_index="").values_list("pk", "doc_index"):
            key_group_links.extend((pk, key_group_ids[c]) for c in with_groups[index])
    updated = _update_people(plan, household_of, user, key_group_links, key_group_ids)
    if progress:
        progress(total, total)
    through = Person.key_groups.through
    through.objects.bulk_create(
        [through(person_id=p, keygroup_id=k) for p, k in set(key_group_links)], batch_size=BATCH,
        ignore_conflicts=True)
    return {"written_new": len(new), "written_updated": updated}


def _apply(person: Person, record: tuple, household_id) -> None:
    person.name = record[NAME]
    person.name_pinyin, person.name_initials = record[PINYIN], record[INITIALS]
    if record[SEX]:
        person.sex = record[SEX]
    if record[BIRTH]:
        person.birth_date = date.fromisoformat(record[BIRTH])
    if record[PHONE_INDEX]:
        person.phone_sealed, person.phone_index, person.phone_masked = (
            record[PHONE_SEALED], record[PHONE_INDEX], record[PHONE_MASKED])
    if record[ADDRESS]:
        person.address = record[ADDRESS]
    if record[RELATION]:
        person.relation = record[RELATION]
    for flag, position in (("is_floating", FLOATING), ("is_rental_tenant", RENTAL), ("lives_alone_elderly", ALONE)):
        if record[position] is not None:
            setattr(person, flag, record[position])
    if record[VULNERABLE] is not None:
        person.vulnerable_group = record[VULNERABLE]
    if household_id is not None:
        person.household_id = household_id
    person.area_id = record[GRID]


def _ensure_households(plan: Plan, user) -> list:
    """Create the buildings and households the plan needs; the household id of every record (None: none given)."""
    keys = [r[HOUSEHOLD] for r in plan.records]
    for index in plan.outcome.refused:
        keys[index] = None
    wanted, rental, addresses = set(keys), set(), {}
    wanted.discard(None)
    for key, record in zip(keys, plan.records, strict=True):
        if key is not None:
            addresses.setdefault(key, record[ADDRESS])
            if record[RENTAL]:
                rental.add(key)
    grids = sorted({k[0] for k in wanted})
    buildings, existing = existing_places(grids)
    missing = sorted({(g, b) for g, b, _u, _d in wanted if b and (g, b) not in buildings})
    if missing:
        units = defaultdict(set)
        for grid, building, unit, _door in wanted:
            units[(grid, building)].add(unit)
        Building.objects.bulk_create(
            [Building(area_id=g, name=b, units=max(1, len(units[(g, b)])), created_by=user, updated_by=user)
             for g, b in missing], batch_size=BATCH)
        buildings, existing = existing_places(grids)
    new = sorted(wanted - existing.keys())
    if new:
        now = bulk.now_value()
        rows = [(now, now, user.pk, user.pk, key[0], buildings.get(key[:2]), key[2], key[3], addresses[key],
                 key in rental) for key in new]
        # The buildings are locked with the households: the key between them is then checked once at the end.
        with bulk.loading(Household, len(rows), with_locked=[Building]):
            for start in range(0, len(rows), BATCH * 10):
                bulk.insert_households(rows[start:start + BATCH * 10])
        _buildings, existing = existing_places(grids)
    return [None if key is None else existing[key] for key in keys]


def _update_people(plan: Plan, household_of: list, user, key_group_links, key_group_ids) -> int:
    records = plan.records
    rows = [(plan.outcome.person_ids[i], records[i], household_of[i], changes)
            for i, changes in plan.outcome.changes.items()]
    audit_rows = []
    fields = {"name", "name_pinyin", "name_initials", "sex", "birth_date", "phone_sealed", "phone_index",
              "phone_masked", "address", "relation", "is_floating", "is_rental_tenant", "lives_alone_elderly",
              "vulnerable_group", "household", "area", "updated_by", "updated_at"}
    now = timezone.now()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        people = Person.objects.in_bulk([pk for pk, _r, _h, _c in chunk])
        for pk, record, household_id, changes in chunk:
            person = people[pk]
            _apply(person, record, household_id)
            person.updated_by = user
            person.updated_at = now
            key_group_links.extend((person.pk, key_group_ids[c]) for c in record[KEY_GROUPS])
            audit_rows.append(AuditEvent(
                user=user, username=user.get_username(), action=AuditAction.UPDATE, object_type="people.person",
                object_id=str(person.pk), object_repr=person.audit_repr()[:200], area_code=person.area_id,
                changes={k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items()},
                reason=_("人口信息导入"),
            ))
        Person.objects.bulk_update(list(people.values()), sorted(fields), batch_size=500)
    AuditEvent.objects.bulk_create(audit_rows, batch_size=BATCH)
    return len(rows)


def _plain(value):
    if isinstance(value, (list, str, int, float, bool)) or value is None:
        return value
    return str(value)
