"""Sampling, pooled tubes, lab results and the follow-up of positive pools (单采复核).

The sampling point opens a session (its pool size applies to every tube of
it), scans a tube barcode and the people swabbed into it; the tube closes by
itself when full. The lab's results come in batches (API or file) and are
matched to tubes by barcode in bulk: a result for a barcode nobody sampled
yet is kept with no tube (the unmatched queue) and linked by
``match_unmatched`` once the tube is known. A positive single tube raises a
critical signal; a positive pool puts every member under 单采复核: a
follow-up and a task for the member's grid worker to keep them home and
swab them alone within ``FANGKONG_POOL_RETEST_HOURS`` (default 6, china-ops
§7). The single re-test closes the follow-up.
"""

import contextlib
import re
import unicodedata
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Min, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.tabular import HEADER_SEARCH_ROWS, Headers, ImportFileError, read_tables
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import Person, document_index
from fangkong.policy import services as policy
from fangkong.tasks.choices import TaskStatus
from fangkong.tasks.services import complete_task, create_task
from fangkong.venues import tokens
from fangkong.warning.choices import Severity
from fangkong.warning.services import raise_signal

from . import schedules
from .choices import FollowupStatus, PoolSize, Result, TubeStatus
from .models import LabResult, PoolFollowup, Sample, SamplingPoint, SamplingSession, Tube
from .signals import single_positive

TASK_KIND = "pool_retest"
SIGNAL_SINGLE = "positive_result"
SIGNAL_POOL = "positive_pool"
MAX_ROWS = 100_000
CHUNK = 900  # ids or barcodes per IN (...): below SQLite's old 999-variable limit


def retest_hours() -> int:
    return int(getattr(settings, "FANGKONG_POOL_RETEST_HOURS", 6))


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def normalize_barcode(raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw))).upper()


def _require(user, perm: str):
    if user is None or not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied


# Sessions ----------------------------------------------------------------------------------------
@transaction.atomic
def open_session(user, point: SamplingPoint, pool_size) -> SamplingSession:
    _require(user, "testing.add_samplingsession")
    if not SamplingPoint.objects.restrict(user, "view").filter(pk=point.pk).exists():
        raise PermissionDenied
    if not point.is_active:
        raise ValidationError({"point": [_("该采样点已停用。")]})
    try:
        pool_size = int(pool_size)
    except (TypeError, ValueError):
        pool_size = None
    if pool_size not in PoolSize.values:
        raise ValidationError({"pool_size": [_("混采人数应为 1、5、10 或 20。")]})
    session = SamplingSession.objects.create(point=point, area_id=point.area_id, operator=user, pool_size=pool_size)
    record_event(user, AuditAction.CREATE, session, changes={"point": point.pk, "pool_size": pool_size})
    return session


def close_session(user, session: SamplingSession) -> SamplingSession:
    _require(user, "testing.add_samplingsession")
    if session.operator_id != user.pk and not SamplingSession.objects.restrict(user, "view").filter(
            pk=session.pk).exists():
        raise PermissionDenied
    now = timezone.now()
    with transaction.atomic():
        sealed = list(session.tubes.filter(status=TubeStatus.OPEN).values_list("barcode", flat=True))
        session.tubes.filter(status=TubeStatus.OPEN).update(status=TubeStatus.CLOSED, closed_at=now)
        if session.closed_at is None:
            session.closed_at = now
            session.save(update_fields=["closed_at"])
        record_event(user, AuditAction.UPDATE, session, changes={"closed_at": now.isoformat(), "sealed": len(sealed)})
    if sealed:
        match_unmatched(user, barcodes=sealed)
    return session


# People ------------------------------------------------------------------------------------------
class PersonCodeError(ValidationError):
    """A person code (个人码) that is forged or too old to use."""


