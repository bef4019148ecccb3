"""Signals, alerts, detector configuration and count series over the API.

GET /signals and /alerts list what lies in the caller's area (names masked
unless the role may read them); POST /alerts/{id}/verify|respond|close walk an
alert through its lifecycle; GET/PUT /detectors read and (HQ) change which
method watches each daily series; GET/POST /alert-rules and PUT
/alert-rules/{id} read, add and (HQ) change the fixed-threshold rules; GET
/series gives one township's counts with the detector's threshold and alarms.
"""

from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.api_base import PageParams, errors, get_or_404, paginate
from fangkong.core.scope import prefix_q

from . import alerts, services
from .choices import AlertGrade, AlertSource, AlertStatus, ResponseAction, SignalKind
from .models import Alert, AlertRule, DetectorConfig, Signal

router = Router(tags=["监测预警"])
ALERT_NOT_FOUND = "未找到该预警或无权查看。"


class SignalOut(Schema):
    id: int
    kind: str
    severity: int
    title: str = Field(description="摘要；无权查看姓名时姓名已脱敏")
    area_code: str
    person_id: int | None
    person_name: str | None = Field(description="人员姓名（流调员、指挥部可见全名，其他角色脱敏）")
    occurred_at: datetime
    created_at: datetime
    details: dict | None = Field(description="详情（仅可见姓名的角色返回）")


class SignalPage(Schema):
    count: int
    items: list[SignalOut]


class SignalFilter(PageParams):
    kind: str | None = Field(None, description="信号类型，如 positive_result、scan_red")
    area: str | None = Field(None, description="区划代码：只列该区划及其下级的信号")
    since: datetime | None = Field(None, description="只列此时间之后发生的信号")


def _signal_out(signal: Signal, reveal: bool) -> dict:
    return {"id": signal.pk, "kind": signal.kind, "severity": signal.severity,
            "title": alerts.signal_title(signal, reveal), "area_code": signal.area_id, "person_id": signal.person_id,
            "person_name": alerts.signal_person_name(signal, reveal), "occurred_at": signal.occurred_at,
            "created_at": signal.created_at, "details": signal.details if reveal else None}


def _in_area(rows, field: str, code: str | None):
    if not code:
        return rows
    area = Area.objects.filter(code=code).first()
    return rows.filter(prefix_q(field, area.prefix)) if area is not None else rows.none()


@router.get("/signals", response={200: SignalPage, **errors(401, 403, 422)}, summary="预警信号列表（按辖区）")
def list_signals(request, filters: Query[SignalFilter]):
    user = request.auth
    if not user.has_perm("warning.view_signal"):
        raise PermissionDenied
    rows = Signal.objects.restrict(user, "view").select_related("person")
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.since:
        rows = rows.filter(occurred_at__gte=filters.since)
    rows = _in_area(rows, "area_id", filters.area)
    reveal = alerts.may_see_names(user)
    return paginate(rows.order_by("-occurred_at", "-id"), filters, lambda s: _signal_out(s, reveal))


class AlertOut(Schema):
    id: int
    title: str
    area_code: str
    area_name: str
    source: str = Field(description="rule 固定阈值规则、detector 统计检测")
    rule: str | None = Field(description="规则代码")
    detector_id: int | None
    signal_type: str
    day: date | None = Field(description="统计检测的统计日")
    grade: str = Field(description="red 红、orange 橙、yellow 黄、blue 蓝")
    grade_label: str
    status: str = Field(description="new 待核实、verified 已核实、false_alarm 误报、responded 已处置、closed 已关闭")
    status_label: str
    size: int = Field(description="规模：规则预警为信号数，统计预警为当日计数")
    details: dict
    first_signal_at: datetime
    raised_at: datetime
    verified_at: datetime | None
    verdict: bool | None
    verify_reason: str
    responded_at: datetime | None
    response_note: str
    closed_at: datetime | None
    close_note: str
    task_ids: list[int]


class AlertDetailOut(AlertOut):
    signals: list[SignalOut]


class AlertPage(Schema):
    count: int
    items: list[AlertOut]


class AlertFilter(PageParams):
    status: AlertStatus | None = Field(None, description="状态")
    grade: AlertGrade | None = Field(None, description="级别")
    source: AlertSource | None = Field(None, description="来源：rule 或 detector")
    area: str | None = Field(None, description="区划代码")


