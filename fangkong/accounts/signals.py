"""Login lockout: count consecutive failures, lock for a while past the limit."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone


@receiver(user_login_failed)
def count_failed_login(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    if not username:
        return
    User = get_user_model()
    User.objects.filter(username=username).update(failed_logins=F("failed_logins") + 1)
    User.objects.filter(
        username=username, failed_logins__gte=settings.FANGKONG_LOGIN_MAX_FAILURES
    ).update(
        locked_until=timezone.now() + timedelta(minutes=settings.FANGKONG_LOGIN_LOCK_MINUTES),
        failed_logins=0,
    )


@receiver(user_logged_in)
def reset_failed_logins(sender, user, request=None, **kwargs):
    if user.failed_logins or user.locked_until:
        type(user).objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