def find_person(value: str, at: datetime | None = None) -> Person | None:
    """The person named by a person code (个人码, as drawn at AT: the sample's time) or an ID number
    (resident ID, passport or permit number), else None. A bad or stale code raises PersonCodeError.

    The scan page's personal token is bound to its device, whose secret the sampling point does not
    have; the person code the page shows at a sampling point is signed and dated instead.
    """
    if tokens.is_person_code(value):
        person_id, problem = tokens.parse_person_code(value, at)
        if person_id is None:
            raise PersonCodeError(_("个人码已过期，请受检人刷新个人码后重新出示。") if problem == "expired"
                                  else _("个人码无效，请受检人重新打开个人码，或改为输入身份证号码。"), code=problem)
        person = Person.objects.filter(pk=person_id).first()
        seen = 0
        while person is not None and person.merged_into_id and seen < 5:
            person, seen = person.merged_into, seen + 1
        return person
    number = identity.normalize_document(value)
    if not number:
        return None
    candidates = []
    try:
        candidates.append((DocumentType.RESIDENT_ID, identity.validate_resident_id(number)))
    except ValidationError:
        for doc_type in (DocumentType.PASSPORT, DocumentType.HK_MACAO_PERMIT, DocumentType.TAIWAN_PERMIT):
            with contextlib.suppress(ValidationError):
                candidates.append((doc_type, identity.validate_document(doc_type, number)))
    for doc_type, clean in candidates:
        person = Person.objects.with_document(document_index(doc_type, clean)).first()
        seen = 0
        while person is not None and person.merged_into_id and seen < 5:
            person, seen = person.merged_into, seen + 1
        if person is not None:
            return person
    return None


# Samples -----------------------------------------------------------------------------------------
def _local_day_bounds(at: datetime) -> tuple[datetime, datetime]:
    day = timezone.localtime(at).date()
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def add_sample(user, session: SamplingSession, *, barcode, person: Person, client_key,
               sampled_at=None) -> tuple[Sample, bool]:
    """Swab PERSON into the tube BARCODE of SESSION. The same CLIENT_KEY again returns the stored sample."""
    _require(user, "testing.add_sample")
    client_key = str(client_key or "").strip()
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": [_("客户端编号必填，至多 64 个字符。")]})
    existing = Sample.objects.filter(client_key=client_key).first()
    if existing is not None:
        return existing, False
    barcode = normalize_barcode(barcode)
    if not barcode or len(barcode) > 40:
        raise ValidationError({"barcode": [_("请扫描或填写管码（至多 40 位）。")]})
    if person is None:
        raise ValidationError({"person": [_("未找到该人员，请核对证件号码或先登记。")]})
    if session.closed_at is not None:
        raise ValidationError(_("该采样批次已结束，请新开批次。"))
    now = timezone.now()
    sampled_at = sampled_at or now
    if isinstance(sampled_at, str):
        sampled_at = parse_time(sampled_at)
        if sampled_at is None:
            raise ValidationError({"sampled_at": [_("采样时间格式不正确。")]})
    if sampled_at > now + timedelta(minutes=5):
        raise ValidationError({"sampled_at": [_("采样时间晚于当前时间。")]})
    became_full = False
    try:
        with transaction.atomic():
            tube = Tube.objects.select_for_update().filter(barcode=barcode).first()
            if tube is None:
                tube = Tube.objects.create(barcode=barcode, session=session, area_id=session.area_id,
                                           capacity=session.pool_size)
            if tube.session_id != session.pk:
                raise ValidationError({"barcode": [_("该管码已在其他采样批次使用，请换管。")]})
            if tube.status != TubeStatus.OPEN:
                raise ValidationError(_("采样管已满/已封管"))
            members = list(tube.samples.values_list("person_id", flat=True))
            if len(members) >= tube.capacity:
                raise ValidationError(_("采样管已满/已封管"))
            if person.pk in members:
                raise ValidationError({"person": [_("该人员已在此采样管中。")]})
            start, end = _local_day_bounds(sampled_at)
            duplicate = Sample.objects.filter(person=person, sampled_at__gte=start, sampled_at__lt=end).exists()
            sample = Sample.objects.create(tube=tube, person=person, area_id=person.area_id, sampled_at=sampled_at,
                                           client_key=client_key, duplicate=duplicate, recorded_by=user)
            if schedules.record_samples([person.pk], sampled_at):
                policy.refresh_status(person)  # an overdue key-group test is no longer overdue
            if len(members) + 1 >= tube.capacity:
                tube.status, tube.closed_at = TubeStatus.CLOSED, now
                tube.save(update_fields=["status", "closed_at"])
                became_full = True
            if tube.capacity == PoolSize.SINGLE:
                PoolFollowup.objects.filter(
                    person=person, status__in=[FollowupStatus.PENDING, FollowupStatus.SAMPLED],
                ).update(status=FollowupStatus.SAMPLED, retest=sample)
            record_event(user, AuditAction.CREATE, sample, object_repr=f"{barcode} {person.audit_repr()}",
                         changes={"tube": barcode, "person": person.pk, "duplicate": duplicate})
    except IntegrityError:
        # The same client key sent twice at once: the other request stored it.
        existing = Sample.objects.filter(client_key=client_key).first()
        if existing is None:
            raise
        return existing, False
    if became_full:
        match_unmatched(user, barcodes=[barcode])
    return sample, True


