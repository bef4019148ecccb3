"""The page a phone camera opens from a venue's poster: /scan/?c=<place code>.

It names the venue and carries no personal data: the script on the page
identifies the visitor (once per device) and checks them in through
``api_scan``, and draws the status screen from that answer. The page never
touches the session or sets a cookie.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from fangkong.core.ratelimit import over_limit

from . import services, tokens
from .api_scan import TOO_MANY, rate_per_minute

MAX_CODE_LENGTH = 100


def _page(template: str, context: dict, status: int = 200) -> HttpResponse:
    # Rendered without the request: no context processor reads the session or the user.
    response = HttpResponse(render_to_string(f"venues/scan/{template}", context), status=status)
    response["Referrer-Policy"] = "no-referrer"  # the place code stays out of any Referer
    return response


def _error(title, message, status: int) -> HttpResponse:
    return _page("error.html", {"title": title, "message": message}, status=status)


def _script_messages() -> dict:
    return {
        "network": _("网络异常，请检查网络后重试。"),
        "busy": _("正在登记…"),
        "duplicate": _("一分钟内已在本场所登记，未重复记录"),
        "scanned_at": _("登记时间"),
        "forget_confirm": _("清除本机保存的身份信息，重新登记？"),
        "no_storage": _("浏览器无法保存数据（可能处于无痕模式），下次扫码需重新登记。"),
        "reidentify": _("本机保存的身份已失效，请重新登记。"),
    }


@login_not_required
@require_GET
@never_cache
def scan_page(request):
    if over_limit("scan-page", request, rate_per_minute(), 60):
        return _error(_("请稍后再试"), TOO_MANY, 429)
    code = request.GET.get("c", "").strip()[:MAX_CODE_LENGTH]
    if not code:
        return _error(_("缺少场所码"), _("请用手机相机扫描场所张贴的场所码。"), 400)
    try:
        venue = services.venue_for_code(code, request=request)
    except services.InvalidCode as exc:
        return _error(_("场所码无效"), exc.messages[0], 400)
    return _page("page.html", {
        "venue": venue,
        "code": code,
        "scan_url": reverse("api:scan_checkin"),
        "identify_url": reverse("api:scan_identify"),
        "person_code_page": reverse("scan:person_code"),
        "scan_messages": _script_messages(),
    })


@login_not_required
@require_GET
@never_cache
def person_code_page(request):
    """我的个人码: what a phone shows at a sampling point, drawn afresh every minute by the page's script
    from the identity this device keeps (the page itself knows nobody)."""
    if over_limit("scan-page", request, rate_per_minute(), 60):
        return _error(_("请稍后再试"), TOO_MANY, 429)
    return _page("me.html", {
        "code_url": reverse("api:scan_person_code"),
        "valid_minutes": tokens.PERSON_CODE_MINUTES,
        "messages": {
            "network": _("网络异常，个人码未能刷新，请检查网络。"),
            "not_identified": _("本机尚未登记本人信息：请先扫描任一场所码，登记后再打开个人码。"),
            "reidentify": _("本机保存的身份已失效：请扫描任一场所码重新登记。"),
            "valid_until": _("有效至"),
        },
    })
