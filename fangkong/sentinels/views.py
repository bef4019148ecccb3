"""Sentinel pages: the reporting board, one sentinel, and the phone forms (sale, fever patient, counts, absences).

Reads start from sentinels_for / reports_for / purchases_for (a reporter sees
their own sentinels, anyone else their area; out of reach is a 404); writes
are calls to sentinels.services.
"""

import uuid
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.core.scope import prefix_q

from . import services
from .choices import BuyerSymptom, DrugClass, ReportKind, SentinelKind
from .forms import (
    AbsenceForm,
    DailyCountForm,
    FeverPatientForm,
    SaleForm,
    SentinelEditForm,
    SentinelForm,
    ZeroReportForm,
)
from .models import DrugProduct

VIEW = "sentinels.view_sentinel"


def _first_error(exc: ValidationError) -> str:
    return exc.messages[0] if exc.messages else _("提交的内容有误。")


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _sentinel(request, pk):
    return get_object_or_404(services.sentinels_for(request.user).select_related("area"), pk=pk)


def _reportable(request, pk):
    sentinel = _sentinel(request, pk)
    if not services.reportable_for(request.user).filter(pk=sentinel.pk).exists():
        raise PermissionDenied
    return sentinel


# The board ---------------------------------------------------------------------------------------
@permission_required(VIEW, raise_exception=True)
def index(request):
    user = request.user
    today = timezone.localdate()
    sentinels = services.sentinels_for(user).select_related("area")
    kind = request.GET.get("kind", "")
    if kind in SentinelKind.values:
        sentinels = sentinels.filter(kind=kind)
    township = request.GET.get("township", "")
    townships = Area.objects.restrict(user, "view").filter(level=AreaLevel.TOWNSHIP).order_by("code")
    if township and townships.filter(code=township).exists():
        sentinels = sentinels.filter(prefix_q("area_id", township[:9]))
    reported = services.reported_ids(today, sentinels)
    page = paginate(request, sentinels.order_by("area_id", "kind", "name", "id"))
    for sentinel in page:
        sentinel.reported_today = sentinel.pk in reported
    missing = list(services.missing_reports(today, sentinels).order_by("area_id", "name")[:200])
    return render(request, "sentinels/index.html", {
        "page": page, "missing": missing, "today": today, "kinds": SentinelKind.choices, "kind": kind,
        "townships": townships, "township": township,
        "completeness": services.reporting_completeness(today, sentinels),
        "can_add": user.has_perm("sentinels.add_sentinel"),
        "can_report": user.has_perm("sentinels.add_sentinelreport"),
        "can_purchases": user.has_perm("sentinels.view_drugpurchase"),
    })


@permission_required("sentinels.add_sentinel", raise_exception=True)
def new(request):
    form = SentinelForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reporters = list(data.pop("reporters"))
        try:
            sentinel = services.register_sentinel(request.user, data, reporters, request=request)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("已登记哨点：%(name)s。") % {"name": sentinel.name})
            return redirect(sentinel)
    return render(request, "sentinels/new.html", {"form": form})


@permission_required("sentinels.change_sentinel", raise_exception=True)
def edit(request, pk):
    sentinel = _sentinel(request, pk)
    if request.method != "POST":
        form = SentinelEditForm(user=request.user, sentinel=sentinel, initial=SentinelEditForm.initial_for(sentinel))
        return render(request, "sentinels/edit.html", {"form": form, "sentinel": sentinel})
    form = SentinelEditForm(request.POST, user=request.user, sentinel=sentinel)
    if form.is_valid():
        data = dict(form.cleaned_data)
        reporters = list(data.pop("reporters"))
        try:
            services.update_sentinel(request.user, sentinel, data, reporters, request=request)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("已保存哨点：%(name)s。") % {"name": sentinel.name})
            return redirect(sentinel)
    return render(request, "sentinels/edit.html", {"form": form, "sentinel": sentinel}, status=400)


