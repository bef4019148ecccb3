"""Policy workflows: judging travel, imposing measures, editing and switching packs, risk areas.

``impose_measure`` is the only way a ControlOrder comes to be; declarations,
tracing and testing call it. Every change is audited.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import diff, record_event

from . import matching, places, planning
from .choices import (
    ARRIVAL_CATEGORY_FOR_SEVERITY,
    COLOUR_RANK,
    DEFAULT_QUARANTINE_RULES,
    DEFAULT_STATUS_RULES,
    SEVERITY,
    STAGE_ORDER,
    STAGE_RANK,
    Category,
    Colour,
    Granularity,
    Measure,
    OrderStatus,
    RiskLevel,
    Stage,
)
from .models import ControlOrder, PersonStatus, PolicyPack, PolicyRule, RiskArea


def active_pack() -> PolicyPack:
    pack = PolicyPack.objects.filter(is_active=True).first()
    if pack is None:
        raise ValidationError(_("没有启用的防控策略，请指挥部先启用一套策略。"))
    return pack


def rule_for(pack: PolicyPack, category: str) -> PolicyRule | None:
    """The pack's rule for CATEGORY; the rules are read once per pack object."""
    rules = getattr(pack, "_rules_by_category", None)
    if rules is None:
        rules = pack._rules_by_category = {r.category: r for r in pack.rules.all()}
    return rules.get(category)


# Risk matching -----------------------------------------------------------------------------------
def candidate_risk_areas(stops: list[matching.Stop]) -> list[matching.Area]:
    """The risk areas that could cover any stop: one query on (prefix, effective_from)."""
    if not stops:
        return []
    prefixes = {code for s in stops for code in (s.place_code[:2], s.place_code[:4], s.place_code[:6])}
    first = min(s.date_from for s in stops)
    last = max(s.date_to for s in stops)
    rows = (
        RiskArea.objects.filter(prefix__in=prefixes, effective_from__lte=last)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=first))
        .order_by()
        .values_list("id", "prefix", "granularity", "township", "level", "effective_from", "effective_to", "name")
    )
    return [matching.Area(*row) for row in rows]


def refresh_risk_statistics() -> None:
    """Let the query planner see the list's real size after a bulk change (else SQLite may scan it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {RiskArea._meta.db_table}")


@dataclass
class Decision:
    """What the active pack asks of an arrival, and why."""

    pack: PolicyPack
    category: str
    rule: PolicyRule | None
    severity: int
    level: str
    matches: list = field(default_factory=list)

    @property
    def measure(self) -> str:
        return self.rule.measure if self.rule else Measure.NONE

    @property
    def instructions(self) -> str:
        return self.rule.instructions if self.rule else _("目前无需特别管控，请做好个人防护。")

    def evidence(self) -> list[dict]:
        return [
            {"risk_area": m.area.id, "name": m.area.name, "level": m.area.level, "place": m.stop.place_code,
             "from": m.overlap_from.isoformat(), "to": m.overlap_to.isoformat(), "assumed": m.assumed}
            for m in self.matches
        ]


def decide_arrival(stops: list[matching.Stop], arrival: date, pack: PolicyPack | None = None) -> Decision:
    """Judge a travel history: the stops inside the pack's look-back window against the list as it was."""
    pack = pack or active_pack()
    window = matching.stops_in_window(stops, arrival - timedelta(days=pack.lookback_days), arrival)
    result = matching.match(window, candidate_risk_areas(window))
    category = ARRIVAL_CATEGORY_FOR_SEVERITY[result.severity]
    return Decision(pack, category, rule_for(pack, category), result.severity, result.level, result.matches)


# Measures ----------------------------------------------------------------------------------------
def _subject_filter(subject) -> dict:
    return {"subject_type": ContentType.objects.get_for_model(subject), "subject_id": str(subject.pk)}


def quarantine_rules(pack: PolicyPack | None) -> dict:
    """How PACK runs its measures: its own keys over the defaults."""
    return {**DEFAULT_QUARANTINE_RULES, **((pack.quarantine_rules or {}) if pack else {})}


def note_history(order: ControlOrder, kind: str, text: str, user=None, **details) -> None:
    """Append a line to the order's execution record (saved by the caller)."""
    entry = {"at": timezone.now().isoformat(timespec="seconds"), "kind": kind, "text": str(text)}
    if user is not None and getattr(user, "is_authenticated", False):
        entry["by"] = user.get_username()
    if details:
        entry.update(details)
    order.history = [*order.history, entry]


def _own_plan(order: ControlOrder) -> list[dict]:
    return planning.plan_stages(order.rule.stages, order.start_date) if order.rule else list(order.stages)


def _initial_stage(stages: list[dict], today: date) -> str:
    return planning.stage_on(stages, today) or (stages[0]["stage"] if stages else "")


