"""Control orders over the API: the scoped list with the page's filters, one order, advance, release; the census.

Names are masked in every answer. A refusal to advance or release (not yet
the day, a test missing or pending, a positive) is 409 with the reason in
Chinese; an order outside the caller's scope is 404.
"""

from datetime import date, datetime
from typing import Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from fangkong.core.api_base import ErrorOut, PageParams, errors, get_or_404, paginate
from fangkong.people.identity import mask_name
from fangkong.policy.choices import Category, OrderStatus, Stage

from . import census as census_service
from . import orders
from .access import orders_for
from .order_forms import ALL_STATUSES, filter_orders, stage_progress

router = Router(tags=["隔离管控"])
NOT_FOUND = "未找到该管控措施或无权查看。"


class StageOut(Schema):
    stage: str = Field(description="centralized 集中隔离、home_isolation 居家隔离、home_monitoring 居家健康监测")
    label: str
    start: date
    end: date
    test_dates: list[date]


class HistoryOut(Schema):
    at: str
    kind: str
    text: str
    by: str = ""


class OrderOut(Schema):
    id: int
    person_id: int
    person_name: str = Field(description="姓名（脱敏）")
    doc_masked: str = Field(description="证件号码（脱敏）")
    area_code: str
    area_name: str
    category: str
    category_label: str
    reason: str
    pack: str = Field(description="依据的防控策略代码")
    label: str = Field(description="如 14+7")
    status: str = Field(description="active 管控中、released 已解除、cancelled 已撤销、merged 已合并")
    status_label: str
    current_stage: str
    current_stage_label: str
    stage_day: int | None = Field(description="本阶段第几天（暂缓时可超过本阶段天数）")
    stage_days: int | None = Field(description="本阶段计划天数")
    stage_end: date | None = Field(description="本阶段计划结束日期")
    start_date: date
    planned_end: date
    hold_reason: str = Field(description="暂缓转段或解除的原因，空为未暂缓")
    merged_into: int | None
    released_at: datetime | None


class OrderDetail(OrderOut):
    stages: list[StageOut]
    history: list[HistoryOut]
    conditions: list[str] = Field(description="解除条件：距离转段或解除还差什么（空为条件已满足）")
    merged_orders: list[int] = Field(description="并入本措施的其他措施编号")


class OrderPage(Schema):
    count: int
    items: list[OrderOut]


class OrdersFilter(PageParams):
    stage: Stage | None = Field(None, description="当前阶段")
    reason: Category | None = Field(None, description="人员类别（管控原因的类别）")
    area: str | None = Field(None, description="区划代码：只列该区划及其下级的措施")
    ending: Literal["today", "tomorrow", "3d", "held"] | None = Field(
        None, description="today/tomorrow 本阶段今天/明天结束，3d 三天内结束，held 暂缓转段或解除")
    status: Literal["active", "released", "cancelled", "merged", "all"] = Field(
        "active", description="状态，默认 active；all 为全部")
    q: str | None = Field(None, max_length=40, description="姓名（前缀）、拼音或证件号码")


class CensusRow(Schema):
    code: str
    name: str
    centralized: int
    home_isolation: int
    home_monitoring: int
    new: int
    released: int
    held: int
    missed_checks: int
    violations: int
    at_sites: int


class CensusOut(Schema):
    day: date
    columns: dict[str, str] = Field(description="字段 -> 中文列名")
    rows: list[CensusRow]
    totals: CensusRow


