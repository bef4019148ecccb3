"""Venues, their place codes (场所码) and check-ins: the store the tracing engine searches."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.querysets import RestrictedManager

from .choices import CheckInSource


class VenueType(models.Model):
    """A kind of venue, data-driven: its default dwell time and supervising department kind."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60, unique=True)
    dwell_minutes = models.PositiveSmallIntegerField(_("默认停留时间（分钟）"), default=30)
    department_kind = models.CharField(_("主管部门类型"), max_length=30, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("场所类型")
        verbose_name_plural = _("场所类型")
        ordering = ["sort_order", "code"]

    def __str__(self):
        return self.name


class Venue(models.Model):
    """A place with a place code: registered by its manager or the township, inspected by its department."""

    scope_field = "area_id"

    name = models.CharField(_("场所名称"), max_length=100)
    type = models.ForeignKey(VenueType, verbose_name=_("场所类型"), on_delete=models.PROTECT, related_name="venues")
    area = models.ForeignKey(Area, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=200)
    manager_name = models.CharField(_("负责人"), max_length=50, blank=True)
    manager_phone = models.CharField(_("负责人电话"), max_length=20, blank=True)
    supervisor = models.ForeignKey("accounts.Organization", verbose_name=_("主管部门"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="supervised_venues")
    managers = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("场所管理账号"), blank=True,
                                      related_name="managed_venues")
    expected_daily_visitors = models.PositiveIntegerField(_("预计日客流（人次）"), default=0)
    dwell_minutes = models.PositiveSmallIntegerField(_("停留时间（分钟）"), null=True, blank=True,
                                                     help_text=_("留空则按场所类型的默认值"))
    is_active = models.BooleanField(_("营业中"), default=True)
    # For the map of a case's trajectory (WGS-84, as a phone or survey gives them).
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=8, decimal_places=6, null=True, blank=True)
    code_version = models.PositiveIntegerField(_("场所码版本"), default=1)
    code_issued_at = models.DateTimeField(_("场所码签发时间"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("场所")
        verbose_name_plural = _("场所")
        ordering = ["area_id", "name", "id"]
        indexes = [
            models.Index(fields=["area", "type"], name="venue_area_type_idx"),
            models.Index(fields=["supervisor"], name="venue_supervisor_idx"),
        ]

    def __str__(self):
        return self.name

    @property
    def dwell(self) -> int:
        return self.dwell_minutes or self.type.dwell_minutes


class CheckIn(models.Model):
    """One person at one venue at one time (a scan, or a row pushed by a gateway).

    Built for tracing: "who was at venue V in [t1, t2]" is one range scan of
    (venue, scanned_at), "where was person P in [t1, t2]" one of (person,
    scanned_at). ``idem_key`` makes a retried batch row a no-op; it is unique
    together with ``scanned_at`` so that the PostgreSQL table can be
    partitioned by day.
    """

    id = models.BigAutoField(primary_key=True)
    # No database-level foreign keys: the scan and the ingest check both ends before writing, and the
    # constraints halve the insert rate of this append-only log (PROTECT still holds in the ORM).
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="checkins", db_index=False, db_constraint=False)
    venue = models.ForeignKey(Venue, verbose_name=_("场所"), on_delete=models.PROTECT, related_name="checkins",
                              db_index=False, db_constraint=False)
    scanned_at = models.DateTimeField(_("扫码时间"))
    status_shown = models.CharField(_("显示状态"), max_length=6, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=CheckInSource.choices, default=CheckInSource.SCAN)
    idem_key = models.CharField(_("幂等键"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("扫码记录")
        verbose_name_plural = _("扫码记录")
        ordering = ["-scanned_at", "-id"]
        indexes = [
            models.Index(fields=["venue", "scanned_at"], name="checkin_venue_time_idx"),
            models.Index(fields=["person", "scanned_at"], name="checkin_person_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idem_key", "scanned_at"], condition=~models.Q(idem_key=""),
                                    name="checkin_idem_key"),
        ]

    def __str__(self):
        return f"{self.person_id}@{self.venue_id} {self.scanned_at:%Y-%m-%d %H:%M}"


class VenueDayCount(models.Model):
    """Check-ins of one venue on one closed day: what the compliance page reads instead of millions of rows.

    Written by ``compliance.roll_up`` (nightly, for the last days, so late
    batches are counted); a day is rolled up when it has a ``RolledUpDay``.
    """

    venue = models.ForeignKey(Venue, verbose_name=_("场所"), on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("日期"))
    scans = models.PositiveIntegerField(_("扫码人次"), default=0)
    nongreen = models.PositiveIntegerField(_("非绿码"), default=0)
    red = models.PositiveIntegerField(_("红码"), default=0)

    class Meta:
        verbose_name = _("场所日扫码数")
        verbose_name_plural = _("场所日扫码数")
        constraints = [models.UniqueConstraint(fields=["day", "venue"], name="venue_day_count_unique")]

    def __str__(self):
        return f"{self.venue_id} {self.day} {self.scans}"


class RolledUpDay(models.Model):
    day = models.DateField(_("日期"), primary_key=True)
    rolled_up_at = models.DateTimeField(_("汇总时间"), auto_now=True)

    class Meta:
        verbose_name = _("已汇总日期")
        verbose_name_plural = _("已汇总日期")

    def __str__(self):
        return self.day.isoformat()
