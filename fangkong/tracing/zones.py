"""Control zones (封控区 / 管控区 / 防范区, or 高 / 中 / 低): proposed from cases, adjusted and published by HQ, lifted.

The levels and the lift rules are the pack's ``zone_rules`` (china-ops.md §3):
``{"levels": [most severe first, ...], "<level>": {"lift_days", "test_within_days", "then"}}``.
A case's home is drawn at the most severe level (its building when the
household has one, else its grid), the venues of its trajectory at the
middle level (three-level packs only), the townships holding those at the
lowest. Pages, the API and jobs call these (no web code); each change writes
its audit row. Case identities never leave here for a user without
``tracing.view_case``: see ``public_reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import reduce
from operator import or_

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Building
from fangkong.audit.choices import AuditAction
from fangkong.audit.models import AuditEvent
from fangkong.audit.services import diff, record_event
from fangkong.core.scope import in_scope, prefix_q
from fangkong.people.models import Person
from fangkong.policy import services as policy
from fangkong.policy.choices import SEVERITY, OrderStatus, RiskLevel
from fangkong.policy.models import ControlOrder, PolicyPack

from . import services
from .choices import CaseStatus, ZoneStatus
from .models import Case, ControlZone, TestingRound

# Zones that are drawn (in force or about to be): a new case joins one of these instead of a duplicate.
ACTIVE_STATUSES = (ZoneStatus.PROPOSED, ZoneStatus.PUBLISHED)
# What field staff see: what HQ has published (and its history), never the drafts.
PUBLIC_STATUSES = (ZoneStatus.PUBLISHED, ZoneStatus.LIFTED)
# Cases registered this recently are the default source of a proposal.
RECENT_CASE_DAYS = 14
ZONE_FIELDS = ["name", "level", "area_id", "building_id", "reason", "status"]
# Case numbers as register_case makes them (BL20261120-001, a retry adds -1): hidden from field staff.
CASE_NUMBER = re.compile(r"BL\d{8}-\d+(?:-\d+)?")


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(_("无权进行此操作。"))


def _snapshot(zone: ControlZone) -> dict:
    return {name: str(getattr(zone, name) or "") for name in ZONE_FIELDS}


def levels_of(pack: PolicyPack) -> list[str]:
    """The pack's zone levels, most severe first."""
    levels = (pack.zone_rules or {}).get("levels") or []
    return [level for level in levels if level in RiskLevel.values]


def level_rule(pack: PolicyPack, level: str) -> dict:
    rule = (pack.zone_rules or {}).get(level)
    return rule if isinstance(rule, dict) else {}


def level_label(level: str) -> str:
    return str(RiskLevel(level).label) if level in RiskLevel.values else level


def _active_levels() -> tuple[PolicyPack, list[str]]:
    pack = policy.active_pack()
    levels = levels_of(pack)
    if not levels:
        raise ValidationError(_("当前启用的防控策略没有设置管控区域规则，请指挥部先完善策略。"))
    return pack, levels


# who sees which zones ------------------------------------------------------------------------------
def zones_for(user, action: str = "view"):
    """The zones USER may see (or act on with ACTION).

    Viewing: the zones in the user's area, and the wider ones covering it (a
    township's precaution zone for the grid worker inside it). Users who may
    not draw zones see only what HQ published.
    """
    zones = ControlZone.objects.restrict(user, action)
    if action != "view" or not user.has_perm("tracing.view_controlzone"):
        return zones
    if user.area_id:
        covering = [area.code for area in user.area.ancestors()]
        if covering:
            zones = zones | ControlZone.objects.filter(area_id__in=covering)
    if not user.has_perm("tracing.add_controlzone"):
        zones = zones.filter(status__in=PUBLIC_STATUSES)
    return zones


def public_reason(zone: ControlZone, user, numbers: list[str] | None = None) -> str:
    """The zone's reason as USER may read it: without case numbers unless they may see cases."""
    if user.has_perm("tracing.view_case"):
        return zone.reason
    text = zone.reason
    if numbers is None:
        numbers = [case.number for case in zone.cases.all()]
    for number in sorted(numbers, key=len, reverse=True):
        text = text.replace(number, "")
    text = CASE_NUMBER.sub("", text)
    return re.sub(r"\s{2,}", " ", text).strip()


# proposing ---------------------------------------------------------------------------------------------
@dataclass
class Spot:
    level: str
    area: Area
    building: Building | None
    name: str
    reason: str