@transaction.atomic
def impose_measure(person, category: str, reason: str, start: date, *, subject=None, user=None,
                   pack: PolicyPack | None = None, area=None) -> ControlOrder | None:
    """Put PERSON under the active pack's measure for CATEGORY, counted from START.

    With a SUBJECT (the declaration, the contact link …) the call is
    idempotent: the order from that subject is re-planned, or cancelled when
    the rule now asks for no stage. A person has one open order: a second
    measure is merged into the stricter of the two, day by day, and both keep
    the history. Returns the order in force for the person, or None.
    """
    pack = pack or active_pack()
    rule = rule_for(pack, category)
    stages = planning.plan_stages(rule.stages, start) if rule else []
    existing = None
    if subject is not None:
        existing = (ControlOrder.objects.filter(status__in=[OrderStatus.ACTIVE, OrderStatus.MERGED],
                                                **_subject_filter(subject)).order_by("-id").first())
    if not stages:
        if existing is not None:
            _close(existing, OrderStatus.CANCELLED, user, _("新的判定无需管控"))
        return None
    values = {
        "category": category, "reason": reason[:300], "pack": pack, "rule": rule, "start_date": start,
        "stages": stages, "planned_end": planning.planned_end(stages), "area": area or person.area,
    }
    if existing is not None:
        before = _order_snapshot(existing)
        for name, value in values.items():
            setattr(existing, name, value)
        changes = diff(before, _order_snapshot(existing))
        if changes:
            note_history(existing, "replanned", _("重新判定：%(reason)s") % {"reason": reason[:100]}, user)
        existing.save()
        if changes:
            record_event(user, AuditAction.UPDATE, existing, changes=changes, reason=reason)
        survivor = existing.merged_into if existing.status == OrderStatus.MERGED else existing
        _replan_merged(survivor, user)
        refresh_status(person)
        return survivor
    order = ControlOrder(person=person, created_by=user if user and user.is_authenticated else None,
                         current_stage=_initial_stage(stages, timezone.localdate()), stage_since=start, **values)
    if subject is not None:
        order.subject = subject
    note_history(order, "imposed", _("%(category)s：%(reason)s") % {
        "category": Category(category).label if category in Category.values else category, "reason": reason[:100]},
        user)
    order.save()
    record_event(user, AuditAction.CREATE, order, changes=diff({}, _order_snapshot(order)), reason=reason)
    survivor = _merge_open_orders(person, user)
    refresh_status(person)
    return survivor


def _strictness(order: ControlOrder) -> tuple:
    top = max((STAGE_RANK.get(s["stage"], 0) for s in order.stages), default=0)
    return (top, order.planned_end, -order.id)


def _merge_open_orders(person, user) -> ControlOrder:
    """Fold every open order of PERSON into the strictest one; the others stay as merged, with history."""
    orders = list(ControlOrder.objects.filter(person=person, status=OrderStatus.ACTIVE).select_for_update())
    survivor = max(orders, key=_strictness)
    others = [o for o in orders if o.pk != survivor.pk]
    for other in others:
        other.status = OrderStatus.MERGED
        other.merged_into = survivor
        note_history(other, "merged", _("并入更严格的管控措施 #%(id)s") % {"id": survivor.pk}, user)
        other.save(update_fields=["status", "merged_into", "history", "updated_at"])
        ControlOrder.objects.filter(merged_into=other).update(merged_into=survivor)
        record_event(user, AuditAction.UPDATE, other, changes={"status": [OrderStatus.ACTIVE, OrderStatus.MERGED],
                                                              "merged_into": [None, survivor.pk]})
        note_history(survivor, "merged", _("合并管控措施 #%(id)s（%(reason)s）") % {
            "id": other.pk, "reason": other.reason[:60]}, user)
    if others:
        survivor.save(update_fields=["history", "updated_at"])
        _replan_merged(survivor, user)
    return survivor


def _replan_merged(survivor: ControlOrder, user) -> None:
    """The survivor's plan is the day-by-day stricter of its own rule's plan and those merged into it."""
    merged = list(survivor.merged_orders.filter(status=OrderStatus.MERGED))
    if not merged:
        return
    stages = planning.merge_plans(_own_plan(survivor), *[m.stages for m in merged])
    if stages == survivor.stages:
        return
    before = _order_snapshot(survivor)
    survivor.stages = stages
    survivor.planned_end = planning.planned_end(stages)
    survivor.save(update_fields=["stages", "planned_end", "updated_at"])
    record_event(user, AuditAction.UPDATE, survivor, changes=diff(before, _order_snapshot(survivor)),
                 reason=_("合并管控措施"))


def _order_snapshot(order: ControlOrder) -> dict:
    return {"category": order.category, "pack": order.pack_id, "start_date": order.start_date.isoformat(),
            "planned_end": order.planned_end.isoformat(), "stages": planning.describe(
                [{"days": (date.fromisoformat(s["end"]) - date.fromisoformat(s["start"])).days + 1}
                 for s in order.stages]), "status": order.status}


