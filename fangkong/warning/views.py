"""The early-warning pages: the alert queue with the response clock, one alert, detectors, rules, signals.

Every read starts from a restricted queryset (out of scope is a 404); every
write is a POST to warning.alerts. Names in signals are shown in full only to
roles with warning.reveal_signal (epidemiologists, HQ); others see them masked.
"""

import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.pagination import paginate
from fangkong.core.scope import prefix_q

from . import alerts, services
from .choices import (
    GRADE_RANK,
    METHOD_HELP,
    THRESHOLD_HELP,
    AlertGrade,
    AlertSource,
    AlertStatus,
    SignalKind,
)
from .forms import CloseForm, DetectorForm, RespondForm, RuleForm, VerifyForm, match_details_text
from .models import Alert, AlertRule, DetectorConfig, Signal

STATUS_ORDER = Case(*[When(status=s, then=Value(i)) for i, s in enumerate(
    [AlertStatus.NEW, AlertStatus.VERIFIED, AlertStatus.RESPONDED, AlertStatus.FALSE_ALARM, AlertStatus.CLOSED])],
    output_field=IntegerField())
GRADE_ORDER = Case(*[When(grade=g, then=Value(-rank)) for g, rank in GRADE_RANK.items()], output_field=IntegerField())


def _alerts(user):
    return Alert.objects.restrict(user, "view").select_related("area")


def _clock_rows(clock: dict) -> list[dict]:
    labels = [("signal_to_alert", _("信号 → 预警")), ("alert_to_verification", _("预警 → 核实")),
              ("verification_to_response", _("核实 → 处置")), ("alert_to_response", _("预警 → 处置（合计）"))]
    rows = []
    for key, label in labels:
        hours = clock[key]["hours"]
        if hours is None:
            shown = "—"
        elif hours < 1:
            shown = _("%(m)s 分钟") % {"m": round(hours * 60, 1)}
        else:
            shown = _("%(h)s 小时") % {"h": hours}
        rows.append({"key": key, "label": label, "shown": shown, "hours": hours, "n": clock[key]["n"]})
    return rows


@permission_required("warning.view_alert", raise_exception=True)
def index(request):
    user = request.user
    rows = _alerts(user).select_related("rule", "detector")
    counts = dict(rows.order_by().values_list("status").annotate(n=Count("id")))
    status = request.GET.get("status", "")
    grade = request.GET.get("grade", "")
    source = request.GET.get("source", "")
    if status in AlertStatus.values:
        rows = rows.filter(status=status)
    if grade in AlertGrade.values:
        rows = rows.filter(grade=grade)
    if source in AlertSource.values:
        rows = rows.filter(source=source)
    rows = rows.annotate(status_order=STATUS_ORDER, grade_order=GRADE_ORDER).order_by(
        "status_order", "grade_order", "-raised_at", "-id")
    clock = alerts.response_clock(_alerts(user))
    return render(request, "warning/index.html", {
        "page_obj": paginate(request, rows), "status": status, "grade": grade, "source": source,
        "statuses": [(value, label, counts.get(value, 0)) for value, label in AlertStatus.choices],
        "grades": AlertGrade.choices, "sources": AlertSource.choices, "total": sum(counts.values()),
        "clock": clock, "clock_rows": _clock_rows(clock),
        "can_configure": user.has_perm("warning.view_detectorconfig"),
        "can_see_rules": user.has_perm("warning.view_alertrule"),
        "can_see_signals": user.has_perm("warning.view_signal"),
    })


def _get_alert(request, pk) -> Alert:
    if not request.user.has_perm("warning.view_alert"):
        raise PermissionDenied
    return get_object_or_404(_alerts(request.user).select_related("rule", "detector", "verified_by", "responded_by",
                                                                  "closed_by"), pk=pk)


def _detail(request, alert: Alert, verify_form=None, respond_form=None, close_form=None, status=200):
    user = request.user
    reveal = alerts.may_see_names(user)
    signals = list(alert.signals.select_related("person", "area").order_by("occurred_at", "id")[:200])
    for signal in signals:
        signal.shown_title = alerts.signal_title(signal, reveal)
        signal.shown_person = alerts.signal_person_name(signal, reveal)
    series = None
    if alert.source == AlertSource.DETECTOR and alert.detector_id and alert.day:
        full = services.series(alert.area, alert.signal_type, day_to=alert.day, days=14)
        series = {"note": full["note"], "method": full["method"], "rows": list(zip(
            full["days"], full["counts"], full["statistic"], full["upper"], full["alarm"], strict=True))}
    is_new = alert.status == AlertStatus.NEW
    can_verify = is_new and user.has_perm("warning.verify_alert")
    can_respond = alert.status in (AlertStatus.VERIFIED, AlertStatus.RESPONDED) and user.has_perm(
        "warning.respond_alert")
    can_close = alert.status in (AlertStatus.FALSE_ALARM, AlertStatus.RESPONDED) and user.has_perm(
        "warning.close_alert")
    return render(request, "warning/alert.html", {
        "alert": alert, "signals": signals, "series": series, "reveal": reveal,
        "tasks": alert.tasks.select_related("area").order_by("deadline", "id"),
        "verify_form": (verify_form or VerifyForm()) if can_verify else None,
        "respond_form": (respond_form or RespondForm(user=user, alert=alert)) if can_respond else None,
        "close_form": (close_form or CloseForm()) if can_close else None,
        "durations": _durations(alert),
        "cluster": alert.details.get("scan") or (alert.details if alert.details.get("used_method") == "scan" else None),
    }, status=status)


