"""API authentication: bearer tokens and browser sessions, and the token endpoint."""

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.security import APIKeyCookie, HttpBearer

from fangkong.core.api_base import errors
from fangkong.core.ratelimit import over_limit

from . import services

router = Router(tags=["认证"])


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``, a token from POST /api/v1/auth/token."""

    def authenticate(self, request, token):
        if not token or not token.isascii():  # tokens are URL-safe ASCII; anything else is no token
            return None
        user = services.user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The browser's login session; unsafe methods must carry the CSRF token.

    Unlike ninja's own SessionAuth, a request without a logged-in session is
    simply not authenticated here (401), rather than refused for CSRF (403).
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)

    def authenticate(self, request, key):
        return request.user if request.user.is_authenticated else None


class TokenIn(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str


@router.post(
    "/token",
    auth=None,
    exclude_none=True,
    response={200: TokenOut, **errors(401, 403, 422, 429)},
    summary="用用户名和密码换取 API 令牌",
)
def issue_token(request, payload: TokenIn):
    """The same check as the login page: failures count toward the lockout and are audited."""
    if over_limit("login", request, settings.FANGKONG_LOGIN_RATE_PER_MINUTE):
        return Status(429, {"code": "throttled", "message": _("登录尝试过于频繁，请一分钟后再试。")})
    user = services.login_for_token(request, payload.username, payload.password)
    if user is None:
        if services.is_locked(payload.username):
            return Status(
                403,
                {
                    "code": "account_locked",
                    "message": _("登录失败次数过多，账号已锁定，请稍后再试或联系管理员。"),
                },
            )
        return Status(401, {"code": "invalid_credentials", "message": _("用户名或密码错误")})
    return {"token": services.issue_api_token(user)}
