"""Home isolation and monitoring with 五包一: care teams, health checks, missed checks, visits, random calls.

Every person managed at home gets a care team of named roles (the list is
data: ``quarantine_rules(pack)["care_roles"]``), filled by default with the
nearest account holding the role; each member with an account sees the
person in their inbox. Health checks come from the team, the site staff or
the person through a signed link; a fever or a missed check raises a signal
and puts an escalation task in someone's inbox. The missed-check job works
in bulk (a few queries for any number of orders).
"""

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.accounts.choices import Role
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event, record_events
from fangkong.people.identity import mask_name, validate_phone
from fangkong.people.models import Person
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder, PolicyPack
from fangkong.policy.services import note_history, quarantine_rules
from fangkong.tasks.choices import OPEN_STATUSES, TaskStatus
from fangkong.tasks.models import Task
from fangkong.tasks.services import OFFICER_ROLE_FOR_LEVEL, create_task
from fangkong.warning.choices import Severity, SignalKind
from fangkong.warning.models import Signal
from fangkong.warning.services import raise_signal, raise_signals

from .access import orders_for
from .choices import CheckSource, QuarantineTask, Symptom, VisitKind, VisitOutcome
from .models import CareMember, HealthCheck, HomeVisit, MissedCheck, Stay

HOME_STAGES = (Stage.HOME_ISOLATION, Stage.HOME_MONITORING)
CHECKED_STAGES = (Stage.CENTRALIZED, *HOME_STAGES)
MIN_TEMPERATURE = Decimal("34.0")
MAX_TEMPERATURE = Decimal("42.0")
# Only the last few days are examined for missed checks: older ones were either raised then or are moot.
MISSED_LOOKBACK_DAYS = 2
FEVER_TASK_HOURS = 1
MISSED_TASK_HOURS = 2
VIOLATION_TASK_HOURS = 2
SELF_CHECK_SALT = "quarantine.self-check"
# A self-report link outlives any plausible order; it stops working as soon as the order does.
SELF_CHECK_MAX_AGE = timedelta(days=60)
# Who on the team is asked first when a check is missed: the community cadre, then the grid worker.
MISSED_CHECK_ROLES = (Role.VILLAGE_OFFICER, Role.GRID_WORKER, Role.TOWNSHIP_OFFICER)
NOT_UNDER_ORDER = gettext_lazy("该人员不在管控中，不能记录健康监测。")


def _now_aware(value=None) -> datetime:
    value = value or timezone.now()
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _end_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def _stage_label(stage: str) -> str:
    return str(Stage(stage).label) if stage in Stage.values else ""