def _durations(alert: Alert) -> list[tuple[str, str]]:
    def fmt(start, end):
        if not start or not end:
            return "—"
        minutes = max((end - start).total_seconds(), 0) / 60
        return _("%(m)d 分钟") % {"m": round(minutes)} if minutes < 60 else _("%(h).1f 小时") % {"h": minutes / 60}

    return [(_("信号 → 预警"), fmt(alert.first_signal_at, alert.raised_at)),
            (_("预警 → 核实"), fmt(alert.raised_at, alert.verified_at)),
            (_("核实 → 处置"), fmt(alert.verified_at, alert.responded_at))]


@permission_required("warning.view_alert", raise_exception=True)
def alert_detail(request, pk):
    return _detail(request, _get_alert(request, pk))


def _errors(exc: ValidationError) -> str:
    return "；".join(exc.messages)


def _form_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@require_POST
@permission_required("warning.verify_alert", raise_exception=True)
def alert_verify(request, pk):
    alert = _get_alert(request, pk)
    form = VerifyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("未能核实，请检查填写内容。"))
        return _detail(request, alert, verify_form=form, status=400)
    try:
        alerts.verify_alert(request.user, alert, form.cleaned_data["verdict"] == "true", form.cleaned_data["reason"],
                            request=request)
    except ValidationError as exc:
        messages.error(request, _("未能核实：%(error)s") % {"error": _errors(exc)})
    else:
        messages.success(request, _("已记录核实结论。"))
    return redirect("warning:alert", pk=alert.pk)


@require_POST
@permission_required("warning.respond_alert", raise_exception=True)
def alert_respond(request, pk):
    alert = _get_alert(request, pk)
    form = RespondForm(request.POST, user=request.user, alert=alert)
    if not form.is_valid():
        messages.error(request, _("未能处置，请检查填写内容。"))
        return _detail(request, alert, respond_form=form, status=400)
    try:
        tasks = alerts.respond_alert(request.user, alert, form.action_list(), form.cleaned_data["note"],
                                     request=request)
    except ValidationError as exc:
        messages.error(request, _("未能处置：%(error)s") % {"error": _errors(exc)})
    else:
        messages.success(request, _("已派发 %(n)d 项处置任务。") % {"n": len(tasks)})
    return redirect("warning:alert", pk=alert.pk)


@require_POST
@permission_required("warning.close_alert", raise_exception=True)
def alert_close(request, pk):
    alert = _get_alert(request, pk)
    form = CloseForm(request.POST)
    form.is_valid()
    try:
        alerts.close_alert(request.user, alert, form.cleaned_data.get("note", ""), request=request)
    except ValidationError as exc:
        messages.error(request, _("未能关闭：%(error)s") % {"error": _errors(exc)})
    else:
        messages.success(request, _("预警已关闭。"))
    return redirect("warning:alert", pk=alert.pk)


# Detectors ---------------------------------------------------------------------------------------
@permission_required("warning.view_detectorconfig", raise_exception=True)
def detectors(request):
    methods = alerts.detector_methods()
    configs = list(DetectorConfig.objects.order_by("id"))
    for config in configs:
        config.method_label = methods.get(config.method, config.method)
        config.min_history = alerts.min_history_days(config.method, config.baseline_days, config.params)
        config.params_shown = json.dumps({**alerts.default_params(config.method), **(config.params or {})},
                                         ensure_ascii=False)
    return render(request, "warning/detectors.html", {
        "configs": configs, "rules": _rule_rows(AlertRule.objects.order_by("code")),
        "can_see_rules": request.user.has_perm("warning.view_alertrule"),
        "method_help": [(methods.get(name, name), text) for name, text in METHOD_HELP.items()],
        "threshold_help": THRESHOLD_HELP, "can_edit": request.user.has_perm("warning.change_detectorconfig"),
    })


