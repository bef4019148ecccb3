"""Quarantine sites, their rooms and stays: creating a site from a rooms spec, room suggestions, check-in and
check-out, and the occupancy board.

单人单间: one person per room by default; members of one household may share a room that has more beds.
A site that separates categories never puts people of two categories (close contacts, arrivals …) on one
floor. A bed holds one open stay and a person has one open stay: the database enforces both
(``one_open_stay_per_bed``, ``one_open_stay_per_person``); the checks here give the reason in Chinese first.

The occupancy board is a handful of grouped queries over all the sites in the user's scope, never a
query per site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import diff, record_event
from fangkong.core.scope import in_scope
from fangkong.people.identity import mask_name
from fangkong.policy.choices import Category, OrderStatus, Stage
from fangkong.policy.services import note_history
from fangkong.warning.choices import Severity, SignalKind
from fangkong.warning.services import raise_signal

from .choices import OPEN_TRANSFER_STATUSES, SampleResult, SiteKind, StayEnd
from .models import QuarantineSite, Room, Stay, Transfer

MAX_ROOMS = 5000
MAX_BEDS = 10
MAX_FLOOR = 200
MAX_PER_FLOOR = 999
SITE_FIELDS = ("name", "kind", "area", "address", "manager", "phone", "single_occupancy", "separate_categories",
               "note", "is_active")
TEXT_LIMITS = {"name": 100, "address": 200, "manager": 50, "phone": 20, "note": 200}
DOUBLE_BOOKED = "double_booked"


def _require(user, perm: str) -> None:
    if user is None or not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied


def category_label(code: str) -> str:
    return str(Category(code).label) if code in Category.values else code


# Reads -------------------------------------------------------------------------------------------
def sites_for(user, action: str = "view"):
    """The sites USER may see (or act on): those in their area, and those they are on the staff of."""
    scoped = QuarantineSite.objects.restrict(user, action)
    if user is None or not user.is_authenticated or not user.has_perm(f"quarantine.{action}_quarantinesite"):
        return scoped
    if user.scope_prefix is None:
        return scoped
    return QuarantineSite.objects.filter(Q(pk__in=scoped.values("pk")) | Q(pk__in=user.quarantine_sites.values("pk")))


def may_act_on(user, site: QuarantineSite, action: str = "view") -> bool:
    return sites_for(user, action).filter(pk=site.pk).exists()


def open_stays(site: QuarantineSite | None = None):
    stays = Stay.objects.filter(checked_out_at__isnull=True)
    return stays.filter(site=site) if site is not None else stays


def stay_day(stay: Stay, today: date | None = None) -> int:
    """Day N of the stay, the day of check-in being day 1."""
    today = today or timezone.localdate()
    return (today - timezone.localdate(stay.checked_in_at)).days + 1


# Creating and editing sites ----------------------------------------------------------------------
def _text(data: dict, name: str, errors: dict) -> str:
    value = str(data.get(name) or "").strip()
    if len(value) > TEXT_LIMITS[name]:
        errors[name] = _("不能超过%(n)d个字。") % {"n": TEXT_LIMITS[name]}
    return value


def _flag(value, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def _clean_site(user, data: dict, instance: QuarantineSite | None = None) -> dict:
    errors: dict[str, str] = {}
    merged = {name: getattr(instance, name) for name in SITE_FIELDS} if instance is not None else {}
    merged.update({k: v for k, v in data.items() if k in SITE_FIELDS})
    cleaned = {name: _text(merged, name, errors) for name in TEXT_LIMITS}
    if not cleaned["name"]:
        errors["name"] = _("请填写隔离点名称。")
    elif QuarantineSite.objects.filter(name=cleaned["name"]).exclude(pk=instance.pk if instance else None).exists():
        errors["name"] = _("已有同名的隔离点。")
    kind = merged.get("kind") or SiteKind.HOTEL
    if kind not in SiteKind.values:
        errors["kind"] = _("隔离点类型不正确。")
    cleaned["kind"] = kind
    area = merged.get("area")
    if area is not None and not isinstance(area, Area):
        area = Area.objects.filter(code=str(area).strip()).first()
        if area is None:
            errors["area"] = _("区划代码不存在。")
    if area is None and "area" not in errors:
        errors["area"] = _("请选择隔离点所在区划。")
    elif area is not None and not in_scope(area.code, user.scope_prefix):
        errors["area"] = _("所选区划不在您的管辖范围内。")
    cleaned["area"] = area
    cleaned["single_occupancy"] = _flag(merged.get("single_occupancy"), True)
    cleaned["separate_categories"] = _flag(merged.get("separate_categories"), True)
    cleaned["is_active"] = _flag(merged.get("is_active"), True)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _whole(value, name: str, low: int, high: int, errors: dict, label: str) -> int | None:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value) if isinstance(value, int | float) else int(str(value).strip())
    except (TypeError, ValueError):
        errors[name] = _("%(label)s应为整数。") % {"label": label}
        return None
    if not low <= number <= high:
        errors[name] = _("%(label)s应在 %(low)d 至 %(high)d 之间。") % {"label": label, "low": low, "high": high}
        return None
    return number


def _or_one(value):
    return 1 if value is None or value == "" else value


def room_number(floor: int, index: int, per_floor: int) -> str:
    """301 … 320: the floor, then the room on the floor in two digits (three past 99 rooms a floor)."""
    return f"{floor}{index:0{3 if per_floor > 99 else 2}d}"


def plan_rooms(rooms_spec: dict | None) -> list[dict]:
    """The rooms a spec asks for: generated floors (floor_from..floor_to, rooms_per_floor, beds_per_room)
    and/or listed rooms [{number, floor, beds}]. Raises ValidationError (Chinese, per field) on bad input."""
    spec = rooms_spec or {}
    if not isinstance(spec, dict):
        raise ValidationError({"rooms": _("房间设置格式不正确。")})
    errors: dict[str, str] = {}
    rooms: list[dict] = []
    generated = any(spec.get(k) not in (None, "") for k in ("floor_from", "floor_to", "rooms_per_floor"))
    if generated:
        first = _whole(spec.get("floor_from"), "floor_from", 1, MAX_FLOOR, errors, _("起始楼层"))
        last = _whole(spec.get("floor_to", spec.get("floor_from")), "floor_to", 1, MAX_FLOOR, errors, _("结束楼层"))
        per_floor = _whole(spec.get("rooms_per_floor"), "rooms_per_floor", 1, MAX_PER_FLOOR, errors,
                           _("每层房间数"))
        beds = _whole(_or_one(spec.get("beds_per_room")), "beds_per_room", 1, MAX_BEDS, errors, _("每间床位"))
        if first is not None and last is not None and last < first:
            errors["floor_to"] = _("结束楼层不能低于起始楼层。")
        if not errors:
            if (last - first + 1) * per_floor > MAX_ROOMS:
                errors["rooms_per_floor"] = _("房间总数不能超过 %(n)d 间。") % {"n": MAX_ROOMS}
            else:
                rooms = [{"number": room_number(floor, i, per_floor), "floor": floor, "beds": beds}
                         for floor in range(first, last + 1) for i in range(1, per_floor + 1)]
    listed = spec.get("rooms") or []
    if not isinstance(listed, list):
        errors["rooms"] = _("房间列表格式不正确。")
        listed = []
    for n, row in enumerate(listed, start=1):
        if not isinstance(row, dict):
            errors["rooms"] = _("第 %(n)d 个房间格式不正确。") % {"n": n}
            break
        number = str(row.get("number") or "").strip()
        row_errors: dict = {}
        floor = _whole(row.get("floor"), "floor", -5, MAX_FLOOR, row_errors, _("楼层"))
        beds = _whole(_or_one(row.get("beds")), "beds", 1, MAX_BEDS, row_errors, _("床位"))
        if not number or len(number) > 20:
            row_errors["number"] = _("房号应为1至20个字。")
        if row_errors:
            errors["rooms"] = _("第 %(n)d 个房间：%(error)s") % {"n": n, "error": next(iter(row_errors.values()))}
            break
        rooms.append({"number": number, "floor": floor, "beds": beds})
    if not errors:
        seen: set[str] = set()
        for room in rooms:
            if room["number"] in seen:
                errors["rooms"] = _("房号重复：%(number)s。") % {"number": room["number"]}
                break
            seen.add(room["number"])
        if len(rooms) > MAX_ROOMS:
            errors["rooms"] = _("房间总数不能超过 %(n)d 间。") % {"n": MAX_ROOMS}
    if errors:
        raise ValidationError(errors)
    return rooms


def _site_snapshot(site: QuarantineSite) -> dict:
    return {"name": site.name, "kind": site.kind, "area": site.area_id, "address": site.address,
            "manager": site.manager, "phone": site.phone, "single_occupancy": site.single_occupancy,
            "separate_categories": site.separate_categories, "is_active": site.is_active, "note": site.note}


def _add_rooms(site: QuarantineSite, rooms: list[dict]) -> int:
    taken = set(site.rooms.filter(number__in=[r["number"] for r in rooms]).values_list("number", flat=True))
    if taken:
        raise ValidationError({"rooms": _("房号已存在：%(numbers)s。") % {"numbers": "、".join(sorted(taken)[:10])}})
    Room.objects.bulk_create([Room(site=site, **room) for room in rooms], batch_size=1000)
    return len(rooms)


@transaction.atomic
def create_site(user, data: dict, rooms_spec: dict | None = None, request=None) -> QuarantineSite:
    """A new site (HQ) with its rooms from ROOMS_SPEC (see plan_rooms); at least one room."""
    _require(user, "quarantine.add_quarantinesite")
    errors = {}
    try:
        cleaned = _clean_site(user, data)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        rooms = plan_rooms(rooms_spec)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        rooms = None
    if rooms is not None and not rooms and "rooms" not in errors:
        errors["rooms"] = [_("请至少设置一个房间：按楼层生成或逐间列出。")]
    if errors:
        raise ValidationError(errors)
    site = QuarantineSite.objects.create(**cleaned)
    _add_rooms(site, rooms)
    record_event(user, AuditAction.CREATE, site, request=request,
                 changes={**diff({}, _site_snapshot(site)), "rooms": len(rooms),
                          "beds": sum(r["beds"] for r in rooms)})
    return site


@transaction.atomic
def update_site(user, site: QuarantineSite, data: dict, rooms_spec: dict | None = None,
                request=None) -> QuarantineSite:
    """Change a site's particulars; a ROOMS_SPEC adds rooms (existing numbers are refused)."""
    _require(user, "quarantine.change_quarantinesite")
    if not may_act_on(user, site, "change"):
        raise PermissionDenied
    before = _site_snapshot(site)
    cleaned = _clean_site(user, data, instance=site)
    rooms = plan_rooms(rooms_spec) if rooms_spec else []
    for name, value in cleaned.items():
        setattr(site, name, value)
    site.save()
    added = _add_rooms(site, rooms) if rooms else 0
    changes = diff(before, _site_snapshot(site))
    if added:
        changes["rooms_added"] = added
    if changes:
        record_event(user, AuditAction.UPDATE, site, request=request, changes=changes)
    return site


