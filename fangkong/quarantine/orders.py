"""Running a control order through its stages: advancement on the dates, release, restart on a positive.

A stage advances on the day after its planned end when its conditions hold
(its last test negative, the room sample negative when the pack asks for
it); otherwise the order is held with the reason, and the daily job tries
again the next day. Release is the same check at the end of the last stage.
The daily job works in bulk: a few queries for any number of orders.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.policy import planning
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder
from fangkong.policy.services import note_history, quarantine_rules, refresh_statuses
from fangkong.testing.choices import Result
from fangkong.testing.models import Sample

from .choices import QuarantineTask, ReleaseCheck, SampleResult, StayEnd
from .models import Stay

HOME_STAGES = (Stage.HOME_ISOLATION, Stage.HOME_MONITORING)


# Conditions --------------------------------------------------------------------------------------
def _results_by_person(person_ids, since: date) -> dict[int, list[tuple[date, str]]]:
    """{person: [(sampling day, tube result or '')]} for samples taken on or after SINCE."""
    start = timezone.make_aware(datetime.combine(since, time.min))
    out: dict[int, list] = defaultdict(list)
    rows = (Sample.objects.filter(person_id__in=list(person_ids), sampled_at__gte=start)
            .values_list("person_id", "sampled_at", "tube__result", "tube__capacity"))
    for person_id, sampled_at, result, capacity in rows:
        # A positive pool says nothing about one member until the single re-test.
        if result == Result.POSITIVE and capacity != 1:
            result = ""
        out[person_id].append((timezone.localdate(sampled_at), result or ""))
    return out


def _latest_stays(order_ids) -> dict[int, Stay]:
    stays: dict[int, Stay] = {}
    for stay in (Stay.objects.filter(order_id__in=list(order_ids)).select_related("room")
                 .order_by("checked_in_at", "id")):
        stays[stay.order_id] = stay
    return stays


def _problems(order: ControlOrder, index: int, today: date, results: list, stay: Stay | None,
              rules: dict, *, ending: bool) -> list[tuple[str, str]]:
    """Why the stage at INDEX may not end yet (for the last stage: why the order may not be released)."""
    problems = []
    segment = order.stages[index]
    if any(result == Result.POSITIVE for _day, result in results):
        problems.append((ReleaseCheck.POSITIVE, _("管控期间核酸检测阳性")))
        return problems
    needs_test = rules["release_needs_negative_test"] if ending else rules["advance_needs_negative_tests"]
    tests = [date.fromisoformat(t) for t in segment.get("test_dates", [])]
    if ending and not tests:
        tests = [date.fromisoformat(t) for s in order.stages for t in s.get("test_dates", [])]
    if needs_test and tests:
        last = max(tests)
        taken = [(day, result) for day, result in results if day >= last]
        if any(result == Result.NEGATIVE for _day, result in taken):
            pass  # the last test day is covered
        elif taken:
            problems.append((ReleaseCheck.AWAITING, _("%(day)s 的核酸检测结果未出") % {"day": last.isoformat()}))
        else:
            problems.append((ReleaseCheck.MISSING, _("缺少 %(day)s（第 %(n)s 天）的核酸检测") % {
                "day": last.isoformat(), "n": (last - order.start_date).days + 1}))
    if (segment["stage"] == Stage.CENTRALIZED and rules["room_sample_required"] and stay is not None
            and stay.room_sample != SampleResult.NEGATIVE):
        problems.append((ReleaseCheck.ROOM, _("房间环境采样未出阴性结果")))
    return problems


def conditions(order: ControlOrder, today: date | None = None) -> list[str]:
    """What still stands between ORDER and its next stage (or its release), in words; empty when nothing."""
    today = today or timezone.localdate()
    index = planning.current_segment(order.stages, order.current_stage, order.stage_since)
    if index is None:
        return []
    results = _results_by_person([order.person_id], order.start_date).get(order.person_id, [])
    stay = _latest_stays([order.pk]).get(order.pk)
    problems = _problems(order, index, today, results, stay, quarantine_rules(order.pack),
                         ending=index == len(order.stages) - 1)
    return [text for _code, text in problems]


# One order ---------------------------------------------------------------------------------------
def _require_active(order: ControlOrder):
    if order.status != OrderStatus.ACTIVE:
        raise ValidationError(_("该管控措施已%(status)s，不能再变更。") % {"status": order.get_status_display()})


@transaction.atomic
def advance_order(user, order: ControlOrder, today: date | None = None) -> ControlOrder:
    """Move ORDER to its next stage (or release it after the last), refusing with the reason when it may not."""
    today = today or timezone.localdate()
    order = ControlOrder.objects.select_for_update(of=("self",)).select_related("pack", "person").get(pk=order.pk)
    _require_active(order)
    index = planning.current_segment(order.stages, order.current_stage, order.stage_since)
    if index is None:
        raise ValidationError(_("该管控措施没有可执行的阶段。"))
    end = date.fromisoformat(order.stages[index]["end"])
    if today < end:
        raise ValidationError(_("本阶段（%(stage)s）计划至 %(end)s 结束，未到转段时间。") % {
            "stage": Stage(order.current_stage).label, "end": end.isoformat()})
    if index == len(order.stages) - 1:
        return release_order(user, order, today=today)
    outcome = _step([order], today, user)
    if outcome["held"]:
        raise ValidationError(order.hold_reason)
    order.refresh_from_db()
    return order


@transaction.atomic
def release_order(user, order: ControlOrder, today: date | None = None) -> ControlOrder:
    """Release ORDER at the end of its last stage when the pack's conditions hold; refused with the reason."""
    today = today or timezone.localdate()
    order = ControlOrder.objects.select_for_update(of=("self",)).select_related("pack", "person").get(pk=order.pk)
    _require_active(order)
    if today < order.planned_end:
        raise ValidationError(_("计划解除日期为 %(end)s，未到解除时间。") % {"end": order.planned_end.isoformat()})
    index = planning.current_segment(order.stages, order.current_stage, order.stage_since)
    if index is not None and index < len(order.stages) - 1:
        raise ValidationError(_("尚未进入最后一个管控阶段（当前：%(stage)s）。") % {
            "stage": Stage(order.current_stage).label})
    outcome = _step([order], today, user)
    if outcome["held"]:
        raise ValidationError(order.hold_reason)
    order.refresh_from_db()
    return order


