"""The risk-area list and the policy packs over the API: everyone reads, HQ writes and switches packs."""

from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema, Status

from fangkong.core.api_base import PageParams, errors, get_or_404, paginate

from . import services
from .choices import Measure
from .filtersets import RiskAreaFilterSet
from .models import PolicyPack, RiskArea

router = Router(tags=["防控策略"])

AREA_NOT_FOUND = gettext_noop("未找到该风险地区")
PACK_NOT_FOUND = gettext_noop("未找到该防控策略")


class RiskAreaOut(Schema):
    id: int
    place_code: str = Field(description="6位行政区划代码")
    prefix: str = Field(description="匹配用的编码前缀（省2位、市4位、县6位）")
    granularity: str = Field(description="province / city / county / township")
    township: str
    name: str
    level: str = Field(description="high / medium / low / sealed / controlled / precaution")
    level_label: str
    effective_from: date
    effective_to: date | None
    note: str
    created_at: datetime
    updated_at: datetime


class RiskAreaPage(Schema):
    count: int
    items: list[RiskAreaOut]


class RiskAreaFilter(PageParams):
    """The same filters as the risk-area list page (policy.filtersets.RiskAreaFilterSet)."""

    level: str | None = Field(None, description="风险等级代码")
    active_on: date | None = Field(None, description="只列该日有效的地区（不填：全部记录）")
    q: str = Field("", description="地区名称、乡镇（街道），或编码开头")


class RiskAreaIn(Schema):
    place_code: str = Field(description="6位行政区划代码（省、市或县级）")
    township: str = Field("", description="乡镇（街道）名称；填写时地区须为县（区）")
    level: str = Field(description="high / medium / low / sealed / controlled / precaution")
    effective_from: date
    effective_to: date | None = None
    note: str = ""


class StageOut(Schema):
    stage: str = Field(description="centralized / home_isolation / home_monitoring")
    days: int
    test_days: list[int] = Field(description="阶段内第几天检测")


class PolicyRuleOut(Schema):
    id: int
    category: str
    category_label: str
    measure: str = Field(description="首个阶段，或 arrival_tests（只做落地检）、none")
    measure_label: str
    label: str = Field(description="各阶段天数，如 14+7")
    stages: list[StageOut]
    arrival_test_days: list[int]
    followup_hours: int
    pickup_required: bool
    instructions: str


class PolicyPackOut(Schema):
    id: int
    code: str
    name: str
    description: str
    effective_from: date | None
    lookback_days: int
    contact_window_days: int
    is_active: bool
    editable: bool = Field(description="启用中的策略不可修改")
    copied_from: int | None
    activated_at: datetime | None
    rules: list[PolicyRuleOut]


class PolicyPackPage(Schema):
    count: int
    items: list[PolicyPackOut]


class CategoryEffect(Schema):
    category: str
    label: str
    orders: int
    earlier: int
    later: int
    unchanged: int
    ended: int


class SampleEffect(Schema):
    order: int
    person: str
    masked: str = Field(description="证件号码（脱敏）")
    category: str
    old_end: date
    new_end: date | None
    outcome: str = Field(description="earlier / later / ended")


class PreviewOut(Schema):
    pack: int
    name: str
    orders: int = Field(description="在管措施数")
    earlier: int = Field(description="计划解除日期提前的")
    later: int = Field(description="计划解除日期延后的")
    unchanged: int
    ended: int = Field(description="新策略不再管控、将撤销的")
    by_category: list[CategoryEffect]
    samples: list[SampleEffect]


class ActivateIn(Schema):
    reason: str = Field(description="启用事由（必填，记入审计）")


class ActivateOut(PreviewOut):
    replanned: int = Field(description="实际重新计算（日期有变或撤销）的措施数")


def risk_area_data(area: RiskArea) -> dict:
    return {
        "id": area.pk, "place_code": area.place_code, "prefix": area.prefix, "granularity": area.granularity,
        "township": area.township, "name": area.name, "level": area.level, "level_label": area.get_level_display(),
        "effective_from": area.effective_from, "effective_to": area.effective_to, "note": area.note,
        "created_at": area.created_at, "updated_at": area.updated_at,
    }