@dataclass
class Proposal:
    created: list[ControlZone] = field(default_factory=list)
    updated: list[ControlZone] = field(default_factory=list)
    cases: int = 0

    @property
    def zones(self) -> list[ControlZone]:
        return self.created + self.updated


def zone_name(area: Area, building: Building | None = None) -> str:
    name = area.full_name or area.name
    return f"{name} {building.name}" if building is not None else name


def _township_of(area: Area) -> Area | None:
    if area.level == AreaLevel.TOWNSHIP:
        return area
    return next((a for a in area.ancestors() if a.level == AreaLevel.TOWNSHIP), None)


def spots_for(case: Case, pack: PolicyPack, levels: list[str]) -> list[Spot]:
    """Where CASE puts zones under PACK, most severe first."""
    person = case.person
    household = person.household if person.household_id else None
    building = household.building if household is not None and household.building_id else None
    home_area = building.area if building is not None else person.area
    spots = [Spot(levels[0], home_area, building, zone_name(home_area, building),
                  _("病例 %(number)s 住所") % {"number": case.number})]
    touched = [home_area]
    if len(levels) >= 3:
        places: dict[str, list] = {}
        for item in services.trajectory(case, pack):
            venue = item.get("venue")
            if venue is None:
                continue
            names = places.setdefault(venue.area_id, [venue.area])
            if venue.name not in names[1:]:
                names.append(venue.name)
        for area, *names in places.values():
            if building is None and area.pk == home_area.pk:
                continue  # the whole grid is already the home zone
            spots.append(Spot(levels[1], area, None, zone_name(area),
                              _("病例 %(number)s 活动场所：%(places)s") % {
                                  "number": case.number, "places": "、".join(names)}))
            touched.append(area)
    if len(levels) >= 2:
        seen = set()
        for area in touched:
            township = _township_of(area)
            if township is None or township.pk in seen:
                continue
            seen.add(township.pk)
            spots.append(Spot(levels[-1], township, None, zone_name(township),
                              _("病例 %(number)s 住所或活动场所所在乡镇（街道）") % {"number": case.number}))
    return spots


def _covered(spot: Spot) -> bool:
    """A more severe zone already covers the whole of SPOT's area."""
    worse = [level for level in RiskLevel.values if SEVERITY[level] > SEVERITY[spot.level]]
    covering = [a.code for a in spot.area.ancestors()] + [spot.area.code]
    return ControlZone.objects.filter(status__in=ACTIVE_STATUSES, building__isnull=True, area_id__in=covering,
                                      level__in=worse).exists()


def _merge_reason(reason: str, extra: str) -> str:
    if not extra or extra in reason:
        return reason
    merged = f"{reason}；{extra}" if reason else extra
    return merged if len(merged) <= 300 else reason


def _propose_spot(user, pack: PolicyPack, case: Case, spot: Spot, result: Proposal, request=None) -> None:
    at = case.clock_start
    zone = (ControlZone.objects.filter(area=spot.area, building=spot.building, level=spot.level,
                                       status__in=ACTIVE_STATUSES).order_by("id").first())
    if zone is not None:
        changes = {}
        if not zone.cases.filter(pk=case.pk).exists():
            zone.cases.add(case)
            changes["cases"] = ["", case.number]
        if zone.last_case_at is None or at > zone.last_case_at:
            changes["last_case_at"] = [str(zone.last_case_at or ""), str(at)]
            zone.last_case_at = at
        reason = _merge_reason(zone.reason, spot.reason)
        if reason != zone.reason:
            changes["reason"] = [zone.reason, reason]
            zone.reason = reason
        if changes:
            zone.save()
            record_event(user, AuditAction.UPDATE, zone, changes=changes, request=request,
                         reason=_("根据病例更新管控区域建议"))
            if zone not in result.created and zone not in result.updated:
                result.updated.append(zone)
        return
    if _covered(spot):
        return
    zone = ControlZone.objects.create(name=spot.name[:150], area=spot.area, building=spot.building,
                                      level=spot.level, status=ZoneStatus.PROPOSED, reason=spot.reason[:300],
                                      pack=pack, last_case_at=at)
    zone.cases.add(case)
    record_event(user, AuditAction.CREATE, zone, changes=diff({}, _snapshot(zone)), request=request,
                 reason=_("根据病例建议管控区域"))
    result.created.append(zone)