def _close(order: ControlOrder, status: str, user, reason: str) -> None:
    """End ORDER. Ending the order others were merged into hands the person over to the strictest of those."""
    before = order.status
    order.status = status
    order.released_at = timezone.now()
    note_history(order, status, reason, user)
    order.save(update_fields=["status", "released_at", "history", "updated_at"])
    record_event(user, AuditAction.UPDATE, order, changes={"status": [before, status]}, reason=reason)
    if before == OrderStatus.MERGED and order.merged_into_id:
        survivor = order.merged_into
        survivor.stages = _own_plan(survivor)
        survivor.planned_end = planning.planned_end(survivor.stages)
        survivor.save(update_fields=["stages", "planned_end", "updated_at"])
        _replan_merged(survivor, user)
    elif status == OrderStatus.CANCELLED:
        merged = list(order.merged_orders.filter(status=OrderStatus.MERGED))
        if merged:
            heir = max(merged, key=_strictness)
            heir.status, heir.merged_into = OrderStatus.ACTIVE, None
            heir.current_stage = heir.current_stage or _initial_stage(heir.stages, timezone.localdate())
            note_history(heir, "unmerged", _("原措施 #%(id)s 撤销，本措施恢复执行") % {"id": order.pk}, user)
            heir.save(update_fields=["status", "merged_into", "current_stage", "history", "updated_at"])
            ControlOrder.objects.filter(pk__in=[m.pk for m in merged if m.pk != heir.pk]).update(merged_into=heir)
            _replan_merged(heir, user)
    refresh_status(order.person)


def cancel_measures_from(subject, user, reason: str) -> int:
    orders = list(ControlOrder.objects.filter(status__in=[OrderStatus.ACTIVE, OrderStatus.MERGED],
                                              **_subject_filter(subject)))
    for order in orders:
        order.refresh_from_db()
        _close(order, OrderStatus.CANCELLED, user, reason)
    return len(orders)


def open_orders_for(person):
    return ControlOrder.objects.filter(person=person, status=OrderStatus.ACTIVE).select_related("pack")


# Packs -------------------------------------------------------------------------------------------
def _require(user, perm: str):
    if not user.has_perm(perm):
        raise PermissionDenied


def preview_pack(user, pack: PolicyPack, *, sample: int = 50) -> dict:
    """What activating PACK would do to every open measure: whose planned end moves, which way."""
    _require(user, "policy.view_policypack")
    rules = {r.category: r for r in pack.rules.all()}
    counts = {"orders": 0, "earlier": 0, "later": 0, "unchanged": 0, "ended": 0}
    by_category: dict[str, dict] = {}
    samples = []
    orders = ControlOrder.objects.filter(status=OrderStatus.ACTIVE).select_related("person").order_by("id")
    for order in orders.iterator(chunk_size=2000):
        counts["orders"] += 1
        outcome, new_end = _replan_outcome(order, rules.get(order.category))
        counts[outcome] += 1
        row = by_category.setdefault(order.category, {"category": order.category, "orders": 0, "earlier": 0,
                                                       "later": 0, "unchanged": 0, "ended": 0})
        row["orders"] += 1
        row[outcome] += 1
        if outcome != "unchanged" and len(samples) < sample:
            samples.append({"order": order.id, "person": order.person.name, "masked": order.person.doc_masked,
                            "category": order.category, "old_end": order.planned_end.isoformat(),
                            "new_end": new_end.isoformat() if new_end else None, "outcome": outcome})
    for row in by_category.values():
        row["label"] = str(Category(row["category"]).label) if row["category"] in Category.values else row["category"]
    return {"pack": pack.id, "name": pack.name, **counts, "by_category": list(by_category.values()),
            "samples": samples}


def _replan_outcome(order: ControlOrder, rule: PolicyRule | None):
    stages = planning.plan_stages(rule.stages, order.start_date) if rule else []
    new_end = planning.planned_end(stages)
    if new_end is None:
        return "ended", None
    if new_end < order.planned_end:
        return "earlier", new_end
    if new_end > order.planned_end:
        return "later", new_end
    return "unchanged", new_end


@transaction.atomic
def activate_pack(user, pack: PolicyPack, *, reason: str = "", request=None) -> dict:
    """Make PACK the active one and re-plan every open measure by it. Audited, with the summary."""
    _require(user, "policy.activate_policypack")
    summary = preview_pack(user, pack, sample=0)
    previous = PolicyPack.objects.filter(is_active=True).exclude(pk=pack.pk).first()
    PolicyPack.objects.filter(is_active=True).update(is_active=False)
    pack.is_active = True
    pack.activated_at = timezone.now()
    pack.activated_by = user
    pack.save(update_fields=["is_active", "activated_at", "activated_by", "updated_at"])
    rules = {r.category: r for r in pack.rules.all()}
    moved = 0
    orders = ControlOrder.objects.filter(status__in=[OrderStatus.ACTIVE, OrderStatus.MERGED]).order_by("-status")
    for order in orders.select_for_update().iterator(chunk_size=2000):
        rule = rules.get(order.category)
        before = _order_snapshot(order)
        stages = planning.plan_stages(rule.stages, order.start_date) if rule else []
        if not stages:
            _close(order, OrderStatus.CANCELLED, user, _("切换策略后该类人员不再管控"))
            moved += 1
            continue
        order.pack, order.rule, order.stages = pack, rule, stages
        order.planned_end = planning.planned_end(stages)
        order.save(update_fields=["pack", "rule", "stages", "planned_end", "updated_at"])
        refresh_status(order.person)
        changes = diff(before, _order_snapshot(order))
        changes.pop("pack", None)
        if changes:
            moved += 1
            note_history(order, "replanned", _("切换防控策略：%(name)s，计划解除日期 %(old)s → %(new)s") % {
                "name": pack.name, "old": before["planned_end"], "new": order.planned_end.isoformat()}, user)
            order.save(update_fields=["history"])
            record_event(user, AuditAction.UPDATE, order, changes=changes,
                         reason=_("切换防控策略：%(name)s") % {"name": pack.name})
    for survivor in ControlOrder.objects.filter(status=OrderStatus.ACTIVE, merged_orders__status=OrderStatus.MERGED
                                                ).distinct():
        _replan_merged(survivor, user)
    record_event(user, AuditAction.UPDATE, pack, request=request, reason=reason,
                 changes={"is_active": [False, True], "previous": [previous.code if previous else None, pack.code],
                          "orders_replanned": [None, moved]})
    summary["replanned"] = moved
    return summary