@transaction.atomic
def set_room_out_of_service(user, room: Room, out_of_service: bool = True, note: str = "",
                            request=None) -> Room:
    """Take a room out of service (repairs, a positive room sample …) or back; an occupied room stays in service."""
    _require(user, "quarantine.change_quarantinesite")
    if not may_act_on(user, room.site, "change"):
        raise PermissionDenied
    out_of_service = bool(out_of_service)
    if out_of_service and open_stays().filter(room=room).exists():
        raise ValidationError(_("房间 %(number)s 尚有人员入住，不能停用。") % {"number": room.number})
    before = {"out_of_service": room.out_of_service, "note": room.note}
    room.out_of_service = out_of_service
    if note or not out_of_service:
        room.note = str(note or "").strip()[:100]
    room.save(update_fields=["out_of_service", "note"])
    changes = diff(before, {"out_of_service": room.out_of_service, "note": room.note})
    if changes:
        record_event(user, AuditAction.UPDATE, room, request=request, changes=changes, area_code=room.site.area_id)
    return room


# Room suggestions --------------------------------------------------------------------------------
@dataclass
class Suggestion:
    room: Room
    bed: int
    reason: str


def _occupants(site: QuarantineSite):
    """Open stays of SITE as (room_id, bed, floor, category, household_id) rows."""
    return list(open_stays(site).values_list("room_id", "bed", "room__floor", "category", "person__household_id"))


