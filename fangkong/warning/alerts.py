"""Signals → alerts: fixed-threshold rules, statistical alarms, the alert lifecycle and its clock.

Every ``raise_signal`` calls ``on_signal`` in the same call: the active rules
(cached per process for RULE_CACHE_SECONDS) that name the signal's kind either
attach it to an open alert of the same rule and township within the rule's
window or, once the threshold is reached, raise a new alert. A signal kind no
rule names costs no query. Statistical alarms come in through
``raise_detector_alert`` (one per detector, township and day).

The lifecycle is new → verified (true signal) | false_alarm (with a reason) →
responded (tasks dispatched) → closed; every step takes the acting user, runs
in a transaction and is audited. HQ keeps the rules (``create_rule``,
``update_rule``) and the detectors (``update_detector``), audited the same way.
"""

import math
import re
import statistics
import time
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import diff, record_event
from fangkong.core.scope import in_scope, prefix_q
from fangkong.tasks.services import OFFICER_ROLE_FOR_LEVEL, create_task

from . import detectors
from .choices import (
    GRADE_BY_RANK,
    GRADE_RANK,
    OPEN_ALERT_STATUSES,
    AlertGrade,
    AlertSource,
    AlertStatus,
    ResponseAction,
    SignalKind,
)
from .models import Alert, AlertRule, DetectorConfig, Signal

RULE_CACHE_SECONDS = 30
CIDARS_MEDIAN_RESPONSE_HOURS = 1.1
CLOCK_DAYS = 30
MAX_RULE_MEMBERS = 500

_rule_cache: dict = {"at": 0.0, "rules": None}


# Rules ------------------------------------------------------------------------------------------
def clear_rule_cache() -> None:
    _rule_cache["rules"] = None


def active_rules() -> list[AlertRule]:
    now = time.monotonic()
    if _rule_cache["rules"] is None or now - _rule_cache["at"] > RULE_CACHE_SECONDS:
        _rule_cache["rules"] = list(AlertRule.objects.filter(is_active=True).order_by("code"))
        _rule_cache["at"] = now
    return _rule_cache["rules"]


def rule_matches(rule: AlertRule, signal: Signal) -> bool:
    if signal.kind not in (rule.signal_kinds or []):
        return False
    details = signal.details or {}
    return all(details.get(key) == value for key, value in (rule.match_details or {}).items())


def rule_grade(rule: AlertRule, size: int) -> str:
    """The rule's grade, one step higher for each multiple of its escalation size reached."""
    rank = GRADE_RANK[rule.grade]
    if rule.escalate_size:
        rank += size // rule.escalate_size
    return GRADE_BY_RANK[min(rank, GRADE_RANK[AlertGrade.RED])]


def _higher(a: str, b: str) -> str:
    return a if GRADE_RANK[a] >= GRADE_RANK[b] else b


def _township(area: Area) -> Area:
    """The township holding AREA, in one query at most (its code's first 9 digits)."""
    if area.level in (AreaLevel.COUNTY, AreaLevel.TOWNSHIP):
        return area
    return Area.objects.filter(level=AreaLevel.TOWNSHIP, prefix=area.code[:9]).first() or area


def county_of(area: Area) -> Area:
    if area.level == AreaLevel.COUNTY:
        return area
    return Area.objects.filter(level=AreaLevel.COUNTY, prefix=area.code[:6]).first() or area


def on_signal(signal: Signal) -> list[Alert]:
    """Match the active rules against a just-saved signal: attach it to an open alert or raise one."""
    rules = [rule for rule in active_rules() if rule_matches(rule, signal)]
    if not rules:
        return []
    township = _township(signal.area)
    alerts = []
    for rule in rules:
        alert = _apply_rule(rule, signal, township)
        if alert is not None:
            alerts.append(alert)
    return alerts


