"""The self-report page: a person at home records their own temperature from the link the care team sent.

The link is signed (``care.self_check_token``) and stops working when the
order ends. The page shows only the masked name, the stage and today's
checks; it is rate-limited per address and per order, and its form is
CSRF-protected like every other.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from fangkong.core.ratelimit import over_limit
from fangkong.people.identity import mask_name
from fangkong.policy.choices import Stage
from fangkong.policy.services import quarantine_rules

from . import care
from .care_forms import SelfCheckForm
from .choices import CheckSource, Symptom

TOO_MANY = gettext_lazy("提交过于频繁，请稍后再试。")
MAX_TOKEN_LENGTH = 200


class _PerOrder:
    """over_limit counts per client address; this stands in for one so that it counts per order."""

    def __init__(self, order_id: int):
        self.META = {"REMOTE_ADDR": f"order-{order_id}"}


def _throttled(request, order) -> bool:
    per_minute = getattr(settings, "FANGKONG_SELF_CHECK_RATE_PER_MINUTE", 20)
    per_hour = getattr(settings, "FANGKONG_SELF_CHECK_RATE_PER_ORDER_HOUR", 12)
    return over_limit("self-check", request, per_minute, 60) or over_limit(
        "self-check-order", _PerOrder(order.pk), per_hour, 3600)


def _page(request, order, form, status=200):
    rules = quarantine_rules(order.pack)
    checks = list(care.checks_today(order))
    labels = dict(Symptom.choices)
    response = render(request, "quarantine/self_check.html", {
        "order": order, "name": mask_name(order.person.name),
        "stage": Stage(order.current_stage).label if order.current_stage in Stage.values else "",
        "checks": [{"at": c.taken_at, "temperature": c.temperature, "fever": c.fever,
                    "symptoms": "、".join(str(labels.get(s, s)) for s in c.symptoms)} for c in checks],
        "expected": len(rules.get("check_hours") or []), "check_hours": rules.get("check_hours") or [],
        "form": form, "today": timezone.localdate(),
    }, status=status)
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of any Referer
    return response


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def self_check(request, token):
    order = care.order_from_token(token[:MAX_TOKEN_LENGTH])
    if order is None:
        response = render(request, "quarantine/self_check_invalid.html", {}, status=404)
        response["Referrer-Policy"] = "no-referrer"
        return response
    if request.method != "POST":
        return _page(request, order, SelfCheckForm())
    form = SelfCheckForm(request.POST)
    if _throttled(request, order):
        form.add_error(None, str(TOO_MANY))
        return _page(request, order, form, status=429)
    if form.is_valid():
        data = form.cleaned_data
        try:
            check = care.record_check(None, order, data["temperature"], data["symptoms"], source=CheckSource.SELF)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if check.fever:
                messages.warning(request, _("已提交：%(t)s℃。您的体温偏高，包保医生会尽快与您联系，请留在家中。") % {
                    "t": check.temperature})
            else:
                messages.success(request, _("已提交：%(t)s℃。谢谢！") % {"t": check.temperature})
            return redirect("quarantine_self_check", token=token)
    return _page(request, order, form, status=400)
