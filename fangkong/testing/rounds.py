"""Mass-testing rounds (区域核酸 / 全员核酸筛查): every resident of an area sampled before the deadline, 不漏一人.

HQ starts a round for an area (county, township, village, grid) or for a
tracing control zone (its area, or its building). The residents are the
current people living there; a resident counts as sampled with any sample
in the round's window (from the start to the deadline, or to now while the
round is still open: late samples of an open round count). A resident not
sampled is either exempted with a reason (外出, 卧床 → a home-sampling task
for the grid worker, 已在隔离, 其他) or missing.

Coverage is set-based: people are counted per grid on the partial index
(area, name, id), samples per grid on the (area, sampled_at) index, so a
county round is a few grouped range scans, never a loop over people. A
sample is counted in the grid it was taken for (``Sample.area``, the
person's grid at sampling time).

Closing a round of a tracing zone records it as that zone's
``tracing.TestingRound`` (day, tested, positives), which the zone's lift
criteria read (china-ops.md §3: rounds until 3 clean ones, §7: 24 h each).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Building
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.scope import in_scope, prefix_q
from fangkong.people.models import Person
from fangkong.tasks.services import create_task

from .choices import FollowupStatus, PoolSize, Result
from .models import ExemptionReason, PoolFollowup, RoundExemption, RoundStatus, Sample, TestRound

HOME_SAMPLING = "home_sampling"
MAX_HOURS = 24 * 7
BY_CHOICES = ("grid", "building", "village", "township")
# The significant code length of the level a grid's code rolls up to.
ROLLUP_LENGTH = {"village": 12, "township": 9}


def _require(user, perm: str) -> None:
    if user is None or not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied


def rounds_for(user, action: str = "view"):
    """The rounds USER may see: those of areas in their jurisdiction and those covering it (a county round)."""
    rounds = TestRound.objects.restrict(user, action)
    if action == "view" and user.is_authenticated and user.area_id and user.has_perm("testing.view_testround"):
        covering = [area.code for area in user.area.ancestors()]
        if covering:
            rounds = rounds | TestRound.objects.filter(area_id__in=covering)
    return rounds


# Starting and closing ----------------------------------------------------------------------------
@transaction.atomic
def start_round(user, *, area: Area | None = None, zone=None, name: str = "", starts_at: datetime | None = None,
                hours: int = 24, request=None) -> TestRound:
    """Start a round for AREA or for ZONE (a tracing ControlZone); numbered after the area's previous rounds."""
    _require(user, "testing.add_testround")
    errors = {}
    if zone is not None:
        if zone.status not in ("proposed", "published"):
            errors["zone"] = _("已解除或已放弃的管控区域不能再开展区域核酸检测。")
        area = zone.area
    if area is None:
        errors["area"] = _("请选择检测区域。")
    elif not in_scope(area.code, user.scope_prefix):
        errors["area"] = _("所选区划不在您的管辖范围内。")
    try:
        hours = int(hours)
    except (TypeError, ValueError):
        hours = 0
    if not 1 <= hours <= MAX_HOURS:
        errors["hours"] = _("时限应在 1 至 %(max)d 小时之间。") % {"max": MAX_HOURS}
    name = (name or "").strip()
    if len(name) > 100:
        errors["name"] = _("名称不能超过100个字。")
    if errors:
        raise ValidationError(errors)
    starts_at = starts_at or timezone.now()
    previous = TestRound.objects.filter(area=area)
    previous = previous.filter(zone=zone) if zone is not None and zone.building_id else previous
    number = previous.count() + 1
    if not name:
        place = zone.name if zone is not None else area.name
        name = _("%(place)s第%(number)d轮区域核酸检测") % {"place": place, "number": number}
    test_round = TestRound.objects.create(name=name[:100], area=area, zone=zone, number=number, starts_at=starts_at,
                                          deadline=starts_at + timedelta(hours=hours), created_by=user)
    record_event(user, AuditAction.CREATE, test_round, request=request,
                 changes={"area": area.code, "zone": zone.pk if zone is not None else None, "number": number,
                          "hours": hours})
    return test_round


