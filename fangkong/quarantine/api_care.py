"""Health checks over the API: record one (for an order, or for a person under one), list an order's.

POST /health-checks answers 201 with the check; 400 when the person is not
under an active order; 422 for an implausible temperature (outside
34.0–42.0 ℃) or a malformed body; 404 for an order or person out of reach.
"""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from fangkong.core.api_base import NotFound, PageParams, errors, get_or_404, paginate
from fangkong.people.identity import mask_name
from fangkong.people.models import Person
from fangkong.policy.choices import OrderStatus

from . import care
from .access import orders_for
from .choices import CheckSource, Symptom
from .models import HealthCheck

router = Router(tags=["隔离管控"])
ORDER_NOT_FOUND = "未找到该管控措施或无权查看。"
PERSON_NOT_FOUND = "未找到该人员或无权查看。"


class HealthCheckIn(Schema):
    order: int | None = Field(None, description="管控措施编号（与 person 二选一）")
    person: int | None = Field(None, description="或：人员编号，按其正在执行的管控措施记录")
    temperature: Decimal = Field(description="体温（℃），34.0–42.0，一位小数")
    symptoms: list[str] = Field([], description="症状代码：" + "、".join(f"{v} {label}" for v, label in
                                                                  Symptom.choices))
    note: str = Field("", max_length=200, description="备注")
    taken_at: datetime | None = Field(None, description="测量时间；不填为现在")


class HealthCheckOut(Schema):
    id: int
    order_id: int
    person_id: int
    person_name: str = Field(description="姓名（脱敏）")
    taken_at: datetime
    temperature: float
    symptoms: list[str]
    symptom_labels: list[str]
    fever: bool
    source: str = Field(description="staff 隔离点工作人员、care 包保人员、self 本人填报")
    source_label: str
    note: str
    recorded_by: str | None


class HealthCheckPage(Schema):
    count: int
    items: list[HealthCheckOut]


class ChecksFilter(PageParams):
    order: int | None = Field(None, description="管控措施编号")
    person: int | None = Field(None, description="人员编号")


def check_out(check: HealthCheck) -> dict:
    labels = dict(Symptom.choices)
    return {
        "id": check.pk, "order_id": check.order_id, "person_id": check.person_id,
        "person_name": mask_name(check.person.name), "taken_at": check.taken_at,
        "temperature": float(check.temperature), "symptoms": list(check.symptoms),
        "symptom_labels": [str(labels.get(s, s)) for s in check.symptoms], "fever": check.fever,
        "source": check.source, "source_label": str(check.get_source_display()), "note": check.note,
        "recorded_by": str(check.recorded_by) if check.recorded_by_id else None,
    }


def _invalid(status: int, exc: ValidationError):
    fields = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    first = next((m[0] for m in fields.values() if m), _("输入有误。"))
    return Status(status, {"code": "invalid", "message": first, "errors": fields})


def _implausible(exc: ValidationError) -> bool:
    return hasattr(exc, "error_dict") and any(
        e.code == "implausible" for e in exc.error_dict.get("temperature", []))


@router.post("/health-checks", response={201: HealthCheckOut, **errors(400, 401, 403, 404, 422)},
             summary="记录一次健康监测（体温、症状）：按管控措施或人员")
def create_health_check(request, payload: HealthCheckIn):
    user = request.auth
    if not user.has_perm("quarantine.add_healthcheck"):
        raise PermissionDenied
    if bool(payload.order) == bool(payload.person):
        raise ValidationError({"order": [_("请填写管控措施编号或人员编号（二选一）。")]})
    visible = orders_for(user)
    if payload.order:
        order = get_or_404(visible, _(ORDER_NOT_FOUND), pk=payload.order)
    else:
        order = visible.filter(person_id=payload.person, status=OrderStatus.ACTIVE).order_by("-id").first()
        if order is None:
            # In reach but not under an order: say so; out of reach: the same 404 as a missing person.
            if not Person.objects.restrict(user, "view").filter(pk=payload.person).exists():
                raise NotFound(_(PERSON_NOT_FOUND))
            raise ValidationError(str(care.NOT_UNDER_ORDER))
    taken_at = payload.taken_at
    if taken_at is not None and timezone.is_naive(taken_at):
        taken_at = timezone.make_aware(taken_at)
    source = CheckSource.STAFF if user.role == "site_staff" else CheckSource.CARE
    try:
        check = care.record_check(user, order, payload.temperature, payload.symptoms, payload.note,
                                  source=source, taken_at=taken_at)
    except ValidationError as exc:
        if _implausible(exc):
            return _invalid(422, exc)
        raise
    return Status(201, check_out(check))


@router.get("/health-checks", response={200: HealthCheckPage, **errors(401, 403, 422)},
            summary="健康监测记录（可见的管控措施）")
def list_health_checks(request, filters: Query[ChecksFilter]):
    user = request.auth
    if not user.has_perm("quarantine.view_healthcheck"):
        raise PermissionDenied
    rows = HealthCheck.objects.filter(order_id__in=orders_for(user).values("pk"))
    if filters.order:
        rows = rows.filter(order_id=filters.order)
    if filters.person:
        rows = rows.filter(person_id=filters.person)
    return paginate(rows.select_related("person", "recorded_by").order_by("-taken_at", "-id"), filters, check_out)
