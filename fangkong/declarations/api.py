"""Arrival declarations over the API, staff side: the scoped list and the grid worker's "arrived".

Document numbers and phones are always masked here. The list takes the same
filters as the list page (declarations.filtersets.DeclarationFilterSet).
"""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema

from fangkong.core.api_base import PageParams, errors, get_or_404, paginate
from fangkong.policy.choices import Measure, Stage

from . import services
from .choices import DeclarationStatus
from .filtersets import NO_RISK, DeclarationFilterSet
from .models import Declaration

router = Router(tags=["入返报备"])

NOT_FOUND = gettext_noop("未找到该入返报备或无权查看")


class StageOut(Schema):
    stage: str = Field(description="centralized 集中隔离 / home_isolation 居家隔离 / home_monitoring 居家健康监测")
    stage_label: str
    start: date
    end: date
    test_dates: list[date]


class DeclarationOut(Schema):
    id: int
    receipt: str = Field(description="回执码")
    status: str = Field(description="submitted 待到达 / arrived 已到达 / no_show 未返回 / cancelled 已取消")
    status_label: str
    source: str
    name: str
    document_number: str = Field(description="身份证号（脱敏）")
    phone: str = Field(description="联系电话（脱敏）")
    origin_code: str
    origin_name: str
    transport: str
    planned_arrival: datetime
    area_code: str = Field(description="目的地区划代码")
    area_name: str
    address: str
    risk_level: str = Field(description="旅居地最高风险等级；空为无中高风险")
    category: str
    measure: str
    measure_label: str
    test_dates: list[date]
    stages: list[StageOut] = Field(description="管控措施单的阶段与日期（无管控措施单时为空）")
    arrived_at: datetime | None
    first_test_at: datetime | None
    antigen_result: str
    pcr_result: str
    escalated_at: datetime | None = Field(description="逾期未确认到达、上报乡镇的时间")


class DeclarationPage(Schema):
    count: int
    items: list[DeclarationOut]


class DeclarationsFilter(PageParams):
    """The same filters as the list page."""

    q: str = Field("", description="姓名（开头几个字）、回执码、手机号后四位、完整手机号或身份证号")
    status: DeclarationStatus | None = Field(None, description="状态")
    arrival_from: date | None = Field(None, description="计划到达日期自（含）")
    arrival_to: date | None = Field(None, description="计划到达日期至（含）")
    risk_level: str | None = Field(None, description=f"出发地风险等级：high、medium、low、sealed、controlled、precaution；{NO_RISK} 为无中高风险")
    area: str | None = Field(None, description="区划代码：只列目的地在该区划及其下级的报备")


class ArriveIn(Schema):
    arrived_at: datetime | None = Field(None, description="到达时间；不填为现在")
    note: str = Field("", max_length=300, description="说明")


def _stages(declaration: Declaration) -> list[dict]:
    order = declaration.control_order
    labels = dict(Stage.choices)
    return [{**s, "stage_label": str(labels.get(s["stage"], s["stage"]))} for s in (order.stages if order else [])]


def declaration_data(declaration: Declaration) -> dict:
    return {
        "id": declaration.pk, "receipt": declaration.receipt, "status": declaration.status,
        "status_label": str(declaration.get_status_display()), "source": declaration.source, "name": declaration.name,
        "document_number": declaration.doc_masked, "phone": declaration.phone_masked,
        "origin_code": declaration.origin_code, "origin_name": declaration.origin_name,
        "transport": declaration.transport, "planned_arrival": declaration.planned_arrival,
        "area_code": declaration.area_id, "area_name": declaration.area.name, "address": declaration.address,
        "risk_level": declaration.risk_level, "category": declaration.category, "measure": declaration.measure,
        "measure_label": str(Measure(declaration.measure).label) if declaration.measure else "",
        "test_dates": declaration.test_dates, "stages": _stages(declaration),
        "arrived_at": declaration.arrived_at, "first_test_at": declaration.first_test_at,
        "antigen_result": declaration.antigen_result, "pcr_result": declaration.pcr_result,
        "escalated_at": declaration.escalated_at,
    }


@router.get("", response={200: DeclarationPage, **errors(400, 401, 422)}, summary="入返报备列表（按辖区，脱敏）")
def list_declarations(request, filters: Query[DeclarationsFilter]):
    params = filters.dict(exclude={"page", "page_size"}, exclude_none=True)
    data = {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in params.items()}
    filterset = DeclarationFilterSet(data, queryset=services.declarations_for(request.auth))
    if not filterset.is_valid():
        raise ValidationError({field: list(messages) for field, messages in filterset.errors.items()})
    rows = filterset.qs.select_related("area", "control_order").order_by("-planned_arrival", "-id")
    return paginate(rows, filters, declaration_data)


@router.post("/{id}/arrive", response={200: DeclarationOut, **errors(400, 401, 403, 404, 422)},
             summary="确认已到达（网格员、村社区）")
def arrive(request, id: int, payload: ArriveIn):
    declarations = services.declarations_for(request.auth).select_related("area", "control_order")
    declaration = get_or_404(declarations, _(NOT_FOUND), pk=id)
    at = payload.arrived_at
    if at is not None and timezone.is_naive(at):
        at = timezone.make_aware(at)
    services.confirm_arrival(request.auth, declaration, at=at, note=payload.note, request=request)
    return declaration_data(get_or_404(declarations, _(NOT_FOUND), pk=id))