# One sentinel ------------------------------------------------------------------------------------
@permission_required(VIEW, raise_exception=True)
def detail(request, pk):
    user = request.user
    sentinel = _sentinel(request, pk)
    today = timezone.localdate()
    reports = services.reports_for(user).filter(sentinel=sentinel).order_by("-day", "-reported_at", "-id")
    page = paginate(request, reports)
    purchases = []
    if sentinel.is_pharmacy:
        purchases = list(services.purchases_for(user).filter(sentinel=sentinel).select_related("task")[:20])
    reported_today = sentinel.pk in services.reported_ids(today, [sentinel.pk])
    if any(r.kind == ReportKind.FEVER_PATIENT for r in page):
        record_event(user, AuditAction.VIEW, sentinel, object_repr=_("%(name)s 发热病人报告") % {"name": sentinel.name},
                     request=request)
    can_report = services.reportable_for(user).filter(pk=sentinel.pk).exists()
    return render(request, "sentinels/detail.html", {
        "sentinel": sentinel, "page": page, "purchases": purchases, "today": today,
        "reported_today": reported_today, "can_report": can_report,
        "can_edit": user.has_perm("sentinels.change_sentinel"),
    })


@require_POST
@permission_required("sentinels.add_sentinelreport", raise_exception=True)
def zero(request, pk):
    sentinel = _reportable(request, pk)
    form = ZeroReportForm(request.POST)
    day = form.cleaned_data.get("day") if form.is_valid() else None
    try:
        services.record_zero_report(request.user, sentinel, day or timezone.localdate(), request=request)
    except ValidationError as exc:
        messages.error(request, _first_error(exc))
    else:
        messages.success(request, _("已零报告：今日无发热病人等情况。"))
    return redirect(sentinel)


def _report_form(request, pk, form_class, template, save, allowed, extra=None):
    sentinel = _reportable(request, pk)
    if not allowed(sentinel):
        raise PermissionDenied
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = save(sentinel, form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, message)
            return redirect(sentinel)
    return render(request, template, {"sentinel": sentinel, "form": form, "now": timezone.localtime(), **(extra or {})})


@permission_required("sentinels.add_sentinelreport", raise_exception=True)
def fever(request, pk):
    def save(sentinel, data):
        report = services.record_fever_patient(request.user, sentinel, data, request=request)
        minutes = report.report_minutes
        if report.is_late:
            return _("已报告发热病人 %(name)s。距首诊 %(m)s 分钟，已超过 1 小时时限。") % {
                "name": report.masked_name, "m": minutes}
        return _("已报告发热病人 %(name)s（距首诊 %(m)s 分钟）。") % {"name": report.masked_name, "m": minutes}

    return _report_form(request, pk, FeverPatientForm, "sentinels/fever.html", save,
                        lambda s: s.reports_patients, extra={"limit_minutes": services.REPORT_WITHIN_MINUTES})


@permission_required("sentinels.add_sentinelreport", raise_exception=True)
def counts(request, pk):
    def save(sentinel, data):
        report = services.record_daily_counts(request.user, sentinel, data["day"], data["visits"],
                                              data.get("positives") or 0, note=data.get("note", ""), request=request)
        return _("已报告 %(day)s 发热门诊就诊 %(n)s 人。") % {"day": report.day, "n": report.visits}

    return _report_form(request, pk, DailyCountForm, "sentinels/counts.html", save, lambda s: s.reports_counts)


@permission_required("sentinels.add_sentinelreport", raise_exception=True)
def absences(request, pk):
    def save(sentinel, data):
        services.record_absences(request.user, sentinel, data["day"],
                                 [{"class_name": data["class_name"], "absent_ill": data["absent_ill"]}],
                                 request=request)
        return _("已报告 %(cls)s 因病缺勤 %(n)s 人。") % {"cls": data["class_name"], "n": data["absent_ill"]}

    return _report_form(request, pk, AbsenceForm, "sentinels/absences.html", save, lambda s: s.reports_absences)