@transaction.atomic
def copy_pack(user, pack: PolicyPack, *, name: str, code: str) -> PolicyPack:
    _require(user, "policy.add_policypack")
    name, code = (name or "").strip(), (code or "").strip()
    errors = {}
    if not name:
        errors["name"] = _("请填写名称。")
    if not code:
        errors["code"] = _("请填写代码。")
    elif PolicyPack.objects.filter(code=code).exists():
        errors["code"] = _("代码已被使用。")
    if errors:
        raise ValidationError(errors)
    copy = PolicyPack.objects.create(
        code=code, name=name, description=pack.description, effective_from=pack.effective_from,
        lookback_days=pack.lookback_days, contact_window_days=pack.contact_window_days, copied_from=pack,
        status_rules=pack.status_rules, contact_rules=pack.contact_rules, zone_rules=pack.zone_rules,
        quarantine_rules=pack.quarantine_rules,
        created_by=user,
    )
    for rule in pack.rules.all():
        PolicyRule.objects.create(pack=copy, category=rule.category, stages=rule.stages,
                                  arrival_test_days=rule.arrival_test_days, followup_hours=rule.followup_hours,
                                  pickup_required=rule.pickup_required, instructions=rule.instructions)
    record_event(user, AuditAction.CREATE, copy, changes={"copied_from": [None, pack.code]})
    return copy


def clean_stages(stages) -> list[dict]:
    """Validate [{stage, days, test_days}] as typed by HQ: known stages in serving order, tests inside the stage."""
    cleaned = []
    seen = []
    for index, stage in enumerate(stages or [], start=1):
        kind = stage.get("stage")
        if kind not in STAGE_ORDER:
            raise ValidationError(_("第%(n)d个阶段的类型无效。") % {"n": index})
        try:
            days = int(stage.get("days") or 0)
            tests = sorted({int(d) for d in stage.get("test_days") or []})
        except (TypeError, ValueError) as exc:
            raise ValidationError(_("第%(n)d个阶段的天数须为整数。") % {"n": index}) from exc
        if days <= 0:
            continue
        if days > 60:
            raise ValidationError(_("单个阶段不能超过60天。"))
        if any(d < 1 or d > days for d in tests):
            raise ValidationError(_("%(stage)s的检测日须在第1天到第%(days)d天之间。")
                                  % {"stage": STAGE_ORDER[STAGE_ORDER.index(kind)].label, "days": days})
        if seen and STAGE_ORDER.index(kind) <= STAGE_ORDER.index(seen[-1]):
            raise ValidationError(_("阶段须按 集中隔离 → 居家隔离 → 居家健康监测 的顺序排列，且不重复。"))
        seen.append(kind)
        cleaned.append({"stage": kind, "days": days, "test_days": tests})
    return cleaned


@transaction.atomic
def update_rule(user, rule: PolicyRule, data: dict) -> PolicyRule:
    _require(user, "policy.change_policypack")
    if not rule.pack.editable:
        raise ValidationError(_("启用中的策略不能直接修改，请先复制为新策略再编辑。"))
    before = {"stages": rule.stages, "arrival_test_days": rule.arrival_test_days,
              "followup_hours": rule.followup_hours, "pickup_required": rule.pickup_required,
              "instructions": rule.instructions}
    if "stages" in data:
        rule.stages = clean_stages(data["stages"])
    if "arrival_test_days" in data:
        try:
            days = sorted({int(d) for d in data["arrival_test_days"] or []})
        except (TypeError, ValueError) as exc:
            raise ValidationError({"arrival_test_days": _("落地检检测日须为整数。")}) from exc
        if any(d < 1 or d > 14 for d in days):
            raise ValidationError({"arrival_test_days": _("落地检检测日须在第1天到第14天之间。")})
        rule.arrival_test_days = days
    if "followup_hours" in data:
        hours = int(data["followup_hours"])
        if not 1 <= hours <= 168:
            raise ValidationError({"followup_hours": _("落实时限须在1到168小时之间。")})
        rule.followup_hours = hours
    if "pickup_required" in data:
        rule.pickup_required = bool(data["pickup_required"])
    if "instructions" in data:
        rule.instructions = (data["instructions"] or "").strip()[:1000]
    rule.save()
    after = {"stages": rule.stages, "arrival_test_days": rule.arrival_test_days,
             "followup_hours": rule.followup_hours, "pickup_required": rule.pickup_required,
             "instructions": rule.instructions}
    record_event(user, AuditAction.UPDATE, rule.pack, changes={f"{rule.category}.{k}": v
                                                               for k, v in diff(before, after).items()})
    return rule