def _label(choices, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def order_out(order, today: date | None = None) -> dict:
    today = today or timezone.localdate()
    progress = stage_progress(order, today) if order.status == OrderStatus.ACTIVE else None
    return {
        "id": order.pk, "person_id": order.person_id, "person_name": mask_name(order.person.name),
        "doc_masked": order.person.doc_masked, "area_code": order.area_id, "area_name": order.area.name,
        "category": order.category, "category_label": _label(Category, order.category), "reason": order.reason,
        "pack": order.pack.code, "label": order.label, "status": order.status,
        "status_label": _label(OrderStatus, order.status), "current_stage": order.current_stage,
        "current_stage_label": _label(Stage, order.current_stage) if order.current_stage else "",
        "stage_day": progress["day"] if progress else None, "stage_days": progress["days"] if progress else None,
        "stage_end": order.stage_end, "start_date": order.start_date, "planned_end": order.planned_end,
        "hold_reason": order.hold_reason, "merged_into": order.merged_into_id, "released_at": order.released_at,
    }


def order_detail(order) -> dict:
    today = timezone.localdate()
    active = order.status == OrderStatus.ACTIVE
    return {
        **order_out(order, today),
        "stages": [{"stage": s["stage"], "label": _label(Stage, s["stage"]), "start": s["start"], "end": s["end"],
                    "test_dates": s.get("test_dates", [])} for s in order.stages],
        "history": [{"at": h.get("at", ""), "kind": h.get("kind", ""), "text": h.get("text", ""),
                     "by": h.get("by", "")} for h in order.history],
        "conditions": orders.conditions(order, today) if active else [],
        "merged_orders": list(order.merged_orders.order_by("id").values_list("id", flat=True)),
    }


def _orders(user, action: str = "view"):
    return orders_for(user, action).select_related("person", "area", "pack")


def _refused(exc: ValidationError):
    message = "；".join(exc.messages)
    return Status(409, {"code": "refused", "message": message, "errors": {"__all__": exc.messages}})


@router.get("/control-orders", response={200: OrderPage, **errors(401, 422)},
            summary="管控措施列表（按辖区；可按阶段、类别、区划、到期筛选）")
def list_orders(request, filters: Query[OrdersFilter]):
    today = timezone.localdate()
    rows = filter_orders(_orders(request.auth), stage=filters.stage or "", category=filters.reason or "",
                         area=filters.area or "", ending=filters.ending or "", q=filters.q or "",
                         status=filters.status or ALL_STATUSES, today=today)
    return paginate(rows.order_by("stage_end", "id"), filters, lambda order: order_out(order, today))


@router.get("/control-orders/{id}", response={200: OrderDetail, **errors(401, 404)},
            summary="一项管控措施：阶段、执行记录、解除条件")
def get_order(request, id: int):
    return order_detail(get_or_404(_orders(request.auth), _(NOT_FOUND), pk=id))


@router.post("/control-orders/{id}/advance", response={200: OrderDetail, 409: ErrorOut, **errors(401, 404)},
             summary="转入下一阶段（最后阶段期满则解除）；条件不满足时 409 并说明原因")
def advance_order(request, id: int):
    order = get_or_404(_orders(request.auth, "change"), _(NOT_FOUND), pk=id)
    try:
        order = orders.advance_order(request.auth, order)
    except ValidationError as exc:
        return _refused(exc)
    return order_detail(get_or_404(_orders(request.auth), _(NOT_FOUND), pk=order.pk))


@router.post("/control-orders/{id}/release", response={200: OrderDetail, 409: ErrorOut, **errors(401, 404)},
             summary="解除管控；未到解除日期或解除条件不满足时 409 并说明原因")
def release_order(request, id: int):
    order = get_or_404(_orders(request.auth, "change"), _(NOT_FOUND), pk=id)
    try:
        order = orders.release_order(request.auth, order)
    except ValidationError as exc:
        return _refused(exc)
    return order_detail(get_or_404(_orders(request.auth), _(NOT_FOUND), pk=order.pk))


@router.get("/census", response={200: CensusOut, **errors(401, 403, 422)},
            summary="隔离管控每日统计（按乡镇：各阶段在管、新增、解除、暂缓、漏报、违规外出、隔离点在住）")
def get_census(request, day: date | None = None):
    user = request.auth
    if not user.has_perm("quarantine.view_census"):
        raise PermissionDenied
    if day is not None and day > timezone.localdate():
        raise ValidationError({"day": [_("不能统计未来的日期。")]})
    result = census_service.census(user, day)
    return {"day": result["day"], "columns": dict(result["columns"]), "rows": result["rows"],
            "totals": result["totals"]}