@transaction.atomic
def propose_zones(user, cases=None, *, request=None, now=None) -> Proposal:
    """Propose zones for CASES (default: the open cases of the last 14 days in the user's scope).

    A zone already drawn (proposed or published) for the same area, building
    and level gets the case instead of a twin, and its last-case time moves.
    """
    _require(user, "tracing.add_controlzone")
    pack, levels = _active_levels()
    now = now or timezone.now()
    if cases is None:
        cases = Case.objects.restrict(user, "view").filter(
            status=CaseStatus.OPEN, created_at__gte=now - timedelta(days=RECENT_CASE_DAYS))
    if hasattr(cases, "select_related"):
        cases = cases.select_related("person__area", "person__household__building__area").order_by("created_at",
                                                                                                     "id")
    result = Proposal()
    for case in cases:
        if case.status == CaseStatus.EXCLUDED:
            continue
        result.cases += 1
        for spot in spots_for(case, pack, levels):
            _propose_spot(user, pack, case, spot, result, request)
    return result


# drawing by hand, publishing, discarding ---------------------------------------------------------------
def clean_zone(user, data: dict, pack: PolicyPack) -> dict:
    """Check a hand-drawn zone: a level of PACK, an area in the user's scope, a building inside it."""
    errors = {}
    levels = levels_of(pack)
    level = data.get("level") or ""
    if level not in levels:
        errors["level"] = _("请选择当前策略的等级：%(levels)s。") % {
            "levels": "、".join(level_label(v) for v in levels)}
    area, building = data.get("area"), data.get("building")
    if building is not None:
        if area is not None and not in_scope(building.area_id, area.prefix):
            errors["building"] = _("所选楼栋不在所选区划内。")
        area = building.area
    if area is None:
        errors["area"] = _("请选择区划。")
    elif not in_scope(area.code, user.scope_prefix):
        errors["area"] = _("所选区划不在您的管辖范围内。")
    name = (data.get("name") or "").strip()
    if not name and area is not None:
        name = zone_name(area, building)
    reason = (data.get("reason") or "").strip()
    if len(name) > 150:
        errors["name"] = _("名称不能超过150个字。")
    if len(reason) > 300:
        errors["reason"] = _("划定依据不能超过300个字。")
    if errors:
        raise ValidationError(errors)
    return {"name": name, "level": level, "area": area, "building": building, "reason": reason}


def create_zone(user, data: dict, request=None) -> ControlZone:
    """A zone drawn by hand (HQ, epidemiologists): proposed, like the system's own."""
    _require(user, "tracing.add_controlzone")
    pack, _levels = _active_levels()
    values = clean_zone(user, data, pack)
    zone = ControlZone.objects.create(pack=pack, status=ZoneStatus.PROPOSED, **values)
    record_event(user, AuditAction.CREATE, zone, changes=diff({}, _snapshot(zone)), request=request,
                 reason=_("人工划定管控区域"))
    return zone


def update_zone(user, zone: ControlZone, data: dict, request=None) -> ControlZone:
    """HQ adjusts a zone: level, area or building, name, reason. The zone comes under the active pack."""
    _require(user, "tracing.change_controlzone")
    if zone.status not in ACTIVE_STATUSES:
        raise ValidationError(_("已解除或已放弃的管控区域不能再修改。"))
    pack, _levels = _active_levels()
    values = clean_zone(user, {"name": zone.name, "level": zone.level, "area": zone.area,
                               "building": zone.building, "reason": zone.reason, **data}, pack)
    before = _snapshot(zone)
    for name, value in values.items():
        setattr(zone, name, value)
    zone.pack = pack
    zone.save()
    changes = diff(before, _snapshot(zone))
    if changes:
        record_event(user, AuditAction.UPDATE, zone, changes=changes, request=request)
    return zone


def publish_zone(user, zone: ControlZone, request=None) -> ControlZone:
    _require(user, "tracing.publish_controlzone")
    if zone.status != ZoneStatus.PROPOSED:
        raise ValidationError(_("只有待发布的管控区域可以发布。"))
    pack, levels = _active_levels()
    if zone.level not in levels:
        raise ValidationError(_("该区域的等级不属于当前启用的策略，请先修改等级。"))
    zone.pack = pack
    zone.status = ZoneStatus.PUBLISHED
    zone.published_at = timezone.now()
    zone.published_by = user
    zone.save()
    record_event(user, AuditAction.UPDATE, zone, changes={"status": [ZoneStatus.PROPOSED, ZoneStatus.PUBLISHED]},
                 request=request, reason=_("发布管控区域"))
    return zone


