"""Control zones over the API: the list with each zone's facts, drawing, proposing, publishing, lifting.

Case identities (the zone's case numbers) are given only to users with
``tracing.view_case``; others get the zone, its facts and a reason without
case numbers, like the pages.
"""

from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema, Status

from fangkong.areas.models import Area, Building
from fangkong.core.api_base import PageParams, errors, get_or_404, paginate
from fangkong.policy.choices import RiskLevel

from . import zones
from .choices import ZoneStatus
from .models import ControlZone

router = Router(tags=["管控区域与传播链"])

NOT_FOUND = gettext_noop("未找到该管控区域或无权查看")


class CriterionOut(Schema):
    label: str
    met: bool
    detail: str


class FactsOut(Schema):
    population: int = Field(description="区域内人口")
    under_measures: int = Field(description="区域内在管（管控措施未解除）人数")
    last_case_on: date | None = Field(description="最近一例感染者的日期")
    days_since_last_case: int | None
    rounds: int = Field(description="区域核酸检测轮次")
    last_round_on: date | None
    last_round_positives: int | None
    can_lift: bool = Field(description="已发布且解除条件均已满足")
    lift_on: date | None = Field(description="按无新增天数，可解除（或降级）的日期")
    days_left: int | None = Field(description="距可解除的天数，0 为已可解除")
    then: str = Field(description="解除时降为的等级；空为直接解除")


class FactsDetailOut(FactsOut):
    criteria: list[CriterionOut]


class CaseRef(Schema):
    id: int
    number: str


class ZoneOut(Schema):
    id: int
    name: str
    level: str = Field(description="sealed / controlled / precaution，或 high / medium / low")
    level_label: str
    status: str = Field(description="proposed 待发布 / published 已发布 / lifted 已解除 / discarded 已放弃")
    status_label: str
    area_code: str
    area_name: str
    building: int | None
    building_name: str
    reason: str = Field(description="划定依据（无病例查看权限时不含病例编号）")
    pack: str = Field(description="依据策略代码")
    last_case_at: datetime | None
    published_at: datetime | None
    lifted_at: datetime | None
    facts: FactsOut


class RoundOut(Schema):
    day: date
    tested: int
    positives: int


class ZoneDetailOut(ZoneOut):
    facts: FactsDetailOut
    rounds: list[RoundOut]
    cases: list[CaseRef] = Field(description="相关病例（仅有病例查看权限时给出）")


class ZonePage(Schema):
    count: int
    items: list[ZoneOut]


class ZonesFilter(PageParams):
    level: RiskLevel | None = Field(None, description="等级")
    status: ZoneStatus | None = Field(None, description="状态")


class ZoneIn(Schema):
    propose: bool = Field(False, description="true：根据近14天调查中的病例生成建议，忽略其余字段")
    name: str = Field("", max_length=150, description="名称；留空按区划和楼栋命名")
    level: str = Field("", description="当前启用策略的等级")
    area: str = Field("", description="区划代码（乡镇、村或网格）；填楼栋时可不填")
    building: int | None = Field(None, description="楼栋编号（可选）")
    reason: str = Field("", max_length=300, description="划定依据")


class ProposeOut(Schema):
    cases: int = Field(description="参与研判的病例数")
    created: int = Field(description="新建议的区域数")
    updated: int = Field(description="补充了病例的已有区域数")
    items: list[ZoneOut]


class LiftIn(Schema):
    reason: str = Field("", max_length=300, description="说明；未达到解除条件时强制解除须填写")
    force: bool = Field(False, description="未达到解除条件时强制解除（指挥部）")


class RoundIn(Schema):
    day: date
    tested: int = Field(ge=1)
    positives: int = Field(0, ge=0)


FACT_KEYS = list(FactsOut.model_fields)


def zones_data(rows, user) -> list[dict]:
    """ZONE items for ROWS, their facts computed together (a fixed number of queries)."""
    rows = list(rows)
    facts = zones.facts_for(rows)
    return [zone_data(zone, user, facts=facts[zone.pk]) for zone in rows]


def zone_data(zone: ControlZone, user, *, detail: bool = False, facts: dict | None = None) -> dict:
    """ZONE as the API gives it; FACTS: its ``zones.zone_facts`` when already computed (a page at once)."""
    facts = facts if facts is not None else zones.zone_facts(zone)
    numbers = [c.number for c in zone.cases.all()]
    data = {
        "id": zone.pk, "name": zone.name, "level": zone.level, "level_label": str(zone.get_level_display()),
        "status": zone.status, "status_label": str(zone.get_status_display()), "area_code": zone.area_id,
        "area_name": zone.area.name, "building": zone.building_id,
        "building_name": zone.building.name if zone.building_id else "",
        "reason": zones.public_reason(zone, user, numbers), "pack": zone.pack.code,
        "last_case_at": zone.last_case_at, "published_at": zone.published_at, "lifted_at": zone.lifted_at,
        "facts": {key: facts[key] for key in FACT_KEYS},
    }
    if detail:
        data["facts"]["criteria"] = facts["criteria"]
        data["rounds"] = [{"day": r.day, "tested": r.tested, "positives": r.positives} for r in zone.rounds.all()]
        data["cases"] = ([{"id": c.pk, "number": c.number} for c in zone.cases.order_by("created_at", "id")]
                         if user.has_perm("tracing.view_case") else [])
    return data