def suggest_rooms(site: QuarantineSite, order, household=None, limit: int = 10) -> list[Suggestion]:
    """Free beds for ORDER's person, best first.

    A free bed is in a room in service without an open stay on it. First a room where a member of the
    person's household already stays (when it has a bed left), then rooms on floors already holding the
    same category, then empty floors; never a floor holding another category when the site separates
    them; single occupancy otherwise (smaller rooms first, to keep the bigger ones for households).
    """
    household_id = household.pk if hasattr(household, "pk") else household
    if household_id is None:
        household_id = order.person.household_id
    category = order.category
    rows = _occupants(site)
    taken: dict[int, set[int]] = {}
    households: dict[int, set] = {}
    floor_categories: dict[int, set[str]] = {}
    for room_id, bed, floor, cat, hh in rows:
        taken.setdefault(room_id, set()).add(bed)
        households.setdefault(room_id, set()).add(hh)
        floor_categories.setdefault(floor, set()).add(cat)
    ranked = []
    for room in site.rooms.filter(out_of_service=False).order_by("floor", "number"):
        cats = floor_categories.get(room.floor, set())
        if site.separate_categories and cats - {category}:
            continue
        used = taken.get(room.pk, set())
        free = [b for b in range(1, room.beds + 1) if b not in used]
        if not free:
            continue
        if used:
            same_household = household_id is not None and households.get(room.pk) == {household_id}
            if site.single_occupancy and not same_household:
                continue
            rank = 0 if same_household else 1
            reason = _("与同户家庭成员同住") if same_household else _("多人间，尚有空床")
        elif category in cats:
            rank, reason = 2, _("同楼层已住同类人员")
        else:
            rank, reason = 3, _("空楼层") if not cats else _("同楼层已住同类人员")
        ranked.append((rank, room.beds if not used else 0, room.floor, room.number, room, free[0], reason))
    ranked.sort(key=lambda r: r[:4])
    return [Suggestion(room=r[4], bed=r[5], reason=r[6]) for r in ranked[:limit]]