def discard_zone(user, zone: ControlZone, reason: str = "", request=None) -> ControlZone:
    _require(user, "tracing.change_controlzone")
    if zone.status != ZoneStatus.PROPOSED:
        raise ValidationError(_("只有待发布的管控区域可以放弃。"))
    zone.status = ZoneStatus.DISCARDED
    zone.save()
    record_event(user, AuditAction.UPDATE, zone, changes={"status": [ZoneStatus.PROPOSED, ZoneStatus.DISCARDED]},
                 request=request, reason=reason.strip() or _("放弃管控区域建议"))
    return zone


def record_round(user, zone: ControlZone, day: date, tested: int, positives: int = 0,
                 request=None) -> TestingRound:
    """One round of area-wide testing in ZONE; a second report for the same day replaces the first."""
    _require(user, "tracing.change_controlzone")
    errors = {}
    if zone.status not in ACTIVE_STATUSES:
        errors["__all__"] = _("已解除或已放弃的管控区域不能再记录检测。")
    if day is None:
        errors["day"] = _("请填写检测日期。")
    elif day > timezone.localdate():
        errors["day"] = _("检测日期不能晚于今天。")
    if tested is None or tested < 1:
        errors["tested"] = _("检测人数至少为1。")
    elif positives is None or positives < 0:
        errors["positives"] = _("阳性人数不能为负数。")
    elif positives > tested:
        errors["positives"] = _("阳性人数不能多于检测人数。")
    if errors:
        raise ValidationError(errors)
    testing, created = TestingRound.objects.update_or_create(
        zone=zone, day=day, defaults={"tested": tested, "positives": positives, "recorded_by": user})
    record_event(user, AuditAction.UPDATE, zone, request=request, reason=_("记录区域核酸检测"),
                 changes={"round": ["" if created else "replaced", f"{day} {tested}/{positives}"]})
    return testing


# facts and lift criteria -----------------------------------------------------------------------------
def _people_q(zone: ControlZone, via: str = "") -> Q:
    """People living in ZONE (VIA: the path to the person from another model, e.g. "person__")."""
    if zone.building_id:
        return Q(**{f"{via}household__building_id": zone.building_id})
    return prefix_q(f"{via}area_id", zone.area.prefix)


def _per_zone(queryset, zones: list[ControlZone], make, via: str = "") -> dict:
    """Zone id -> MAKE(filter) aggregated over QUERYSET for the people of each of ZONES, in one query.

    Each zone's filter is ``_people_q`` itself: the figures are those of a query for that zone alone.
    """
    if not zones:
        return {}
    wanted = {zone.pk: _people_q(zone, via) for zone in zones}
    values = queryset.filter(reduce(or_, wanted.values())).aggregate(
        **{f"z{pk}": make(q) for pk, q in wanted.items()})
    return {pk: values[f"z{pk}"] for pk in wanted}


def _populations(zones: list[ControlZone]) -> dict:
    """Zone id -> people living there: the area's kept count, else a count (buildings, areas without one)."""
    kept = {zone.pk: zone.area.population for zone in zones if zone.building_id is None and zone.area.population}
    counted = _per_zone(Person.objects.current(), [zone for zone in zones if zone.pk not in kept],
                        lambda q: Count("id", filter=q))
    return {**kept, **counted}


def _under_measures(zones: list[ControlZone]) -> dict:
    """Zone id -> people living there with an open measure (管控中)."""
    return _per_zone(ControlOrder.objects.filter(status=OrderStatus.ACTIVE), zones,
                     lambda q: Count("person_id", distinct=True, filter=q), via="person__")


def _last_cases(zones: list[ControlZone]) -> dict:
    """Zone id -> the last positive result (else registration) of a case among its residents, or None."""
    return _per_zone(Case.objects.exclude(status=CaseStatus.EXCLUDED), zones,
                     lambda q: Max(Coalesce("result_at", "created_at"), filter=q), via="person__")


def _levels_since(zones: list[ControlZone]) -> dict:
    """Zone id -> when a published zone last changed level (a downgrade restarts the clock), else None.

    Only asked for the zones whose level has a clock (``lift_days``).
    """
    published = {zone.pk: Q(object_id=str(zone.pk), at__gte=zone.published_at)
                 for zone in zones if zone.published_at is not None}
    if not published:
        return {}
    values = (AuditEvent.objects.filter(object_type=ControlZone._meta.label_lower, changes__has_key="level")
              .filter(reduce(or_, published.values()))
              .aggregate(**{f"z{pk}": Max("at", filter=q) for pk, q in published.items()}))
    return {pk: values[f"z{pk}"] for pk in published}


