"""Sampling points and sessions, tubes (single or pooled), samples, lab results, pooled-positive follow-up."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.querysets import RestrictedManager

from .choices import FollowupStatus, PoolSize, Result, TubeStatus


class SamplingPoint(models.Model):
    """A sampling point (采样点): fixed, mobile or at a checkpoint."""

    scope_field = "area_id"

    name = models.CharField(_("名称"), max_length=100)
    area = models.ForeignKey(Area, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("采样点")
        verbose_name_plural = _("采样点")
        ordering = ["area_id", "name", "id"]

    def __str__(self):
        return self.name


class SamplingSession(models.Model):
    """One operator's sitting at a point: the pool size every tube of it takes."""

    scope_field = "area_id"

    point = models.ForeignKey(SamplingPoint, verbose_name=_("采样点"), on_delete=models.PROTECT,
                              related_name="sessions")
    area = models.ForeignKey(Area, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("采样人员"), on_delete=models.PROTECT,
                                 related_name="+")
    pool_size = models.PositiveSmallIntegerField(_("混采"), choices=PoolSize.choices, default=PoolSize.TEN)
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("采样批次")
        verbose_name_plural = _("采样批次")
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{self.point} {self.started_at:%m-%d %H:%M}"


class Tube(models.Model):
    """A tube (采样管) by its barcode: up to ``capacity`` people; closed when full or sealed by hand."""

    scope_field = "area_id"

    barcode = models.CharField(_("管码"), max_length=40, unique=True)
    session = models.ForeignKey(SamplingSession, verbose_name=_("采样批次"), on_delete=models.PROTECT,
                                related_name="tubes")
    area = models.ForeignKey(Area, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="+")
    capacity = models.PositiveSmallIntegerField(_("容量"), choices=PoolSize.choices)
    status = models.CharField(_("状态"), max_length=10, choices=TubeStatus.choices, default=TubeStatus.OPEN)
    result = models.CharField(_("结果"), max_length=10, choices=Result.choices, blank=True)
    resulted_at = models.DateTimeField(_("结果时间"), null=True, blank=True)
    needs_review = models.BooleanField(_("结果冲突待核"), default=False)
    created_at = models.DateTimeField(_("启用时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("封管时间"), null=True, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("采样管")
        verbose_name_plural = _("采样管")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["result", "resulted_at"], name="tube_result_idx")]

    def __str__(self):
        return self.barcode


