"""Quarantine sites over the API: the scoped list with occupancy, a new site with its rooms (HQ), one site's
rooms with who is in them (names masked), check-in and check-out, and the occupancy board.

A bed already taken answers 409 ``double_booked`` with the reason; other refusals of a check-in are 400
``invalid`` with the reason; bad input to POST /sites is 422 with the field messages.
"""

from datetime import date, datetime

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from fangkong.areas.models import Area
from fangkong.core.api_base import PageParams, errors, get_or_404
from fangkong.core.pagination import page_size_from
from fangkong.core.scope import prefix_q
from fangkong.people.identity import mask_name

from . import sites
from .access import orders_for
from .choices import SampleResult, SiteKind, StayEnd
from .models import QuarantineSite, Stay

router = Router(tags=["隔离管控"])
SITE_NOT_FOUND = "未找到该隔离点或无权查看。"


class FiguresOut(Schema):
    rooms: int = Field(description="房间数（含停用）")
    beds_total: int = Field(description="可用床位（不含停用房间）")
    beds_occupied: int = Field(description="在住人数")
    beds_free: int = Field(description="空床")
    beds_out_of_service: int = Field(description="停用房间的床位")
    arrivals_today: int = Field(description="今日计划到达本点、未交接的点对点转运人数")
    arrivals_tomorrow: int = Field(description="明日计划到达的转运人数")
    releases_today: int = Field(description="集中隔离阶段今日结束的在住人数")
    releases_tomorrow: int = Field(description="集中隔离阶段明日结束的在住人数")


class SiteOut(FiguresOut):
    id: int
    name: str
    kind: str
    kind_label: str
    area_code: str
    area_name: str
    address: str
    manager: str
    phone: str
    single_occupancy: bool
    separate_categories: bool
    is_active: bool


class SitePage(Schema):
    count: int
    items: list[SiteOut]


class SitesFilter(PageParams):
    area: str | None = Field(None, description="区划代码：只列该区划及其下级的隔离点")
    active: bool | None = Field(None, description="true 只列启用的，false 只列停用的")


class RoomIn(Schema):
    number: str = Field(description="房号")
    floor: int = Field(description="楼层")
    beds: int = Field(1, description="床位数")


class RoomsSpecIn(Schema):
    floor_from: int | None = Field(None, description="按楼层生成：起始楼层")
    floor_to: int | None = Field(None, description="结束楼层（含）")
    rooms_per_floor: int | None = Field(None, description="每层房间数；房号如 301–320")
    beds_per_room: int = Field(1, description="每间床位")
    rooms: list[RoomIn] = Field(default_factory=list, description="另列的房间")


class SiteIn(Schema):
    name: str = Field(description="名称（不可重名）")
    kind: SiteKind = Field(SiteKind.HOTEL, description="类型")
    area: str = Field(description="所在区划代码")
    address: str = ""
    manager: str = ""
    phone: str = ""
    single_occupancy: bool = Field(True, description="单人单间（同户家庭成员可同住多床房间）")
    separate_categories: bool = Field(True, description="不同类别人员分楼层")
    note: str = ""
    rooms: RoomsSpecIn = Field(description="房间：按楼层生成和/或逐间列出，至少一间")


class BedOut(Schema):
    bed: int
    stay_id: int | None = None
    name: str = Field("", description="在住人员姓名（脱敏）；无查看入住记录权限时为空")
    category: str = ""
    category_label: str = ""
    day: int | None = Field(None, description="入住第几天")
    checked_in_at: datetime | None = None


class RoomOut(Schema):
    id: int
    number: str
    floor: int
    beds: int
    out_of_service: bool
    note: str
    occupied: int
    bed_list: list[BedOut]


class SiteDetailOut(SiteOut):
    room_list: list[RoomOut]


class CheckInIn(Schema):
    order: int = Field(description="管控措施编号（集中隔离阶段）")
    room: str | None = Field(None, description="房号（与 room_id 二选一）")
    room_id: int | None = Field(None, description="房间编号")
    bed: int | None = Field(None, description="床号；不填安排第一张空床")


class StayOut(Schema):
    id: int
    order_id: int
    site_id: int
    room_id: int
    room_number: str
    floor: int
    bed: int
    category: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    left_to: str
    room_sample: str


class CheckOutIn(Schema):
    left_to: StayEnd = Field(description="去向")
    room_sample: SampleResult | None = Field(None, description="房间环境采样结果（可不填）")


class OccupancySite(FiguresOut):
    id: int
    name: str
    kind: str
    kind_label: str
    area_code: str
    area_name: str


class OccupancyTotals(FiguresOut):
    sites: int


class OccupancyOut(Schema):
    today: date
    tomorrow: date
    sites: list[OccupancySite]
    totals: OccupancyTotals


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def _site_out(site: QuarantineSite, figures: dict) -> dict:
    return {**figures, "id": site.pk, "name": site.name, "kind": site.kind, "kind_label": str(site.get_kind_display()),
            "area_code": site.area_id, "area_name": site.area.name, "address": site.address, "manager": site.manager,
            "phone": site.phone, "single_occupancy": site.single_occupancy,
            "separate_categories": site.separate_categories, "is_active": site.is_active}


def _figures_for(user, rows: list[QuarantineSite]) -> dict[int, dict]:
    board = sites.occupancy(user, sites=QuarantineSite.objects.filter(pk__in=[s.pk for s in rows]))
    return {entry["id"]: entry for entry in board["sites"]}


def _stay_out(stay: Stay) -> dict:
    return {"id": stay.pk, "order_id": stay.order_id, "site_id": stay.site_id, "room_id": stay.room_id,
            "room_number": stay.room.number, "floor": stay.room.floor, "bed": stay.bed, "category": stay.category,
            "checked_in_at": stay.checked_in_at, "checked_out_at": stay.checked_out_at, "left_to": stay.left_to,
            "room_sample": stay.room_sample}