@permission_required("warning.change_detectorconfig", raise_exception=True)
def detector_edit(request, pk):
    config = get_object_or_404(DetectorConfig.objects.all(), pk=pk)
    if request.method == "POST":
        form = DetectorForm(request.POST)
        if form.is_valid():
            try:
                alerts.update_detector(request.user, config, form.cleaned_data, request=request)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("已保存“%(label)s”的检测配置。") % {"label": config.label})
                return redirect("warning:detectors")
        messages.error(request, _("未能保存，请检查填写内容。"))
        status = 400
    else:
        form = DetectorForm(initial={"method": config.method, "baseline_days": config.baseline_days,
                                     "is_active": config.is_active, "explanation": config.explanation,
                                     "params": json.dumps(config.params, ensure_ascii=False) if config.params else ""})
        status = 200
    return render(request, "warning/detector_edit.html", {
        "config": config, "form": form, "method_help": METHOD_HELP,
    }, status=status)


# Rules -------------------------------------------------------------------------------------------
def _span(minutes: int) -> str:
    """A rule's window as the rules are worded: up to a day in hours ("24 小时内"), longer whole days in days."""
    if minutes > 1440 and minutes % 1440 == 0:
        return _("%(n)d 天") % {"n": minutes // 1440}
    if minutes % 60 == 0:
        return _("%(n)d 小时") % {"n": minutes // 60}
    return _("%(n)d 分钟") % {"n": minutes}


def _rule_rows(rules) -> list[AlertRule]:
    """RULES with what the pages show: kinds by their Chinese labels, the window and escalation in words."""
    labels = dict(SignalKind.choices)
    rows = list(rules)
    for rule in rows:
        rule.kind_labels = [str(labels.get(kind, kind)) for kind in rule.signal_kinds]
        rule.window_shown = _span(rule.window_minutes)
        rule.escalate_shown = (_("每 %(n)d 条升一级") % {"n": rule.escalate_size} if rule.escalate_size
                               else _("不升级"))
        rule.match_shown = match_details_text(rule.match_details).replace("\n", "，")
    return rows


@permission_required("warning.view_alertrule", raise_exception=True)
def rule_list(request):
    user = request.user
    return render(request, "warning/rules.html", {
        "rules": _rule_rows(AlertRule.objects.select_related("updated_by").order_by("code")),
        "can_edit": user.has_perm("warning.change_alertrule"), "can_add": user.has_perm("warning.add_alertrule"),
    })


def _rule_form_page(request, form, rule=None, status=200):
    return render(request, "warning/rule_edit.html", {"form": form, "rule": rule}, status=status)


@permission_required("warning.change_alertrule", raise_exception=True)
def rule_edit(request, pk):
    rule = get_object_or_404(AlertRule.objects.all(), pk=pk)
    if request.method != "POST":
        return _rule_form_page(request, RuleForm(rule=rule, initial=RuleForm.initial_for(rule)), rule)
    form = RuleForm(request.POST, rule=rule)
    if form.is_valid():
        try:
            alerts.update_rule(request.user, rule, form.cleaned_data, request=request)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("已保存规则“%(name)s”，即时生效。") % {"name": form.cleaned_data["name"]})
            return redirect("warning:rules")
    messages.error(request, _("未能保存，请检查填写内容。"))
    return _rule_form_page(request, form, rule, status=400)


@permission_required("warning.add_alertrule", raise_exception=True)
def rule_new(request):
    if request.method != "POST":
        return _rule_form_page(request, RuleForm(initial={
            "threshold": 1, "window_minutes": 1440, "grade": AlertGrade.YELLOW, "escalate_size": 0,
            "is_active": True}))
    form = RuleForm(request.POST)
    if form.is_valid():
        try:
            rule = alerts.create_rule(request.user, form.cleaned_data, request=request)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("已新建规则“%(name)s”。") % {"name": rule.name})
            return redirect("warning:rules")
    messages.error(request, _("未能保存，请检查填写内容。"))
    return _rule_form_page(request, form, status=400)


# Signals -----------------------------------------------------------------------------------------
@permission_required("warning.view_signal", raise_exception=True)
def signal_list(request):
    user = request.user
    rows = Signal.objects.restrict(user, "view").select_related("person", "area")
    kind = request.GET.get("kind", "")
    since_days = request.GET.get("days", "")
    area = request.GET.get("area", "")
    if kind:
        rows = rows.filter(kind=kind)
    if since_days.isdigit():
        rows = rows.filter(occurred_at__gte=timezone.now() - timedelta(days=int(since_days)))
    if area.isdigit():
        rows = rows.filter(prefix_q("area_id", area))
    page_obj = paginate(request, rows.order_by("-occurred_at", "-id"))
    reveal = alerts.may_see_names(user)
    labels = dict(SignalKind.choices)
    for signal in page_obj:
        signal.shown_title = alerts.signal_title(signal, reveal)
        signal.shown_person = alerts.signal_person_name(signal, reveal)
        signal.kind_label = labels.get(signal.kind, signal.kind)
    return render(request, "warning/signals.html", {
        "page_obj": page_obj, "kind": kind, "days": since_days, "area": area, "reveal": reveal,
        "kinds": SignalKind.choices,
    })