# Tracing rules (contact_window_days, contact_rules, zone_rules) ----------------------------------------
CONTACT_WINDOW_DAYS = (1, 14)
CLOSE_MINUTES = (1, 600)
LIFT_DAYS = (1, 60)
TEST_WITHIN_DAYS = (1, 14)


def _whole_number(value, bounds: tuple[int, int]) -> int | None:
    """VALUE as an int inside BOUNDS (blank -> None); ValueError when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    number = int(value)
    if not bounds[0] <= number <= bounds[1]:
        raise ValueError(value)
    return number


def _clean_contact_rules(rules, errors: dict) -> dict:
    """{"default": {...}, "<venue type code>": {...}}: minutes 1–600 or none, companion yes/no.

    A venue type whose rule is the default's is dropped: only the differences are stored.
    """
    from fangkong.venues.models import VenueType

    if not isinstance(rules, dict) or not isinstance(rules.get("default"), dict):
        errors["contact_rules"] = _("密接判定规则须包含默认规则。")
        return {}
    order = {code: index for index, code in enumerate(
        VenueType.objects.filter(code__in=[c for c in rules if c != "default"])
        .order_by("sort_order", "code").values_list("code", flat=True))}
    unknown = [code for code in rules if code != "default" and code not in order]
    if unknown:
        errors["contact_rules"] = _("未知的场所类型：%(codes)s。") % {"codes": "、".join(map(str, unknown))}
    cleaned = {}
    for code in ["default", *sorted(order, key=order.get)]:
        spec = rules[code]
        if not isinstance(spec, dict):
            errors[f"contact_{code}_close_minutes"] = _("规则格式无效。")
            continue
        try:
            close = _whole_number(spec.get("close_minutes"), CLOSE_MINUTES)
        except (TypeError, ValueError):
            errors[f"contact_{code}_close_minutes"] = _("近距离接触分钟数须为1到600之间的整数，留空表示不判密接。")
            close = None
        companion = spec.get("companion", True)
        if not isinstance(companion, bool):
            errors[f"contact_{code}_companion"] = _("是否判定时空伴随者须为是或否。")
        cleaned[code] = {"close_minutes": close, "companion": companion}
    default = cleaned["default"]
    return {code: rule for code, rule in cleaned.items() if code == "default" or rule != default}


def _clean_zone_rules(pack: PolicyPack, rules, errors: dict) -> dict:
    """The pack's levels (unchanged) and per level: lift days 1–60, test days 1–14, a lower level or none."""
    levels = list((pack.zone_rules or {}).get("levels") or [])
    if not isinstance(rules, dict):
        errors["zone_rules"] = _("管控区域规则格式无效。")
        return {}
    if "levels" in rules and list(rules["levels"] or []) != levels:
        errors["zone_rules"] = _("管控区域的等级不能修改，只能修改各等级的解除规则。")
        return {}
    unknown = [key for key in rules if key != "levels" and key not in levels]
    missing = [level for level in levels if not isinstance(rules.get(level), dict)]
    if unknown or missing:
        errors["zone_rules"] = _("管控区域规则须且只须包含本策略的等级：%(levels)s。") % {
            "levels": "、".join(_level_label(level) for level in levels)}
        return {}
    cleaned = {"levels": levels}
    for index, level in enumerate(levels):
        spec, prefix = rules[level], f"zone_{level}"
        values = {}
        for name, bounds, message in (
            ("lift_days", LIFT_DAYS, _("解除天数须为1到60之间的整数，留空表示不按天数解除。")),
            ("test_within_days", TEST_WITHIN_DAYS, _("核酸检测天数须为1到14之间的整数，可留空。")),
        ):
            try:
                values[name] = _whole_number(spec.get(name), bounds)
            except (TypeError, ValueError):
                errors[f"{prefix}_{name}"] = message
                values[name] = None
        if values["test_within_days"] and not values["lift_days"] and f"{prefix}_lift_days" not in errors:
            errors[f"{prefix}_test_within_days"] = _("填写了解除前检测天数，请同时填写解除天数。")
        then = spec.get("then") or ""
        if then and then not in levels:
            errors[f"{prefix}_then"] = _("解除后转为的等级须是本策略的等级。")
        elif then and levels.index(then) <= index:
            errors[f"{prefix}_then"] = _("解除后转为的等级须低于%(level)s。") % {"level": _level_label(level)}
        cleaned[level] = {**values, "then": then}
    return cleaned


def _level_label(level: str) -> str:
    return str(RiskLevel(level).label) if level in RiskLevel.values else str(level)


def _tracing_snapshot(pack: PolicyPack) -> dict:
    """Flat, for the audit trail: the window, each contact rule (None = follows the default), each zone field."""
    snapshot = {"contact_window_days": pack.contact_window_days}
    for code, rule in (pack.contact_rules or {}).items():
        snapshot[f"contact_rules.{code}"] = rule
    zones = pack.zone_rules or {}
    snapshot["zone_rules.levels"] = zones.get("levels") or []
    for level in zones.get("levels") or []:
        for name, value in (zones.get(level) or {}).items():
            snapshot[f"zone_rules.{level}.{name}"] = value
    return snapshot