# Check-in and check-out --------------------------------------------------------------------------
def _room_occupants(room: Room) -> list[tuple[int, int | None]]:
    """(bed, household id) of the open stays in ROOM."""
    return list(open_stays().filter(room=room).values_list("bed", "person__household_id"))


def _double_booked(room: Room, bed: int) -> ValidationError:
    return ValidationError(
        _("房间 %(number)s 的 %(bed)d 号床已有人入住，不能重复安排。") % {"number": room.number, "bed": bed},
        code=DOUBLE_BOOKED)


def _check_order(order) -> None:
    if order.status != OrderStatus.ACTIVE:
        raise ValidationError(_("该管控措施已不在执行中（%(status)s），不能办理入住。") % {
            "status": order.get_status_display()})
    if order.current_stage != Stage.CENTRALIZED:
        label = order.get_current_stage_display() if order.current_stage else _("未开始")
        raise ValidationError(_("该人员当前阶段为%(stage)s，不是集中隔离，不能办理入住。") % {"stage": label})


@transaction.atomic
def check_in(user, site: QuarantineSite, order, room: Room, bed: int | None = None, now: datetime | None = None,
             request=None) -> Stay:
    """Put ORDER's person in a bed of ROOM at SITE. Refusals are ValidationErrors with the reason; a bed
    already taken has the code ``double_booked``."""
    _require(user, "quarantine.add_stay")
    if not may_act_on(user, site):
        raise PermissionDenied
    now = now or timezone.now()
    person = order.person
    if room.site_id != site.pk:
        raise ValidationError(_("房间 %(number)s 不属于本隔离点。") % {"number": room.number})
    if not site.is_active:
        raise ValidationError(_("该隔离点已停用，不能办理入住。"))
    _check_order(order)
    current = open_stays().filter(person=person).select_related("site", "room").first()
    if current is not None:
        raise ValidationError(_("该人员已在%(site)s %(number)s 房间入住，请先办理离开。") % {
            "site": current.site.name, "number": current.room.number})
    if room.out_of_service:
        raise ValidationError(_("房间 %(number)s 已停用。") % {"number": room.number})
    occupants = _room_occupants(room)
    used = {b for b, _hh in occupants}
    if bed is not None:
        try:
            bed = int(bed)
        except (TypeError, ValueError):
            raise ValidationError({"bed": _("床号应为整数。")}) from None
        if not 1 <= bed <= room.beds:
            raise ValidationError({"bed": _("房间 %(number)s 只有 %(beds)d 张床。") % {
                "number": room.number, "beds": room.beds}})
        if bed in used:
            raise _double_booked(room, bed)
    else:
        free = [b for b in range(1, room.beds + 1) if b not in used]
        if not free:
            raise _double_booked(room, min(used) if used else 1)
        bed = free[0]
    if occupants and site.single_occupancy:
        same = person.household_id is not None and {hh for _b, hh in occupants} == {person.household_id}
        if not same:
            raise ValidationError(_("单人单间：房间 %(number)s 已有人入住，只有同户家庭成员可以同住。") % {
                "number": room.number})
    if site.separate_categories:
        others = set(open_stays(site).filter(room__floor=room.floor).exclude(category=order.category)
                     .values_list("category", flat=True))
        if others:
            raise ValidationError(_("%(floor)d 层已住有%(others)s，本隔离点不同类别人员须分楼层安置。") % {
                "floor": room.floor, "others": "、".join(sorted(category_label(c) for c in others))})
    stay = Stay(order=order, person=person, site=site, room=room, bed=bed, area=site.area, category=order.category,
                checked_in_at=now, checked_in_by=user)
    try:
        with transaction.atomic():
            stay.save()
    except IntegrityError:
        if open_stays().filter(person=person).exists():
            raise ValidationError(_("该人员已有未离开的入住记录。")) from None
        raise _double_booked(room, bed) from None
    note_history(order, "checked_in", _("入住%(site)s %(number)s 房间 %(bed)d 号床") % {
        "site": site.name, "number": room.number, "bed": bed}, user, site=site.pk, room=room.number, bed=bed)
    order.save(update_fields=["history", "updated_at"])
    record_event(user, AuditAction.CREATE, stay, request=request, area_code=site.area_id,
                 object_repr=f"{mask_name(person.name)} @ {site.name} {room.number}",
                 changes={"order": order.pk, "site": site.pk, "room": room.number, "bed": bed,
                          "category": order.category})
    return stay