def close_round(user, test_round: TestRound, request=None) -> TestRound:
    """Close the round; a zone's round is recorded as the zone's TestingRound for its lift criteria."""
    _require(user, "testing.change_testround")
    if not rounds_for(user, "change").filter(pk=test_round.pk).exists():
        raise PermissionDenied
    if test_round.status == RoundStatus.CLOSED:
        return test_round
    with transaction.atomic():
        test_round.status, test_round.closed_at = RoundStatus.CLOSED, timezone.now()
        test_round.save(update_fields=["status", "closed_at"])
        facts = summary(test_round)
        record_event(user, AuditAction.UPDATE, test_round, request=request,
                     changes={"status": [RoundStatus.OPEN, RoundStatus.CLOSED], "people": facts["people"],
                              "positives": facts["positives"]})
        if test_round.zone_id:
            _record_zone_round(user, test_round, facts, request)
    return test_round


def _record_zone_round(user, test_round: TestRound, facts: dict, request=None):
    from fangkong.tracing import zones

    zone = test_round.zone
    if zone.status not in zones.ACTIVE_STATUSES or facts["people"] < 1:
        return None
    day = min(timezone.localdate(test_round.starts_at), timezone.localdate())
    return zones.record_round(user, zone, day, facts["people"], facts["positives"], request=request)


def zone_rounds_done(zone) -> int:
    """Rounds of ZONE closed so far."""
    return TestRound.objects.filter(zone=zone, status=RoundStatus.CLOSED).count()


# Who is expected ---------------------------------------------------------------------------------
def window(test_round: TestRound) -> tuple[datetime, datetime]:
    """The round's sampling window: start to deadline; an open round counts late samples up to now."""
    if test_round.status == RoundStatus.OPEN:
        return test_round.starts_at, max(test_round.deadline, timezone.now())
    return test_round.starts_at, max(test_round.deadline, test_round.closed_at or test_round.deadline)


def _building_id(test_round: TestRound) -> int | None:
    return test_round.zone.building_id if test_round.zone_id else None


def residents(test_round: TestRound, within: Area | None = None):
    """The current people expected in the round (optionally only those inside WITHIN)."""
    people = Person.objects.current()
    building_id = _building_id(test_round)
    if building_id:
        people = people.filter(household__building_id=building_id)
    else:
        people = people.filter(prefix_q("area_id", test_round.area.prefix))
    if within is not None:
        people = people.filter(prefix_q("area_id", within.prefix))
    return people


def samples(test_round: TestRound):
    """The samples of the round: taken in its window for people of its area (its building)."""
    start, end = window(test_round)
    rows = Sample.objects.filter(prefix_q("area_id", test_round.area.prefix), sampled_at__gte=start,
                                 sampled_at__lte=end)
    building_id = _building_id(test_round)
    if building_id:
        rows = rows.filter(person__household__building_id=building_id)
    return rows


def missing(test_round: TestRound, user, within: Area | None = None):
    """The residents of USER's area in the round not sampled and not exempted (不漏一人), by grid and name."""
    if not user.has_perm("testing.view_testround"):
        return Person.objects.none()
    prefix = user.scope_prefix
    people = residents(test_round, within)
    if prefix is not None:
        people = people.filter(prefix_q("area_id", prefix))
    start, end = window(test_round)
    sampled = Sample.objects.filter(person_id=OuterRef("pk"), sampled_at__gte=start, sampled_at__lte=end)
    exempted = RoundExemption.objects.filter(round=test_round, person_id=OuterRef("pk"))
    return (people.filter(~Exists(sampled), ~Exists(exempted))
            .select_related("area__parent", "household__building").order_by("area_id", "name", "id"))


# Coverage ----------------------------------------------------------------------------------------
def _group_key(by: str, test_round: TestRound):
    """How a row's grid code becomes the key at the level BY (None: keep the grid)."""
    length = ROLLUP_LENGTH.get(by)
    if length is None or len(test_round.area.prefix) > length:
        return None
    return lambda code: code[:length]