@transaction.atomic
def update_tracing_rules(user, pack: PolicyPack, data: dict) -> PolicyPack:
    """Change how contacts are judged and zones lifted on an editable pack.

    DATA may hold ``contact_window_days``, ``contact_rules`` and ``zone_rules``
    (each replaced as a whole; the zone levels themselves cannot change).
    Errors are keyed as the tracing rules form names its fields.
    """
    _require(user, "policy.change_policypack")
    current = PolicyPack.objects.select_for_update().filter(pk=pack.pk).first()
    if current is None or not pack.editable or not current.editable:
        raise ValidationError(_("启用中的策略不能直接修改，请先复制为新策略再编辑。"))
    errors: dict = {}
    values = {}
    if "contact_window_days" in data:
        try:
            values["contact_window_days"] = _whole_number(data["contact_window_days"], CONTACT_WINDOW_DAYS)
        except (TypeError, ValueError):
            values["contact_window_days"] = None
        if values["contact_window_days"] is None:
            errors["contact_window_days"] = _("密接追溯天数须为1到14之间的整数。")
    if "contact_rules" in data:
        values["contact_rules"] = _clean_contact_rules(data["contact_rules"], errors)
    if "zone_rules" in data:
        values["zone_rules"] = _clean_zone_rules(current, data["zone_rules"], errors)
    if errors:
        raise ValidationError(errors)
    before = _tracing_snapshot(current)
    for name, value in values.items():
        setattr(current, name, value)
        setattr(pack, name, value)
    current.save(update_fields=[*values, "updated_at"])
    pack.updated_at = current.updated_at
    # A contact rule dropped (the type now follows the default) shows as [old, None].
    changes = diff(before, {**dict.fromkeys(before), **_tracing_snapshot(current)})
    if changes:
        record_event(user, AuditAction.UPDATE, pack, changes=changes)
    return pack

# Risk areas --------------------------------------------------------------------------------------
def _risk_snapshot(area: RiskArea) -> dict:
    return {"place_code": area.place_code, "township": area.township, "level": area.level,
            "effective_from": area.effective_from.isoformat() if area.effective_from else None,
            "effective_to": area.effective_to.isoformat() if area.effective_to else None, "note": area.note}


def clean_risk_area(data: dict) -> dict:
    """Validate a risk area as typed or imported; errors name the field in Chinese."""
    errors = {}
    code = str(data.get("place_code") or "").strip()
    place = places.lookup(code)
    if place is None:
        errors["place_code"] = _("地区编码“%(code)s”不存在。") % {"code": code}
    township = (data.get("township") or "").strip()[:60]
    level = data.get("level")
    if level not in RiskLevel.values:
        errors["level"] = _("风险等级无效。")
    start, end = data.get("effective_from"), data.get("effective_to")
    if not start:
        errors["effective_from"] = _("请填写生效日期。")
    elif end and end < start:
        errors["effective_to"] = _("解除日期不能早于生效日期。")
    if township and place is not None and place.level != "county":
        errors["township"] = _("填写乡镇（街道）时，地区须选到县（区）。")
    if errors:
        raise ValidationError(errors)
    granularity = Granularity.TOWNSHIP if township else place.level
    return {"place_code": code, "prefix": places.match_prefix(code), "granularity": granularity,
            "township": township, "name": f"{place.full_name} {township}".strip(), "level": level,
            "effective_from": start, "effective_to": end or None, "note": (data.get("note") or "").strip()[:200]}


@transaction.atomic
def save_risk_area(user, data: dict, instance: RiskArea | None = None, request=None) -> RiskArea:
    _require(user, "policy.change_riskarea" if instance else "policy.add_riskarea")
    cleaned = clean_risk_area(data)
    before = _risk_snapshot(instance) if instance else {}
    area = instance or RiskArea(created_by=user)
    for name, value in cleaned.items():
        setattr(area, name, value)
    area.save()
    record_event(user, AuditAction.UPDATE if instance else AuditAction.CREATE, area,
                 changes=diff(before, _risk_snapshot(area)), request=request)
    return area


@transaction.atomic
def lift_risk_area(user, area: RiskArea, on: date, request=None) -> RiskArea:
    """End a risk area from ON (the last day it was in force)."""
    _require(user, "policy.change_riskarea")
    if on < area.effective_from:
        raise ValidationError({"effective_to": _("解除日期不能早于生效日期。")})
    before = _risk_snapshot(area)
    area.effective_to = on
    area.save(update_fields=["effective_to", "updated_at"])
    record_event(user, AuditAction.UPDATE, area, changes=diff(before, _risk_snapshot(area)), request=request)
    return area


def risk_area_history(area: RiskArea):
    from fangkong.audit.models import AuditEvent

    return AuditEvent.objects.filter(object_type="policy.riskarea", object_id=str(area.pk)).order_by("-id")


def severity_of(level: str) -> int:
    return SEVERITY.get(level, 0)