def pack_data(pack: PolicyPack) -> dict:
    measures = dict(Measure.choices)
    return {
        "id": pack.pk, "code": pack.code, "name": pack.name, "description": pack.description,
        "effective_from": pack.effective_from, "lookback_days": pack.lookback_days,
        "contact_window_days": pack.contact_window_days, "is_active": pack.is_active, "editable": pack.editable,
        "copied_from": pack.copied_from_id, "activated_at": pack.activated_at,
        "rules": [{
            "id": rule.pk, "category": rule.category, "category_label": rule.get_category_display(),
            "measure": rule.measure, "measure_label": str(measures.get(rule.measure, rule.measure)),
            "label": rule.label, "stages": rule.stages, "arrival_test_days": rule.arrival_test_days,
            "followup_hours": rule.followup_hours, "pickup_required": rule.pickup_required,
            "instructions": rule.instructions,
        } for rule in pack.rules.all()],
    }


def _get_pack(request, id: int, action: str = "view") -> PolicyPack:
    packs = PolicyPack.objects.restrict(request.auth, action).prefetch_related("rules")
    pack = packs.filter(pk=id).first()
    if pack is None and action != "view" and PolicyPack.objects.filter(pk=id).exists():
        raise PermissionDenied  # every user may see a pack: refusing to act on it hides nothing
    return get_or_404(packs, _(PACK_NOT_FOUND), pk=id)


@router.get("/risk-areas", response={200: RiskAreaPage, **errors(401, 422)}, summary="风险地区名单")
def list_risk_areas(request, filters: Query[RiskAreaFilter]):
    params = filters.dict(exclude={"page", "page_size"}, exclude_none=True)
    data = {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in params.items()}
    filterset = RiskAreaFilterSet(data, queryset=RiskArea.objects.restrict(request.auth))
    if not filterset.is_valid():
        raise ValidationError({name: list(messages) for name, messages in filterset.errors.items()})
    return paginate(filterset.qs, filters, risk_area_data)


@router.post("/risk-areas", response={201: RiskAreaOut, **errors(400, 401, 403, 422)}, summary="新增风险地区")
def create_risk_area(request, payload: RiskAreaIn):
    area = services.save_risk_area(request.auth, payload.dict(), request=request)
    return Status(201, risk_area_data(area))


@router.get("/risk-areas/{id}", response={200: RiskAreaOut, **errors(401, 404)}, summary="查看风险地区")
def get_risk_area(request, id: int):
    return risk_area_data(get_or_404(RiskArea.objects.restrict(request.auth), _(AREA_NOT_FOUND), pk=id))


@router.get("/policy-packs", response={200: PolicyPackPage, **errors(401, 422)}, summary="防控策略及其规则")
def list_policy_packs(request, page: Query[PageParams]):
    packs = PolicyPack.objects.restrict(request.auth).prefetch_related("rules")
    return paginate(packs, page, pack_data)


@router.get("/policy-packs/{id}", response={200: PolicyPackOut, **errors(401, 404)}, summary="查看防控策略")
def get_policy_pack(request, id: int):
    return pack_data(_get_pack(request, id))


@router.post("/policy-packs/{id}/preview", response={200: PreviewOut, **errors(401, 403, 404)},
             summary="预览启用该策略对全部在管措施的影响（不改动数据）")
def preview_policy_pack(request, id: int):
    """Only those who may activate a pack preview it: the sample names people across the county."""
    pack = _get_pack(request, id, "activate")
    return services.preview_pack(request.auth, pack)


@router.post("/policy-packs/{id}/activate", response={200: ActivateOut, **errors(400, 401, 403, 404, 422)},
             summary="启用该策略并按其重新计算全部在管措施（记入审计）")
def activate_policy_pack(request, id: int, payload: ActivateIn):
    pack = _get_pack(request, id, "activate")
    reason = payload.reason.strip()
    if len(reason) < 2:
        raise ValidationError({"reason": _("请填写启用事由（至少2个字）。")})
    if not pack.editable:
        raise ValidationError(_("该策略已是当前启用的策略。"))
    return services.activate_pack(request.auth, pack, reason=reason, request=request)