def coverage(test_round: TestRound, by: str = "grid") -> dict:
    """Coverage of the round per grid, building, village or township: {"rows": [...], "totals": {...}}.

    Each row: key, label, residents, sampled, exempted (not sampled, with a reason), missing, percent
    (sampled and exempted out of residents).
    """
    if by not in BY_CHOICES:
        raise ValidationError({"by": [_("分组方式应为 grid、building、village 或 township。")]})
    if by == "building":
        resident_rows, sampled_rows, exempt_rows = _by_building(test_round)
        labels = _building_labels(set(resident_rows) | set(sampled_rows) | set(exempt_rows))
    else:
        resident_rows, sampled_rows, exempt_rows = _by_area(test_round)
        rollup = _group_key(by, test_round)
        if rollup is not None:
            resident_rows, sampled_rows, exempt_rows = (_roll(rows, rollup)
                                                        for rows in (resident_rows, sampled_rows, exempt_rows))
        labels = _area_labels(set(resident_rows) | set(sampled_rows) | set(exempt_rows), by)
    rows = []
    for key in sorted(set(resident_rows) | set(sampled_rows) | set(exempt_rows), key=lambda k: (k is None, str(k))):
        rows.append(_row(key, labels.get(key, _("未分楼栋") if key is None else str(key)),
                         resident_rows.get(key, 0), sampled_rows.get(key, 0), exempt_rows.get(key, 0)))
    totals = _row(None, _("合计"), sum(r["residents"] for r in rows), sum(r["sampled"] for r in rows),
                  sum(r["exempted"] for r in rows))
    return {"by": by, "rows": rows, "totals": totals}


def _row(key, label, residents_n: int, sampled_n: int, exempted_n: int) -> dict:
    sampled_n = min(sampled_n, residents_n) if residents_n else sampled_n
    exempted_n = min(exempted_n, max(residents_n - sampled_n, 0))
    missing_n = max(residents_n - sampled_n - exempted_n, 0)
    percent = round(100 * (sampled_n + exempted_n) / residents_n, 1) if residents_n else 0.0
    return {"key": key, "label": str(label), "residents": residents_n, "sampled": sampled_n,
            "exempted": exempted_n, "missing": missing_n, "percent": percent}


def _roll(rows: dict, rollup) -> dict:
    out: dict = {}
    for key, n in rows.items():
        target = rollup(key)
        out[target] = out.get(target, 0) + n
    return out


def _counts(queryset, field: str, distinct_field: str | None = None) -> dict:
    count = Count(distinct_field, distinct=True) if distinct_field else Count("*")
    return {row[field]: row["n"] for row in queryset.order_by().values(field).annotate(n=count)}


def _exemptions(test_round: TestRound):
    """The round's exemptions of residents not sampled in the window (a sampled one counts as sampled)."""
    start, end = window(test_round)
    sampled = Sample.objects.filter(person_id=OuterRef("person_id"), sampled_at__gte=start, sampled_at__lte=end)
    rows = RoundExemption.objects.filter(round=test_round, person__merged_into__isnull=True).filter(~Exists(sampled))
    building_id = _building_id(test_round)
    if building_id:
        return rows.filter(person__household__building_id=building_id)
    return rows.filter(prefix_q("person__area_id", test_round.area.prefix))


def _by_area(test_round: TestRound):
    people = _counts(residents(test_round), "area_id")
    done = _counts(samples(test_round), "area_id", "person_id")
    exempted = _counts(_exemptions(test_round), "person__area_id")
    return people, done, exempted


def _by_building(test_round: TestRound):
    people = _counts(residents(test_round), "household__building_id")
    done = _counts(samples(test_round).annotate(building=F("person__household__building_id")), "building",
                   "person_id")
    exempted = _counts(_exemptions(test_round), "person__household__building_id")
    return people, done, exempted


def _area_labels(codes: set, by: str) -> dict:
    codes = {c for c in codes if c}
    if not codes:
        return {}
    if by in ROLLUP_LENGTH:
        found = Area.objects.filter(prefix__in=codes).select_related("parent")
        return {a.prefix: _area_label(a) for a in found}
    found = Area.objects.filter(code__in=codes).select_related("parent")
    return {a.code: _area_label(a) for a in found}


