"""The scan page's endpoints (no account): identify a visitor on this device, then check them in.

Public and phone-facing: no session and no CSRF (nothing here reads or
writes a cookie); the device proves itself with the secret it generated
and the personal token issued to that secret. Floods are refused per
client address before the body is read. A response only ever shows the
person the token names, masked.
"""

import functools

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from ninja import Field, Router, Schema, Status
from ninja.decorators import decorate_view

from fangkong.core.api_base import errors
from fangkong.core.ratelimit import over_limit
from fangkong.people import identity
from fangkong.people.models import Person

from . import services, tokens

router = Router(tags=["扫场所码（公众）"])

MAX_BODY_BYTES = 4096
TOO_MANY = gettext_lazy("扫码过于频繁，请稍后再试。")
TOO_LARGE = gettext_lazy("提交的内容过大。")


def rate_per_minute() -> int:
    return getattr(settings, "FANGKONG_SCAN_RATE_PER_MINUTE", 120)


class IdentifyIn(Schema):
    code: str = Field("", description="场所码（海报二维码网址中的 c 参数）")
    name: str = Field("", description="姓名")
    document_number: str = Field("", description="18位居民身份证号")
    phone: str = Field("", description="11位手机号")
    device: str = Field("", description="本机密钥：浏览器首次生成的32位十六进制随机数，保存在本机")


class IdentifyOut(Schema):
    token: str = Field(description="个人凭证，只对提交它的本机密钥有效；保存在本机，以后扫码一键登记")
    name_masked: str = Field(description="姓名（脱敏）")


class ScanIn(Schema):
    code: str = Field("", description="场所码")
    token: str = Field("", description="个人凭证（identify 返回）")
    device: str = Field("", description="签发凭证时的本机密钥")


class PersonCodeIn(Schema):
    token: str = Field("", description="个人凭证（identify 返回）")
    device: str = Field("", description="签发凭证时的本机密钥")


class PersonCodeOut(Schema):
    code: str = Field(description="个人码：采样点扫描它代替输入身份证号码；30 分钟内有效，页面每分钟刷新")
    svg: str = Field(description="个人码的二维码（SVG）")
    person: str = Field(description="本人姓名（脱敏）")
    valid_minutes: int


class ScanOut(Schema):
    colour: str = Field(description="green / yellow / red")
    label: str = Field(description="通行 / 限制 / 禁止")
    venue: str = Field(description="场所名称")
    time: str = Field(description="登记时间，ISO 8601；一分钟内重复扫码为首次登记的时间")
    reasons: list[str] = Field(description="限制或禁止的原因")
    duplicate: bool = Field(description="true：一分钟内已在本场所登记过，未重复记录")
    person: str = Field(description="本人姓名（脱敏）")


def _refusal(status: int, code: str, message) -> JsonResponse:
    response = JsonResponse({"code": code, "message": str(message)}, status=status,
                            json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _too_large(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES


def _guarded(scope: str):
    """Refuse a flood or an oversized body before ninja parses it; never let a status be cached."""

    def decorator(run):
        @functools.wraps(run)
        def wrapper(request, *args, **kwargs):
            # The WSGI fast path (venues.fastscan) has already counted this request and says so.
            limited = request.META.get(f"fangkong.{scope}_limited".replace("-", "_"))
            if limited is None:
                limited = over_limit(scope, request, rate_per_minute(), 60)
            if limited:
                return _refusal(429, "throttled", TOO_MANY)
            if _too_large(request):
                return _refusal(413, "too_large", TOO_LARGE)
            response = run(request, *args, **kwargs)
            response["Cache-Control"] = "no-store"
            return response

        return wrapper

    return decorator


def _invalid_code(exc: ValidationError) -> Status:
    return Status(400, {"code": "invalid_code", "message": exc.messages[0]})


@router.post(
    "/identify", auth=None, url_name="scan_identify", response={200: IdentifyOut, **errors(400, 413, 422, 429)},
    summary="首次扫码：登记本人信息，换取本机个人凭证",
)
@decorate_view(_guarded("scan-identify"))
def identify(request, payload: IdentifyIn):
    """An ID number already registered must come with the same name (400 on `name`, nothing else said)."""
    try:
        venue = services.venue_for_code(payload.code, request=request)
    except services.InvalidCode as exc:
        return _invalid_code(exc)
    person, token = services.identify_visitor(payload.dict(), payload.device, venue, request=request)
    return {"token": token, "name_masked": identity.mask_name(person.name)}


@router.post(
    "", auth=None, url_name="scan_checkin", response={200: ScanOut, **errors(400, 401, 413, 422, 429)},
    summary="扫码登记：场所码 + 个人凭证 → 通行 / 限制 / 禁止",
)
@decorate_view(_guarded("scan"))
def scan(request, payload: ScanIn):
    """400 `invalid_code` for a forged or revoked place code; 401 `invalid_token` when the token is bad
    or was issued to another device (identify again). A scan within a minute of the last one at the
    same venue records nothing new (`duplicate`)."""
    try:
        result = services.scan(payload.code, payload.token, payload.device, request=request)
    except services.InvalidCode as exc:
        return _invalid_code(exc)
    except services.InvalidToken as exc:
        return Status(401, {"code": "invalid_token", "message": exc.messages[0]})
    name = Person.objects.filter(pk=result.checkin.person_id).values_list("name", flat=True).first() or ""
    return {
        "colour": result.colour,
        "label": str(result.label),
        "venue": result.venue.name,
        "time": timezone.localtime(result.checkin.scanned_at).isoformat(),
        "reasons": [str(reason.get("label", "")) for reason in result.reasons if isinstance(reason, dict)],
        "duplicate": result.duplicate,
        "person": identity.mask_name(name),
    }


@router.post(
    "/person-code", auth=None, url_name="scan_person_code",
    response={200: PersonCodeOut, **errors(401, 413, 422, 429)},
    summary="我的个人码：本机个人凭证 → 采样点可扫描的个人码（限时有效）",
)
@decorate_view(_guarded("scan-code"))
def person_code(request, payload: PersonCodeIn):
    """401 `invalid_token` when the token is bad or was issued to another device (identify again)."""
    try:
        person, code = services.draw_person_code(payload.token, payload.device)
    except services.InvalidToken as exc:
        return Status(401, {"code": "invalid_token", "message": exc.messages[0]})
    svg = segno.make(code, error="m").svg_inline(scale=1, omitsize=True, svgclass="fk-qr")
    return {"code": code, "svg": svg, "person": identity.mask_name(person.name),
            "valid_minutes": tokens.PERSON_CODE_MINUTES}
