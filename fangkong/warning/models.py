"""Signals, the rules and detectors that read them, and the alerts they raise.

A Signal is every event that may mean spread, written by the app that saw it.
An AlertRule turns signals into an Alert at once (fixed thresholds); a
DetectorConfig says which statistical method watches a daily count series per
township. Alerts follow new → verified | false_alarm → responded → closed.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.querysets import RestrictedManager

from .choices import AlertGrade, AlertSource, AlertStatus, Severity


class Signal(models.Model):
    scope_field = "area_id"

    kind = models.CharField(_("类型"), max_length=40)
    severity = models.PositiveSmallIntegerField(_("级别"), choices=Severity.choices, default=Severity.WARNING)
    title = models.CharField(_("摘要"), max_length=200)
    area = models.ForeignKey(Area, verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="signals")
    subject_type = models.ForeignKey(ContentType, verbose_name=_("来源类型"), null=True, blank=True,
                                     on_delete=models.PROTECT)
    subject_id = models.CharField(_("来源编号"), max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    details = models.JSONField(_("详情"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"), default=timezone.now)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("预警信号")
        verbose_name_plural = _("预警信号")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["area", "-occurred_at"], name="signal_area_idx"),
            models.Index(fields=["kind", "-occurred_at"], name="signal_kind_idx"),
            models.Index(fields=["person", "-occurred_at"], name="signal_person_idx"),
        ]

    def __str__(self):
        return self.title


class AlertRule(models.Model):
    """A fixed-threshold rule: THRESHOLD signals of these kinds in one township within WINDOW_MINUTES.

    The default (1 in 1440 minutes) raises an alert on a single signal; MATCH_DETAILS narrows the
    signals counted to those whose details hold these values (a fever patient from a risk area). The grade rises one step each
    time the alert's size reaches another multiple of ESCALATE_SIZE (0: never). Rules are data (HQ keeps them).
    """

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    signal_kinds = models.JSONField(_("信号类型"), default=list)
    match_details = models.JSONField(_("附加条件"), default=dict, blank=True,
                                     help_text=_("信号详情须满足的键值，如 {\"from_risk_area\": true}。"))
    threshold = models.PositiveIntegerField(_("阈值（条）"), default=1)
    window_minutes = models.PositiveIntegerField(_("时间窗（分钟）"), default=1440)
    grade = models.CharField(_("预警级别"), max_length=10, choices=AlertGrade.choices, default=AlertGrade.YELLOW)
    escalate_size = models.PositiveIntegerField(_("升级规模"), default=0,
                                                help_text=_("信号数每达到该数的倍数，级别升一级；0 表示不升级。"))
    description = models.TextField(_("说明"), blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("修改人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("预警规则")
        verbose_name_plural = _("预警规则")
        ordering = ["code"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        from .alerts import clear_rule_cache

        clear_rule_cache()


class DetectorConfig(models.Model):
    """Which statistical method watches one daily count series (per township), with its parameters."""

    signal_type = models.CharField(_("监测指标"), max_length=40, unique=True)
    label = models.CharField(_("名称"), max_length=60)
    method = models.CharField(_("检测方法"), max_length=20)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    baseline_days = models.PositiveIntegerField(_("基线天数"), default=28)
    is_active = models.BooleanField(_("启用"), default=True)
    explanation = models.TextField(_("方法说明"), blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("修改人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("检测配置")
        verbose_name_plural = _("检测配置")
        ordering = ["id"]

    def __str__(self):
        return self.label


class Alert(models.Model):
    """An alert for one township, raised by a rule (from signals) or by a detector (from a daily count)."""

    scope_field = "area_id"

    area = models.ForeignKey(Area, verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("来源"), max_length=10, choices=AlertSource.choices)
    rule = models.ForeignKey(AlertRule, verbose_name=_("规则"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="alerts")
    detector = models.ForeignKey(DetectorConfig, verbose_name=_("检测配置"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="alerts")
    signal_type = models.CharField(_("信号类型"), max_length=40)
    day = models.DateField(_("统计日"), null=True, blank=True)
    grade = models.CharField(_("级别"), max_length=10, choices=AlertGrade.choices)
    status = models.CharField(_("状态"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.NEW)
    title = models.CharField(_("标题"), max_length=200)
    details = models.JSONField(_("详情"), default=dict, blank=True)
    size = models.PositiveIntegerField(_("规模"), default=1)
    signals = models.ManyToManyField(Signal, verbose_name=_("信号"), blank=True, related_name="alerts")
    first_signal_at = models.DateTimeField(_("首个信号时间"))
    last_signal_at = models.DateTimeField(_("最近信号时间"))
    raised_at = models.DateTimeField(_("预警时间"), default=timezone.now)
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("核实人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    verdict = models.BooleanField(_("核实结论"), null=True, blank=True)
    verify_reason = models.TextField(_("核实说明"), blank=True)
    responded_at = models.DateTimeField(_("处置时间"), null=True, blank=True)
    responded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("处置人"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    response_note = models.TextField(_("处置说明"), blank=True)
    tasks = models.ManyToManyField("tasks.Task", verbose_name=_("处置任务"), blank=True, related_name="alerts")
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("关闭人"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    close_note = models.TextField(_("关闭说明"), blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        ordering = ["-raised_at", "-id"]
        permissions = [("verify_alert", "Can verify alert"), ("respond_alert", "Can respond to alert"),
                       ("close_alert", "Can close alert")]
        indexes = [
            models.Index(fields=["area", "-raised_at"], name="alert_area_idx"),
            models.Index(fields=["status", "-raised_at"], name="alert_status_idx"),
            models.Index(fields=["rule", "area", "status"], name="alert_rule_open_idx"),
            models.Index(fields=["-raised_at"], name="alert_raised_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["detector", "area", "day"], condition=models.Q(source="detector"),
                                    name="alert_one_per_detector_day"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in (AlertStatus.NEW, AlertStatus.VERIFIED, AlertStatus.RESPONDED)