def seal_tube(user, tube: Tube) -> Tube:
    _require(user, "testing.add_sample")
    if not Tube.objects.restrict(user, "view").filter(pk=tube.pk).exists() and tube.session.operator_id != user.pk:
        raise PermissionDenied
    if tube.status != TubeStatus.OPEN:
        return tube
    tube.status, tube.closed_at = TubeStatus.CLOSED, timezone.now()
    tube.save(update_fields=["status", "closed_at"])
    record_event(user, AuditAction.UPDATE, tube, changes={"status": [TubeStatus.OPEN, TubeStatus.CLOSED]})
    match_unmatched(user, barcodes=[tube.barcode])
    tube.refresh_from_db()
    return tube


# Parsing result rows -----------------------------------------------------------------------------
RESULT_WORDS = {
    "negative": Result.NEGATIVE, "neg": Result.NEGATIVE, "阴性": Result.NEGATIVE, "阴": Result.NEGATIVE,
    "阴性(-)": Result.NEGATIVE, "-": Result.NEGATIVE,
    "positive": Result.POSITIVE, "pos": Result.POSITIVE, "阳性": Result.POSITIVE, "阳": Result.POSITIVE,
    "阳性(+)": Result.POSITIVE, "+": Result.POSITIVE,
    "invalid": Result.INVALID, "无效": Result.INVALID, "不合格": Result.INVALID, "复检": Result.INVALID,
}
_CN_TIME = re.compile(r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?"
                      r"(?:\s*[T\s]?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?\s*秒?)?$")


def parse_result(value) -> str | None:
    text = unicodedata.normalize("NFKC", str(value or "")).strip().lower().replace(" ", "")
    return RESULT_WORDS.get(text)