def on_signals(signals: list[Signal]) -> list[Alert]:
    """on_signal for a batch (a daily job's): one rule application per rule and township, the rest attached."""
    rules = active_rules()
    groups: dict[tuple[int, str], list[Signal]] = defaultdict(list)
    for signal in signals:
        for rule in rules:
            if rule_matches(rule, signal):
                groups[(rule.pk, signal.area_id[:9])].append(signal)
    if not groups:
        return []
    by_pk = {rule.pk: rule for rule in rules}
    townships = {a.code[:9]: a for a in Area.objects.filter(level=AreaLevel.TOWNSHIP,
                                                          code__in={prefix + "000" for _pk, prefix in groups})}
    raised = []
    for (rule_pk, prefix), members in groups.items():
        members.sort(key=lambda s: (s.occurred_at, s.pk))
        rule, last = by_pk[rule_pk], members[-1]
        township = townships.get(prefix) or _township(last.area)
        alert = _apply_rule(rule, last, township)
        if alert is None:
            continue
        attached = set(alert.signals.filter(pk__in=[m.pk for m in members]).values_list("pk", flat=True))
        rest = [m for m in members if m.pk not in attached]
        if rest:
            alert.signals.add(*rest)
            alert.size += len(rest)
            alert.grade = _higher(alert.grade, rule_grade(rule, alert.size))
            alert.first_signal_at = min(alert.first_signal_at, rest[0].occurred_at)
            alert.title = _rule_title(rule, township, alert.size)[:200]
            alert.save(update_fields=["size", "grade", "first_signal_at", "title"])
        raised.append(alert)
    return raised


def _rule_title(rule: AlertRule, township: Area, size: int) -> str:
    return _("%(rule)s：%(area)s（%(n)d 条信号）") % {"rule": rule.name, "area": township.name, "n": size}


# Inside the caller's transaction (the row lock needs one) and no savepoint of its own: both callers hold one.
@transaction.atomic(savepoint=False)
def _apply_rule(rule: AlertRule, signal: Signal, township: Area) -> Alert | None:
    since = signal.occurred_at - timedelta(minutes=rule.window_minutes)
    alert = (Alert.objects.select_for_update()
             .filter(rule=rule, area=township, status__in=OPEN_ALERT_STATUSES, last_signal_at__gte=since)
             .order_by("-raised_at", "-id").first())
    if alert is not None:
        # The signal is new, so add() would only look for a link that cannot be there: one insert instead.
        Alert.signals.through.objects.create(alert=alert, signal=signal)
        before = {"size": alert.size, "grade": alert.grade}
        alert.size += 1
        alert.grade = _higher(alert.grade, rule_grade(rule, alert.size))
        alert.last_signal_at = max(alert.last_signal_at, signal.occurred_at)
        alert.first_signal_at = min(alert.first_signal_at, signal.occurred_at)
        alert.title = _rule_title(rule, township, alert.size)[:200]
        alert.save(update_fields=["size", "grade", "last_signal_at", "first_signal_at", "title"])
        record_event(None, AuditAction.UPDATE, alert, changes=diff(before, {"size": alert.size, "grade": alert.grade}),
                     reason=_("信号 %(id)s 并入预警") % {"id": signal.pk})
        return alert
    if rule.threshold <= 1:
        members = [signal]
    else:
        members = list(Signal.objects.filter(prefix_q("area_id", township.prefix), kind__in=rule.signal_kinds,
                                             occurred_at__gte=since, occurred_at__lte=signal.occurred_at)
                       .exclude(alerts__rule=rule).order_by("occurred_at", "id")[:MAX_RULE_MEMBERS])
        members = [member for member in members if rule_matches(rule, member)]
        if signal not in members:
            members.append(signal)
        if len(members) < rule.threshold:
            return None
    size = len(members)
    alert = Alert.objects.create(
        area=township, source=AlertSource.RULE, rule=rule, signal_type=signal.kind, grade=rule_grade(rule, size),
        title=_rule_title(rule, township, size)[:200], size=size,
        first_signal_at=min(s.occurred_at for s in members), last_signal_at=max(s.occurred_at for s in members),
        details={"rule": rule.code, "threshold": rule.threshold, "window_minutes": rule.window_minutes,
                 "kinds": list(rule.signal_kinds)},
    )
    alert.signals.add(*members)
    record_event(None, AuditAction.CREATE, alert, reason=_("规则 %(code)s 触发") % {"code": rule.code})
    return alert