def _rounds(zones: list[ControlZone]) -> dict:
    """Zone id -> its testing rounds, newest first: those prefetched, the others in one query."""
    result, missing = {}, []
    for zone in zones:
        cached = getattr(zone, "_prefetched_objects_cache", {}).get("rounds")
        if cached is not None:
            result[zone.pk] = list(cached)
        else:
            result[zone.pk] = []
            missing.append(zone.pk)
    if missing:
        for testing in TestingRound.objects.filter(zone_id__in=missing).order_by("-day", "-id"):
            result[testing.zone_id].append(testing)
    return result


def _lowest_without_clock(zone: ControlZone, levels: list[str], rule: dict) -> bool:
    """ZONE is at the pack's lowest level, which lifts when every higher level is lifted (no clock of its own)."""
    return not rule.get("lift_days") and bool(levels) and zone.level == levels[-1] and len(levels) > 1


def _next_level(zone: ControlZone, rule: dict, levels: list[str]) -> str:
    """What lifting makes of ZONE: the pack's next level, or "" (lifted) when that is the lowest."""
    then = rule.get("then") or ""
    if then in levels and levels.index(then) < len(levels) - 1:
        return then
    return ""


def facts_for(zones, today: date | None = None) -> dict[int, dict]:
    """Zone id -> ``zone_facts`` for each of ZONES, in a fixed number of queries whatever their number.

    At most: the packs and areas not yet loaded, the rounds not prefetched,
    the population counted, the people under measures, the residents' last
    case, the level changes of published zones, the published zones by
    level (for the lowest level's criterion).
    """
    zones = list(zones)
    if not zones:
        return {}
    today = today or timezone.localdate()
    prefetch_related_objects(zones, "pack")
    prefetch_related_objects([zone for zone in zones if zone.building_id is None], "area")
    rounds = _rounds(zones)
    populations = _populations(zones)
    measures = _under_measures(zones)
    last_cases = _last_cases(zones)
    rules = {zone.pk: level_rule(zone.pack, zone.level) for zone in zones}
    since = _levels_since([zone for zone in zones if rules[zone.pk].get("lift_days")])
    lowest = set()
    for zone in zones:
        levels = levels_of(zone.pack)
        if _lowest_without_clock(zone, levels, rules[zone.pk]):
            lowest.update(levels[:-1])
    published = {}
    if lowest:
        published = dict(ControlZone.objects.filter(status=ZoneStatus.PUBLISHED, level__in=lowest).order_by()
                         .values_list("level").annotate(n=Count("id")))
    return {zone.pk: _facts(zone, today, rounds=rounds[zone.pk], population=populations[zone.pk],
                            under_measures=measures[zone.pk], last_case_at=last_cases[zone.pk],
                            since=since.get(zone.pk), published=published)
            for zone in zones}


def zone_facts(zone: ControlZone, today: date | None = None) -> dict:
    """What HQ needs to decide on ZONE: who lives there, the last case, the testing, the lift criteria.

    ``criteria`` is a list of {label, met, detail}; ``lift_on`` the first day
    the clock allows lifting (or downgrading to ``then``), ``days_left`` the
    days until then (0: now). No identities in here. The same code as a
    page of zones (``facts_for``).
    """
    return facts_for([zone], today)[zone.pk]


