"""Mass-testing rounds and their coverage over the API.

GET /test-rounds lists the rounds of the caller's jurisdiction (and those
covering it); POST starts one (HQ) for an area code or a control zone;
GET /test-rounds/{id}/coverage gives the counts per grid, building, village
or township (counts only, no names).
"""

from datetime import datetime
from typing import Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from fangkong.areas.models import Area
from fangkong.core.api_base import PageParams, errors, get_or_404, paginate
from fangkong.core.scope import prefix_q
from fangkong.tracing.models import ControlZone

from . import rounds
from .models import RoundStatus, TestRound

router = Router(tags=["区域核酸检测"])
NOT_FOUND = "未找到该检测轮次或无权查看。"


class RoundOut(Schema):
    id: int
    name: str
    area_code: str
    area_name: str
    zone_id: int | None = Field(description="管控区域编号（按管控区域发起时）")
    building_id: int | None = Field(description="管控区域划到楼栋时的楼栋编号")
    number: int = Field(description="该区域的第几轮")
    starts_at: datetime
    deadline: datetime
    status: str = Field(description="open 进行中、closed 已结束")
    status_label: str
    closed_at: datetime | None


class RoundPage(Schema):
    count: int
    items: list[RoundOut]


class RoundsFilter(PageParams):
    status: RoundStatus | None = Field(None, description="状态：open 或 closed")
    area: str | None = Field(None, description="区划代码：只列该区划及其下级的轮次")


class RoundIn(Schema):
    area: str | None = Field(None, description="检测区域的区划代码（县、乡镇、村社区、网格）")
    zone: int | None = Field(None, description="或：管控区域编号（其区划或楼栋）")
    name: str = Field("", max_length=100, description="名称；留空则按区域和轮次命名")
    hours: int = Field(24, description="时限（小时），一般 24")
    starts_at: datetime | None = Field(None, description="开始时间；不填为现在")


class CoverageRow(Schema):
    key: str | None = Field(description="网格/村/乡镇的代码，或楼栋编号（未分楼栋为空）")
    label: str
    residents: int = Field(description="应检人数（现住居民）")
    sampled: int = Field(description="本轮已采样人数（同一人多次采样计一次）")
    exempted: int = Field(description="未采样但已说明原因的人数")
    missing: int = Field(description="未采样且未说明原因的人数")
    percent: float = Field(description="（已采样 + 已说明）/ 应检，百分比")


class CoverageOut(Schema):
    round: RoundOut
    by: str
    rows: list[CoverageRow]
    totals: CoverageRow
    summary: dict = Field(description="采样管数、人数、阳性、单采复核中的混管等")


def round_out(test_round: TestRound) -> dict:
    return {"id": test_round.pk, "name": test_round.name, "area_code": test_round.area_id,
            "area_name": test_round.area.name, "zone_id": test_round.zone_id,
            "building_id": test_round.zone.building_id if test_round.zone_id else None,
            "number": test_round.number, "starts_at": test_round.starts_at, "deadline": test_round.deadline,
            "status": test_round.status, "status_label": str(test_round.get_status_display()),
            "closed_at": test_round.closed_at}


def _rounds(user):
    if not user.has_perm("testing.view_testround"):
        raise PermissionDenied
    return rounds.rounds_for(user).select_related("area", "zone")


@router.get("/test-rounds", response={200: RoundPage, **errors(401, 403, 422)},
            summary="区域核酸检测轮次列表（按辖区）")
def list_rounds(request, filters: Query[RoundsFilter]):
    rows = _rounds(request.auth)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.area:
        area = Area.objects.filter(code=filters.area).first()
        rows = rows.filter(prefix_q("area_id", area.prefix)) if area is not None else rows.none()
    return paginate(rows.order_by("-starts_at", "-id"), filters, round_out)


@router.post("/test-rounds", response={201: RoundOut, **errors(400, 401, 403, 404, 422)},
             summary="发起区域核酸检测（指挥部）：按区划或管控区域")
def start_round(request, payload: RoundIn):
    user = request.auth
    if not user.has_perm("testing.add_testround"):
        raise PermissionDenied
    if bool(payload.area) == bool(payload.zone):
        raise ValidationError({"area": [_("请填写区划代码或管控区域编号（二选一）。")]})
    area = zone = None
    if payload.zone:
        zone = get_or_404(ControlZone.objects.restrict(user, "view").select_related("area"),
                          _("未找到该管控区域或无权查看。"), pk=payload.zone)
    else:
        area = Area.objects.filter(code=payload.area).first()
        if area is None:
            raise ValidationError({"area": [_("区划代码不存在。")]})
    starts_at = payload.starts_at
    if starts_at is not None and timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    test_round = rounds.start_round(user, area=area, zone=zone, name=payload.name, hours=payload.hours,
                                    starts_at=starts_at, request=request)
    return Status(201, round_out(test_round))


@router.get("/test-rounds/{id}", response={200: RoundOut, **errors(401, 403, 404)}, summary="一个检测轮次")
def get_round(request, id: int):
    return round_out(get_or_404(_rounds(request.auth), _(NOT_FOUND), pk=id))


@router.get("/test-rounds/{id}/coverage", response={200: CoverageOut, **errors(401, 403, 404, 422)},
            summary="检测轮次的覆盖情况：按网格、楼栋、村社区或乡镇统计应检、已采、已说明、未采")
def round_coverage(request, id: int, by: Literal["grid", "building", "village", "township"] = "grid"):
    test_round = get_or_404(_rounds(request.auth), _(NOT_FOUND), pk=id)
    result = rounds.coverage(test_round, by=by)
    for row in [*result["rows"], result["totals"]]:
        row["key"] = None if row["key"] is None else str(row["key"])
    return {"round": round_out(test_round), "by": by, "rows": result["rows"], "totals": result["totals"],
            "summary": rounds.summary(test_round)}