def _area_label(area: Area) -> str:
    if area.level == AreaLevel.GRID and area.parent_id:
        return f"{area.parent.name} {area.name}"
    return area.name


def _building_labels(ids: set) -> dict:
    ids = {i for i in ids if i}
    found = Building.objects.filter(pk__in=ids).select_related("area")
    return {b.pk: f"{b.area.name} {b.name}" for b in found}


# Exemptions --------------------------------------------------------------------------------------
def exempt(user, test_round: TestRound, person: Person, reason: str, note: str = "", request=None) -> RoundExemption:
    """Record why PERSON is not sampled at a point in the round; bedridden makes a home-sampling task."""
    _require(user, "testing.add_roundexemption")
    if not rounds_for(user).filter(pk=test_round.pk).exists():
        raise PermissionDenied
    if not in_scope(person.area_id, user.scope_prefix):
        raise PermissionDenied
    errors = {}
    if test_round.status != RoundStatus.OPEN:
        errors["__all__"] = _("该轮次已结束。")
    if reason not in ExemptionReason.values:
        errors["reason"] = _("请选择未采样原因。")
    note = (note or "").strip()
    if len(note) > 200:
        errors["note"] = _("说明不能超过200个字。")
    if reason == ExemptionReason.OTHER and not note:
        errors["note"] = _("选择“其他”时请填写说明。")
    if not residents(test_round).filter(pk=person.pk).exists():
        errors["person"] = _("该人员不在本轮检测范围内。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        existing = RoundExemption.objects.select_for_update().filter(round=test_round, person=person).first()
        task = existing.task if existing is not None else None
        if reason == ExemptionReason.BEDRIDDEN and task is None:
            task = create_task(
                kind=HOME_SAMPLING, title=_("上门采样：%(name)s（%(round)s）") % {
                    "name": person.name, "round": test_round.name},
                description=note, area=person.area, role=Role.GRID_WORKER,
                deadline=max(test_round.deadline, timezone.now() + timedelta(hours=2)), subject=person,
                created_by=user)
        values = {"reason": reason, "note": note, "task": task, "recorded_by": user}
        try:
            exemption, created = RoundExemption.objects.update_or_create(round=test_round, person=person,
                                                                         defaults=values)
        except IntegrityError:  # pragma: no cover - the same exemption sent twice at once
            exemption, created = RoundExemption.objects.get(round=test_round, person=person), False
        record_event(user, AuditAction.CREATE if created else AuditAction.UPDATE, exemption, request=request,
                     object_repr=f"{test_round.name} {person.audit_repr()}",
                     changes={"reason": reason, "task": task.pk if task else None})
    return exemption


# Results -----------------------------------------------------------------------------------------
def summary(test_round: TestRound) -> dict:
    """Tubes, people, positives and pools under re-test (单采复核) of the round's samples."""
    rows = samples(test_round)
    tube_ids = rows.order_by().values("tube_id").distinct()
    facts = rows.order_by().aggregate(
        people=Count("person_id", distinct=True), tubes=Count("tube_id", distinct=True),
        resulted=Count("tube_id", distinct=True, filter=~Q(tube__result="")),
        positive_tubes=Count("tube_id", distinct=True, filter=Q(tube__result=Result.POSITIVE)),
        positive_pools=Count("tube_id", distinct=True,
                             filter=Q(tube__result=Result.POSITIVE) & ~Q(tube__capacity=PoolSize.SINGLE)),
        duplicates=Count("id", filter=Q(duplicate=True)),
    )
    positives = set(rows.filter(tube__result=Result.POSITIVE, tube__capacity=PoolSize.SINGLE)
                    .values_list("person_id", flat=True).distinct())
    followups = PoolFollowup.objects.filter(tube_id__in=tube_ids)
    positives |= set(followups.filter(status=FollowupStatus.POSITIVE).values_list("person_id", flat=True))
    facts["positives"] = len(positives)
    facts["pools_retesting"] = (followups.filter(status__in=[FollowupStatus.PENDING, FollowupStatus.SAMPLED])
                                .values("tube_id").distinct().count())
    facts["exemptions"] = _counts(RoundExemption.objects.filter(round=test_round), "reason")
    return facts
