from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from fangkong.core.signals import audit_requested

from .choices import AuditAction
from .services import record_event


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    record_event(user, AuditAction.LOGIN, request=request, object_type="accounts.user",
                 object_id=str(user.pk), object_repr=user.get_username())


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        record_event(user, AuditAction.LOGOUT, request=request, object_type="accounts.user",
                     object_id=str(user.pk), object_repr=user.get_username())


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    # Filed under the account's area so that the auditors of that area see it.
    area_code = get_user_model().objects.filter(username=username).values_list("area_id", flat=True).first()
    record_event(None, AuditAction.LOGIN_FAILED, request=request, object_type="accounts.user",
                 object_repr=username, area_code=area_code or "")


@receiver(audit_requested)
def audit_on_request(sender, user, action, obj=None, signal=None, **kwargs):
    record_event(user, action, obj, **kwargs)