def _stay_repr(stay: Stay) -> str:
    return f"{mask_name(stay.person.name)} @ {stay.site.name} {stay.room.number}"


def _check_stay_access(user, stay: Stay) -> None:
    _require(user, "quarantine.add_stay")
    if not may_act_on(user, stay.site):
        raise PermissionDenied


def _set_sample(stay: Stay, result, now: datetime) -> str:
    result = str(result or "").strip()
    if result not in SampleResult.values:
        raise ValidationError({"room_sample": _("房间环境采样结果应为阴性或阳性。")})
    stay.room_sample, stay.room_sampled_at = result, now
    if result == SampleResult.POSITIVE:
        raise_signal(SignalKind.SITE_POSITIVE, area=stay.area, person_id=stay.person_id, subject=stay.site,
                     severity=Severity.CRITICAL, details={"room": stay.room.number, "environment": True},
                     title=_("隔离点环境采样阳性：%(site)s %(room)s 房间") % {"site": stay.site.name,
                                                                     "room": stay.room.number})
    return result


@transaction.atomic
def check_out(user, stay: Stay, left_to: str, room_sample: str | None = None, now: datetime | None = None,
              request=None) -> Stay:
    """The person leaves the site (to home, released, hospital, another site); the bed is free again."""
    _check_stay_access(user, stay)
    stay = Stay.objects.select_for_update(of=("self",)).select_related("site", "room", "person", "order").get(pk=stay.pk)
    if stay.checked_out_at is not None:
        raise ValidationError(_("该人员已于 %(at)s 离开，不能重复办理。") % {
            "at": timezone.localtime(stay.checked_out_at).strftime("%Y-%m-%d %H:%M")})
    if left_to not in StayEnd.values:
        raise ValidationError({"left_to": _("请选择去向。")})
    now = now or timezone.now()
    if now < stay.checked_in_at:
        raise ValidationError(_("离开时间不能早于入住时间。"))
    stay.checked_out_at, stay.checked_out_by, stay.left_to = now, user, left_to
    if room_sample:
        _set_sample(stay, room_sample, now)
    stay.save()
    order = stay.order
    text = _("离开%(site)s %(number)s 房间，%(to)s") % {"site": stay.site.name, "number": stay.room.number,
                                                  "to": StayEnd(left_to).label}
    if stay.room_sample:
        text += _("；房间环境采样%(result)s") % {"result": SampleResult(stay.room_sample).label}
    note_history(order, "checked_out", text, user, site=stay.site_id, room=stay.room.number, left_to=left_to)
    order.save(update_fields=["history", "updated_at"])
    record_event(user, AuditAction.UPDATE, stay, request=request, area_code=stay.site.area_id,
                 object_repr=_stay_repr(stay),
                 changes={"checked_out_at": [None, now.isoformat(timespec="seconds")], "left_to": ["", left_to],
                          **({"room_sample": ["", stay.room_sample]} if stay.room_sample else {})})
    return stay


