"""Executing control orders: sites and rooms, stays, point-to-point transfers, care teams, health checks.

The orders themselves (``policy.ControlOrder``) are decided by the policy
packs; this app carries them out and records what happened.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.models import TimeStampedModel
from fangkong.core.querysets import RestrictedManager

from .choices import (
    CheckSource,
    SampleResult,
    SiteKind,
    StayEnd,
    TransferKind,
    TransferStatus,
    VisitKind,
    VisitOutcome,
)


class QuarantineSite(TimeStampedModel):
    """A place of centralized quarantine (集中隔离点): a requisitioned hotel or a designated facility."""

    scope_field = "area_id"

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=SiteKind.choices, default=SiteKind.HOTEL)
    area = models.ForeignKey(Area, verbose_name=_("所在区划"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    manager = models.CharField(_("负责人"), max_length=50, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    # 单人单间 by default; members of one household may share a room with more beds when allowed.
    single_occupancy = models.BooleanField(_("单人单间"), default=True)
    # Never put people of different categories (close contacts, arrivals …) on one floor.
    separate_categories = models.BooleanField(_("不同类别人员分楼层"), default=True)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("工作人员"), blank=True,
                                   related_name="quarantine_sites")
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("隔离点")
        verbose_name_plural = _("隔离点")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["name"], name="site_name_unique")]

    def __str__(self):
        return self.name


class Room(models.Model):
    site = models.ForeignKey(QuarantineSite, verbose_name=_("隔离点"), on_delete=models.CASCADE,
                             related_name="rooms")
    floor = models.SmallIntegerField(_("楼层"))
    number = models.CharField(_("房号"), max_length=20)
    beds = models.PositiveSmallIntegerField(_("床位"), default=1)
    out_of_service = models.BooleanField(_("停用"), default=False)
    note = models.CharField(_("备注"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("房间")
        verbose_name_plural = _("房间")
        ordering = ["site", "floor", "number"]
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="room_number_unique")]

    def __str__(self):
        return f"{self.site.name} {self.number}"


class Stay(models.Model):
    """One person in one bed of a site, from check-in to check-out. A bed holds one open stay."""

    scope_field = "area_id"

    order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施"), on_delete=models.PROTECT,
                              related_name="stays")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="stays")
    site = models.ForeignKey(QuarantineSite, verbose_name=_("隔离点"), on_delete=models.PROTECT,
                             related_name="stays")
    room = models.ForeignKey(Room, verbose_name=_("房间"), on_delete=models.PROTECT, related_name="stays")
    bed = models.PositiveSmallIntegerField(_("床号"), default=1)
    area = models.ForeignKey(Area, verbose_name=_("隔离点区划"), on_delete=models.PROTECT, related_name="+")
    category = models.CharField(_("人员类别"), max_length=30)
    checked_in_at = models.DateTimeField(_("入住时间"), default=timezone.now)
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("办理入住"), null=True,
                                      blank=True, on_delete=models.SET_NULL, related_name="+")
    checked_out_at = models.DateTimeField(_("离开时间"), null=True, blank=True)
    checked_out_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("办理离开"), null=True,
                                       blank=True, on_delete=models.SET_NULL, related_name="+")
    left_to = models.CharField(_("去向"), max_length=20, choices=StayEnd.choices, blank=True)
    room_sample = models.CharField(_("房间环境采样"), max_length=10, choices=SampleResult.choices, blank=True)
    room_sampled_at = models.DateTimeField(_("环境采样时间"), null=True, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("入住记录")
        verbose_name_plural = _("入住记录")
        ordering = ["-checked_in_at", "-id"]
        indexes = [models.Index(fields=["site", "checked_out_at"], name="stay_site_open_idx")]
        constraints = [
            models.UniqueConstraint(fields=["room", "bed"], condition=models.Q(checked_out_at__isnull=True),
                                    name="one_open_stay_per_bed"),
            models.UniqueConstraint(fields=["person"], condition=models.Q(checked_out_at__isnull=True),
                                    name="one_open_stay_per_person"),
        ]

    def __str__(self):
        return f"{self.person} @ {self.room}"

    @property
    def is_open(self) -> bool:
        return self.checked_out_at is None


class Transfer(TimeStampedModel):
    """A point-to-point transfer (点对点): who, from where to where, by which vehicle; the receiver acknowledges."""

    scope_field = "area_id"

    kind = models.CharField(_("类型"), max_length=20, choices=TransferKind.choices)
    # The side that receives the people and must acknowledge (首接负责).
    area = models.ForeignKey(Area, verbose_name=_("接收区划"), on_delete=models.PROTECT, related_name="+")
    from_place = models.CharField(_("出发地"), max_length=200)
    to_place = models.CharField(_("目的地"), max_length=200)
    to_site = models.ForeignKey(QuarantineSite, verbose_name=_("目的隔离点"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="transfers_in")
    vehicle = models.CharField(_("车辆号牌"), max_length=20)
    driver = models.CharField(_("驾驶员"), max_length=50)
    driver_phone = models.CharField(_("驾驶员电话"), max_length=20, blank=True)
    escort = models.CharField(_("随车人员"), max_length=100, blank=True)
    planned_at = models.DateTimeField(_("计划出发时间"))
    departed_at = models.DateTimeField(_("出发时间"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("到达时间"), null=True, blank=True)
    ack_deadline = models.DateTimeField(_("交接时限"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("交接时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("接收人"), null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    escalated_at = models.DateTimeField(_("超时上报时间"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=TransferStatus.choices,
                              default=TransferStatus.PLANNED)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("点对点转运")
        verbose_name_plural = _("点对点转运")
        ordering = ["-planned_at", "-id"]
        indexes = [models.Index(fields=["status", "ack_deadline"], name="transfer_ack_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.from_place} → {self.to_place}"


class TransferPassenger(models.Model):
    transfer = models.ForeignKey(Transfer, verbose_name=_("转运"), on_delete=models.CASCADE,
                                 related_name="passengers")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="transfers")
    order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="transfers")

    class Meta:
        verbose_name = _("转运人员")
        verbose_name_plural = _("转运人员")
        ordering = ["transfer", "id"]
        constraints = [models.UniqueConstraint(fields=["transfer", "person"], name="one_seat_per_person")]

    def __str__(self):
        return f"{self.person} · {self.transfer_id}"


class CareMember(models.Model):
    """One place of a home-managed person's care team (五包一): a role, a named person, maybe an account."""

    order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施"), on_delete=models.CASCADE,
                              related_name="care_members")
    role = models.CharField(_("包保角色"), max_length=30)
    role_label = models.CharField(_("角色名称"), max_length=30)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("账号"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="care_assignments")
    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    task = models.ForeignKey("tasks.Task", verbose_name=_("包保任务"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("包保人员")
        verbose_name_plural = _("包保人员")
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "role"], name="one_member_per_care_role")]

    def __str__(self):
        return f"{self.role_label} {self.name}"


