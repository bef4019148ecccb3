"""Account workflows: creating users, logging in for the API, tokens."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from fangkong.core.signals import audit_requested

from .models import ApiToken, User, hash_token


@transaction.atomic
def create_user(*, username, password, role, area=None, organization=None, display_name="", **extra) -> User:
    user = User(username=username, role=role, area=area, organization=organization, display_name=display_name, **extra)
    user.set_password(password)
    user.save()
    return user


def issue_api_token(user) -> str:
    """A new bearer token for USER; the plain key is returned once and never stored."""
    key = ApiToken.new_key()
    ApiToken.objects.create(
        user=user, key_hash=hash_token(key),
        expires_at=timezone.now() + timedelta(days=settings.FANGKONG_API_TOKEN_DAYS),
    )
    return key


def user_for_token(key: str) -> User | None:
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user", "user__area")
        .filter(key_hash=hash_token(key), expires_at__gt=now, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if not token.last_used_at or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def login_for_token(request, username: str, password: str) -> User | None:
    """Check a username and password the same way the login page does (lockout included).

    The page resets the failure count through the user_logged_in signal of
    django.contrib.auth.login(); a token login has no session, so it resets here.
    """
    user = authenticate(request, username=username, password=password)
    if user is None:
        return None
    if user.failed_logins or user.locked_until:
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    audit_requested.send(sender=User, user=user, action="login", object_type="accounts.user",
                         object_id=str(user.pk), object_repr=f"{user.get_username()} (API)", request=request)
    return user


def is_locked(username: str) -> bool:
    user = User.objects.filter(username=username).only("locked_until").first()
    return bool(user and user.is_locked)