# The daily job -----------------------------------------------------------------------------------
def advance_due_orders(today: date | None = None, user=None) -> dict:
    """Advance or release every active order whose stage ended before TODAY; hold the others with the reason."""
    today = today or timezone.localdate()
    counts = {"due": 0, "advanced": 0, "released": 0, "held": 0, "to_home": 0}
    due = (ControlOrder.objects.filter(status=OrderStatus.ACTIVE, stage_end__lt=today)
           .select_related("pack").order_by("id"))
    ids = list(due.values_list("id", flat=True))
    for start in range(0, len(ids), 5000):
        with transaction.atomic():
            batch = list(due.filter(id__in=ids[start:start + 5000]).select_for_update(of=("self",)))
            outcome = _step(batch, today, user)
        for key in counts:
            counts[key] += outcome.get(key, 0)
    if counts["due"]:
        record_event(user, AuditAction.UPDATE, None, object_type="policy.controlorder", object_id="*",
                     object_repr=_("管控措施每日转段"), area_code="",
                     changes={key: [None, value] for key, value in counts.items()},
                     reason=_("%(day)s 每日转段与解除") % {"day": today.isoformat()})
    return counts


def _step(orders: list[ControlOrder], today: date, user) -> dict:
    """Advance, release or hold ORDERS (each past the end of its current stage) in a few statements."""
    counts = {"due": len(orders), "advanced": 0, "released": 0, "held": 0, "to_home": 0}
    if not orders:
        return counts
    since = min(o.start_date for o in orders)
    results = _results_by_person({o.person_id for o in orders}, since)
    stays = _latest_stays([o.pk for o in orders])
    rules_by_pack: dict[int, dict] = {}
    now = timezone.now()
    changed, to_home, released = [], [], []
    for order in orders:
        rules = rules_by_pack.setdefault(order.pack_id, quarantine_rules(order.pack))
        index = planning.current_segment(order.stages, order.current_stage, order.stage_since)
        if index is None:
            continue
        last = index == len(order.stages) - 1
        own_results = [r for r in results.get(order.person_id, []) if r[0] >= order.start_date]
        problems = _problems(order, index, today, own_results, stays.get(order.pk), rules, ending=last)
        if problems:
            reason = "；".join(text for _code, text in problems)[:200]
            if reason != order.hold_reason:
                order.hold_reason = reason
                note_history(order, "held", _("暂缓%(what)s：%(reason)s") % {
                    "what": _("解除") if last else _("转段"), "reason": reason}, user)
                changed.append(order)
            counts["held"] += 1
            continue
        order.hold_reason = ""
        if last:
            order.status, order.released_at = OrderStatus.RELEASED, now
            note_history(order, "released", _("期满解除（计划解除日期 %(end)s）") % {
                "end": order.planned_end.isoformat()}, user)
            released.append(order)
            counts["released"] += 1
        else:
            following = order.stages[index + 1]
            before = order.current_stage
            order.current_stage = following["stage"]
            order.stage_since = max(date.fromisoformat(following["start"]), today)
            note_history(order, "advanced", _("%(old)s期满，转入%(new)s") % {
                "old": Stage(before).label, "new": Stage(following["stage"]).label}, user)
            if following["stage"] in HOME_STAGES and before not in HOME_STAGES:
                to_home.append(order)
            counts["advanced"] += 1
        order.stage_end = order.current_stage_end()
        changed.append(order)
    _save_steps(changed, now)
    counts["to_home"] = len(to_home)
    if to_home:
        _hand_over_home(to_home, stays, user)
    if released:
        _wind_up(released, stays, user)
    refresh_statuses([o.person_id for o in changed])
    return counts