@transaction.atomic
def import_risk_areas(user, rows: list[dict], *, filename: str = "", request=None) -> dict:
    """Add every row to the risk-area list, or none: one invalid row rolls the whole file back.

    A row identical to one already on the list (same place, township, level
    and dates) is skipped, so importing the same file twice adds nothing.
    Each new area is audited as a creation, and the import as a whole once.
    """
    _require(user, "policy.add_riskarea")
    created = skipped = 0
    for data in rows:
        cleaned = clean_risk_area(data)
        if RiskArea.objects.filter(
            place_code=cleaned["place_code"], township=cleaned["township"], level=cleaned["level"],
            effective_from=cleaned["effective_from"], effective_to=cleaned["effective_to"],
        ).exists():
            skipped += 1
            continue
        save_risk_area(user, data, request=request)
        created += 1
    if created:
        refresh_risk_statistics()
    record_event(user, AuditAction.IMPORT, object_type="policy.riskarea", object_repr=_("风险地区名单"),
                 changes={"file": [None, filename], "created": [None, created], "skipped": [None, skipped]},
                 request=request)
    return {"created": created, "skipped": skipped}


# The scan colour ---------------------------------------------------------------------------------
def status_rules(pack: PolicyPack | None) -> dict:
    return {**DEFAULT_STATUS_RULES, **((pack.status_rules or {}) if pack else {})}


# What else restricts a person beyond their measures, added by the apps that know it (a pooled positive
# awaiting its re-test, a key-group test overdue): functions (person_ids, now, rules) returning
# {person_id: [(colour or None, reason dict or None, moment the answer may change or None), …]}.
STATUS_SOURCES: list = []


def register_status_source(func):
    STATUS_SOURCES.append(func)
    return func


def _combine(orders, extras, rules: dict, today: date) -> tuple[str, list[dict], object]:
    colour, reasons, until = Colour.GREEN, [], None
    for order in orders:
        stage = planning.stage_on(order.stages, today)
        if not stage and order.stages and today < date.fromisoformat(order.stages[0]["start"]):
            stage = order.stages[0]["stage"]  # imposed, not yet begun (arriving tomorrow): already restricted
        shown = (rules.get(order.category) or rules.get(stage) or Colour.GREEN) if stage else None
        if not shown:
            continue
        label = str(Stage(stage).label) if stage in Stage.values else stage
        reasons.append({"order": order.id, "stage": stage, "label": label, "colour": shown,
                        "until": order.planned_end.isoformat()})
        if COLOUR_RANK[shown] > COLOUR_RANK[colour]:
            colour = shown
        for part in order.stages:
            end = date.fromisoformat(part["end"])
            if end >= today:
                boundary = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))
                until = boundary if until is None or boundary < until else until
                break
    for shown, reason, boundary in extras:
        if shown and reason:
            reasons.append({**reason, "colour": shown})
            if COLOUR_RANK[shown] > COLOUR_RANK[colour]:
                colour = shown
        if boundary is not None and (until is None or boundary < until):
            until = boundary
    return str(colour), reasons, until


def compute_statuses(person_ids, now=None) -> dict[int, tuple[str, list[dict], object]]:
    """{person_id: (colour, reasons, valid_until)} from open measures and the apps' sources, a few queries
    for any number of people."""
    now = now or timezone.now()
    ids = list(dict.fromkeys(person_ids))
    rules = status_rules(PolicyPack.objects.filter(is_active=True).first())
    orders: dict[int, list] = {pid: [] for pid in ids}
    extras: dict[int, list] = {pid: [] for pid in ids}
    for offset in range(0, len(ids), 900):
        chunk = ids[offset:offset + 900]
        for order in ControlOrder.objects.filter(person_id__in=chunk, status=OrderStatus.ACTIVE).order_by("id"):
            orders[order.person_id].append(order)
        for source in STATUS_SOURCES:
            for pid, found in source(chunk, now, rules).items():
                extras[pid].extend(found)
    today = timezone.localdate(now)
    return {pid: _combine(orders[pid], extras[pid], rules, today) for pid in ids}


def compute_status(person, now=None) -> tuple[str, list[dict], object]:
    """(colour, reasons, valid_until) from the person's open measures, by the active pack's colour rules."""
    return compute_statuses([person.pk], now)[person.pk]


def refresh_statuses(person_ids, now=None) -> int:
    """Recompute and store the colour a scan shows for many people at once (a positive pool, a batch)."""
    computed = compute_statuses(person_ids, now)
    rows = [PersonStatus(person_id=pid, colour=colour, reasons=reasons, valid_until=until)
            for pid, (colour, reasons, until) in computed.items()]
    PersonStatus.objects.bulk_create(rows, batch_size=500, update_conflicts=True, unique_fields=["person"],
                                     update_fields=["colour", "reasons", "valid_until", "updated_at"])
    return len(rows)


def refresh_status(person, now=None) -> PersonStatus:
    """Recompute and store the colour a scan shows for PERSON. Call it whenever a measure changes."""
    colour, reasons, until = compute_status(person, now)
    status, _created = PersonStatus.objects.update_or_create(
        person=person, defaults={"colour": colour, "reasons": reasons, "valid_until": until})
    return status


def current_status(person_id: int, now=None) -> PersonStatus:
    """The colour a scan shows: one or two primary-key reads in the usual case (Person.DoesNotExist if none).

    No row means no measure was ever imposed (every change of a measure
    writes the row), so green, without writing anything. A row past its
    valid_until (a stage has ended since) is refreshed first.
    """
    now = now or timezone.now()
    status = PersonStatus.objects.filter(person_id=person_id).first()
    if status is None:
        from fangkong.people.models import Person

        if not Person.objects.filter(pk=person_id).exists():
            raise Person.DoesNotExist(person_id)
        return PersonStatus(person_id=person_id, colour=Colour.GREEN, reasons=[])
    if status.valid_until is not None and status.valid_until <= now:
        from fangkong.people.models import Person

        return refresh_status(Person.objects.get(pk=person_id), now)
    return status