@transaction.atomic
def record_room_sample(user, stay: Stay, result: str, now: datetime | None = None, request=None) -> Stay:
    """The environment sample of the stay's room (often taken after the person left)."""
    _check_stay_access(user, stay)
    now = now or timezone.now()
    before = stay.room_sample
    _set_sample(stay, result, now)
    stay.save(update_fields=["room_sample", "room_sampled_at"])
    order = stay.order
    note_history(order, "room_sample", _("%(number)s 房间环境采样%(result)s") % {
        "number": stay.room.number, "result": SampleResult(stay.room_sample).label}, user, room=stay.room.number)
    order.save(update_fields=["history", "updated_at"])
    record_event(user, AuditAction.UPDATE, stay, request=request, area_code=stay.site.area_id,
                 object_repr=_stay_repr(stay), changes={"room_sample": [before, stay.room_sample]})
    return stay


# The occupancy board -----------------------------------------------------------------------------
FIGURES = ("rooms", "beds_total", "beds_occupied", "beds_free", "beds_out_of_service", "arrivals_today",
           "arrivals_tomorrow", "releases_today", "releases_tomorrow")


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _release_day(stages: list, today: date, tomorrow: date) -> date | None:
    """The end of the centralized stage in force today, when it is today or tomorrow."""
    today_s, tomorrow_s = today.isoformat(), tomorrow.isoformat()
    for stage in stages or ():
        if stage.get("stage") != Stage.CENTRALIZED:
            continue
        start, end = stage.get("start", ""), stage.get("end", "")
        if start <= today_s <= end:
            return today if end == today_s else tomorrow if end == tomorrow_s else None
    return None