def _invalid(exc: ValidationError, status: int = 422):
    if hasattr(exc, "error_dict"):
        fields = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    else:
        fields = {NON_FIELD_ERRORS: [str(m) for m in exc.messages]}
    first = next((m[0] for m in fields.values() if m), _("输入有误。"))
    return Status(status, {"code": "invalid", "message": first, "errors": fields})


def _sites(user):
    _require(user, "quarantine.view_quarantinesite")
    return sites.sites_for(user).select_related("area")


@router.get("/sites", response={200: SitePage, **errors(401, 403, 422)},
            summary="隔离点列表（按辖区），含床位与今明两日入住、期满人数")
def list_sites(request, filters: Query[SitesFilter]):
    user = request.auth
    rows = _sites(user)
    if filters.area:
        area = Area.objects.filter(code=filters.area).first()
        rows = rows.filter(prefix_q("area_id", area.prefix)) if area is not None else rows.none()
    if filters.active is not None:
        rows = rows.filter(is_active=filters.active)
    size = page_size_from(filters.page_size)
    start = (filters.page - 1) * size
    count = rows.count()
    page = list(rows.order_by("name", "id")[start:start + size]) if start < count else []
    figures = _figures_for(user, page)
    return {"count": count, "items": [_site_out(site, figures[site.pk]) for site in page]}


@router.post("/sites", response={201: SiteDetailOut, **errors(401, 403, 422)},
             summary="新增隔离点（指挥部）：基本信息与房间（按楼层生成和/或逐间列出）")
def create_site(request, payload: SiteIn):
    user = request.auth
    _require(user, "quarantine.add_quarantinesite")
    data = payload.model_dump(exclude={"rooms"})
    try:
        site = sites.create_site(user, data, payload.rooms.model_dump(), request=request)
    except ValidationError as exc:
        return _invalid(exc)
    site = QuarantineSite.objects.select_related("area").get(pk=site.pk)
    return Status(201, _detail(user, site))


def _detail(user, site: QuarantineSite) -> dict:
    today = timezone.localdate()
    show_people = user.has_perm("quarantine.view_stay")
    stays = {(s.room_id, s.bed): s for s in sites.open_stays(site).select_related("person").order_by()}
    rooms = []
    for room in site.rooms.order_by("floor", "number"):
        beds = []
        for bed in range(1, room.beds + 1):
            stay = stays.get((room.pk, bed))
            entry = {"bed": bed}
            if stay is not None:
                entry.update(stay_id=stay.pk, day=sites.stay_day(stay, today), checked_in_at=stay.checked_in_at)
                if show_people:
                    entry.update(name=mask_name(stay.person.name), category=stay.category,
                                 category_label=sites.category_label(stay.category))
            beds.append(entry)
        rooms.append({"id": room.pk, "number": room.number, "floor": room.floor, "beds": room.beds,
                      "out_of_service": room.out_of_service, "note": room.note,
                      "occupied": sum(1 for b in beds if "stay_id" in b), "bed_list": beds})
    return {**_site_out(site, _figures_for(user, [site])[site.pk]), "room_list": rooms}


@router.get("/sites/{id}", response={200: SiteDetailOut, **errors(401, 403, 404)},
            summary="一个隔离点：房间与床位（在住人员姓名脱敏）")
def get_site(request, id: int):
    user = request.auth
    site = get_or_404(_sites(user), _(SITE_NOT_FOUND), pk=id)
    return _detail(user, site)


@router.post("/sites/{id}/check-in", response={201: StayOut, **errors(400, 401, 403, 404, 409, 422)},
             summary="办理入住：管控措施（集中隔离阶段）的人员入住指定房间；床位已占用为 409")
def check_in(request, id: int, payload: CheckInIn):
    user = request.auth
    _require(user, "quarantine.add_stay")
    site = get_or_404(_sites(user), _(SITE_NOT_FOUND), pk=id)
    order = get_or_404(orders_for(user).select_related("person"), _("未找到该管控措施或无权查看。"), pk=payload.order)
    if payload.room_id is None and not (payload.room or "").strip():
        raise ValidationError({"room": [_("请填写房号或房间编号。")]})
    rooms = site.rooms.all()
    room = (get_or_404(rooms, _("本隔离点没有该房间。"), pk=payload.room_id) if payload.room_id is not None
            else get_or_404(rooms, _("本隔离点没有该房间。"), number=payload.room.strip()))
    try:
        stay = sites.check_in(user, site, order, room, payload.bed, request=request)
    except ValidationError as exc:
        if any(error.code == sites.DOUBLE_BOOKED for error in exc.error_list):
            return Status(409, {"code": sites.DOUBLE_BOOKED, "message": exc.messages[0]})
        raise
    return Status(201, _stay_out(stay))


@router.post("/stays/{id}/check-out", response={200: StayOut, **errors(400, 401, 403, 404, 422)},
             summary="办理离开：去向与房间环境采样结果")
def check_out(request, id: int, payload: CheckOutIn):
    user = request.auth
    _require(user, "quarantine.add_stay")
    stay = get_or_404(Stay.objects.filter(site__in=sites.sites_for(user)).select_related("room"),
                      _("未找到该入住记录或无权查看。"), pk=id)
    stay = sites.check_out(user, stay, payload.left_to, payload.room_sample, request=request)
    return _stay_out(stay)


@router.get("/occupancy", response={200: OccupancyOut, **errors(401, 403)},
            summary="隔离点床位总览：各点床位、空床，今明两日入住与期满人数，合计")
def occupancy(request):
    user = request.auth
    _require(user, "quarantine.view_quarantinesite")
    return sites.occupancy(user)