# The pharmacy sale form --------------------------------------------------------------------------
def _items_from(post) -> list[dict]:
    rows = []
    for product, quantity in zip(post.getlist("product"), post.getlist("quantity"), strict=False):
        if product:
            rows.append({"product": product, "quantity": quantity or 1})
    return rows


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@permission_required("sentinels.add_sentinelreport", raise_exception=True)
def sale(request, pk):
    sentinel = _reportable(request, pk)
    if not sentinel.is_pharmacy:
        raise PermissionDenied
    products = list(DrugProduct.objects.filter(is_active=True).order_by("drug_class", "name"))
    form = SaleForm(request.POST or None, initial={"client_key": uuid.uuid4().hex})
    items = _items_from(request.POST) if request.method == "POST" else []
    if request.method == "POST" and form.is_valid():
        data = {**form.cleaned_data, "items": items, "sold_at": request.POST.get("sold_at") or None}
        try:
            purchase, created = services.record_purchase(request.user, sentinel, data, request=request)
        except ValidationError as exc:
            if _wants_json(request):
                return JsonResponse({"code": "invalid", "message": _first_error(exc)}, status=400)
            _apply_errors(form, exc)
        else:
            if _wants_json(request):
                return JsonResponse({"id": purchase.pk, "duplicate": not created,
                                     "buyer_verified": purchase.buyer_verified}, status=201 if created else 200)
            if not created:
                messages.info(request, _("该笔登记已保存过（重复提交），未重复登记。"))
            elif purchase.buyer_verified:
                messages.success(request, _("已登记 %(name)s 购药，已通知其所在网格督促 %(h)s 小时内核酸检测。") % {
                    "name": purchase.masked_name, "h": services.test_hours()})
            else:
                messages.warning(request, _("已登记 %(name)s 购药。身份证号码无效，已作为“未核验购药人”交辖区核实。") % {
                    "name": purchase.masked_name})
            return redirect("sentinels:sale", pk=sentinel.pk)
    elif request.method == "POST" and _wants_json(request):
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return JsonResponse({"code": "invalid", "message": errors[0] if errors else _("提交的内容有误。")}, status=400)
    recent = list(services.purchases_for(request.user).filter(sentinel=sentinel, day=timezone.localdate())[:10])
    groups = [(label, [p for p in products if p.drug_class == value]) for value, label in DrugClass.choices]
    return render(request, "sentinels/sale.html", {
        "sentinel": sentinel, "form": form, "groups": groups, "items": items or [{"product": "", "quantity": 1}],
        "recent": recent, "hours": services.test_hours(),
    })


# Purchases ---------------------------------------------------------------------------------------
@permission_required("sentinels.view_drugpurchase", raise_exception=True)
def purchases(request):
    user = request.user
    rows = services.purchases_for(user).select_related("sentinel", "area")
    status = request.GET.get("status", "")
    now = timezone.now()
    if status == "untested":
        rows = rows.filter(tested_at__isnull=True)
    elif status == "overdue":
        rows = rows.filter(tested_at__isnull=True, test_due_at__lt=now)
    elif status == "unverified":
        rows = rows.filter(buyer_verified=False)
    try:
        since = date.fromisoformat(request.GET.get("since", ""))
    except ValueError:
        since = timezone.localdate() - timedelta(days=6)
    rows = rows.filter(day__gte=since)
    page = paginate(request, rows.order_by("-created_at", "-id"))
    return render(request, "sentinels/purchases.html", {"page": page, "status": status, "since": since, "now": now})


@permission_required("sentinels.view_drugpurchase", raise_exception=True)
def purchase(request, pk):
    row = get_object_or_404(services.purchases_for(request.user).select_related("sentinel", "area", "task", "person"),
                            pk=pk)
    record_event(request.user, AuditAction.VIEW, row, request=request)
    symptoms = "、".join(str(BuyerSymptom(s).label) for s in row.symptoms if s in BuyerSymptom.values)
    return render(request, "sentinels/purchase.html", {"purchase": row, "now": timezone.now(), "symptoms": symptoms})