# Statistical alarms ------------------------------------------------------------------------------
def detector_grade(value: float, upper: float | None) -> str:
    """Yellow above the threshold; orange at twice the threshold or more."""
    if upper is not None and upper > 0 and value >= 2 * upper:
        return AlertGrade.ORANGE
    return AlertGrade.YELLOW


def raise_detector_alert(detector: DetectorConfig, township: Area, day: date, value, upper, details=None,
                         ) -> tuple[Alert, bool]:
    """An alert for a statistical alarm: one per detector, township and day (a repeat returns the first)."""
    existing = Alert.objects.filter(source=AlertSource.DETECTOR, detector=detector, area=township, day=day).first()
    if existing is not None:
        return existing, False
    now = timezone.now()
    end_of_day = timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()))
    upper_value = None if upper is None or (isinstance(upper, float) and math.isnan(upper)) else float(upper)
    title = _("%(label)s异常：%(area)s %(day)s 计 %(value)s（阈值 %(upper)s）") % {
        "label": detector.label, "area": township.name, "day": day.strftime("%m-%d"), "value": _number(value),
        "upper": "—" if upper_value is None else f"{upper_value:.1f}"}
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                area=township, source=AlertSource.DETECTOR, detector=detector, signal_type=detector.signal_type,
                day=day, grade=detector_grade(float(value), upper_value), title=title[:200],
                size=max(int(round(float(value))), 0), first_signal_at=min(now, end_of_day), last_signal_at=min(now, end_of_day),
                raised_at=now,
                details={"method": detector.method, "value": float(value), "upper": upper_value,
                         "day": day.isoformat(), **(details or {})},
            )
            record_event(None, AuditAction.CREATE, alert, reason=_("检测方法 %(method)s 报警") % {
                "method": detector.method})
    except IntegrityError:
        return Alert.objects.get(source=AlertSource.DETECTOR, detector=detector, area=township, day=day), False
    return alert, True


def _number(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.1f}"


# The lifecycle -----------------------------------------------------------------------------------
def _require(user, perm: str, alert: Alert) -> None:
    if not user.has_perm(perm) or not in_scope(alert.area_id, user.scope_prefix):
        raise PermissionDenied


def _snapshot(alert: Alert) -> dict:
    return {"status": alert.status, "verdict": alert.verdict, "verify_reason": alert.verify_reason,
            "response_note": alert.response_note, "close_note": alert.close_note}


def verify_alert(user, alert: Alert, verdict: bool, reason: str = "", request=None) -> Alert:
    """An epidemiologist's check: a true signal, or a false alarm (which needs a reason)."""
    _require(user, "warning.verify_alert", alert)
    reason = (reason or "").strip()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status != AlertStatus.NEW:
            raise ValidationError(_("该预警已核实（当前状态：%(status)s），不能重复核实。") % {
                "status": alert.get_status_display()})
        if not verdict and not reason:
            raise ValidationError({"reason": [_("判定为误报时必须填写理由。")]})
        before = _snapshot(alert)
        alert.status = AlertStatus.VERIFIED if verdict else AlertStatus.FALSE_ALARM
        alert.verdict = bool(verdict)
        alert.verify_reason = reason
        alert.verified_at = timezone.now()
        alert.verified_by = user
        alert.save(update_fields=["status", "verdict", "verify_reason", "verified_at", "verified_by"])
        record_event(user, AuditAction.UPDATE, alert, changes=diff(before, _snapshot(alert)), reason=reason,
                     request=request)
    return alert


# Who does each response action, and by when (hours).
ACTION_HOURS = {ResponseAction.TEST_BUYERS: 24, ResponseAction.VISIT_SENTINEL: 4,
                ResponseAction.START_TRACING: 4, ResponseAction.CUSTOM: 24}