STEP_FIELDS = ["status", "released_at", "current_stage", "stage_since", "stage_end", "hold_reason", "history",
               "updated_at"]


def _save_steps(orders: list[ControlOrder], now: datetime) -> None:
    """One UPDATE per order, sent as one batch (faster than bulk_update's CASE over thousands of rows)."""
    if not orders:
        return
    fields = [ControlOrder._meta.get_field(name) for name in STEP_FIELDS]
    table = connection.ops.quote_name(ControlOrder._meta.db_table)
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    rows = []
    for order in orders:
        order.updated_at = now
        rows.append([f.get_db_prep_save(getattr(order, f.attname), connection) for f in fields] + [order.pk])
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", rows)


def _hand_over_home(orders: list[ControlOrder], stays: dict[int, Stay], user) -> None:
    """From the site to home: the care team is formed, and the site gets a task to check the person out."""
    from fangkong.accounts.choices import Role
    from fangkong.tasks.services import create_tasks

    from . import care

    care.form_teams(orders, user)
    deadline = timezone.now() + timedelta(hours=12)
    create_tasks([
        {"kind": QuarantineTask.LEAVE_SITE, "area": stay.area, "role": Role.SITE_STAFF, "deadline": deadline,
         "subject": order, "title": _("转出：%(room)s 转%(stage)s") % {
             "room": stay.room.number, "stage": Stage(order.current_stage).label},
         "description": _("集中隔离期满，请办理离开并安排点对点送返居家。")}
        for order in orders if (stay := stays.get(order.pk)) is not None and stay.checked_out_at is None
    ], created_by=user if user is not None and user.is_authenticated else None)


def _wind_up(orders: list[ControlOrder], stays: dict[int, Stay], user) -> None:
    """Released: anyone still at a site is checked out, the care team's tasks are done."""
    from fangkong.tasks.choices import OPEN_STATUSES, TaskStatus
    from fangkong.tasks.models import Task

    from .models import CareMember

    now = timezone.now()
    open_stays = [s.pk for o in orders if (s := stays.get(o.pk)) and s.checked_out_at is None]
    if open_stays:
        Stay.objects.filter(pk__in=open_stays, checked_out_at__isnull=True).update(
            checked_out_at=now, left_to=StayEnd.RELEASED, checked_out_by=user if user and user.is_authenticated
            else None)
    task_ids = CareMember.objects.filter(order__in=orders, task__isnull=False).values_list("task_id", flat=True)
    Task.objects.filter(Q(pk__in=task_ids), status__in=OPEN_STATUSES).update(
        status=TaskStatus.DONE, completed_at=now, result_note=_("管控期满解除"))


# Restart on a positive ---------------------------------------------------------------------------
@transaction.atomic
def restart_floors(stay: Stay, day: date, user=None) -> list[ControlOrder]:
    """A positive at a site: everyone on the same floor and the pack's floors above and below starts again."""
    rules = quarantine_rules(stay.order.pack)
    reach = rules.get("restart_floors")
    if reach is None:
        return []
    floors = range(stay.room.floor - int(reach), stay.room.floor + int(reach) + 1)
    neighbours = (Stay.objects.filter(site=stay.site, room__floor__in=floors, checked_out_at__isnull=True)
                  .exclude(pk=stay.pk).select_related("order", "order__rule", "order__person"))
    restarted = []
    for other in neighbours:
        order = other.order
        if order.status != OrderStatus.ACTIVE or order.rule is None:
            continue
        before_end = order.planned_end
        order.start_date = day
        order.stages = planning.plan_stages(order.rule.stages, day)
        order.planned_end = planning.planned_end(order.stages)
        order.current_stage, order.stage_since, order.hold_reason = order.stages[0]["stage"], day, ""
        note_history(order, "restarted", _("同楼层（或上下层）%(room)s 人员阳性，自 %(day)s 起重新计算隔离期") % {
            "room": stay.room.number, "day": day.isoformat()}, user)
        order.save()
        record_event(user, AuditAction.UPDATE, order, changes={"planned_end": [before_end.isoformat(),
                                                                               order.planned_end.isoformat()]},
                     reason=_("隔离点阳性，重新计算隔离期"))
        restarted.append(order)
    refresh_statuses([o.person_id for o in restarted])
    return restarted


