"""Writing the audit trail. Every service that reads or changes personal data calls this."""

from django.db import models

from .choices import AuditAction
from .models import AuditEvent


def client_ip(request):
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_event(
    user, action: str, obj: models.Model | None = None, *, changes: dict | None = None,
    reason: str = "", request=None, object_type: str = "", object_id: str = "",
    object_repr: str = "", area_code: str | None = None,
) -> AuditEvent:
    """Append one audit row. OBJ gives type, id, a safe repr and its area code."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        if not object_repr:
            # Models holding personal data give a masked repr for the trail.
            audit_repr = getattr(obj, "audit_repr", None)
            object_repr = audit_repr() if callable(audit_repr) else str(obj)
        if area_code is None:
            area_code = audit_area_code(obj)
    if area_code is None:
        area_code = user.area_id if user is not None and getattr(user, "area_id", None) else ""
    authenticated = user is not None and user.is_authenticated
    return AuditEvent.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action, object_type=object_type, object_id=object_id,
        object_repr=str(object_repr)[:200], area_code=area_code or "",
        changes=changes or {}, reason=reason, ip=client_ip(request),
    )


def record_events(user, action: str, items: list[tuple[models.Model, dict]], *, reason: str = "",
                  object_repr: str = "") -> int:
    """One audit row per (object, changes) in ITEMS, written in one batch (a daily job's thousands of rows)."""
    authenticated = user is not None and user.is_authenticated
    rows = [AuditEvent(
        user=user if authenticated else None, username=user.get_username() if authenticated else "",
        action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk),
        object_repr=str(object_repr or obj)[:200], area_code=audit_area_code(obj), changes=changes or {},
        reason=reason) for obj, changes in items]
    AuditEvent.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def audit_area_code(obj) -> str:
    field = getattr(type(obj), "scope_field", None)
    if not field:
        return ""
    return str(getattr(obj, field, "") or "")


def diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


__all__ = ["AuditAction", "record_event", "record_events", "diff"]