def _zones(request, action: str = "view"):
    return zones.zones_for(request.auth, action).select_related("area", "building", "pack")


def _get(request, id: int, action: str = "view") -> ControlZone:
    zone = _zones(request, action).filter(pk=id).first()
    if zone is None and action != "view" and _zones(request).filter(pk=id).exists():
        raise PermissionDenied  # the user sees the zone: refusing to act on it hides nothing
    return get_or_404(_zones(request, action), _(NOT_FOUND), pk=id)


def _detail(request, id: int) -> dict:
    zone = get_or_404(_zones(request).prefetch_related("cases", "rounds"), _(NOT_FOUND), pk=id)
    return zone_data(zone, request.auth, detail=True)


@router.get("/control-zones", response={200: ZonePage, **errors(401, 422)}, summary="管控区域列表（含人口、倒计时等概况）")
def list_zones(request, filters: Query[ZonesFilter]):
    rows = _zones(request).prefetch_related("cases", "rounds")
    if filters.level:
        rows = rows.filter(level=filters.level)
    if filters.status:
        rows = rows.filter(status=filters.status)
    rows = rows.order_by("status", "-last_case_at", "id")
    page = paginate(rows, filters, lambda zone: zone)
    page["items"] = zones_data(page["items"], request.auth)
    return page


@router.post("/control-zones", response={200: ProposeOut, 201: ZoneOut, **errors(400, 401, 403, 422)},
             summary="手工划定管控区域；或 {\"propose\": true} 根据病例生成建议")
def create_zone(request, payload: ZoneIn):
    user = request.auth
    if payload.propose:
        result = zones.propose_zones(user, request=request)
        touched = _zones(request).filter(pk__in=[z.pk for z in result.zones]).prefetch_related("cases", "rounds")
        items = zones_data(touched.order_by("id"), user)
        return Status(200, {"cases": result.cases, "created": len(result.created), "updated": len(result.updated),
                            "items": items})
    fields = {}
    area = building = None
    if payload.building is not None:
        building = Building.objects.restrict(user, "view").select_related("area").filter(pk=payload.building).first()
        if building is None:
            fields["building"] = [_("未找到该楼栋或不在您的管辖范围内。")]
    if payload.area:
        area = Area.objects.restrict(user, "view").filter(code=payload.area).first()
        if area is None:
            fields["area"] = [_("未找到该区划或不在您的管辖范围内。")]
    if fields:
        raise ValidationError(fields)
    zone = zones.create_zone(user, {"name": payload.name, "level": payload.level, "area": area,
                                    "building": building, "reason": payload.reason}, request=request)
    return Status(201, zone_data(get_or_404(_zones(request), _(NOT_FOUND), pk=zone.pk), user))


@router.get("/control-zones/{id}", response={200: ZoneDetailOut, **errors(401, 404)},
            summary="查看管控区域（解除条件、检测轮次）")
def get_zone(request, id: int):
    return _detail(request, id)


@router.post("/control-zones/{id}/publish", response={200: ZoneDetailOut, **errors(400, 401, 403, 404)},
             summary="发布管控区域（指挥部）")
def publish_zone(request, id: int):
    zones.publish_zone(request.auth, _get(request, id, "publish"), request=request)
    return _detail(request, id)


@router.post("/control-zones/{id}/lift", response={200: ZoneDetailOut, **errors(400, 401, 403, 404, 422)},
             summary="解除（或按策略降级）管控区域（指挥部；未达条件须 force 并说明理由）")
def lift_zone(request, id: int, payload: LiftIn):
    zones.lift_zone(request.auth, _get(request, id, "publish"), reason=payload.reason, force=payload.force,
                    request=request)
    return _detail(request, id)


@router.post("/control-zones/{id}/rounds", response={200: ZoneDetailOut, **errors(400, 401, 403, 404, 422)},
             summary="记录一轮区域核酸检测（同一天再次提交则覆盖）")
def record_round(request, id: int, payload: RoundIn):
    zones.record_round(request.auth, _get(request, id, "change"), payload.day, payload.tested, payload.positives,
                       request=request)
    return _detail(request, id)