def on_positive(person_ids, day: date, user=None) -> int:
    """Called by testing for single positives: a positive staying at a site restarts the floors around them."""
    from fangkong.warning.choices import Severity, SignalKind
    from fangkong.warning.services import raise_signal

    count = 0
    for stay in Stay.objects.filter(person_id__in=list(person_ids), checked_out_at__isnull=True).select_related(
            "room", "site", "order", "order__pack"):
        restarted = restart_floors(stay, day, user)
        raise_signal(SignalKind.SITE_POSITIVE, area=stay.area, person_id=stay.person_id, subject=stay.site,
                     severity=Severity.CRITICAL, details={"room": stay.room.number, "restarted": len(restarted)},
                     title=_("隔离点阳性：%(site)s %(room)s，%(n)s 人重新计算隔离期") % {
                         "site": stay.site.name, "room": stay.room.number, "n": len(restarted)})
        count += len(restarted)
    return count


# Test days ---------------------------------------------------------------------------------------
def test_day_tasks(today: date | None = None, user=None) -> int:
    """Sampling tasks for today's test days: one per site for the people staying there, one per person at home."""
    from fangkong.accounts.choices import Role
    from fangkong.tasks.models import Task
    from fangkong.tasks.services import create_task

    today = today or timezone.localdate()
    day = today.isoformat()
    orders = [o for o in ControlOrder.objects.filter(status=OrderStatus.ACTIVE, stages__icontains=f'"{day}"')
              .select_related("person") if any(day in s.get("test_dates", []) for s in o.stages)]
    if not orders:
        return 0
    deadline = timezone.make_aware(datetime.combine(today, time(18)))
    stays = {s.order_id: s for s in Stay.objects.filter(order__in=orders, checked_out_at__isnull=True)
             .select_related("site")}
    done = set(Task.objects.filter(kind=QuarantineTask.TEST_DAY, deadline=deadline)
               .values_list("subject_id", flat=True))
    by_site: dict[int, list] = defaultdict(list)
    created = 0
    for order in orders:
        stay = stays.get(order.pk)
        if stay is not None:
            by_site[stay.site_id].append(stay)
            continue
        if str(order.pk) in done:
            continue
        number = (today - order.start_date).days + 1
        create_task(kind=QuarantineTask.TEST_DAY, area=order.area, role=Role.GRID_WORKER, deadline=deadline,
                    subject=order, created_by=user,
                    title=_("上门采样：%(name)s（管控第 %(n)s 天）") % {"name": order.person.name, "n": number},
                    description=_("今天是该人员的核酸检测日，请安排上门采样并录入采样记录。"))
        created += 1
    for site_stays in by_site.values():
        site = site_stays[0].site
        if str(site.pk) in done:
            continue
        rooms = "、".join(sorted({s.room.number for s in site_stays}))
        create_task(kind=QuarantineTask.TEST_DAY, area=site.area, role=Role.SITE_STAFF, deadline=deadline,
                    subject=site, created_by=user,
                    title=_("%(site)s 今日核酸采样 %(n)s 人") % {"site": site.name, "n": len(site_stays)},
                    description=_("今天是以下房间人员的检测日：%(rooms)s") % {"rooms": rooms})
        created += 1
    return created


def run_day(now: datetime | None = None, user=None) -> dict:
    """Everything the quarantine side does on a schedule; each step is idempotent."""
    from . import care, transfers

    now = now or timezone.now()
    today = timezone.localdate(now)
    summary = advance_due_orders(today, user)
    summary["test_tasks"] = test_day_tasks(today, user)
    summary["missed_checks"] = care.detect_missed_checks(now)
    summary["transfers_escalated"] = transfers.escalate_unacknowledged(now)
    return summary
