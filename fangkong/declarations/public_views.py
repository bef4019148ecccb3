"""The returnee's pages (no account): declare, receipt, status, correction, and the QR poster.

A declaration is shown only to whoever proved it in this browser session:
by submitting it, or by its receipt code and the last four digits of the
phone. Pages show what the returnee typed, masked, and what to do; never
the ID number or phone in full, never the linked person's record.
"""

import json
from functools import lru_cache

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from fangkong.policy import places

from . import services
from .public_forms import (
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    TOO_MANY,
    TOO_MANY_FOR_ID,
    DeclarationForm,
    LookupForm,
    address_flooding,
    county_name,
    document_flooding,
    shown,
    too_large,
)

SESSION_KEY = "declare_proven"
FRESH_KEY = "declare_fresh"


def qr_svg(url: str) -> str:
    # segno draws the code as paths; the URL is never written into the markup as text.
    return mark_safe(segno.make(url, error="m").svg_inline(scale=1, omitsize=True, svgclass="fk-qr"))


def _remember(request, declaration) -> None:
    request.session[SESSION_KEY] = {"receipt": declaration.receipt, "last4": declaration.phone_last4}


def _proven(request):
    """The declaration this session has proven, looked up again with the same receipt + digits check."""
    proof = request.session.get(SESSION_KEY) or {}
    return services.public_lookup(proof.get("receipt", ""), proof.get("last4", ""))


def _status_url(request, receipt: str) -> str:
    return request.build_absolute_uri(f"{reverse('declare:status')}?{urlencode({'receipt': receipt})}")


def _refuse(request, template: str, context: dict, form, message, status: int):
    form.add_error(None, message)
    return render(request, template, {**context, "form": form}, status=status)


def _guard(request, form, template: str, context: dict):
    """Too large or too often: the response to give instead of handling the post, else None."""
    if too_large(request):
        return _refuse(request, template, context, form, PAYLOAD_TOO_LARGE, 413)
    if address_flooding(request):
        return _refuse(request, template, context, form, TOO_MANY, 429)
    if document_flooding(request.POST.get("document_number")):
        return _refuse(request, template, context, form, TOO_MANY_FOR_ID, 429)
    return None


def _save(form, action):
    """ACTION(the submission), or None with the errors put on FORM."""
    data = form.submission()
    try:
        if form.group_errors:
            # The rows did not arrive whole: save nothing, but show every other error too.
            services.clean_submission(data)
            return None
        return action(data)
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None


@login_not_required
def declare(request):
    template = "declarations/public/form.html"
    if request.method != "POST":
        return render(request, template, {"form": DeclarationForm()})
    form = DeclarationForm(request.POST)
    refused = _guard(request, form, template, {})
    if refused:
        return refused
    result = _save(form, lambda data: services.submit_declaration(data, request=request))
    if result is None:
        return render(request, template, {"form": form})
    declaration, created = result
    _remember(request, declaration)
    request.session[FRESH_KEY] = True
    if not created:
        messages.info(request, _("该身份证号已有一份待到达的申报，已按本次填写更新，回执码不变。"))
    return redirect("declare:receipt")


@login_not_required
def receipt(request):
    declaration = _proven(request)
    if declaration is None:
        messages.info(request, _("请输入回执码和申报手机号后四位查看。"))
        return redirect("declare:status")
    status_url = _status_url(request, declaration.receipt)
    return render(request, "declarations/public/receipt.html", {
        "view": shown(declaration), "status_url": status_url, "qr": qr_svg(status_url),
        "fresh": request.session.pop(FRESH_KEY, False),
    })


@login_not_required
def status(request):
    template = "declarations/public/status.html"
    if request.method == "POST":
        form = LookupForm(request.POST)
        if address_flooding(request, "declare-lookup"):
            return _refuse(request, template, {}, form, TOO_MANY, 429)
        declaration = None
        if form.is_valid():
            declaration = services.public_lookup(form.cleaned_data["receipt"], form.cleaned_data["phone_last4"])
            if declaration is None:
                form.add_error(None, NOT_FOUND)
        if declaration is None:
            return render(request, template, {"form": form})
        _remember(request, declaration)
        return redirect("declare:status")
    declaration = _proven(request)
    form = LookupForm(initial={"receipt": request.GET.get("receipt", "")[:20]})
    return render(request, template, {
        "form": form, "view": shown(declaration) if declaration else None,
    })


@login_not_required
def edit(request):
    template = "declarations/public/edit.html"
    declaration = _proven(request)
    if declaration is None:
        messages.info(request, _("修改申报前，请先输入回执码和申报手机号后四位。"))
        return redirect("declare:status")
    view = shown(declaration)
    if not view["editable"]:
        return render(request, template, {"view": view, "form": None})
    if request.method != "POST":
        return render(request, template, {"view": view, "form": DeclarationForm(declaration=declaration)})
    form = DeclarationForm(request.POST, declaration=declaration)
    refused = _guard(request, form, template, {"view": view})
    if refused:
        return refused
    phone = services.declaration_phone(declaration)
    declaration = _save(form, lambda data: services.correct_declaration(
        declaration, {**data, "phone": data.get("phone") or phone}, request=request))
    if declaration is None:
        return render(request, template, {"view": view, "form": form})
    _remember(request, declaration)
    messages.success(request, _("申报已更新。以后查询请用手机号后四位 %(last4)s。") % {"last4": declaration.phone_last4})
    return redirect("declare:receipt")


@login_not_required
def poster(request):
    form_url = request.build_absolute_uri(reverse("declare:form"))
    return render(request, "declarations/public/poster.html", {
        "county": county_name(), "form_url": form_url, "qr": qr_svg(form_url),
    })


@lru_cache(maxsize=1)
def _places_json() -> bytes:
    return json.dumps(places.picker_tree(), ensure_ascii=False, separators=(",", ":")).encode()


@login_not_required
@require_GET
@cache_control(public=True, max_age=86400)
def place_tree(request):
    """The national place list for the cascading pickers: [[province, name, [[city, name, [[county, name]]]]]]."""
    return HttpResponse(_places_json(), content_type="application/json; charset=utf-8")