def occupancy(user, today: date | None = None, sites=None) -> dict:
    """Beds per site in USER's scope: total, occupied, free, out of service; people arriving (open transfers
    to the site planned today / tomorrow) and due to leave (the centralized stage ends today / tomorrow).

    {"today", "tomorrow", "sites": [{"id", "name", "kind", "area_code", "area_name", figures…}], "totals"}.
    Five grouped queries whatever the number of sites.
    """
    today = today or timezone.localdate()
    tomorrow = today + timedelta(days=1)
    if sites is None:
        sites = sites_for(user).filter(is_active=True)
    site_rows = list(sites.order_by("name", "id").values("id", "name", "kind", "area_id", "area__name",
                                                                  "is_active"))
    ids = [row["id"] for row in site_rows]
    board = {row["id"]: {"id": row["id"], "name": row["name"], "kind": row["kind"],
                         "kind_label": str(SiteKind(row["kind"]).label) if row["kind"] in SiteKind.values else "",
                         "area_code": row["area_id"], "area_name": row["area__name"], "is_active": row["is_active"],
                         **dict.fromkeys(FIGURES, 0)}
             for row in site_rows}
    if ids:
        rooms = (Room.objects.filter(site_id__in=ids).order_by().values("site_id")
                 .annotate(room_count=Count("id"), in_service=Sum("beds", filter=Q(out_of_service=False)),
                           off=Sum("beds", filter=Q(out_of_service=True))))
        for row in rooms:
            entry = board[row["site_id"]]
            entry["rooms"], entry["beds_total"], entry["beds_out_of_service"] = (
                row["room_count"], row["in_service"] or 0, row["off"] or 0)
        occupied = (Stay.objects.filter(site_id__in=ids, checked_out_at__isnull=True).order_by().values("site_id")
                    .annotate(n=Count("id")))
        for row in occupied:
            board[row["site_id"]]["beds_occupied"] = row["n"]
        day0, day1, day2 = _day_start(today), _day_start(tomorrow), _day_start(tomorrow + timedelta(days=1))
        arrivals = (Transfer.objects.filter(to_site_id__in=ids, status__in=OPEN_TRANSFER_STATUSES,
                                            planned_at__gte=day0, planned_at__lt=day2)
                    .order_by().values("to_site_id")
                    .annotate(today=Count("passengers", filter=Q(planned_at__lt=day1)),
                              tomorrow=Count("passengers", filter=Q(planned_at__gte=day1))))
        for row in arrivals:
            board[row["to_site_id"]]["arrivals_today"] = row["today"]
            board[row["to_site_id"]]["arrivals_tomorrow"] = row["tomorrow"]
        # Only plans naming today or tomorrow can end a stage on them: a text match in SQL spares decoding
        # every plan; _release_day then reads the dates.
        due = (Stay.objects.filter(site_id__in=ids, checked_out_at__isnull=True, order__status=OrderStatus.ACTIVE,
                                   order__current_stage=Stage.CENTRALIZED)
               .annotate(plan_text=Cast("order__stages", TextField()))
               .filter(Q(plan_text__contains=today.isoformat()) | Q(plan_text__contains=tomorrow.isoformat()))
               .order_by().values_list("site_id", "order__stages"))
        for site_id, stages in due:
            day = _release_day(stages, today, tomorrow)
            if day is not None:
                board[site_id]["releases_today" if day == today else "releases_tomorrow"] += 1
    rows = list(board.values())
    for entry in rows:
        entry["beds_free"] = max(entry["beds_total"] - entry["beds_occupied"], 0)
    totals = {name: sum(entry[name] for entry in rows) for name in FIGURES}
    totals["sites"] = len(rows)
    return {"today": today, "tomorrow": tomorrow, "sites": rows, "totals": totals}
