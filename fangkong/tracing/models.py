"""Cases, their trajectories and contacts, clusters (transmission chains) and control zones."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area, Building
from fangkong.core.querysets import RestrictedManager
from fangkong.policy.choices import RiskLevel

from .choices import (
    CaseStatus,
    Classification,
    ContactKind,
    ContactStatus,
    Residence,
    Severity,
    ZoneStatus,
)

# Reporting and investigation clocks (china-ops.md §10), in hours from the positive result.
REPORT_HOURS = 2
CORE_INFO_HOURS = 4
FULL_REPORT_HOURS = 24


class Cluster(models.Model):
    """A cluster (聚集性疫情): cases linked by contact evidence, one transmission chain or several."""

    scope_field = "area_id"

    code = models.CharField(_("编号"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    area = models.ForeignKey(Area, verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+")
    note = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("聚集性疫情")
        verbose_name_plural = _("聚集性疫情")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("tracing:cluster", args=[self.pk])


class Case(models.Model):
    """A case (病例) or asymptomatic infection, with the fields of the report card that apply.

    The infectious window runs from ``contact_window_days`` (the active pack)
    before onset, or before sampling for an asymptomatic case, until the
    case was isolated (or now).
    """

    scope_field = "area_id"

    number = models.CharField(_("病例编号"), max_length=30, unique=True)
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="cases")
    area = models.ForeignKey(Area, verbose_name=_("现住地网格"), on_delete=models.PROTECT, related_name="+")
    classification = models.CharField(_("病例分类"), max_length=20, choices=Classification.choices)
    severity = models.CharField(_("临床严重程度"), max_length=10, choices=Severity.choices, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    onset_date = models.DateField(_("发病日期"), null=True, blank=True)
    sampled_at = models.DateTimeField(_("采样时间"), null=True, blank=True)
    result_at = models.DateTimeField(_("检测阳性时间"), null=True, blank=True)
    diagnosed_at = models.DateTimeField(_("诊断时间"), null=True, blank=True)
    isolated_at = models.DateTimeField(_("隔离（收治）时间"), null=True, blank=True,
                                       help_text=_("轨迹与密接追溯截止于此；留空则到当前"))
    reported_at = models.DateTimeField(_("网络直报时间"), null=True, blank=True)
    card_number = models.CharField(_("报告卡编号"), max_length=40, blank=True)
    reporting_unit = models.CharField(_("报告单位"), max_length=100, blank=True)
    reporting_doctor = models.CharField(_("报告医生"), max_length=50, blank=True)
    residence = models.CharField(_("病人属于"), max_length=20, choices=Residence.choices, default=Residence.COUNTY)
    occupation = models.CharField(_("职业"), max_length=40, blank=True)
    infected_by = models.ForeignKey("self", verbose_name=_("传染来源病例"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="infected")
    cluster = models.ForeignKey(Cluster, verbose_name=_("所属聚集性疫情"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="cases")
    note = models.TextField(_("备注"), blank=True)
    traced_at = models.DateTimeField(_("最近一次密接研判"), null=True, blank=True)
    trace_job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("病例")
        verbose_name_plural = _("病例")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["area", "created_at"], name="case_area_created_idx"),
            models.Index(fields=["person"], name="case_person_idx"),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("tracing:case", args=[self.pk])

    def audit_repr(self):
        return f"{self.number} {self.get_classification_display()}"

    # the clocks ----------------------------------------------------------------
    @property
    def clock_start(self) -> datetime:
        """When the reporting clock started: the positive result, else the registration."""
        return self.result_at or self.created_at

    @property
    def report_deadline(self) -> datetime:
        return self.clock_start + timedelta(hours=REPORT_HOURS)

    @property
    def core_info_deadline(self) -> datetime:
        return self.clock_start + timedelta(hours=CORE_INFO_HOURS)

    @property
    def full_report_deadline(self) -> datetime:
        return self.clock_start + timedelta(hours=FULL_REPORT_HOURS)

    # the infectious window -----------------------------------------------------------
    @property
    def anchor_date(self):
        """Onset for a symptomatic case; sampling (else result, else registration) otherwise."""
        if self.onset_date and self.classification != Classification.ASYMPTOMATIC:
            return self.onset_date
        moment = self.sampled_at or self.result_at or self.created_at
        return timezone.localtime(moment).date()

    def window(self, days_before: int, now: datetime | None = None) -> tuple[datetime, datetime]:
        start = timezone.make_aware(datetime.combine(self.anchor_date - timedelta(days=days_before), time.min))
        end = self.isolated_at or now or timezone.now()
        return start, max(start, end)


class TrajectoryEntry(models.Model):
    """A stretch of the case's movements told in the interview (访谈补充轨迹).

    With a registered venue it counts as a presence there for contact
    discovery, like a check-in from START to END.
    """

    case = models.ForeignKey(Case, verbose_name=_("病例"), on_delete=models.CASCADE, related_name="entries")
    venue = models.ForeignKey("venues.Venue", verbose_name=_("场所"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    place = models.CharField(_("地点"), max_length=200, blank=True)
    start = models.DateTimeField(_("开始时间"))
    end = models.DateTimeField(_("结束时间"))
    activity = models.CharField(_("活动"), max_length=200, blank=True)
    companions = models.CharField(_("同行人员"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("轨迹（访谈）")
        verbose_name_plural = _("轨迹（访谈）")
        ordering = ["start", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(end__gte=models.F("start")),
                                              name="trajectory_entry_ordered")]

    def __str__(self):
        return self.place or str(self.venue)


class Contact(models.Model):
    """A person linked to a case, once per case, with every piece of evidence and the highest kind.

    ``evidence`` is a list of {"rule", "text", and per rule: "venue_id",
    "venue", "case_from", "case_to", "contact_from", "contact_to",
    "overlap_minutes", "via"}; ``summary`` is the one line a grid worker
    sees ("与病例同时段在某超市"), without the case's identity.
    """

    scope_field = "area_id"

    case = models.ForeignKey(Case, verbose_name=_("病例"), on_delete=models.CASCADE, related_name="contacts")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="contact_links")
    area = models.ForeignKey(Area, verbose_name=_("现住地网格"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类别"), max_length=12, choices=ContactKind.choices)
    found_kind = models.CharField(_("系统判定类别"), max_length=12, choices=ContactKind.choices)
    status = models.CharField(_("状态"), max_length=12, choices=ContactStatus.choices,
                              default=ContactStatus.PROPOSED)
    via = models.ForeignKey("self", verbose_name=_("经由密接"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="secondaries")
    first_exposure = models.DateTimeField(_("首次暴露时间"), null=True, blank=True)
    last_exposure = models.DateTimeField(_("末次暴露时间"), null=True, blank=True)
    evidence = models.JSONField(_("判定依据"), default=list)
    summary = models.CharField(_("管控原因"), max_length=200)
    manual = models.BooleanField(_("人工添加"), default=False)
    is_case = models.BooleanField(_("本人也是病例"), default=False)
    jurisdiction = models.CharField(_("移交地区"), max_length=100, blank=True)
    review_note = models.CharField(_("研判说明"), max_length=300, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("研判人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(_("研判时间"), null=True, blank=True)
    order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    task = models.ForeignKey("tasks.Task", verbose_name=_("管控任务"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    deadline = models.DateTimeField(_("落实时限"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("推送时间"), null=True, blank=True)
    found_at = models.DateTimeField(_("发现时间"), default=timezone.now)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("密接人员")
        verbose_name_plural = _("密接人员")
        ordering = ["case", "kind", "first_exposure", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "person"], name="contact_once_per_case")]
        indexes = [
            models.Index(fields=["case", "kind", "status"], name="contact_case_kind_idx"),
            models.Index(fields=["person"], name="contact_person_idx"),
            models.Index(fields=["area", "status"], name="contact_area_status_idx"),
        ]

    def __str__(self):
        return f"{self.case} · {self.get_kind_display()}"

    def get_absolute_url(self):
        return reverse("tracing:contact", args=[self.pk])


class ControlZone(models.Model):
    """A sealed / controlled / precaution zone (or high / medium / low), proposed from cases, published by HQ.

    At building level (``building``) or an area of the tree (grid, village,
    township). The lift criteria come from the pack's ``zone_rules``.
    """

    scope_field = "area_id"

    name = models.CharField(_("名称"), max_length=150)
    area = models.ForeignKey(Area, verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+")
    building = models.ForeignKey(Building, verbose_name=_("楼栋"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    level = models.CharField(_("等级"), max_length=12, choices=RiskLevel.choices)
    status = models.CharField(_("状态"), max_length=12, choices=ZoneStatus.choices, default=ZoneStatus.PROPOSED)
    reason = models.CharField(_("划定依据"), max_length=300, blank=True)
    cases = models.ManyToManyField(Case, verbose_name=_("相关病例"), blank=True, related_name="zones")
    pack = models.ForeignKey("policy.PolicyPack", verbose_name=_("依据策略"), on_delete=models.PROTECT,
                             related_name="+")
    last_case_at = models.DateTimeField(_("最近病例时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("发布人"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("管控区域")
        verbose_name_plural = _("管控区域")
        ordering = ["status", "level", "area_id", "id"]
        indexes = [models.Index(fields=["status", "level"], name="zone_status_level_idx")]

    def __str__(self):
        return f"{self.name}（{self.get_level_display()}）"

    def get_absolute_url(self):
        return reverse("tracing:zone", args=[self.pk])


class TestingRound(models.Model):
    """One round of area-wide testing in a zone (区域核酸筛查), as reported to HQ."""

    zone = models.ForeignKey(ControlZone, verbose_name=_("管控区域"), on_delete=models.CASCADE,
                             related_name="rounds")
    day = models.DateField(_("检测日期"))
    tested = models.PositiveIntegerField(_("检测人数"))
    positives = models.PositiveIntegerField(_("阳性人数"), default=0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("区域核酸检测轮次")
        verbose_name_plural = _("区域核酸检测轮次")
        ordering = ["-day", "-id"]
        constraints = [models.UniqueConstraint(fields=["zone", "day"], name="one_round_per_zone_day")]

    def __str__(self):
        return f"{self.zone} {self.day}"