ACTION_TASK_KIND = {value: f"alert_{value}" for value in ResponseAction.values}
EPIDEMIOLOGIST_ACTIONS = (ResponseAction.VISIT_SENTINEL, ResponseAction.START_TRACING)


def _action_route(kind: str, area: Area, role: str | None) -> tuple[Area, str]:
    """The inbox an action's task goes to: epidemiologists sit at the county, the rest with the area's officer."""
    if role:
        return area, role
    if kind in EPIDEMIOLOGIST_ACTIONS:
        return county_of(area), Role.EPIDEMIOLOGIST
    return area, OFFICER_ROLE_FOR_LEVEL.get(area.level, Role.TOWNSHIP_OFFICER)


def _clean_actions(user, alert: Alert, actions) -> list[dict]:
    if not actions:
        raise ValidationError({"actions": [_("请至少选择一项处置措施。")]})
    cleaned = []
    for index, action in enumerate(actions, start=1):
        if not isinstance(action, dict):
            raise ValidationError({"actions": [_("第 %(n)d 项处置措施格式不正确。") % {"n": index}]})
        kind = action.get("kind")
        if kind not in ResponseAction.values:
            raise ValidationError({"actions": [_("第 %(n)d 项：不认识的处置措施“%(kind)s”。") % {
                "n": index, "kind": kind}]})
        code = (action.get("area") or "").strip() if isinstance(action.get("area"), str) else ""
        area = alert.area
        if code:
            area = Area.objects.filter(code=code).first()
            if area is None or not in_scope(area.code, user.scope_prefix):
                raise ValidationError({"actions": [_("第 %(n)d 项：处置区域 %(code)s 不存在或不在您的管辖范围内。") % {
                    "n": index, "code": code}]})
        note = str(action.get("note") or "").strip()[:1000]
        if kind == ResponseAction.CUSTOM and not note:
            raise ValidationError({"actions": [_("第 %(n)d 项：其他处置须写明内容。") % {"n": index}]})
        role = action.get("role") or None
        if role is not None and role not in Role.values:
            raise ValidationError({"actions": [_("第 %(n)d 项：不认识的责任角色。") % {"n": index}]})
        hours = action.get("hours") or ACTION_HOURS[kind]
        if not isinstance(hours, int) or not 1 <= hours <= 168:
            raise ValidationError({"actions": [_("第 %(n)d 项：时限应为 1–168 小时。") % {"n": index}]})
        cleaned.append({"kind": kind, "area": area, "note": note, "role": role, "hours": hours})
    return cleaned


def respond_alert(user, alert: Alert, actions: list[dict], note: str = "", request=None) -> list:
    """Dispatch the response: one Task per action, linked to the alert. A responded alert may get more."""
    _require(user, "warning.respond_alert", alert)
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("area").get(pk=alert.pk)
        if alert.status == AlertStatus.NEW:
            raise ValidationError(_("预警尚未核实，请先核实后再处置。"))
        if alert.status == AlertStatus.FALSE_ALARM:
            raise ValidationError(_("该预警已判定为误报，不能处置。"))
        if alert.status == AlertStatus.CLOSED:
            raise ValidationError(_("该预警已关闭，不能处置。"))
        cleaned = _clean_actions(user, alert, actions)
        before = _snapshot(alert)
        now = timezone.now()
        tasks = []
        for action in cleaned:
            area, role = _action_route(action["kind"], action["area"], action["role"])
            label = ResponseAction(action["kind"]).label
            tasks.append(create_task(
                kind=ACTION_TASK_KIND[action["kind"]], area=area, role=role, subject=alert, created_by=user,
                deadline=now + timedelta(hours=action["hours"]),
                title=(_("%(action)s：%(area)s") % {"action": label, "area": action["area"].name})[:200],
                description=_("预警“%(alert)s”的处置任务（%(hours)d 小时内完成）。%(note)s") % {
                    "alert": alert.title, "hours": action["hours"], "note": action["note"]},
            ))
        alert.tasks.add(*tasks)
        alert.status = AlertStatus.RESPONDED
        alert.responded_at = alert.responded_at or now
        alert.responded_by = alert.responded_by or user
        note = (note or "").strip()
        if note:
            alert.response_note = f"{alert.response_note}\n{note}".strip()
        alert.save(update_fields=["status", "responded_at", "responded_by", "response_note"])
        changes = diff(before, _snapshot(alert))
        changes["tasks"] = [None, [t.pk for t in tasks]]
        record_event(user, AuditAction.UPDATE, alert, changes=changes, reason=note, request=request)
    return tasks