def _alert_out(alert: Alert, signals: list | None = None, reveal: bool = False) -> dict:
    out = {"id": alert.pk, "title": alert.title, "area_code": alert.area_id, "area_name": alert.area.name,
           "source": alert.source, "rule": alert.rule.code if alert.rule_id else None,
           "detector_id": alert.detector_id, "signal_type": alert.signal_type, "day": alert.day,
           "grade": alert.grade, "grade_label": str(alert.get_grade_display()), "status": alert.status,
           "status_label": str(alert.get_status_display()), "size": alert.size, "details": alert.details,
           "first_signal_at": alert.first_signal_at, "raised_at": alert.raised_at,
           "verified_at": alert.verified_at, "verdict": alert.verdict, "verify_reason": alert.verify_reason,
           "responded_at": alert.responded_at, "response_note": alert.response_note,
           "closed_at": alert.closed_at, "close_note": alert.close_note,
           "task_ids": [task.pk for task in alert.tasks.all()]}
    if signals is not None:
        out["signals"] = [_signal_out(signal, reveal) for signal in signals]
    return out


def _alerts(user, action: str = "view"):
    if not user.has_perm("warning.view_alert"):
        raise PermissionDenied
    return Alert.objects.restrict(user, "view").select_related("area", "rule").prefetch_related("tasks")


@router.get("/alerts", response={200: AlertPage, **errors(401, 403, 422)}, summary="预警列表（按辖区）")
def list_alerts(request, filters: Query[AlertFilter]):
    rows = _alerts(request.auth)
    for field in ("status", "grade", "source"):
        value = getattr(filters, field)
        if value:
            rows = rows.filter(**{field: value})
    rows = _in_area(rows, "area_id", filters.area)
    return paginate(rows.order_by("-raised_at", "-id"), filters, _alert_out)


def _alert_detail(user, alert: Alert) -> dict:
    reveal = alerts.may_see_names(user)
    signals = list(alert.signals.select_related("person").order_by("occurred_at", "id")[:200])
    return _alert_out(alert, signals, reveal)


@router.get("/alerts/{id}", response={200: AlertDetailOut, **errors(401, 403, 404)}, summary="一条预警及其信号")
def get_alert(request, id: int):
    user = request.auth
    return _alert_detail(user, get_or_404(_alerts(user), _(ALERT_NOT_FOUND), pk=id))


class VerifyIn(Schema):
    verdict: bool = Field(description="true 真实信号，false 误报")
    reason: str = Field("", max_length=1000, description="核实说明；误报必须填写理由")


class ActionIn(Schema):
    kind: ResponseAction = Field(description="test_buyers 组织购药人员检测、visit_sentinel 走访哨点、"
                                              "start_tracing 启动流调、custom 其他")
    area: str | None = Field(None, description="处置区划代码；不填为预警所在乡镇")
    note: str = Field("", max_length=1000, description="说明（custom 必填）")
    hours: int | None = Field(None, description="时限（小时）；不填按措施默认")


class RespondIn(Schema):
    actions: list[ActionIn] = Field(description="处置措施，每项生成一条任务")
    note: str = Field("", max_length=1000, description="处置说明")


class CloseIn(Schema):
    note: str = Field("", max_length=1000, description="关闭说明")


def _acting_alert(request, id: int, perm: str) -> Alert:
    user = request.auth
    alert = get_or_404(_alerts(user), _(ALERT_NOT_FOUND), pk=id)
    if not user.has_perm(perm):
        raise PermissionDenied
    return alert


@router.post("/alerts/{id}/verify", response={200: AlertDetailOut, **errors(400, 401, 403, 404, 422)},
             summary="核实预警：真实信号或误报（误报须填理由）")
def verify(request, id: int, payload: VerifyIn):
    alert = _acting_alert(request, id, "warning.verify_alert")
    alerts.verify_alert(request.auth, alert, payload.verdict, payload.reason, request=request)
    return _alert_detail(request.auth, _alerts(request.auth).get(pk=id))


@router.post("/alerts/{id}/respond", response={200: AlertDetailOut, **errors(400, 401, 403, 404, 422)},
             summary="处置预警：派发任务（组织检测、走访哨点、启动流调等）")
