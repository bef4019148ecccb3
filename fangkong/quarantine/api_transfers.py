"""Point-to-point transfers over the API: list (scoped), plan, one transfer, depart, arrive, acknowledge, cancel.

A transfer outside the caller's reach is 404; a step the transfer's state
does not allow (already acknowledged, cancelled …) is 409; bad input is 400.
Passengers are shown with masked names.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from fangkong.core.api_base import PageParams, errors, get_or_404, paginate
from fangkong.people.identity import mask_name

from . import transfers
from .choices import TransferKind, TransferStatus
from .models import Transfer

router = Router(tags=["隔离管控"])
NOT_FOUND = "未找到该转运或无权查看。"


class PassengerOut(Schema):
    person_id: int
    name: str = Field(description="姓名（脱敏）")
    doc_masked: str
    order_id: int | None = Field(description="该人员在转运时的管控措施编号")


class TransferOut(Schema):
    id: int
    kind: str = Field(description="pickup 接返、to_site 送往隔离点、to_home 送返居家、to_hospital 送往定点医院")
    kind_label: str
    status: str = Field(description="planned、departed、arrived、acknowledged、cancelled")
    status_label: str
    area_code: str = Field(description="接收方区划代码（首接负责）")
    area_name: str
    from_place: str
    to_place: str
    to_site_id: int | None
    to_site_name: str
    vehicle: str
    driver: str
    driver_phone: str
    escort: str
    planned_at: datetime
    departed_at: datetime | None
    arrived_at: datetime | None
    ack_deadline: datetime | None = Field(description="接收方须在此前确认交接")
    acknowledged_at: datetime | None
    acknowledged_by: str
    escalated_at: datetime | None = Field(description="超时未交接、已自动上报的时间")
    late: bool = Field(description="超过计划出发时间两小时仍未出发")
    overdue: bool = Field(description="已到达但超过交接时限仍未确认")
    passenger_count: int
    passengers: list[PassengerOut]
    note: str


class TransferPage(Schema):
    count: int
    items: list[TransferOut]


class TransfersFilter(PageParams):
    status: TransferStatus | None = Field(None, description="状态")
    kind: TransferKind | None = Field(None, description="类型")


class TransferIn(Schema):
    kind: TransferKind = Field(description="转运类型")
    from_place: str = Field(max_length=200, description="出发地")
    to_place: str = Field("", max_length=200, description="目的地；送往隔离点可留空")
    to_site: int | None = Field(None, description="目的隔离点编号（送往隔离点时必填）")
    vehicle: str = Field("", max_length=20, description="车辆号牌")
    driver: str = Field("", max_length=50, description="驾驶员")
    driver_phone: str = Field("", max_length=20, description="驾驶员电话")
    escort: str = Field("", max_length=100, description="随车人员")
    planned_at: datetime = Field(description="计划出发时间")
    note: str = Field("", max_length=200)
    people: list[int] = Field(default_factory=list, description="转运人员编号（人员库中的编号）")


class AcknowledgeIn(Schema):
    note: str = Field("", max_length=200, description="交接说明")


class CancelIn(Schema):
    reason: str = Field("", max_length=200, description="取消原因（必填）")


def transfer_out(transfer: Transfer, now=None) -> dict:
    seats = list(transfer.passengers.all())
    return {
        "id": transfer.pk, "kind": transfer.kind, "kind_label": str(transfer.get_kind_display()),
        "status": transfer.status, "status_label": str(transfer.get_status_display()),
        "area_code": transfer.area_id, "area_name": transfer.area.name,
        "from_place": transfer.from_place, "to_place": transfer.to_place,
        "to_site_id": transfer.to_site_id, "to_site_name": transfer.to_site.name if transfer.to_site_id else "",
        "vehicle": transfer.vehicle, "driver": transfer.driver, "driver_phone": transfer.driver_phone,
        "escort": transfer.escort, "planned_at": transfer.planned_at, "departed_at": transfer.departed_at,
        "arrived_at": transfer.arrived_at, "ack_deadline": transfer.ack_deadline,
        "acknowledged_at": transfer.acknowledged_at,
        "acknowledged_by": str(transfer.acknowledged_by) if transfer.acknowledged_by_id else "",
        "escalated_at": transfer.escalated_at,
        "late": transfers.is_late(transfer, now), "overdue": transfers.is_overdue(transfer, now),
        "passenger_count": len(seats),
        "passengers": [{"person_id": s.person_id, "name": mask_name(s.person.name), "doc_masked": s.person.doc_masked,
                        "order_id": s.order_id} for s in seats],
        "note": transfer.note,
    }


def _visible(user):
    if not user.has_perm("quarantine.view_transfer"):
        raise PermissionDenied
    return (transfers.transfers_for(user).select_related("area", "to_site", "acknowledged_by")
            .prefetch_related("passengers__person"))


def _get(user, pk: int) -> Transfer:
    return get_or_404(_visible(user), _(NOT_FOUND), pk=pk)


def _conflict(exc: ValidationError):
    return Status(409, {"code": "conflict", "message": exc.messages[0]})


@router.get("/transfers", response={200: TransferPage, **errors(401, 403, 422)},
            summary="点对点转运列表（按辖区：接收方、发送方、隔离点）")
def list_transfers(request, filters: Query[TransfersFilter]):
    rows = _visible(request.auth)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    now = timezone.now()
    rows = rows.order_by("-planned_at", "-id")
    return paginate(rows, filters, lambda t: transfer_out(t, now))


@router.post("/transfers", response={201: TransferOut, **errors(400, 401, 403, 422)},
             summary="安排点对点转运")
def create_transfer(request, payload: TransferIn):
    user = request.auth
    if not user.has_perm("quarantine.add_transfer"):
        raise PermissionDenied
    ids = list(dict.fromkeys(payload.people))
    people = list(transfers.eligible_people(user).filter(pk__in=ids))
    if len(people) != len(ids):
        raise ValidationError({"people": [_("人员不存在或不在您的管辖范围内。")]})
    data = payload.dict(exclude={"people"})
    data["kind"] = str(payload.kind)
    transfer = transfers.plan_transfer(user, data, people, request=request)
    return Status(201, transfer_out(_get(user, transfer.pk)))


@router.get("/transfers/{id}", response={200: TransferOut, **errors(401, 403, 404)}, summary="一趟转运")
def get_transfer(request, id: int):
    return transfer_out(_get(request.auth, id))


def _step(request, id: int, action):
    user = request.auth
    transfer = _get(user, id)
    try:
        action(user, transfer)
    except transfers.TransferConflict as exc:
        return _conflict(exc)
    return transfer_out(_get(user, id))


@router.post("/transfers/{id}/depart", response={200: TransferOut, **errors(401, 403, 404, 409)},
             summary="登记出发")
def depart_transfer(request, id: int):
    return _step(request, id, lambda user, t: transfers.depart(user, t, request=request))


@router.post("/transfers/{id}/arrive", response={200: TransferOut, **errors(400, 401, 403, 404, 409)},
             summary="登记到达：接收方开始计时，交接任务推送至接收方")
def arrive_transfer(request, id: int):
    return _step(request, id, lambda user, t: transfers.arrive(user, t, request=request))


@router.post("/transfers/{id}/acknowledge", response={200: TransferOut, **errors(401, 403, 404, 409, 422)},
             summary="接收方确认交接（首接负责）")
def acknowledge_transfer(request, id: int, payload: AcknowledgeIn | None = None):
    note = payload.note if payload is not None else ""
    return _step(request, id, lambda user, t: transfers.acknowledge(user, t, note=note, request=request))


@router.post("/transfers/{id}/cancel", response={200: TransferOut, **errors(400, 401, 403, 404, 409, 422)},
             summary="取消转运（须填原因；已到达的不能取消）")
def cancel_transfer(request, id: int, payload: CancelIn):
    return _step(request, id, lambda user, t: transfers.cancel(user, t, payload.reason, request=request))