class HealthCheck(models.Model):
    """A temperature and symptom check (twice a day) of someone under an order."""

    scope_field = "area_id"

    order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施"), on_delete=models.PROTECT,
                              related_name="health_checks")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="health_checks")
    area = models.ForeignKey(Area, verbose_name=_("责任区划"), on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField(_("测量时间"), default=timezone.now)
    temperature = models.DecimalField(_("体温（℃）"), max_digits=3, decimal_places=1)
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    fever = models.BooleanField(_("发热"), default=False)
    source = models.CharField(_("来源"), max_length=10, choices=CheckSource.choices, default=CheckSource.STAFF)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("健康监测")
        verbose_name_plural = _("健康监测")
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["order", "taken_at"], name="check_order_idx")]

    def __str__(self):
        return f"{self.person} {self.temperature}℃"


class MissedCheck(models.Model):
    """A daily check slot that passed without a check: raised once, with its signal and escalation task."""

    order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施"), on_delete=models.CASCADE,
                              related_name="missed_checks")
    day = models.DateField(_("日期"))
    slot = models.PositiveSmallIntegerField(_("时段"))
    task = models.ForeignKey("tasks.Task", verbose_name=_("处置任务"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("漏报健康监测")
        verbose_name_plural = _("漏报健康监测")
        ordering = ["-day", "-slot", "-id"]
        constraints = [models.UniqueConstraint(fields=["order", "day", "slot"], name="one_miss_per_slot")]

    def __str__(self):
        return f"{self.order_id} {self.day} #{self.slot}"


class HomeVisit(models.Model):
    """A door check, a violation (left home) or a supervisor's random call, with its outcome."""

    scope_field = "area_id"

    order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施"), on_delete=models.PROTECT,
                              related_name="visits")
    area = models.ForeignKey(Area, verbose_name=_("责任区划"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类型"), max_length=20, choices=VisitKind.choices)
    outcome = models.CharField(_("结果"), max_length=20, choices=VisitOutcome.choices)
    note = models.CharField(_("情况说明"), max_length=300, blank=True)
    photo = models.ImageField(_("照片"), upload_to="visits/%Y/%m/", blank=True)
    happened_at = models.DateTimeField(_("时间"), default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("上门查看与抽查")
        verbose_name_plural = _("上门查看与抽查")
        ordering = ["-happened_at", "-id"]
        indexes = [models.Index(fields=["kind", "happened_at"], name="visit_kind_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.get_outcome_display()}"
