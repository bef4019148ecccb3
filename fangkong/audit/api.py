"""The audit trail over the API, for auditors and the headquarters' administrators."""

from datetime import datetime

from django.core.exceptions import PermissionDenied
from ninja import Field, Query, Router, Schema

from fangkong.core.api_base import PageParams, errors, paginate

from .models import AuditEvent

router = Router(tags=["审计"])


class AuditEventOut(Schema):
    id: int
    at: datetime
    username: str
    action: str
    action_label: str
    object_type: str
    object_id: str
    object_repr: str = Field(description="对象（个人信息已脱敏）")
    area_code: str
    changes: dict
    reason: str
    ip: str | None


class AuditPage(Schema):
    count: int
    items: list[AuditEventOut]


class AuditFilter(PageParams):
    user: str | None = Field(None, description="用户名")
    action: str | None = Field(None, description="操作，如 view、reveal、update")
    object_type: str | None = Field(None, description="对象类型，如 people.person")
    object_id: str | None = None
    since: datetime | None = Field(None, description="起始时间（含）")
    until: datetime | None = Field(None, description="截止时间（不含）")


def event_data(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "at": event.at,
        "username": event.username,
        "action": event.action,
        "action_label": event.get_action_display(),
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "area_code": event.area_code,
        "changes": event.changes,
        "reason": event.reason,
        "ip": event.ip,
    }


@router.get("", response={200: AuditPage, **errors(401, 403, 422)}, summary="审计记录")
def list_events(request, filters: Query[AuditFilter]):
    user = request.auth
    if not user.has_perm("audit.view_auditevent"):
        raise PermissionDenied
    events = AuditEvent.objects.restrict(user, "view")
    exact = {
        "username": filters.user,
        "action": filters.action,
        "object_type": filters.object_type,
        "object_id": filters.object_id,
    }
    events = events.filter(**{field: value for field, value in exact.items() if value})
    if filters.since:
        events = events.filter(at__gte=filters.since)
    if filters.until:
        events = events.filter(at__lt=filters.until)
    return paginate(events.order_by("-at", "-id"), filters, event_data)