def parse_time(value) -> datetime | None:
    """An aware datetime from a datetime, an ISO string or "2022年4月9日 10:00"; naive means local time."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, date):
        at = datetime.combine(value, time.min)
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if not text:
            return None
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            match = _CN_TIME.match(text)
            if not match:
                return None
            parts = [int(p) if p else 0 for p in match.groups()]
            try:
                at = datetime(*parts)
            except ValueError:
                return None
    else:
        return None
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return at


def _parse_ct(value) -> tuple[dict, str | None]:
    if value in (None, ""):
        return {}, None
    if not isinstance(value, dict):
        return {}, _("Ct 值应为 {\"ORF1ab\": 数值, \"N\": 数值}。")
    cleaned = {}
    for key, number in value.items():
        if number in (None, ""):
            continue
        try:
            cleaned[str(key)[:20]] = round(float(str(number).strip()), 2)
        except ValueError:
            return {}, _("Ct 值“%(value)s”应为数字。") % {"value": number}
    return cleaned, None


def _clean_rows(rows) -> tuple[list[dict], list[dict]]:
    good, rejected = [], []
    for position, row in enumerate(rows, start=1):
        number = position
        if not isinstance(row, dict):
            rejected.append({"row": number, "errors": [_("每行应为 JSON 对象。")]})
            continue
        number = row.get("_row", position)
        problems = []
        barcode = normalize_barcode(row.get("barcode"))
        if not barcode:
            problems.append(_("缺少管码。"))
        elif len(barcode) > 40:
            problems.append(_("管码至多 40 位。"))
        result = parse_result(row.get("result"))
        if result is None:
            problems.append(_("检测结果“%(value)s”无法识别：应为 阴性/阳性/无效。") % {"value": row.get("result") or ""})
        tested_at = parse_time(row.get("tested_at"))
        if tested_at is None:
            problems.append(_("检测时间“%(value)s”无法识别。") % {"value": row.get("tested_at") or ""})
        elif tested_at > timezone.now() + timedelta(minutes=10):
            problems.append(_("检测时间晚于当前时间。"))
        ct, ct_problem = _parse_ct(row.get("ct_values"))
        if ct_problem:
            problems.append(ct_problem)
        if problems:
            rejected.append({"row": number, "errors": problems})
        else:
            good.append({"row": number, "barcode": barcode, "result": result, "tested_at": tested_at, "ct": ct})
    return good, rejected


# Applying results to tubes -----------------------------------------------------------------------
def _resolve(tube: Tube, result: str, tested_at: datetime) -> tuple[bool, bool]:
    """Apply one result to TUBE in memory: (conflicting, the tube's result was set)."""
    if not tube.result or tube.result == Result.INVALID and result != Result.INVALID:
        tube.result, tube.resulted_at, tube.status = result, tested_at, TubeStatus.RESULTED
        if tube.closed_at is None:
            tube.closed_at = tested_at
        return False, True
    if tube.result != result:
        tube.needs_review = True
        return True, False
    return False, False


def _save_tubes(tubes: list[Tube]) -> None:
    """Write result, status and review flag of TUBES in a few statements (not one per tube).

    A tube's result time is the earliest non-conflicting result of the same
    value for its barcode: the one _resolve applied (the results are stored first).
    """
    groups = defaultdict(list)
    for tube in tubes:
        groups[(tube.result, tube.status, tube.needs_review)].append(tube.pk)
    first_time = Subquery(LabResult.objects.filter(barcode=OuterRef("barcode"), result=OuterRef("result"),
                                                   conflicting=False)
                          .order_by().values("barcode").annotate(at=Min("tested_at")).values("at")[:1])
    for (result, status, review), ids in groups.items():
        for chunk in _chunks(ids):
            Tube.objects.filter(pk__in=chunk).update(result=result, status=status, needs_review=review)
            Tube.objects.filter(pk__in=chunk).update(resulted_at=first_time)
            # A tube resulted while still open is closed by its result.
            Tube.objects.filter(pk__in=chunk, closed_at__isnull=True).update(closed_at=F("resulted_at"))


def _retest_outcomes(user, resulted: dict[int, str]) -> dict:
    """After tubes got their result: signals, pooled follow-ups, re-test outcomes."""
    counts = {"positives": 0, "followups": 0, "already_cases": 0, "retests_closed": 0}
    if not resulted:
        return counts
    touched: set[int] = set()  # people whose scan colour changes (held at home, released)
    from fangkong.tracing.choices import CaseStatus
    from fangkong.tracing.models import Case

    tubes = {t.pk: t for t in Tube.objects.filter(pk__in=[p for p, r in resulted.items()
                                                            if r == Result.POSITIVE])}
    single_ids = [pk for pk, r in resulted.items() if r != Result.POSITIVE]
    # Re-tests: single tubes with a negative or invalid result close or reopen their follow-ups.
    for chunk in _chunks(single_ids):
        followups = list(PoolFollowup.objects.filter(retest__tube_id__in=chunk, status=FollowupStatus.SAMPLED,
                                                     retest__tube__capacity=PoolSize.SINGLE)
                         .select_related("task", "retest"))
        for followup in followups:
            outcome = resulted[followup.retest.tube_id]
            if outcome == Result.NEGATIVE:
                followup.status = FollowupStatus.NEGATIVE
                _close_task(user, followup.task, _("单采复核阴性，解除临时管控。"))
            else:
                followup.status, followup.retest = FollowupStatus.PENDING, None
            followup.save(update_fields=["status", "retest"])
            counts["retests_closed"] += 1
            touched.add(followup.person_id)
    if not tubes:
        refresh_statuses(touched)
        return counts
    samples = defaultdict(list)
    for sample in Sample.objects.filter(tube_id__in=list(tubes)).select_related("person", "person__area"):
        samples[sample.tube_id].append(sample)
    member_ids = [s.person_id for group in samples.values() for s in group]
    cases = set(Case.objects.filter(person_id__in=member_ids).exclude(status=CaseStatus.EXCLUDED)
                .values_list("person_id", flat=True))
    hours = retest_hours()
    for tube_id, tube in tubes.items():
        counts["positives"] += 1
        members = samples.get(tube_id, [])
        if tube.capacity == PoolSize.SINGLE:
            for sample in members:
                person = sample.person
                raise_signal(SIGNAL_SINGLE, title=_("核酸检测阳性：%(name)s（管码 %(barcode)s）")
                             % {"name": person.name, "barcode": tube.barcode},
                             area=person.area, person=person, subject=tube, severity=Severity.CRITICAL,
                             details={"barcode": tube.barcode, "sampled_at": sample.sampled_at.isoformat(),
                                      "already_case": person.pk in cases},
                             occurred_at=tube.resulted_at)
                PoolFollowup.objects.filter(retest=sample).update(status=FollowupStatus.POSITIVE)
                touched.add(person.pk)
                single_positive.send(sender=Tube, person_ids=[person.pk], user=user,
                                     day=timezone.localdate(sample.sampled_at))
            continue
        deadline = timezone.now() + timedelta(hours=hours)
        created = 0
        for sample in members:
            person = sample.person
            if person.pk in cases:
                counts["already_cases"] += 1
                continue
            followup, made = PoolFollowup.objects.get_or_create(
                tube=tube, person=person, defaults={"area_id": person.area_id, "deadline": deadline})
            if not made:
                continue
            followup.task = create_task(
                kind=TASK_KIND, area=person.area, role=Role.GRID_WORKER, deadline=deadline, subject=person,
                created_by=user,
                title=_("混管阳性单采复核：%(name)s") % {"name": person.name},
                description=_("%(name)s 所在的混采管（管码 %(barcode)s，%(n)d混1）检测阳性。请通知其居家、不外出，"
                              "并在 %(hours)d 小时内（%(deadline)s 前）安排单人单管采样复核。")
                % {"name": person.name, "barcode": tube.barcode, "n": tube.capacity, "hours": hours,
                   "deadline": timezone.localtime(deadline).strftime("%m-%d %H:%M")},
            )
            followup.save(update_fields=["task"])
            created += 1
            touched.add(person.pk)
        counts["followups"] += created
        raise_signal(SIGNAL_POOL, title=_("混管阳性：管码 %(barcode)s（%(n)d人）") % {
            "barcode": tube.barcode, "n": len(members)},
            area=tube.area, subject=tube, severity=Severity.CRITICAL, occurred_at=tube.resulted_at,
            details={"barcode": tube.barcode, "members": len(members), "followups": created,
                     "already_cases": sum(1 for s in members if s.person_id in cases)})
    refresh_statuses(touched)
    return counts


def refresh_statuses(person_ids) -> None:
    """The colour a scan shows, recomputed for people whose testing state changed (see testing.status)."""
    policy.refresh_statuses(person_ids)


def _close_task(user, task, note: str) -> None:
    if task is None or task.status not in (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE):
        return
    try:
        complete_task(user, task, note)
    except PermissionDenied:
        # The uploader (a lab) cannot work a grid task: close it for the system, on the record.
        before = task.status
        task.status, task.result_note, task.completed_at = TaskStatus.DONE, note, timezone.now()
        task.save(update_fields=["status", "result_note", "completed_at"])
        record_event(user, AuditAction.UPDATE, task, object_repr=task.title,
                     changes={"status": [before, TaskStatus.DONE], "result_note": [None, note]},
                     reason=_("检测结果自动办结"))


def _first_sampled(tube_ids) -> dict[int, datetime]:
    """The time of each tube's first sample, by tube id (tubes with no sample are left out)."""
    first = {}
    for chunk in _chunks(tube_ids):
        first.update((r["tube_id"], r["first"]) for r in Sample.objects.filter(tube_id__in=chunk)
                     .values("tube_id").annotate(first=Min("sampled_at")).order_by())
    return first


def ingest_results(user, rows: list, *, lab: str = "") -> dict:
    """Store a lab's batch of results and act on them; idempotent by (barcode, tested_at)."""
    _require(user, "testing.add_labresult")
    if not isinstance(rows, list):
        raise ValidationError(_("检测结果应为行的列表。"))
    if len(rows) > MAX_ROWS:
        raise ValidationError(_("一次至多 %(max)d 行，请分批上传。") % {"max": MAX_ROWS})
    lab = str(lab or "")[:100]
    good, rejected = _clean_rows(rows)
    answer = {"accepted": 0, "duplicate": 0, "unmatched": 0, "conflicts": 0, "positives": 0,
              "followups": 0, "already_cases": 0, "rejected": rejected}
    with transaction.atomic():
        barcodes = {r["barcode"] for r in good}
        seen = set()
        for chunk in _chunks(barcodes):
            seen.update(LabResult.objects.filter(barcode__in=chunk).values_list("barcode", "tested_at"))
        tubes = {}
        for chunk in _chunks(barcodes):
            tubes.update((t.barcode, t) for t in Tube.objects.filter(barcode__in=chunk).only(
                "id", "barcode", "result", "resulted_at", "status", "capacity", "needs_review", "closed_at",
                "area_id"))
        first_sampled = _first_sampled([t.pk for t in tubes.values()])
        new, changed, resulted = [], {}, {}
        for row in good:
            tube = tubes.get(row["barcode"])
            first = first_sampled.get(tube.pk) if tube is not None else None
            if first is not None and row["tested_at"] < first:
                # A wrong barcode or a wrong clock: never a result for this tube.
                rejected.append({"row": row["row"], "errors": [
                    _("检测时间早于该管的采样时间（%(at)s），请核对管码和检测时间。")
                    % {"at": timezone.localtime(first).strftime("%Y-%m-%d %H:%M")}]})
                continue
            key = (row["barcode"], row["tested_at"])
            if key in seen:
                answer["duplicate"] += 1
                continue
            seen.add(key)
            conflicting = False
            if tube is None:
                answer["unmatched"] += 1
            else:
                conflicting, applied = _resolve(tube, row["result"], row["tested_at"])
                if conflicting:
                    answer["conflicts"] += 1
                if conflicting or applied:
                    changed[tube.pk] = tube
                if applied:
                    resulted[tube.pk] = row["result"]
            new.append(LabResult(barcode=row["barcode"], tube=tube, result=row["result"], ct_values=row["ct"],
                                 tested_at=row["tested_at"], lab=lab, conflicting=conflicting, received_by=user))
        LabResult.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
        answer["accepted"] = len(new)
        _save_tubes(list(changed.values()))
        counts = _retest_outcomes(user, resulted)
        for key in ("positives", "followups", "already_cases"):
            answer[key] = counts[key]
        record_event(user, AuditAction.IMPORT, object_type="testing.labresult", object_repr=_("检测结果批量上传"),
                     changes={k: v for k, v in answer.items() if k != "rejected"} | {
                         "rejected": len(rejected), "lab": lab})
    return answer


def match_unmatched(user=None, barcodes=None) -> int:
    """Link the unmatched results whose tube is now known, and act on them. Returns how many were linked."""
    pending = LabResult.objects.filter(tube__isnull=True)
    if barcodes is not None:
        barcodes = [normalize_barcode(b) for b in barcodes]
        if not barcodes:
            return 0
        pending = pending.filter(barcode__in=barcodes)
    rows = list(pending.order_by("tested_at", "id"))
    if not rows:
        return 0
    tubes = {}
    for chunk in _chunks({r.barcode for r in rows}):
        tubes.update((t.barcode, t) for t in Tube.objects.filter(barcode__in=chunk))
    first_sampled = _first_sampled([t.pk for t in tubes.values()])
    linked, changed, resulted = [], {}, {}
    with transaction.atomic():
        for row in rows:
            tube = tubes.get(row.barcode)
            if tube is None:
                continue
            first = first_sampled.get(tube.pk)
            if first is not None and row.tested_at < first:
                continue  # older than the tube's sampling: not this tube's result, stays unmatched
            row.tube = tube
            row.conflicting, applied = _resolve(tube, row.result, row.tested_at)
            if row.conflicting or applied:
                changed[tube.pk] = tube
            if applied:
                resulted[tube.pk] = row.result
            linked.append(row)
        if not linked:
            return 0
        LabResult.objects.bulk_update(linked, ["tube", "conflicting"], batch_size=500)
        _save_tubes(list(changed.values()))
        counts = _retest_outcomes(user, resulted)
        if user is not None:
            record_event(user, AuditAction.UPDATE, object_type="testing.labresult",
                         object_repr=_("未匹配检测结果关联采样管"),
                         changes={"linked": len(linked), "positives": counts["positives"]})
    return len(linked)


# Reading -----------------------------------------------------------------------------------------
def person_tests(person: Person, limit: int = 20) -> list[dict]:
    samples = list(Sample.objects.filter(person=person).select_related("tube", "tube__session__point")
                   .order_by("-sampled_at", "-id")[:limit])
    followups = {}
    for followup in PoolFollowup.objects.filter(person=person).order_by("created_at"):
        followups[followup.tube_id] = followup
        if followup.retest_id:
            followups.setdefault(("retest", followup.retest_id), followup)
    labels = dict(FollowupStatus.choices)
    out = []
    for sample in samples:
        tube = sample.tube
        followup = followups.get(tube.pk) or followups.get(("retest", sample.pk))
        out.append({
            "sample_id": sample.pk, "barcode": tube.barcode, "pool_size": tube.capacity,
            "pool_label": tube.get_capacity_display(), "point": tube.session.point.name,
            "result": tube.result, "result_label": tube.get_result_display() if tube.result else _("待出结果"),
            "needs_review": tube.needs_review, "sampled_at": sample.sampled_at, "resulted_at": tube.resulted_at,
            "duplicate": sample.duplicate,
            "followup_status": followup.status if followup else "",
            "followup_label": str(labels[followup.status]) if followup else "",
            "followup_deadline": followup.deadline if followup else None,
            "is_retest": bool(followup and followup.retest_id == sample.pk),
        })
    return out


def mask_members(tube: Tube) -> list[dict]:
    return [{"name": identity.mask_name(s.person.name), "document": s.person.doc_masked,
             "sampled_at": s.sampled_at, "duplicate": s.duplicate}
            for s in tube.samples.select_related("person").order_by("sampled_at", "id")]


# Result files ------------------------------------------------------------------------------------
MAX_FILE_BYTES = 50 * 1024 * 1024
FILE_TYPES = (".xlsx", ".xlsm", ".ods", ".csv", ".txt")
HEADERS = {
    "barcode": ["管码", "条码", "样本编号", "样本条码", "采样管码", "试管编号", "管号", "条形码", "样本号", "barcode"],
    "result": ["检测结果", "结果", "核酸结果", "核酸检测结果", "result"],
    "tested_at": ["检测时间", "报告时间", "检测日期", "出结果时间", "结果时间", "tested_at", "时间"],
    "ct_orf1ab": ["orf1ab", "orf1abct值", "ct值orf1ab", "ct值（orf1ab）", "orf1ab基因ct值", "orf1ab基因",
                  "ct_orf1ab"],
    "ct_n": ["n", "nct值", "ct值n", "ct值（n）", "n基因ct值", "n基因", "ct_n"],
    "ct": ["ct值", "ct", "ct_values"],
}


HEADER_MAP = Headers(HEADERS)


def rows_from_table(table: list[list]) -> list[dict] | None:
    """The result rows of one sheet ({barcode, result, tested_at, ct_values, _row}), None without a header."""
    for index, row in enumerate(table[:HEADER_SEARCH_ROWS]):
        columns = HEADER_MAP.columns(row)
        if not ("barcode" in columns and "result" in columns):
            continue
        start = index + 1
        # A merged "Ct值" above ORF1ab / N sub-headers: the next row names them.
        if start < len(table):
            sub = {}
            for position, value in enumerate(table[start]):
                name = HEADER_MAP.field(value)
                if name in ("ct_orf1ab", "ct_n"):
                    sub[name] = position
            if sub:
                columns.update(sub)
                columns.pop("ct", None)
                start += 1
        rows = []
        for number, values in enumerate(table[start:], start=start + 1):
            def cell(name, values=values, columns=columns):
                i = columns.get(name)
                return values[i] if i is not None and i < len(values) else None

            if all(v in (None, "") or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            ct = {}
            for name, label in (("ct_orf1ab", "ORF1ab"), ("ct_n", "N"), ("ct", "Ct")):
                value = cell(name)
                if value not in (None, "") and not (isinstance(value, str) and value.strip() in ("", "-", "/")):
                    ct[label] = value
            tested = cell("tested_at")
            rows.append({"_row": number, "barcode": cell("barcode"), "result": cell("result"),
                         "tested_at": tested.strip() if isinstance(tested, str) else tested, "ct_values": ct})
        return rows
    return None


def rows_from_file(data: bytes, suffix: str) -> list[dict]:
    for table in read_tables(data, suffix):
        rows = rows_from_table(table)
        if rows is not None:
            if not rows:
                raise ImportFileError(_("只有表头，没有数据行。"))
            return rows
    raise ImportFileError(_("找不到表头：前 %(n)d 行中须有一行含“管码”“检测结果”“检测时间”。") % {"n": HEADER_SEARCH_ROWS})


def import_result_file(user, uploaded_file, *, lab: str = "") -> dict:
    """A result file from the lab's LIS (csv in UTF-8/GBK or xlsx), then ingest_results."""
    _require(user, "testing.add_labresult")
    suffix = Path(getattr(uploaded_file, "name", "") or "").suffix.lower()
    if suffix not in FILE_TYPES:
        raise ImportFileError(_("只支持 Excel 工作簿（.xlsx）或 CSV 文件。"))
    if (getattr(uploaded_file, "size", 0) or 0) > MAX_FILE_BYTES:
        raise ImportFileError(_("文件超过 %(mb)d MB 上限。") % {"mb": MAX_FILE_BYTES // 1024 // 1024})
    rows = rows_from_file(uploaded_file.read(), suffix)
    if len(rows) > MAX_ROWS:
        raise ImportFileError(_("一次最多导入 %(max)d 行，请分批上传。") % {"max": MAX_ROWS})
    answer = ingest_results(user, rows, lab=lab)
    answer["file"] = getattr(uploaded_file, "name", "")
    return answer