class Sample(models.Model):
    """One person swabbed into one tube. ``client_key`` makes a re-sent offline scan a no-op."""

    scope_field = "area_id"

    tube = models.ForeignKey(Tube, verbose_name=_("采样管"), on_delete=models.PROTECT, related_name="samples")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="samples")
    area = models.ForeignKey(Area, verbose_name=_("现住地网格"), on_delete=models.PROTECT, related_name="+")
    sampled_at = models.DateTimeField(_("采样时间"))
    client_key = models.CharField(_("客户端编号"), max_length=64, unique=True)
    duplicate = models.BooleanField(_("当天重复采样"), default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("采样人员"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("采样记录")
        verbose_name_plural = _("采样记录")
        ordering = ["-sampled_at", "-id"]
        indexes = [
            models.Index(fields=["person", "sampled_at"], name="sample_person_idx"),
            models.Index(fields=["area", "sampled_at"], name="sample_area_idx"),
        ]

    def __str__(self):
        return f"{self.tube_id} {self.person_id}"


class LabResult(models.Model):
    """A result as the lab sent it. Kept even when its tube is unknown (``tube`` empty: the unmatched queue)."""

    barcode = models.CharField(_("管码"), max_length=40)
    tube = models.ForeignKey(Tube, verbose_name=_("采样管"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="lab_results")
    result = models.CharField(_("结果"), max_length=10, choices=Result.choices)
    ct_values = models.JSONField(_("Ct 值"), default=dict, blank=True)
    tested_at = models.DateTimeField(_("检测时间"))
    lab = models.CharField(_("检测机构"), max_length=100, blank=True)
    conflicting = models.BooleanField(_("与同管其他结果冲突"), default=False)
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("检测结果")
        verbose_name_plural = _("检测结果")
        ordering = ["-tested_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["barcode", "tested_at"], name="lab_result_once")]
        indexes = [models.Index(fields=["tube"], name="lab_result_tube_idx")]

    def __str__(self):
        return f"{self.barcode} {self.result}"


class PoolFollowup(models.Model):
    """单采复核: a member of a positive pool, kept home and swabbed alone until the positive one is found."""

    scope_field = "area_id"

    tube = models.ForeignKey(Tube, verbose_name=_("阳性混管"), on_delete=models.CASCADE, related_name="followups")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="pool_followups")
    area = models.ForeignKey(Area, verbose_name=_("现住地网格"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("状态"), max_length=10, choices=FollowupStatus.choices,
                              default=FollowupStatus.PENDING)
    retest = models.ForeignKey(Sample, verbose_name=_("单采样本"), null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    task = models.ForeignKey("tasks.Task", verbose_name=_("复核任务"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    deadline = models.DateTimeField(_("复核时限"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("混管阳性单采复核")
        verbose_name_plural = _("混管阳性单采复核")
        ordering = ["tube", "person_id"]
        constraints = [models.UniqueConstraint(fields=["tube", "person"], name="followup_once_per_pool")]
        indexes = [models.Index(fields=["person", "status"], name="followup_person_idx")]

    def __str__(self):
        return f"{self.tube} {self.person_id}"


class RosterEntry(models.Model):
    """A member of a key group (重点人群名单), kept by the responsible department or employer.

    ``next_due`` is when the member must next be sampled (the last sample plus
    the group's interval), kept by the services so that due and overdue lists
    are one indexed range read.
    """

    scope_field = "area_id"

    group = models.ForeignKey("people.KeyGroup", verbose_name=_("重点人群"), on_delete=models.PROTECT,
                              related_name="roster")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="roster_entries")
    area = models.ForeignKey(Area, verbose_name=_("现住地网格"), on_delete=models.PROTECT, related_name="+")
    employer = models.CharField(_("工作单位"), max_length=100, blank=True)
    employer_area = models.ForeignKey(Area, verbose_name=_("单位所在乡镇"), null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("accounts.Organization", verbose_name=_("责任部门"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="roster_entries")
    is_active = models.BooleanField(_("在册"), default=True)
    last_sampled_at = models.DateTimeField(_("最近采样时间"), null=True, blank=True)
    next_due = models.DateField(_("下次应检日期"), null=True, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("重点人群名单")
        verbose_name_plural = _("重点人群名单")
        ordering = ["group", "employer", "person_id"]
        constraints = [models.UniqueConstraint(fields=["group", "person"], name="roster_once_per_group")]
        indexes = [
            models.Index(fields=["group", "is_active", "next_due"], name="roster_due_idx"),
            models.Index(fields=["department", "is_active", "next_due"], name="roster_dept_due_idx"),
            models.Index(fields=["person"], name="roster_person_idx"),
        ]

    def __str__(self):
        return f"{self.group} {self.person_id}"


class RoundStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")


class TestRound(models.Model):
    """A mass-testing round (区域核酸筛查) of an area: every resident expected before the deadline."""

    scope_field = "area_id"

    name = models.CharField(_("名称"), max_length=100)
    area = models.ForeignKey(Area, verbose_name=_("检测区域"), on_delete=models.PROTECT, related_name="+")
    zone = models.ForeignKey("tracing.ControlZone", verbose_name=_("管控区域"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="test_rounds")
    number = models.PositiveSmallIntegerField(_("轮次"), default=1)
    starts_at = models.DateTimeField(_("开始时间"))
    deadline = models.DateTimeField(_("截止时间"))
    status = models.CharField(_("状态"), max_length=10, choices=RoundStatus.choices, default=RoundStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("区域核酸检测轮次")
        verbose_name_plural = _("区域核酸检测轮次")
        ordering = ["-starts_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(deadline__gt=models.F("starts_at")),
                                              name="round_deadline_after_start")]

    def __str__(self):
        return self.name


class ExemptionReason(models.TextChoices):
    AWAY = "away", _("外出")
    BEDRIDDEN = "bedridden", _("卧床（上门采样）")
    ISOLATED = "isolated", _("已在隔离")
    OTHER = "other", _("其他")


class RoundExemption(models.Model):
    """Why a resident is not sampled at a point in this round (不漏一人: every one accounted for)."""

    round = models.ForeignKey(TestRound, verbose_name=_("轮次"), on_delete=models.CASCADE, related_name="exemptions")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("原因"), max_length=12, choices=ExemptionReason.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    task = models.ForeignKey("tasks.Task", verbose_name=_("上门采样任务"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("未采样原因")
        verbose_name_plural = _("未采样原因")
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="exemption_once_per_round")]

    def __str__(self):
        return f"{self.round_id} {self.person_id} {self.reason}"
