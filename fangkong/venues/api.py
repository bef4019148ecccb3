"""Venues over the API: list, register, view, the poster PDF, reissuing the place code.

Reads go through selectors.venues_for (a venue manager sees only their
venues; out of scope is a 404); writes through venues.services. Visitors
never appear here.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from fangkong.accounts.models import Organization
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.api_base import ErrorOut, PageParams, errors, get_or_404, paginate
from fangkong.people.identity import validate_phone

from . import posters, selectors, services
from .filtersets import VenueFilterSet
from .models import Venue, VenueType

router = Router(tags=["场所"])

NOT_FOUND = gettext_noop("未找到该场所或无权查看")


class VenueOut(Schema):
    id: int
    name: str
    type: str = Field(description="场所类型代码")
    type_name: str
    area_code: str
    area_name: str
    address: str
    manager_name: str
    manager_phone: str
    supervisor_id: int | None
    supervisor_name: str
    expected_daily_visitors: int
    dwell_minutes: int = Field(description="停留时间（分钟）：场所自定，否则为类型默认值")
    dwell_minutes_custom: int | None = Field(description="场所自定的停留时间；null 表示按类型默认")
    is_active: bool
    code_version: int = Field(description="场所码版本；重新签发后加一，旧海报失效")
    code_issued_at: datetime
    created_at: datetime


class VenuePage(Schema):
    count: int
    items: list[VenueOut]


class VenueFilter(PageParams):
    """The same filters as the venue list page (venues.filtersets.VenueFilterSet)."""

    q: str = Field("", description="场所名称、地址或负责人")
    area: str | None = Field(None, description="区划代码：只列该区划及其下级的场所")
    type: str | None = Field(None, description="场所类型代码")
    supervisor: int | None = Field(None, description="主管部门编号")
    active: bool | None = Field(None, description="true 营业中，false 已停业")


class VenueIn(Schema):
    name: str = Field(max_length=100)
    type: str = Field(description="场所类型代码")
    area: str = Field(description="所属区划代码（须在您的管辖范围内）")
    address: str = Field(max_length=200)
    manager_name: str = Field("", max_length=50)
    manager_phone: str = Field("", max_length=20)
    supervisor: int | None = Field(None, description="主管部门编号；不填则按场所类型选择县级主管部门")
    expected_daily_visitors: int = Field(0, ge=0)
    dwell_minutes: int | None = Field(None, ge=1, le=1440, description="不填则按场所类型默认")
    is_active: bool = True


def venue_data(venue: Venue) -> dict:
    return {
        "id": venue.pk, "name": venue.name, "type": venue.type.code, "type_name": venue.type.name,
        "area_code": venue.area_id, "area_name": venue.area.name, "address": venue.address,
        "manager_name": venue.manager_name, "manager_phone": venue.manager_phone,
        "supervisor_id": venue.supervisor_id, "supervisor_name": venue.supervisor.name if venue.supervisor else "",
        "expected_daily_visitors": venue.expected_daily_visitors, "dwell_minutes": venue.dwell,
        "dwell_minutes_custom": venue.dwell_minutes, "is_active": venue.is_active,
        "code_version": venue.code_version, "code_issued_at": venue.code_issued_at, "created_at": venue.created_at,
    }


def _get_venue(request, venue_id: int, action: str = "view") -> Venue:
    venues = selectors.venues_for(request.auth, action).select_related("type", "area", "supervisor")
    return get_or_404(venues, _(NOT_FOUND), pk=venue_id)


def _resolve(user, payload: dict) -> dict:
    """Codes and ids in PAYLOAD -> the objects services take; what the user may not pick is an input error."""
    problems = {}
    data = dict(payload)
    data["type"] = VenueType.objects.filter(code=payload["type"], is_active=True).first()
    if data["type"] is None:
        problems["type"] = _("未知的场所类型代码。")
    data["area"] = Area.objects.restrict(user, "view").filter(code=payload["area"]).first()
    if data["area"] is None:
        problems["area"] = _("所选区划不存在或不在您的管辖范围内。")
    if payload.get("supervisor") is not None:
        data["supervisor"] = Organization.objects.filter(pk=payload["supervisor"], area__level=AreaLevel.COUNTY).first()
        if data["supervisor"] is None:
            problems["supervisor"] = _("未知的主管部门。")
    try:
        data["manager_phone"] = validate_phone(payload.get("manager_phone"))
    except ValidationError as exc:
        problems["manager_phone"] = exc.messages[0]
    if problems:
        raise ValidationError(problems)
    return data


@router.get("", response={200: VenuePage, **errors(401, 422)}, summary="场所列表")
def list_venues(request, filters: Query[VenueFilter]):
    params = filters.dict(exclude={"page", "page_size"}, exclude_none=True)
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    filterset = VenueFilterSet(data, queryset=selectors.venues_for(request.auth))
    if not filterset.is_valid():
        return {"count": 0, "items": []}
    venues = filterset.qs.select_related("type", "area", "supervisor").order_by("area_id", "name", "id")
    return paginate(venues, filters, venue_data)


@router.post("", response={201: VenueOut, **errors(400, 401, 403, 422)}, summary="登记场所")
def create_venue(request, payload: VenueIn):
    if not request.auth.has_perm("venues.add_venue"):
        raise HttpError(403, "forbidden")
    venue = services.register_venue(request.auth, _resolve(request.auth, payload.dict()), request=request)
    return Status(201, venue_data(_get_venue(request, venue.pk)))


@router.get("/{int:venue_id}", response={200: VenueOut, **errors(401, 404)}, summary="查看场所")
def get_venue(request, venue_id: int):
    return venue_data(_get_venue(request, venue_id))


@router.post("/{int:venue_id}/reissue", response={200: VenueOut, **errors(401, 403, 404)},
             summary="重新签发场所码（此前打印的海报全部失效）")
def reissue_venue_code(request, venue_id: int):
    venue = services.reissue_code(request.auth, _get_venue(request, venue_id, "change"), request=request)
    return venue_data(venue)


@router.get("/{int:venue_id}/poster.pdf", response={200: None, **errors(401, 404), 503: ErrorOut},
            summary="场所码海报（A4 PDF）",
            openapi_extra={"responses": {200: {"description": "A4 PDF",
                                               "content": {"application/pdf": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}}}})
def venue_poster(request, venue_id: int):
    venue = _get_venue(request, venue_id)
    try:
        pdf = posters.render_pdf(posters.scan_page(request), [venue], title=venue.name)
    except posters.PosterUnavailable as exc:
        return Status(503, {"code": "unavailable", "message": str(exc)})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, f"venue-{venue.pk}.pdf")
    return response