def respond(request, id: int, payload: RespondIn):
    alert = _acting_alert(request, id, "warning.respond_alert")
    actions = [{key: value for key, value in action.dict().items() if value is not None}
               for action in payload.actions]
    alerts.respond_alert(request.auth, alert, actions, payload.note, request=request)
    return _alert_detail(request.auth, _alerts(request.auth).get(pk=id))


@router.post("/alerts/{id}/close", response={200: AlertDetailOut, **errors(400, 401, 403, 404, 422)},
             summary="关闭预警")
def close(request, id: int, payload: CloseIn):
    alert = _acting_alert(request, id, "warning.close_alert")
    alerts.close_alert(request.auth, alert, payload.note, request=request)
    return _alert_detail(request.auth, _alerts(request.auth).get(pk=id))


class DetectorOut(Schema):
    id: int
    signal_type: str
    label: str
    method: str
    method_label: str
    params: dict
    default_params: dict = Field(description="该方法的默认参数（未配置的参数按此取值）")
    baseline_days: int
    min_history_days: int = Field(description="按当前基线和参数，该方法所需的最少历史天数；不足时退回短历史方法")
    is_active: bool
    explanation: str
    updated_at: datetime


class DetectorIn(Schema):
    method: str = Field(description="检测方法：ears_c1、ears_c2、ears_c3、cusum、mpm、farrington")
    params: dict[str, Any] = Field(default_factory=dict, description="方法参数，如 {\"alpha\": 0.01}")
    baseline_days: int = Field(description="基线天数（7–3660）；长于现有历史时自动退回短历史方法")
    is_active: bool = True
    explanation: str | None = Field(None, max_length=5000, description="页面上显示的方法说明")


def _detector_out(config: DetectorConfig) -> dict:
    return {"id": config.pk, "signal_type": config.signal_type, "label": config.label, "method": config.method,
            "method_label": alerts.detector_methods().get(config.method, config.method), "params": config.params,
            "default_params": alerts.default_params(config.method), "baseline_days": config.baseline_days,
            "min_history_days": alerts.min_history_days(config.method, config.baseline_days, config.params), "is_active": config.is_active,
            "explanation": config.explanation, "updated_at": config.updated_at}


@router.get("/detectors", response={200: list[DetectorOut], **errors(401, 403)}, summary="统计检测配置（每个指标一条）")
def list_detectors(request):
    if not request.auth.has_perm("warning.view_detectorconfig"):
        raise PermissionDenied
    return [_detector_out(config) for config in DetectorConfig.objects.order_by("id")]


@router.put("/detectors/{id}", response={200: DetectorOut, **errors(400, 401, 403, 404, 422)},
            summary="修改统计检测配置（指挥部）")
def update_detector(request, id: int, payload: DetectorIn):
    user = request.auth
    if not user.has_perm("warning.change_detectorconfig"):
        raise PermissionDenied
    config = get_or_404(DetectorConfig.objects.all(), _("未找到该检测配置。"), pk=id)
    config = alerts.update_detector(user, config, payload.dict(), request=request)
    return _detector_out(config)


class AlertRuleOut(Schema):
    id: int
    code: str
    name: str
    signal_kinds: list[str]
    signal_kind_labels: list[str] = Field(description="信号类型的中文名称")
    match_details: dict = Field(description="附加条件：信号详情须等于这些值")
    threshold: int = Field(description="阈值：时间窗内同一乡镇的信号条数")
    window_minutes: int
    grade: str = Field(description="red 红、orange 橙、yellow 黄、blue 蓝")
    grade_label: str
    escalate_size: int = Field(description="信号数每达到该数的倍数升一级；0 不升级")
    description: str
    is_active: bool
    updated_by: str | None = Field(description="最后修改人用户名")
    updated_at: datetime


class AlertRuleIn(Schema):
    name: str = Field(max_length=100)
    signal_kinds: list[str] = Field(description="信号类型，如 [\"fever_patient\"]")
    threshold: int = Field(description="阈值（1–500 条）")
    window_minutes: int = Field(description="时间窗（1–10080 分钟）")
    grade: AlertGrade
    match_details: dict[str, Any] | None = Field(None, description="附加条件，如 {\"from_risk_area\": true}；不填保持不变")
    escalate_size: int | None = Field(None, description="升级规模（0–10000，0 不升级）；不填保持不变")
    description: str | None = Field(None, max_length=2000, description="说明；不填保持不变")
    is_active: bool | None = Field(None, description="启用；不填保持不变")


