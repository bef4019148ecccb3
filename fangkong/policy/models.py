"""Policy as data: risk areas, policy packs and their rules, and the measures they impose."""

from datetime import date

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.querysets import RestrictedManager

from . import planning
from .choices import Category, Granularity, OrderStatus, RiskLevel, Stage


class RiskArea(models.Model):
    """A place on the risk-area list (中高风险地区) while it is in force.

    ``prefix`` is the part of the place code everything inside starts with (2
    digits for a province, 4 for a city, 6 for a county); a township-level
    area is its county's prefix plus the township's name. A lifted area keeps
    its row with ``effective_to`` set, so a travel history is always judged
    against the list as it was on the days travelled.
    """

    place_code = models.CharField(_("地区编码"), max_length=6)
    prefix = models.CharField(_("编码前缀"), max_length=6, editable=False)
    granularity = models.CharField(_("范围"), max_length=10, choices=Granularity.choices)
    township = models.CharField(_("乡镇（街道）"), max_length=60, blank=True)
    name = models.CharField(_("名称"), max_length=200)
    level = models.CharField(_("风险等级"), max_length=12, choices=RiskLevel.choices)
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("解除日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("风险地区")
        verbose_name_plural = _("风险地区")
        ordering = ["-effective_from", "place_code", "id"]
        indexes = [models.Index(fields=["prefix", "effective_from"], name="riskarea_match_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True) | models.Q(effective_to__gte=models.F("effective_from")),
                name="riskarea_dates_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.name}（{self.get_level_display()}）"


class PolicyPack(models.Model):
    """A set of rules (防控策略) as one edition of the guidelines had them. One pack is active."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    effective_from = models.DateField(_("施行日期"), null=True, blank=True)
    lookback_days = models.PositiveSmallIntegerField(_("旅居史追溯天数"), default=14)
    contact_window_days = models.PositiveSmallIntegerField(_("密接追溯天数（发病前）"), default=2)
    is_active = models.BooleanField(_("当前启用"), default=False)
    # What colour a scan shows for each measure in force: {"centralized": "red", …}; empty = the defaults.
    status_rules = models.JSONField(_("扫码颜色规则"), default=dict, blank=True)
    # How co-presence at a venue classifies a contact: {"default": {"close_minutes": 15, "companion": true},
    # "<venue type code>": {...}}; close_minutes null = never close at that type of venue.
    contact_rules = models.JSONField(_("密接判定规则"), default=dict, blank=True)
    # Control zones: {"levels": ["sealed", "controlled", "precaution"], "<level>": {"lift_days": 14,
    # "then": "<next level or empty>", "test_within_days": 2}}.
    zone_rules = models.JSONField(_("管控区域规则"), default=dict, blank=True)
    # How measures are run: choices.DEFAULT_QUARANTINE_RULES lists the keys; empty = the defaults.
    quarantine_rules = models.JSONField(_("隔离管控规则"), default=dict, blank=True)
    copied_from = models.ForeignKey("self", verbose_name=_("复制自"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="copies")
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("启用人"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("防控策略")
        verbose_name_plural = _("防控策略")
        ordering = ["-is_active", "-effective_from", "code"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_pack"),
        ]

    def __str__(self):
        return self.name

    @property
    def editable(self) -> bool:
        """The active pack is frozen: copy it, edit the copy, preview and activate."""
        return not self.is_active


class PolicyRule(models.Model):
    """What a pack asks for one category of person.

    ``stages``: [{"stage": "centralized", "days": 14, "test_days": [1, 4, 7, 14]}, …]
    in the order served; ``arrival_test_days``: the days of a tests-only
    measure (落地检, "3天2检" = [1, 3]).
    """

    pack = models.ForeignKey(PolicyPack, verbose_name=_("策略"), on_delete=models.CASCADE, related_name="rules")
    category = models.CharField(_("人员类别"), max_length=30, choices=Category.choices)
    stages = models.JSONField(_("管控阶段"), default=list, blank=True)
    arrival_test_days = models.JSONField(_("落地检检测日"), default=list, blank=True)
    followup_hours = models.PositiveSmallIntegerField(_("落实时限（小时）"), default=24)
    pickup_required = models.BooleanField(_("点对点接返"), default=False)
    instructions = models.TextField(_("告知内容"), blank=True)

    class Meta:
        verbose_name = _("策略规则")
        verbose_name_plural = _("策略规则")
        ordering = ["pack", "category"]
        constraints = [models.UniqueConstraint(fields=["pack", "category"], name="one_rule_per_category")]

    def __str__(self):
        return f"{self.pack} · {self.get_category_display()}"

    @property
    def measure(self) -> str:
        return planning.measure_of(self.stages, self.arrival_test_days)

    @property
    def label(self) -> str:
        return planning.describe(self.stages)


class ControlOrder(models.Model):
    """A measure (管控措施) on a person: stages with dates, from the rule that applied.

    Created only by ``policy.services.impose_measure``; the quarantine app
    executes it (sites, care teams, stage advancement, release).
    """

    scope_field = "area_id"

    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="control_orders")
    area = models.ForeignKey(Area, verbose_name=_("责任区划"), on_delete=models.PROTECT, related_name="+")
    category = models.CharField(_("人员类别"), max_length=30, choices=Category.choices)
    reason = models.CharField(_("管控原因"), max_length=300)
    pack = models.ForeignKey(PolicyPack, verbose_name=_("依据策略"), on_delete=models.PROTECT, related_name="orders")
    rule = models.ForeignKey(PolicyRule, verbose_name=_("依据规则"), null=True, on_delete=models.SET_NULL,
                             related_name="orders")
    subject_type = models.ForeignKey(ContentType, verbose_name=_("来源类型"), null=True, blank=True,
                                     on_delete=models.PROTECT)
    subject_id = models.CharField(_("来源编号"), max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    start_date = models.DateField(_("起算日期"))
    stages = models.JSONField(_("阶段安排"), default=list)
    planned_end = models.DateField(_("计划解除日期"))
    status = models.CharField(_("状态"), max_length=12, choices=OrderStatus.choices, default=OrderStatus.ACTIVE)
    # As executed: the stage the person is in now (it advances on its date when its conditions hold),
    # why it is held, and the order this one was merged into (the stricter plan of the two).
    current_stage = models.CharField(_("当前阶段"), max_length=20, choices=Stage.choices, blank=True)
    stage_since = models.DateField(_("本阶段起始"), null=True, blank=True)
    stage_end = models.DateField(_("本阶段计划结束"), null=True, blank=True, editable=False)
    hold_reason = models.CharField(_("暂缓原因"), max_length=200, blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("合并至"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="merged_orders")
    history = models.JSONField(_("执行记录"), default=list, blank=True)
    released_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("管控措施")
        verbose_name_plural = _("管控措施")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["person", "status"], name="order_person_idx"),
            models.Index(fields=["status", "planned_end"], name="order_open_idx"),
            models.Index(fields=["area", "status"], name="order_area_idx"),
            models.Index(fields=["subject_type", "subject_id"], name="order_subject_idx"),
            models.Index(fields=["status", "current_stage"], name="order_stage_idx"),
            models.Index(fields=["status", "stage_end"], name="order_stage_end_idx"),
        ]

    def __str__(self):
        return f"{self.get_category_display()} · {self.label}"

    def save(self, *args, **kwargs):
        self.stage_end = self.current_stage_end()
        fields = kwargs.get("update_fields")
        if fields is not None and {"stages", "current_stage", "stage_since"} & set(fields):
            kwargs["update_fields"] = {*fields, "stage_end"}
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        return "+".join(
            str((date.fromisoformat(s["end"]) - date.fromisoformat(s["start"])).days + 1) for s in self.stages
        )

    @property
    def is_open(self) -> bool:
        return self.status == OrderStatus.ACTIVE

    def current_stage_end(self):
        """When the stage being served is planned to end (the daily job advances orders past it)."""
        index = planning.current_segment(self.stages, self.current_stage, self.stage_since)
        return date.fromisoformat(self.stages[index]["end"]) if index is not None else None

    @property
    def planned_stage(self) -> str:
        """The stage the plan has for today ('' outside it)."""
        from django.utils import timezone

        return planning.stage_on(self.stages, timezone.localdate())


class PersonStatus(models.Model):
    """The colour a scan shows for a person (green / yellow / red), with its reasons.

    A read model of one row per person, kept by ``policy.services.refresh_status``
    whenever a measure changes, so that a scan reads one row. ``valid_until``
    is when the colour may change by itself (a stage ends); a scan after it
    refreshes the row first.
    """

    person = models.OneToOneField("people.Person", verbose_name=_("人员"), primary_key=True,
                                  on_delete=models.CASCADE, related_name="status")
    colour = models.CharField(_("颜色"), max_length=6, default="green")
    reasons = models.JSONField(_("原因"), default=list, blank=True)
    valid_until = models.DateTimeField(_("有效至"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("人员状态")
        verbose_name_plural = _("人员状态")

    def __str__(self):
        return f"{self.person_id} {self.colour}"