def close_alert(user, alert: Alert, note: str = "", request=None) -> Alert:
    _require(user, "warning.close_alert", alert)
    note = (note or "").strip()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status == AlertStatus.NEW:
            raise ValidationError(_("未核实的预警不能关闭，请先核实。"))
        if alert.status == AlertStatus.VERIFIED:
            raise ValidationError(_("已核实为真实信号的预警须先处置，才能关闭。"))
        if alert.status == AlertStatus.CLOSED:
            raise ValidationError(_("该预警已关闭。"))
        before = _snapshot(alert)
        alert.status = AlertStatus.CLOSED
        alert.closed_at = timezone.now()
        alert.closed_by = user
        alert.close_note = note
        alert.save(update_fields=["status", "closed_at", "closed_by", "close_note"])
        record_event(user, AuditAction.UPDATE, alert, changes=diff(before, _snapshot(alert)), reason=note,
                     request=request)
    return alert


# The clock ---------------------------------------------------------------------------------------
def _median_hours(values: list[float]) -> float | None:
    return round(statistics.median(values) / 3600, 2) if values else None


def response_clock(alerts, now=None, days: int = CLOCK_DAYS) -> dict:
    """Median signal→alert, alert→verification, verification→response and alert→response over DAYS.

    ALERTS is a (scoped) queryset. CIDARS reports a national median response of 1.1 h
    (the time from a signal to the county CDC's check); ours compares with alert→verification.
    """
    now = now or timezone.now()
    rows = alerts.filter(raised_at__gte=now - timedelta(days=days)).values_list(
        "first_signal_at", "raised_at", "verified_at", "responded_at")
    to_alert, to_verify, to_respond, total = [], [], [], []
    for first, raised, verified, responded in rows:
        to_alert.append(max((raised - first).total_seconds(), 0))
        if verified:
            to_verify.append(max((verified - raised).total_seconds(), 0))
            if responded:
                to_respond.append(max((responded - verified).total_seconds(), 0))
        if responded:
            total.append(max((responded - raised).total_seconds(), 0))
    return {
        "days": days, "alerts": len(to_alert), "cidars_hours": CIDARS_MEDIAN_RESPONSE_HOURS,
        "signal_to_alert": {"hours": _median_hours(to_alert), "n": len(to_alert)},
        "alert_to_verification": {"hours": _median_hours(to_verify), "n": len(to_verify)},
        "verification_to_response": {"hours": _median_hours(to_respond), "n": len(to_respond)},
        "alert_to_response": {"hours": _median_hours(total), "n": len(total)},
    }


# Detector configuration --------------------------------------------------------------------------
def detector_methods() -> dict[str, str]:
    return {name: str(detectors.METHOD_LABELS.get(name, name)) for name in detectors.DETECTORS}


def default_params(method: str) -> dict:
    return dict(detectors.DEFAULT_PARAMS.get(method, {}))


# Methods run on 7-day sums of the daily series (each week ending on the day evaluated).
WEEKLY_METHODS = ("farrington",)