class AlertRuleNewIn(AlertRuleIn):
    code: str = Field(description="代码：小写英文字母、数字、下划线或连字符，至多 40 个字符，保存后不能修改")


def _rule_out(rule: AlertRule) -> dict:
    labels = dict(SignalKind.choices)
    return {"id": rule.pk, "code": rule.code, "name": rule.name, "signal_kinds": rule.signal_kinds,
            "signal_kind_labels": [str(labels.get(kind, kind)) for kind in rule.signal_kinds],
            "match_details": rule.match_details, "threshold": rule.threshold, "window_minutes": rule.window_minutes,
            "grade": rule.grade, "grade_label": str(rule.get_grade_display()), "escalate_size": rule.escalate_size,
            "description": rule.description, "is_active": rule.is_active,
            "updated_by": rule.updated_by.username if rule.updated_by_id else None, "updated_at": rule.updated_at}


def _given(payload: Schema) -> dict:
    return {key: value for key, value in payload.dict().items() if value is not None}


@router.get("/alert-rules", response={200: list[AlertRuleOut], **errors(401, 403)}, summary="固定阈值预警规则")
def list_rules(request):
    if not request.auth.has_perm("warning.view_alertrule"):
        raise PermissionDenied
    return [_rule_out(rule) for rule in AlertRule.objects.select_related("updated_by").order_by("code")]


@router.post("/alert-rules", response={201: AlertRuleOut, **errors(400, 401, 403, 422)},
             summary="新建固定阈值预警规则（指挥部）")
def create_rule(request, payload: AlertRuleNewIn):
    rule = alerts.create_rule(request.auth, _given(payload), request=request)
    return Status(201, _rule_out(rule))


@router.put("/alert-rules/{id}", response={200: AlertRuleOut, **errors(400, 401, 403, 404, 422)},
            summary="修改固定阈值预警规则（指挥部），即时生效")
def update_rule(request, id: int, payload: AlertRuleIn):
    user = request.auth
    if not user.has_perm("warning.change_alertrule"):
        raise PermissionDenied
    rule = get_or_404(AlertRule.objects.all(), _("未找到该预警规则。"), pk=id)
    return _rule_out(alerts.update_rule(user, rule, _given(payload), request=request))


class SeriesOut(Schema):
    township: str
    township_name: str
    signal: str
    label: str
    method: str = Field(description="实际运行的方法（历史不足时为退回方法）")
    method_label: str = Field(description="方法的中文名称")
    configured_method: str
    baseline_days: int
    history_days: int
    note: str = Field(description="说明，如历史不足时退回短历史方法")
    days: list[date]
    counts: list[int]
    statistic: list[int] = Field(description="与阈值比较的量：当日计数，MPM 为近 7 天合计")
    upper: list[float | None] = Field(description="阈值（上限），无法计算时为 null")
    expected: list[float | None]
    alarm: list[bool]


class SeriesParams(Schema):
    township: str = Field(description="乡镇（街道）区划代码")
    signal: str = Field(description="监测指标，如 fever_clinic_visits、drug_sales")
    days: int = Field(90, ge=7, le=730, description="显示天数")
    day_to: date | None = Field(None, description="截止日期，默认今天")


@router.get("/series", response={200: SeriesOut, **errors(400, 401, 403, 404, 422)},
            summary="某乡镇某指标的每日计数、检测阈值和报警")
def get_series(request, params: Query[SeriesParams]):
    user = request.auth
    if not user.has_perm("warning.view_alert"):
        raise PermissionDenied
    area = get_or_404(Area.objects.restrict(user, "view"), _("未找到该乡镇或无权查看。"), code=params.township)
    if area.level != AreaLevel.TOWNSHIP:
        raise ValidationError({"township": [_("请填写乡镇（街道）的区划代码。")]})
    if not DetectorConfig.objects.filter(signal_type=params.signal).exists():
        raise ValidationError({"signal": [_("不认识的监测指标“%(signal)s”。") % {"signal": params.signal}]})
    return services.series(area, params.signal, day_to=params.day_to, days=params.days)