# The door rule: a recent negative test to enter some venues ---------------------------------------
# Functions (person_id, since) -> bool: a negative result sampled at or after SINCE (testing adds one).
TEST_RECENCY: list = []
VENUE_TEST_TTL = 30.0  # seconds a process keeps the active pack's door rule before reading it again
VENUE_TEST_MAX_HOURS = 24 * 14
_venue_test_cache: dict = {}


def register_test_recency(func):
    TEST_RECENCY.append(func)
    return func


def tested_negative_since(person_id: int, since: datetime) -> bool:
    return any(func(person_id, since) for func in TEST_RECENCY)


def venue_test_rule() -> dict:
    """The active pack's door rule {"colour", "hours": {venue type code or "default": hours}}.

    Read at most every VENUE_TEST_TTL seconds per process (the scan's fast
    path asks on every scan); a pack saved in this process is seen at once.
    """
    cached = _venue_test_cache.get("rule")
    if cached is not None and cached[0] > monotonic():
        return cached[1]
    pack = PolicyPack.objects.filter(is_active=True).only("id", "status_rules").first()
    rule = status_rules(pack)["venue_test"]
    rule = {"colour": rule.get("colour") or Colour.YELLOW, "hours": dict(rule.get("hours") or {})}
    _venue_test_cache["rule"] = (monotonic() + VENUE_TEST_TTL, rule)
    return rule


def forget_venue_test_rule(**_kwargs) -> None:
    _venue_test_cache.clear()


def venue_test_hours(type_code: str, rule: dict | None = None) -> int | None:
    """Hours within which a negative test is required to enter a venue of this type; None if not required."""
    hours = (rule or venue_test_rule())["hours"]
    value = hours.get(type_code, hours.get("default"))
    return int(value) if value else None


def door_check(person_id: int, type_code: str, colour: str, reasons: list, now: datetime) -> tuple[str, list]:
    """The colour and reasons a scan at a venue of TYPE_CODE shows, given the person's own (COLOUR, REASONS)."""
    rule = venue_test_rule()
    hours = venue_test_hours(type_code, rule)
    if not hours or colour == Colour.RED or tested_negative_since(person_id, now - timedelta(hours=hours)):
        return colour, reasons
    shown = rule["colour"]
    reason = {"stage": "venue_test", "colour": shown, "hours": hours,
              "label": _("本场所须持 %(hours)d 小时内核酸阴性结果，未查到") % {"hours": hours}}
    if COLOUR_RANK[shown] > COLOUR_RANK[colour]:
        colour = shown
    return str(colour), [*reasons, reason]


def _scan_rules_snapshot(pack: PolicyPack) -> dict:
    rule = status_rules(pack)["venue_test"]
    snapshot = {"venue_test.colour": rule.get("colour")}
    for code, hours in (rule.get("hours") or {}).items():
        snapshot[f"venue_test.hours.{code}"] = hours
    return snapshot


@transaction.atomic
def update_scan_rules(user, pack: PolicyPack, data: dict) -> PolicyPack:
    """Set the door rule of an editable pack. DATA: {"colour", "hours": {code or "default": hours or None}}.

    Errors are keyed ``colour`` and ``hours_<code>`` as the scan rules form names its fields.
    """
    _require(user, "policy.change_policypack")
    current = PolicyPack.objects.select_for_update().filter(pk=pack.pk).first()
    if current is None or not pack.editable or not current.editable:
        raise ValidationError(_("启用中的策略不能直接修改，请先复制为新策略再编辑。"))
    from fangkong.venues.models import VenueType

    errors: dict = {}
    colour = data.get("colour") or Colour.YELLOW
    if colour not in (Colour.YELLOW, Colour.RED):
        errors["colour"] = _("未持核酸阴性结果时只能显示黄色或红色。")
    known = {"default", *VenueType.objects.values_list("code", flat=True)}
    hours: dict = {}
    for code, value in (data.get("hours") or {}).items():
        if code not in known:
            errors[f"hours_{code}"] = _("未知的场所类型：%(code)s") % {"code": code}
            continue
        if value in (None, ""):
            continue
        try:
            number = _whole_number(value, (1, VENUE_TEST_MAX_HOURS))
        except (TypeError, ValueError):
            number = None
        if number is None:
            errors[f"hours_{code}"] = _("小时数须为 1 到 %(max)d 之间的整数。") % {"max": VENUE_TEST_MAX_HOURS}
        else:
            hours[code] = number
    if errors:
        raise ValidationError(errors)
    before = _scan_rules_snapshot(current)
    current.status_rules = {**(current.status_rules or {}), "venue_test": {"colour": str(colour), "hours": hours}}
    current.save(update_fields=["status_rules", "updated_at"])
    pack.status_rules, pack.updated_at = current.status_rules, current.updated_at
    changes = diff(before, {**dict.fromkeys(before), **_scan_rules_snapshot(current)})
    if changes:
        record_event(user, AuditAction.UPDATE, pack, changes=changes)
    return pack