def method_params(method: str, baseline_days: int | None, params: dict | None = None) -> dict:
    """The parameters a method runs with: the configured ones, the baseline (in days) mapped onto the
    method's own baseline parameter unless set explicitly (days for EARS/CUSUM, years for MPM/Farrington)."""
    result = dict(params or {})
    if not baseline_days:
        return result
    defaults = default_params(method)
    if "baseline" in defaults:
        result.setdefault("baseline", int(baseline_days))
    elif method == "mpm":
        result.setdefault("years", max(1, int(baseline_days) // 365))
    elif method in ("farrington", "glm_cusum"):
        # At least 2 years: with b = 1 and the 26 most recent weeks left out, the Noufaily reference
        # window is empty at every point. Shorter history falls back to EARS C1, which says so.
        result.setdefault("b", max(2, int(baseline_days) // 365))
    return result


def min_history_days(method: str, baseline_days: int | None = None, params: dict | None = None) -> int:
    """Days of history METHOD needs (with this baseline and these params) to evaluate the last day."""
    if method not in detectors.DETECTORS:
        return 0
    points = detectors.min_history(method, **method_params(method, baseline_days, params))
    return int(points) * (7 if method in WEEKLY_METHODS else 1)


MAX_BASELINE_DAYS = 3660
# Bounds for the parameters that have a meaning we can check whatever the method.
PARAM_BOUNDS = {"alpha": (0.0, 1.0), "percentile": (0.0, 100.0), "k": (0.0, 100.0), "h": (0.0, 1000.0),
                "threshold": (0.0, 1000.0), "min_sigma": (0.0, 1000.0), "baseline": (1, MAX_BASELINE_DAYS),
                "years": (1, 10), "b": (1, 10), "min_years": (1, 10)}


def clean_detector(method: str, params, baseline_days) -> dict:
    """Validate a detector configuration; returns the cleaned params."""
    errors: dict[str, list[str]] = {}
    methods = detector_methods()
    if method not in methods:
        errors["method"] = [_("不认识的检测方法“%(method)s”，可选：%(names)s。") % {
            "method": method, "names": "、".join(methods)}]
    if not isinstance(params, dict):
        errors["params"] = [_("参数应为 JSON 对象。")]
        params = {}
    known = default_params(method) if method in methods else {}
    for key, value in params.items():
        if known and key not in known:
            errors.setdefault("params", []).append(_("方法 %(method)s 没有参数“%(key)s”，可用：%(keys)s。") % {
                "method": method, "key": key, "keys": "、".join(known)})
            continue
        problem = _param_problem(key, value, known.get(key))
        if problem:
            errors.setdefault("params", []).append(problem)
    if not isinstance(baseline_days, int) or isinstance(baseline_days, bool) or not 7 <= baseline_days <= MAX_BASELINE_DAYS:
        errors["baseline_days"] = [_("基线天数应为 7–%(max)d 之间的整数。") % {"max": MAX_BASELINE_DAYS}]
    if errors:
        raise ValidationError(errors)
    return dict(params)


def _param_problem(key: str, value, default) -> str | None:
    """Why VALUE is not a valid setting for parameter KEY (whose default is DEFAULT), or None."""
    if isinstance(default, bool) or isinstance(value, bool):
        return None if isinstance(value, bool) and (default is None or isinstance(default, bool)) else (
            _("参数“%(key)s”应为 true 或 false。") % {"key": key})
    if isinstance(default, str) or (default is None and isinstance(value, str)):
        return None if isinstance(value, str) and 0 < len(value) <= 40 else _("参数“%(key)s”应为文本。") % {"key": key}
    if isinstance(default, list | tuple):
        if (not isinstance(value, list) or len(value) != len(default)
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            return _("参数“%(key)s”应为 %(n)d 个数值的列表。") % {"key": key, "n": len(default)}
        return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return _("参数“%(key)s”应为数值。") % {"key": key}
    if isinstance(default, int) and not isinstance(value, int) and not float(value).is_integer():
        return _("参数“%(key)s”应为整数。") % {"key": key}
    low, high = PARAM_BOUNDS.get(key, (0.0, 100000.0))
    inside = low < value < high if key == "alpha" else low <= value <= high
    if not inside:
        return _("参数“%(key)s”超出范围（%(lo)s–%(hi)s）。") % {"key": key, "lo": low, "hi": high}
    return None


DETECTOR_FIELDS = ("method", "params", "baseline_days", "is_active", "explanation")


def update_detector(user, config: DetectorConfig, data: dict, request=None) -> DetectorConfig:
    """HQ changes a detector's method, parameters, baseline or explanation (audited)."""
    if not user.has_perm("warning.change_detectorconfig"):
        raise PermissionDenied
    method = data.get("method", config.method)
    baseline_days = data.get("baseline_days", config.baseline_days)
    params = clean_detector(method, data.get("params", config.params if method == config.method else {}),
                            baseline_days)
    with transaction.atomic():
        config = DetectorConfig.objects.select_for_update().get(pk=config.pk)
        before = {field: getattr(config, field) for field in DETECTOR_FIELDS}
        config.method, config.params, config.baseline_days = method, params, baseline_days
        if "is_active" in data and data["is_active"] is not None:
            config.is_active = bool(data["is_active"])
        if data.get("explanation") is not None:
            config.explanation = str(data["explanation"])[:5000]
        config.updated_by = user
        config.save()
        after = {field: getattr(config, field) for field in DETECTOR_FIELDS}
        record_event(user, AuditAction.UPDATE, config, changes=diff(before, after), request=request)
    return config


# Rule configuration ------------------------------------------------------------------------------
MAX_WINDOW_MINUTES = 10080  # 7 days
MAX_ESCALATE_SIZE = 10000
MAX_MATCH_KEYS = 10
RULE_FIELDS = ("name", "signal_kinds", "match_details", "threshold", "window_minutes", "grade", "escalate_size",
               "description", "is_active")
RULE_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DETAIL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


def _whole(value, low: int, high: int) -> int | None:
    """VALUE as an int within LOW..HIGH, or None (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _match_problem(details) -> str | None:
    if not isinstance(details, dict):
        return _("附加条件应为键值对象，如 {\"from_risk_area\": true}。")
    if len(details) > MAX_MATCH_KEYS:
        return _("附加条件至多 %(n)d 项。") % {"n": MAX_MATCH_KEYS}
    for key, value in details.items():
        if not isinstance(key, str) or not DETAIL_KEY.match(key):
            return _("附加条件的键“%(key)s”只能由英文字母、数字和下划线组成（至多 40 个字符）。") % {"key": key}
        scalar = value is None or isinstance(value, bool | int | str) or (
            isinstance(value, float) and math.isfinite(value))
        if not scalar or (isinstance(value, str) and len(value) > 100):
            return _("附加条件“%(key)s”的值应为文本（至多 100 字）、数字、true/false 或 null。") % {"key": key}
    return None


def clean_rule(data: dict, kept_kinds=()) -> dict:
    """Validate a rule's settings (all of RULE_FIELDS); returns them cleaned or raises ValidationError by field.

    Signal kinds must be known ones (SignalKind) or KEPT_KINDS, the kinds the rule already names (raised by an
    app whose kind is not in the list yet). A threshold above MAX_RULE_MEMBERS could never be reached.
    """
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [_("请填写规则名称（至多 100 字）。")]
    kinds = data.get("signal_kinds")
    known = set(SignalKind.values) | set(kept_kinds)
    if not isinstance(kinds, list | tuple) or not kinds:
        errors["signal_kinds"] = [_("请至少选择一种信号类型。")]
        kinds = []
    else:
        unknown = [kind for kind in kinds if kind not in known]
        if unknown:
            errors["signal_kinds"] = [_("不认识的信号类型“%(kind)s”。") % {"kind": unknown[0]}]
        kinds = list(dict.fromkeys(kinds))
    details = data.get("match_details") or {}
    problem = _match_problem(details)
    if problem:
        errors["match_details"] = [problem]
    threshold = _whole(data.get("threshold"), 1, MAX_RULE_MEMBERS)
    if threshold is None:
        errors["threshold"] = [_("阈值应为 1–%(max)d 之间的整数。") % {"max": MAX_RULE_MEMBERS}]
    window = _whole(data.get("window_minutes"), 1, MAX_WINDOW_MINUTES)
    if window is None:
        errors["window_minutes"] = [_("时间窗应为 1–%(max)d 分钟（7 天）之间的整数。") % {"max": MAX_WINDOW_MINUTES}]
    grade = data.get("grade")
    if grade not in AlertGrade.values:
        errors["grade"] = [_("请选择预警级别：%(grades)s。") % {"grades": "、".join(AlertGrade.values)}]
    escalate = _whole(data.get("escalate_size"), 0, MAX_ESCALATE_SIZE)
    if escalate is None:
        errors["escalate_size"] = [_("升级规模应为 0–%(max)d 之间的整数（0 表示不升级）。") % {"max": MAX_ESCALATE_SIZE}]
    description = str(data.get("description") or "").strip()
    if len(description) > 2000:
        errors["description"] = [_("说明至多 2000 字。")]
    if not isinstance(data.get("is_active"), bool):
        errors["is_active"] = [_("启用应为 true 或 false。")]
    if errors:
        raise ValidationError(errors)
    return {"name": name, "signal_kinds": kinds, "match_details": dict(details), "threshold": threshold,
            "window_minutes": window, "grade": str(grade), "escalate_size": escalate, "description": description,
            "is_active": data["is_active"]}


def _rule_values(rule: AlertRule) -> dict:
    return {field: getattr(rule, field) for field in RULE_FIELDS}


def update_rule(user, rule: AlertRule, data: dict, request=None) -> AlertRule:
    """HQ changes a fixed-threshold rule (audited); it takes effect at once. Fields missing from DATA keep their values."""
    if not user.has_perm("warning.change_alertrule"):
        raise PermissionDenied
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
        before = _rule_values(rule)
        cleaned = clean_rule({**before, **{k: v for k, v in data.items() if k in RULE_FIELDS}},
                             kept_kinds=before["signal_kinds"])
        for field, value in cleaned.items():
            setattr(rule, field, value)
        rule.updated_by = user
        rule.save()
        record_event(user, AuditAction.UPDATE, rule, changes=diff(before, _rule_values(rule)), request=request)
    return rule


def create_rule(user, data: dict, request=None) -> AlertRule:
    """HQ adds a fixed-threshold rule (audited); it applies to signals raised from now on."""
    if not user.has_perm("warning.add_alertrule"):
        raise PermissionDenied
    code = str(data.get("code") or "").strip()
    errors = {}
    if not RULE_CODE.match(code):
        errors["code"] = [_("代码只能由小写英文字母、数字、下划线和连字符组成（至多 40 个字符）。")]
    try:
        cleaned = clean_rule({"match_details": {}, "threshold": 1, "window_minutes": 1440,
                              "grade": AlertGrade.YELLOW, "escalate_size": 0, "is_active": True, **data})
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if AlertRule.objects.filter(code=code).exists():
            raise ValidationError({"code": [_("已有代码为“%(code)s”的规则。") % {"code": code}]})
        rule = AlertRule.objects.create(code=code, updated_by=user, **cleaned)
        record_event(user, AuditAction.CREATE, rule, request=request,
                     changes={"code": [None, code], **diff({}, _rule_values(rule))})
    return rule


# Reading signals: names only for those who may see them ------------------------------------------
def may_see_names(user) -> bool:
    return user.has_perm("warning.reveal_signal")


def signal_title(signal: Signal, reveal: bool) -> str:
    """The signal's title with the person's name masked unless REVEAL (the raisers put names in some titles)."""
    title = signal.title
    person = signal.person if signal.person_id else None
    if not reveal and person is not None and person.name and person.name in title:
        from fangkong.people.identity import mask_name

        title = title.replace(person.name, mask_name(person.name))
    return title


def signal_person_name(signal: Signal, reveal: bool) -> str | None:
    if not signal.person_id or signal.person is None:
        return None
    if reveal:
        return signal.person.name
    from fangkong.people.identity import mask_name

    return mask_name(signal.person.name)