def _authenticated(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


# The area tree ------------------------------------------------------------------------------------
def _tree(codes) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each area code -> itself and its ancestors' codes, closest first; and each code's level.

    One query per tree level, whatever the number of codes.
    """
    parents: dict[str, str | None] = {}
    levels: dict[str, str] = {}
    todo = set(codes)
    while todo:
        rows = Area.objects.filter(code__in=todo).values_list("code", "parent_id", "level")
        todo = set()
        for code, parent, level in rows:
            parents[code], levels[code] = parent, level
            if parent and parent not in parents:
                todo.add(parent)
    chains = {}
    for code in codes:
        chain, node = [], code
        while node is not None and node in parents and node not in chain:
            chain.append(node)
            node = parents[node]
        chains[code] = chain
    return chains, levels


def _duty_officers(codes) -> dict[str, tuple[str, str]]:
    """Each area code -> (area code, role) of the officer who answers for it: the village's officer.

    An area above village level answers for itself (a township's officers).
    """
    chains, levels = _tree(codes)
    result = {}
    for code, chain in chains.items():
        village = next((c for c in chain if levels.get(c) == AreaLevel.VILLAGE), None)
        if village is not None:
            result[code] = (village, Role.VILLAGE_OFFICER)
        else:
            result[code] = (code, OFFICER_ROLE_FOR_LEVEL.get(levels.get(code), Role.HQ_STAFF))
    return result


# Care teams --------------------------------------------------------------------------------------
def care_roles(order: ControlOrder) -> list[dict]:
    return list(quarantine_rules(order.pack).get("care_roles") or [])


def _team_title(name: str, stage: str) -> str:
    return _("五包一：%(name)s（%(stage)s）") % {"name": name, "stage": _stage_label(stage) or _("居家管控")}


def _care_description(order: ControlOrder, label: str) -> str:
    return _("您是该人员“五包一”包保团队的%(role)s，计划解除日期 %(end)s。请每日跟进健康监测，发现异常及时上报。") % {
        "role": label, "end": order.planned_end.isoformat()}


@transaction.atomic
def form_teams(orders, user=None) -> int:
    """Form the care team of each of ORDERS (idempotent: places already filled are kept). Returns members added.

    Each place is filled with the nearest active account holding the role's
    account_role in the order's area or above it (closest first; among
    equals, the one with the fewest open care assignments), else left for a
    cadre to name. Members with an account get a task in their inbox.
    """
    orders = [o for o in orders if o.status == OrderStatus.ACTIVE]
    if not orders:
        return 0
    packs = {p.pk: p for p in PolicyPack.objects.filter(pk__in={o.pack_id for o in orders})}
    roles_of = {pk: list(quarantine_rules(pack).get("care_roles") or []) for pk, pack in packs.items()}
    taken = set(CareMember.objects.filter(order__in=[o.pk for o in orders]).values_list("order_id", "role"))
    chains, _levels = _tree({o.area_id for o in orders})
    account_roles = {r.get("account_role") for roles in roles_of.values() for r in roles if r.get("account_role")}
    all_codes = {c for chain in chains.values() for c in chain}
    User = get_user_model()
    candidates = defaultdict(list)  # (area code, role) -> [[load, id, user]]
    if account_roles and all_codes:
        users = User.objects.filter(is_active=True, role__in=account_roles, area_id__in=all_codes).annotate(
            load=Count("care_assignments", filter=Q(care_assignments__order__status=OrderStatus.ACTIVE)))
        for candidate in users:
            candidates[(candidate.area_id, candidate.role)].append([candidate.load, candidate.pk, candidate])
    names = dict(Person.objects.filter(pk__in={o.person_id for o in orders}).values_list("pk", "name"))
    content_type = ContentType.objects.get_for_model(ControlOrder)
    creator = user if _authenticated(user) else None
    now = timezone.now()
    new_members, new_tasks, audits = [], [], []
    for order in orders:
        added = []
        for spec in roles_of.get(order.pack_id, []):
            code = spec.get("code")
            if not code or (order.pk, code) in taken:
                continue
            taken.add((order.pk, code))
            chosen = None
            for area_code in chains.get(order.area_id, []):
                pool = candidates.get((area_code, spec.get("account_role")))
                if pool:
                    entry = min(pool, key=lambda e: (e[0], e[1]))
                    entry[0] += 1  # spread the next assignments over the others of that level
                    chosen = entry[2]
                    break
            member = CareMember(order=order, role=code, role_label=spec.get("label", code)[:30],
                                user=chosen, name=(str(chosen) if chosen else "")[:50])
            task = None
            if chosen is not None:
                task = Task(kind=QuarantineTask.CARE, title=_team_title(names.get(order.person_id, ""),
                                                                          order.current_stage)[:200],
                            description=_care_description(order, member.role_label), area_id=order.area_id,
                            role=chosen.role, assignee=chosen, deadline=_end_of_day(order.planned_end),
                            subject_type=content_type, subject_id=str(order.pk), created_by=creator, created_at=now)
                new_tasks.append(task)
            new_members.append((member, task))
            added.append(f"{member.role_label}：{member.name or _('待指定')}")
        if added:
            audits.append((order, {"care_team": [None, added]}))
    record_events(user, AuditAction.UPDATE, audits, object_repr=_("五包一包保团队"),
                  reason=_("转居家管控，组建包保团队"))
    # Bulk: a day's stage advancement may send thousands home at once (tasks.services.create_task, one by one).
    Task.objects.bulk_create(new_tasks, batch_size=500)
    for member, task in new_members:
        member.task = task
    CareMember.objects.bulk_create([m for m, _t in new_members], batch_size=500)
    return len(new_members)


def team(order: ControlOrder) -> list[CareMember]:
    """The order's members in the pack's role order (roles no longer listed come last)."""
    rank = {spec.get("code"): i for i, spec in enumerate(care_roles(order))}
    members = list(order.care_members.select_related("user", "task"))
    return sorted(members, key=lambda m: (rank.get(m.role, len(rank)), m.pk))


def form_team(order: ControlOrder, user=None) -> list[CareMember]:
    """Form ORDER's care team (idempotent) and return it."""
    form_teams([order], user)
    return team(order)


def _may_change_team(user, order: ControlOrder) -> bool:
    return (_authenticated(user) and user.has_perm("quarantine.change_caremember")
            and orders_for(user, "change").filter(pk=order.pk).exists())


def team_accounts(order: ControlOrder):
    """Accounts that may be named to ORDER's team: active, in the order's area, above it or below it."""
    chain = _tree([order.area_id])[0].get(order.area_id, [])
    area = order.area
    return get_user_model().objects.filter(is_active=True).filter(
        Q(area_id__in=chain) | area.subtree_q("area_id")).select_related("area").order_by("role", "username")


@transaction.atomic
def set_member(user, order: ControlOrder, role: str, name: str = "", phone: str = "", account=None) -> CareMember:
    """Name (or replace) the member holding ROLE on ORDER's team; the old member's task is withdrawn."""
    if not _may_change_team(user, order):
        raise PermissionDenied
    if order.status != OrderStatus.ACTIVE:
        raise ValidationError(_("该人员不在管控中。"))
    specs = {spec.get("code"): spec for spec in care_roles(order)}
    if role not in specs:
        raise ValidationError({"role": [_("不认识的包保角色。")]})
    errors = {}
    if account is not None and (not account.is_active or not team_accounts(order).filter(pk=account.pk).exists()):
        errors["account"] = [_("该账号不可用，或不在该人员所在区划及上下级。")]
    name = (name or "").strip() or (str(account) if account is not None else "")
    if not name:
        errors["name"] = [_("请填写包保人员姓名。")]
    elif len(name) > 50:
        errors["name"] = [_("姓名不能超过50个字。")]
    try:
        phone = validate_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    if errors:
        raise ValidationError(errors)
    label = specs[role].get("label", role)[:30]
    member = CareMember.objects.select_for_update(of=("self",)).filter(order=order, role=role).select_related("task").first()
    before = {"name": member.name, "phone": member.phone, "user": member.user_id} if member else None
    if member is None:
        member = CareMember(order=order, role=role, role_label=label)
    if member.task_id and member.task.is_open and (account is None or member.user_id != account.pk):
        member.task.status = TaskStatus.CANCELLED
        member.task.result_note = _("包保人员已更换")
        member.task.save(update_fields=["status", "result_note"])
        record_event(user, AuditAction.UPDATE, member.task, object_repr=member.task.title,
                     changes={"status": [TaskStatus.OPEN, TaskStatus.CANCELLED]}, reason=_("包保人员已更换"))
        member.task = None
    keep_task = account is not None and member.user_id == account.pk and member.task_id
    member.role_label, member.name, member.phone, member.user = label, name, phone, account
    if account is not None and not keep_task:
        member.task = create_task(
            kind=QuarantineTask.CARE, title=_team_title(order.person.name, order.current_stage)[:200],
            description=_care_description(order, label), area=order.area, role=account.role,
            deadline=_end_of_day(order.planned_end), subject=order, assignee=account, created_by=user)
    member.save()
    after = {"name": name, "phone": phone, "user": account.pk if account else None}
    note_history(order, "care_member", _("%(role)s：%(name)s") % {"role": label, "name": name}, user)
    order.save(update_fields=["history", "updated_at"])
    record_event(user, AuditAction.UPDATE if before else AuditAction.CREATE, order, object_repr=_("五包一包保团队"),
                 changes={f"care_member.{role}": [before, after]})
    return member


def on_team(user, order: ControlOrder) -> bool:
    return _authenticated(user) and order.care_members.filter(user=user).exists()


# Health checks -----------------------------------------------------------------------------------
def active_order_of(person) -> ControlOrder | None:
    return ControlOrder.objects.filter(person=person, status=OrderStatus.ACTIVE).order_by("-id").first()


def clean_temperature(value) -> Decimal:
    try:
        temperature = Decimal(str(value).strip()).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({"temperature": [ValidationError(_("请填写体温，如 36.5。"), code="required")]}) from None
    if not temperature.is_finite() or not (MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE):
        raise ValidationError({"temperature": [ValidationError(
            _("体温数值不合理（应在 %(low)s–%(high)s ℃ 之间），请复测后重新填写。") % {
                "low": MIN_TEMPERATURE, "high": MAX_TEMPERATURE}, code="implausible")]})
    return temperature


def clean_symptoms(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    cleaned = []
    for value in values:
        value = str(value).strip()
        if not value:
            continue
        if value not in Symptom.values:
            raise ValidationError({"symptoms": [_("不认识的症状：%(value)s") % {"value": value[:20]}]})
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def _may_record(user, order: ControlOrder, perm: str) -> bool:
    if not (_authenticated(user) and user.is_active and user.has_perm(perm)):
        return False
    if orders_for(user).filter(pk=order.pk).exists():
        return True
    # Site staff check the people in their site's rooms, wherever those people live.
    return Stay.objects.filter(order=order, checked_out_at__isnull=True, site__staff=user).exists()


@transaction.atomic
def record_check(user, order, temperature, symptoms=None, note: str = "", source: str = CheckSource.CARE,
                 taken_at=None) -> HealthCheck:
    """Record a temperature and symptom check of someone under an order (ORDER may be the person).

    SOURCE is ``self`` for the person's own report through the signed link
    (USER is then None). A fever raises a signal and a one-hour task.
    """
    if isinstance(order, Person):
        order = active_order_of(order)
        if order is None:
            raise ValidationError(str(NOT_UNDER_ORDER))
    if source not in CheckSource.values:
        raise ValidationError({"source": [_("不认识的来源。")]})
    if source != CheckSource.SELF and not _may_record(user, order, "quarantine.add_healthcheck"):
        raise PermissionDenied
    order = ControlOrder.objects.select_related("person", "pack", "area").get(pk=order.pk)
    if order.status != OrderStatus.ACTIVE:
        raise ValidationError(str(NOT_UNDER_ORDER))
    errors = {}
    try:
        temperature = clean_temperature(temperature)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    try:
        symptoms = clean_symptoms(symptoms)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    note = (note or "").strip()
    if len(note) > 200:
        errors["note"] = [ValidationError(_("备注不能超过200个字。"))]
    now = timezone.now()
    taken_at = _now_aware(taken_at) if taken_at else now
    if taken_at > now + timedelta(minutes=5):
        errors["taken_at"] = [ValidationError(_("测量时间不能晚于现在。"))]
    elif timezone.localdate(taken_at) < order.start_date:
        errors["taken_at"] = [ValidationError(_("测量时间早于管控起算日期。"))]
    if errors:
        raise ValidationError(errors)
    rules = quarantine_rules(order.pack)
    fever = temperature >= Decimal(str(rules["fever_celsius"])) or Symptom.FEVER in symptoms
    check = HealthCheck.objects.create(
        order=order, person=order.person, area=order.area, taken_at=taken_at, temperature=temperature,
        symptoms=symptoms, note=note, fever=fever, source=source,
        recorded_by=user if _authenticated(user) else None)
    record_event(user, AuditAction.CREATE, check, object_repr=f"{mask_name(order.person.name)} {temperature}℃",
                 changes={"temperature": [None, str(temperature)], "symptoms": [None, symptoms],
                          "source": [None, source]})
    if fever:
        _raise_fever(user, order, check)
    return check


def _raise_fever(user, order: ControlOrder, check: HealthCheck) -> Task:
    symptoms = "、".join(str(Symptom(s).label) for s in check.symptoms)
    raise_signal(SignalKind.FEVER_UNDER_ORDER, area=order.area, person=order.person, subject=check,
                 severity=Severity.CRITICAL,
                 title=_("管控人员发热：%(name)s %(t)s℃（%(stage)s）") % {
                     "name": mask_name(order.person.name), "t": check.temperature,
                     "stage": _stage_label(order.current_stage)},
                 details={"order": order.pk, "temperature": str(check.temperature), "symptoms": check.symptoms,
                          "source": check.source})
    title = _("发热处置：%(name)s %(t)s℃") % {"name": order.person.name, "t": check.temperature}
    description = _("%(stage)s人员体温 %(t)s℃%(sym)s，请 1 小时内上门（或电话）核实，必要时闭环转运至发热门诊。") % {
        "stage": _stage_label(order.current_stage), "t": check.temperature,
        "sym": f"，症状：{symptoms}" if symptoms else ""}
    deadline = timezone.now() + timedelta(hours=FEVER_TASK_HOURS)
    creator = user if _authenticated(user) else None
    doctor = order.care_members.filter(user__is_active=True, user__role=Role.COMMUNITY_DOCTOR).select_related(
        "user").first()
    if order.current_stage == Stage.CENTRALIZED:
        stay = Stay.objects.filter(order=order, checked_out_at__isnull=True).first()
        if stay is not None:
            return create_task(kind=QuarantineTask.FEVER, title=title, description=description, area=stay.area,
                               role=Role.SITE_STAFF, deadline=deadline, subject=order, created_by=creator)
    if doctor is not None:
        return create_task(kind=QuarantineTask.FEVER, title=title, description=description, area=order.area,
                           role=doctor.user.role, assignee=doctor.user, deadline=deadline, subject=order,
                           created_by=creator)
    area_code, role = _duty_officers([order.area_id])[order.area_id]
    return create_task(kind=QuarantineTask.FEVER, title=title, description=description,
                       area=Area.objects.get(pk=area_code), role=role, deadline=deadline, subject=order,
                       created_by=creator)


def checks_today(order: ControlOrder):
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    return order.health_checks.filter(taken_at__gte=start).order_by("taken_at", "id")


# Missed checks -----------------------------------------------------------------------------------
def _slots(hours) -> list[tuple[int, int, int]]:
    """[(slot number from 1, window start hour, deadline hour)] for the daily check hours."""
    hours = sorted({int(h) for h in hours if 0 < int(h) <= 24})
    return [(i + 1, hours[i - 1] if i else 0, h) for i, h in enumerate(hours)]


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def detect_missed_checks(now=None) -> int:
    """Raise each daily check slot that passed without a check, once: MissedCheck, signal, escalation task.

    Looks at the orders being served at home or at a site (only those
    checked in) over the last MISSED_LOOKBACK_DAYS days. Queries: the
    orders, the packs, the open stays, one per check window, the misses
    already raised, the care teams, the area tree; then bulk inserts.
    Returns how many slots were raised.
    """
    now = _now_aware(now)
    today = timezone.localdate(now)
    first_day = today - timedelta(days=MISSED_LOOKBACK_DAYS)
    orders = list(ControlOrder.objects.filter(status=OrderStatus.ACTIVE, current_stage__in=CHECKED_STAGES).order_by()
                  .values_list("pk", "pack_id", "area_id", "person_id", "current_stage", "stage_since",
                               "start_date", "created_at", "person__name"))
    if not orders:
        return 0
    packs = {p.pk: quarantine_rules(p) for p in PolicyPack.objects.filter(pk__in={o[1] for o in orders})}
    open_stays = Stay.objects.filter(checked_out_at__isnull=True, order__status=OrderStatus.ACTIVE,
                                     order__current_stage=Stage.CENTRALIZED)
    stays = {order_id: (area_id, checked_in_at) for order_id, area_id, checked_in_at
             in open_stays.order_by().values_list("order_id", "area_id", "checked_in_at")}
    # The slots past their deadline, per pack: [(day, slot, window start, deadline)]; computed once each.
    days = [first_day + timedelta(days=n) for n in range(MISSED_LOOKBACK_DAYS + 1)]
    midnights = {day: _midnight(day) for day in days}
    plans: dict[int | None, list] = {}
    for pack_id in {o[1] for o in orders}:
        rules = packs.get(pack_id) or quarantine_rules(None)
        plans[pack_id] = [(day, slot, midnights[day] + timedelta(hours=start), midnights[day] + timedelta(hours=hour))
                          for day in days for slot, start, hour in _slots(rules.get("check_hours") or [])
                          if midnights[day] + timedelta(hours=hour) <= now]
    # When each order's checks started to be due: check-in at a site, else the stage's first day (or the
    # order's creation, for someone found late in the day).
    stage_starts: dict[date, datetime] = {}
    counted = []
    for row in orders:
        pk, _pack, _area, _person, stage, since, start_date, created_at, _name = row
        if stage == Stage.CENTRALIZED:
            if pk not in stays:
                continue  # not at a site yet: nobody is there to check them
            counted.append((row, stays[pk][1]))
            continue
        since = since or start_date
        if since not in stage_starts:
            stage_starts[since] = _midnight(since)
        counted.append((row, max(created_at, stage_starts[since])))
    if not counted:
        return 0
    earliest = min(counted_from for _row, counted_from in counted)
    windows = {(start, deadline) for plan in plans.values() for _d, _s, start, deadline in plan if deadline > earliest}
    if not windows:
        return 0
    base = HealthCheck.objects.filter(order__status=OrderStatus.ACTIVE, order__current_stage__in=CHECKED_STAGES)
    checked = {(start, deadline): set(base.filter(taken_at__gte=start, taken_at__lt=deadline).order_by()
                                      .values_list("order_id", flat=True).distinct())
               for start, deadline in windows}
    raised = set(MissedCheck.objects.filter(day__gte=first_day).order_by().values_list("order_id", "day", "slot"))
    missing = []
    for row, counted_from in counted:
        pk = row[0]
        for day, slot, start, deadline in plans[row[1]]:
            if deadline > counted_from and pk not in checked[(start, deadline)] and (pk, day, slot) not in raised:
                missing.append((row, day, slot, deadline))
    if not missing:
        return 0
    return _raise_missed(missing, stays, now)


@transaction.atomic
def _raise_missed(missing, stays: dict, now: datetime) -> int:
    order_ids = {row[0] for row, *_rest in missing}
    keepers = {}
    rank = {role: i for i, role in enumerate(MISSED_CHECK_ROLES)}
    members = CareMember.objects.filter(order__status=OrderStatus.ACTIVE, user__is_active=True,
                                        user__role__in=MISSED_CHECK_ROLES).order_by()
    for order_id, user_id, role in members.values_list("order_id", "user_id", "user__role"):
        if order_id in order_ids and (order_id not in keepers or rank[role] < rank[keepers[order_id][1]]):
            keepers[order_id] = (user_id, role)
    officers = _duty_officers({row[2] for row, *_rest in missing})
    content_type = ContentType.objects.get_for_model(ControlOrder)
    deadline = now + timedelta(hours=MISSED_TASK_HOURS)
    # The wording, translated once (thousands of rows may share it).
    title = _("健康监测漏报：%(name)s %(when)s")
    descriptions = {stage: _("%(stage)s人员未按时报告体温，请 2 小时内联系本人核实并补报；联系不上的上门查看。") % {
        "stage": _stage_label(stage)} for stage in CHECKED_STAGES}
    whens = {}
    tasks, signals, misses = [], [], []
    for row, day, slot, slot_deadline in missing:
        pk, _pack, area_id, person_id, stage, *_rest, name = row
        if (day, slot) not in whens:
            whens[(day, slot)] = _("%(day)s 第%(slot)s次（%(hour)s点前）") % {
                "day": day.strftime("%m-%d"), "slot": slot, "hour": timezone.localtime(slot_deadline).strftime("%H")}
        when = whens[(day, slot)]
        task = Task(kind=QuarantineTask.CHECK_MISSED, subject_type=content_type, subject_id=str(pk),
                    deadline=deadline, created_at=now, title=title % {"name": name, "when": when},
                    description=descriptions.get(stage, ""))
        if stage == Stage.CENTRALIZED and pk in stays:
            task.area_id, task.role = stays[pk][0], Role.SITE_STAFF
        elif pk in keepers:
            task.area_id, task.role, task.assignee_id = area_id, keepers[pk][1], keepers[pk][0]
        else:
            task.area_id, task.role = officers[area_id]
        tasks.append(task)
        signals.append(Signal(kind=SignalKind.CHECK_MISSED, severity=Severity.WARNING, area_id=area_id,
                              person_id=person_id, subject_type=content_type, subject_id=str(pk), occurred_at=now,
                              title=title % {"name": mask_name(name), "when": when},
                              details={"order": pk, "day": day.isoformat(), "slot": slot, "stage": stage}))
        misses.append(MissedCheck(order_id=pk, day=day, slot=slot))
    # Bulk inserts: at 50,000 open orders a missed evening slot is thousands of rows.
    Task.objects.bulk_create(tasks, batch_size=500)
    raise_signals(signals)
    for miss, task in zip(misses, tasks, strict=True):
        miss.task = task
    MissedCheck.objects.bulk_create(misses, batch_size=500)
    record_event(None, AuditAction.CREATE, object_type="quarantine.missedcheck", object_repr=_("健康监测漏报"),
                 area_code="", changes={"raised": [None, len(misses)]},
                 reason=_("%(now)s 健康监测漏报检查") % {"now": timezone.localtime(now).strftime("%Y-%m-%d %H:%M")})
    return len(misses)


# Door checks, violations, random calls -----------------------------------------------------------
@transaction.atomic
def record_visit(user, order: ControlOrder, kind: str, outcome: str, note: str = "", photo=None,
                 happened_at=None) -> HomeVisit:
    """A door check, a violation (left home) or a supervisor's call. A violation raises a signal and a task."""
    if not _may_record(user, order, "quarantine.add_homevisit"):
        raise PermissionDenied
    if order.status != OrderStatus.ACTIVE:
        raise ValidationError(_("该人员不在管控中。"))
    errors = {}
    if kind not in VisitKind.values:
        errors["kind"] = [_("不认识的类型。")]
    if outcome not in VisitOutcome.values:
        errors["outcome"] = [_("不认识的结果。")]
    note = (note or "").strip()
    if len(note) > 300:
        errors["note"] = [_("情况说明不能超过300个字。")]
    elif kind == VisitKind.VIOLATION and not note:
        errors["note"] = [_("请说明违规外出的情况（时间、去向、处置）。")]
    if errors:
        raise ValidationError(errors)
    visit = HomeVisit(order=order, area=order.area, kind=kind, outcome=outcome, note=note,
                      happened_at=_now_aware(happened_at) if happened_at else timezone.now(), recorded_by=user)
    if photo:
        visit.photo = photo
    visit.save()
    record_event(user, AuditAction.CREATE, visit, changes={"kind": [None, kind], "outcome": [None, outcome]})
    if kind == VisitKind.VIOLATION:
        name = order.person.name
        raise_signal(SignalKind.HOME_VIOLATION, area=order.area, person=order.person, subject=visit,
                     severity=Severity.CRITICAL,
                     title=_("居家人员违规外出：%(name)s（%(stage)s）") % {
                         "name": mask_name(name), "stage": _stage_label(order.current_stage)},
                     details={"order": order.pk, "note": note[:100]})
        area_code, role = _duty_officers([order.area_id])[order.area_id]
        create_task(kind=QuarantineTask.VIOLATION, area=Area.objects.get(pk=area_code), role=role,
                    deadline=timezone.now() + timedelta(hours=VIOLATION_TASK_HOURS), subject=order, created_by=user,
                    title=_("违规外出处置：%(name)s") % {"name": name},
                    description=_("%(stage)s人员违规外出：%(note)s。请立即落实管控措施并评估是否需要调整。") % {
                        "stage": _stage_label(order.current_stage), "note": note})
        note_history(order, "violation", _("违规外出：%(note)s") % {"note": note[:100]}, user)
        order.save(update_fields=["history", "updated_at"])
    return visit


def home_orders(user):
    """Active orders served at home that USER may see."""
    return orders_for(user).filter(status=OrderStatus.ACTIVE, current_stage__in=HOME_STAGES)


def sample_for_calls(user, size: int = 20, seed=None) -> list[ControlOrder]:
    """A random sample of the active home orders in USER's scope, for a supervisor's random calls (督导抽查)."""
    if not (_authenticated(user) and user.has_perm("quarantine.add_homevisit")):
        raise PermissionDenied
    ids = sorted(home_orders(user).values_list("pk", flat=True))
    size = max(0, min(int(size), len(ids)))
    picked = random.Random(seed).sample(ids, size) if size else []
    by_id = ControlOrder.objects.select_related("person", "area").in_bulk(picked)
    return [by_id[pk] for pk in picked if pk in by_id]


# The self-report link ----------------------------------------------------------------------------
def self_check_token(order: ControlOrder) -> str:
    return signing.dumps({"o": order.pk}, salt=SELF_CHECK_SALT, compress=False)


def order_from_token(token: str) -> ControlOrder | None:
    """The active order a self-report link stands for, or None (bad, expired, or the order ended)."""
    try:
        data = signing.loads(token, salt=SELF_CHECK_SALT, max_age=SELF_CHECK_MAX_AGE)
    except signing.BadSignature:
        return None
    order_id = data.get("o") if isinstance(data, dict) else None
    if not isinstance(order_id, int):
        return None
    return (ControlOrder.objects.select_related("person", "pack", "area")
            .filter(pk=order_id, status=OrderStatus.ACTIVE).first())


def open_tasks_of(order: ControlOrder):
    content_type = ContentType.objects.get_for_model(ControlOrder)
    return Task.objects.filter(subject_type=content_type, subject_id=str(order.pk), status__in=OPEN_STATUSES)