def _facts(zone: ControlZone, today: date, *, rounds: list[TestingRound], population: int, under_measures: int,
           last_case_at, since, published: dict) -> dict:
    """ZONE's facts from what ``facts_for`` read (PUBLISHED: level -> published zones, all zones)."""
    pack = zone.pack
    levels = levels_of(pack)
    rule = level_rule(pack, zone.level)
    # The day of the last infection: the zone's last case, a case among its residents, a positive round.
    days = [timezone.localtime(m).date() for m in (zone.last_case_at, last_case_at) if m is not None]
    days += [r.day for r in rounds if r.positives]
    last_day = max(days) if days else None
    criteria: list[dict] = []
    lift_on = days_left = None
    lift_days = rule.get("lift_days")
    if lift_days:
        start = last_day
        if since is not None:
            since_day = timezone.localtime(since).date()
            start = max(start, since_day) if start else since_day
        if start is None:
            start = timezone.localtime(zone.published_at or zone.created_at).date()
        lift_on = start + timedelta(days=lift_days)
        days_left = max(0, (lift_on - today).days)
        if days_left == 0:
            detail = _("已连续 %(days)s 天无新增感染者。") % {"days": (today - start).days}
        else:
            detail = _("还需 %(left)s 天，%(day)s 起可%(action)s。") % {
                "left": days_left, "day": lift_on.isoformat(),
                "action": _("降级") if _next_level(zone, rule, levels) else _("解除")}
        if since is not None and start != last_day:
            detail += _("（自 %(day)s 调整等级起算）") % {"day": start.isoformat()}
        criteria.append({"label": _("连续 %(days)s 天无新增感染者") % {"days": lift_days},
                         "met": days_left == 0, "detail": detail})
        within = rule.get("test_within_days")
        if within:
            window_start = max(today, lift_on) - timedelta(days=within)
            recent = [r for r in rounds if window_start <= r.day <= today]
            positive = next((r for r in recent if r.positives), None)
            if positive is not None:
                met, detail = False, _("%(day)s 检出阳性 %(n)s 人。") % {"day": positive.day.isoformat(),
                                                                   "n": positive.positives}
            elif recent:
                met, detail = True, _("%(day)s 检测 %(n)s 人，均为阴性。") % {"day": recent[0].day.isoformat(),
                                                                     "n": recent[0].tested}
            else:
                met = False
                detail = _("请在 %(start)s 至 %(end)s 之间完成一轮全员核酸检测。") % {
                    "start": window_start.isoformat(), "end": max(today, lift_on).isoformat()}
            criteria.append({"label": _("解除前 %(days)s 天内全员核酸检测均为阴性") % {"days": within},
                             "met": met, "detail": detail})
    elif _lowest_without_clock(zone, levels, rule):
        higher = levels[:-1]
        open_zones = sum(published.get(level, 0) for level in higher)
        names = "、".join(level_label(level) for level in higher)
        criteria.append({
            "label": _("所有%(levels)s均已解除") % {"levels": names}, "met": open_zones == 0,
            "detail": _("尚有 %(n)s 个未解除。") % {"n": open_zones} if open_zones else _("均已解除。")})
    else:
        criteria.append({"label": _("由指挥部研判解除"), "met": False, "detail": _("策略未规定自动解除条件。")})
    then = _next_level(zone, rule, levels)
    last_round = rounds[0] if rounds else None
    return {
        "population": population,
        "under_measures": under_measures,
        "last_case_on": last_day,
        "days_since_last_case": (today - last_day).days if last_day else None,
        "rounds": len(rounds),
        "last_round_on": last_round.day if last_round else None,
        "last_round_tested": last_round.tested if last_round else None,
        "last_round_positives": last_round.positives if last_round else None,
        "criteria": criteria,
        "met": all(c["met"] for c in criteria),
        "can_lift": zone.status == ZoneStatus.PUBLISHED and all(c["met"] for c in criteria),
        "lift_on": lift_on,
        "days_left": days_left,
        "then": then,
        "then_label": level_label(then) if then else "",
        "action_label": _("降为%(level)s") % {"level": level_label(then)} if then else _("解除"),
    }


@transaction.atomic
def lift_zone(user, zone: ControlZone, *, reason: str = "", force: bool = False, today: date | None = None,
              request=None) -> ControlZone:
    """Lift ZONE, or downgrade it to the pack's next level, when the criteria are met.

    HQ may lift before the criteria are met (FORCE) with a reason, audited.
    """
    _require(user, "tracing.publish_controlzone")
    if zone.status != ZoneStatus.PUBLISHED:
        raise ValidationError(_("只有已发布的管控区域可以解除。"))
    facts = zone_facts(zone, today)
    reason = reason.strip()
    if not facts["met"]:
        if not force:
            unmet = "；".join(f"{c['label']}：{c['detail']}" for c in facts["criteria"] if not c["met"])
            raise ValidationError(_("尚未达到解除条件：%(unmet)s") % {"unmet": unmet})
        if len(reason) < 2:
            raise ValidationError({"reason": _("未达到解除条件时强制解除，须说明理由（至少2个字）。")})
    changes = {"forced": ["", "yes"]} if not facts["met"] else {}
    then = facts["then"]
    if then:
        changes["level"] = [zone.level, then]
        zone.level = then
    else:
        changes["status"] = [zone.status, ZoneStatus.LIFTED]
        zone.status = ZoneStatus.LIFTED
        zone.lifted_at = timezone.now()
    zone.save()
    record_event(user, AuditAction.UPDATE, zone, changes=changes, request=request,
                 reason=reason or (_("达到降级条件") if then else _("达到解除条件")))
    return zone
