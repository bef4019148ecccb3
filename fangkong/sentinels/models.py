"""Sentinels (哨点): clinics, pharmacies, fever clinics, pre-triage desks and schools, and what they report.

Personal data in reports and purchases (ID number, phone) is stored like a
person's: sealed, a blind index for matching, and the masked form shown in
lists. Write it only through ``set_document`` / ``set_phone``.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core import crypto
from fangkong.core.models import TimeStampedModel
from fangkong.core.querysets import RestrictedManager
from fangkong.people import identity
from fangkong.people.models import document_index

from .choices import DrugClass, HealthCode, ReportKind, SentinelKind


class SealedIdentity(models.Model):
    """ID number and phone of someone who is not (yet) a Person: sealed, indexed, masked."""

    doc_sealed = models.TextField(_("身份证号（密文）"), blank=True, editable=False)
    doc_index = models.CharField(_("身份证号索引"), max_length=40, blank=True, editable=False)
    doc_masked = models.CharField(_("身份证号"), max_length=40, blank=True, editable=False)
    phone_sealed = models.TextField(_("联系电话（密文）"), blank=True, editable=False)
    phone_masked = models.CharField(_("联系电话"), max_length=20, blank=True, editable=False)

    class Meta:
        abstract = True

    def set_document(self, number: str, *, valid: bool) -> None:
        """NUMBER as typed (normalised); only a valid number gets a blind index (an invalid one matches nobody)."""
        self.doc_sealed = crypto.encrypt(number) if number else ""
        self.doc_index = document_index("resident_id", number) if valid and number else ""
        self.doc_masked = identity.mask_document(number)

    def set_phone(self, phone: str) -> None:
        self.phone_sealed = crypto.encrypt(phone) if phone else ""
        self.phone_masked = identity.mask_phone(phone)

    @property
    def document_number(self) -> str:
        return crypto.decrypt(self.doc_sealed) if self.doc_sealed else ""

    @property
    def phone(self) -> str:
        return crypto.decrypt(self.phone_sealed) if self.phone_sealed else ""


class Sentinel(TimeStampedModel):
    """A reporting point (哨点) and the users who report for it."""

    scope_field = "area_id"

    kind = models.CharField(_("类型"), max_length=20, choices=SentinelKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    area = models.ForeignKey(Area, verbose_name=_("所在区划"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    contact = models.CharField(_("负责人"), max_length=50, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    reporters = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("报告人"), blank=True,
                                       related_name="sentinels")
    is_active = models.BooleanField(_("启用"), default=True)
    # Counts before this day are not zeros but "not reporting yet": the detectors must not see a step.
    joined_on = models.DateField(_("开始报告日期"), default=timezone.localdate)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("哨点")
        verbose_name_plural = _("哨点")
        ordering = ["area_id", "kind", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["area", "kind", "name"], name="sentinel_unique_name")]
        indexes = [
            models.Index(fields=["kind", "area"], name="sentinel_kind_idx"),
            models.Index(fields=["is_active", "area"], name="sentinel_active_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("sentinels:detail", args=[self.pk])

    @property
    def is_pharmacy(self) -> bool:
        return self.kind == SentinelKind.PHARMACY

    @property
    def reports_counts(self) -> bool:
        return self.kind in (SentinelKind.FEVER_CLINIC, SentinelKind.PRETRIAGE)

    @property
    def reports_patients(self) -> bool:
        return self.kind in (SentinelKind.VILLAGE_CLINIC, SentinelKind.PRIVATE_CLINIC, SentinelKind.TCM_CLINIC,
                             SentinelKind.FEVER_CLINIC, SentinelKind.PRETRIAGE)

    @property
    def reports_absences(self) -> bool:
        return self.kind == SentinelKind.SCHOOL


class SentinelReport(SealedIdentity):
    """One report of a sentinel for a day: counts, one fever patient, one class's absences, or nothing (零报告)."""

    scope_field = "area_id"

    sentinel = models.ForeignKey(Sentinel, verbose_name=_("哨点"), on_delete=models.PROTECT, related_name="reports")
    area = models.ForeignKey(Area, verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+")
    day = models.DateField(_("日期"))
    kind = models.CharField(_("类型"), max_length=20, choices=ReportKind.choices)
    # daily_count
    visits = models.PositiveIntegerField(_("就诊人数"), null=True, blank=True)
    positives = models.PositiveIntegerField(_("阳性人数"), null=True, blank=True)
    # absence
    class_name = models.CharField(_("班级"), max_length=50, blank=True)
    absent_ill = models.PositiveIntegerField(_("因病缺勤人数"), null=True, blank=True)
    # fever_patient
    patient_name = models.CharField(_("姓名"), max_length=50, blank=True)
    patient_address = models.CharField(_("现住址"), max_length=200, blank=True)
    onset_date = models.DateField(_("发病日期"), null=True, blank=True)
    temperature = models.DecimalField(_("体温（℃）"), max_digits=3, decimal_places=1, null=True, blank=True)
    referred_to = models.CharField(_("转诊去向"), max_length=100, blank=True)
    consulted_at = models.DateTimeField(_("首诊时间"), null=True, blank=True)
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(_("备注"), max_length=200, blank=True)
    reported_at = models.DateTimeField(_("报告时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("报告人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("哨点报告")
        verbose_name_plural = _("哨点报告")
        ordering = ["-day", "-reported_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["sentinel", "day"], condition=models.Q(kind=ReportKind.DAILY_COUNT),
                                    name="report_one_count_a_day"),
            models.UniqueConstraint(fields=["sentinel", "day"], condition=models.Q(kind=ReportKind.ZERO_REPORT),
                                    name="report_one_zero_a_day"),
            models.UniqueConstraint(fields=["sentinel", "day", "class_name"],
                                    condition=models.Q(kind=ReportKind.ABSENCE), name="report_one_absence_a_class"),
        ]
        indexes = [
            models.Index(fields=["sentinel", "day"], name="report_sentinel_day_idx"),
            models.Index(fields=["kind", "day"], name="report_kind_day_idx"),
            models.Index(fields=["area", "day"], name="report_area_day_idx"),
        ]

    def __str__(self):
        return f"{self.sentinel} {self.day} {self.get_kind_display()}"

    def audit_repr(self):
        if self.kind == ReportKind.FEVER_PATIENT:
            return f"{self.sentinel} {identity.mask_name(self.patient_name)} {self.doc_masked}".strip()
        return str(self)

    @property
    def masked_name(self) -> str:
        return identity.mask_name(self.patient_name)

    @property
    def report_minutes(self) -> int | None:
        """Minutes from the first consultation to the report (首诊负责制: within 60)."""
        if self.consulted_at is None:
            return None
        return max(0, int((self.reported_at - self.consulted_at).total_seconds() // 60))

    @property
    def is_late(self) -> bool:
        minutes = self.report_minutes
        return minutes is not None and minutes > 60


class DrugProduct(models.Model):
    """A product of the four classes (四类药品): a list kept as data, seeded by a migration."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("品名"), max_length=100)
    drug_class = models.CharField(_("类别"), max_length=20, choices=DrugClass.choices)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("四类药品")
        verbose_name_plural = _("四类药品")
        ordering = ["drug_class", "name", "id"]

    def __str__(self):
        return self.name


class DrugPurchase(SealedIdentity):
    """One four-class drug sale at a pharmacy and the buyer's follow-up test.

    ``client_key`` comes from the phone: a re-sent submission returns the
    first record. An invalid ID number is kept (``buyer_verified`` false)
    with a task to verify; nothing a pharmacy registers is dropped.
    """

    scope_field = "area_id"

    sentinel = models.ForeignKey(Sentinel, verbose_name=_("药店"), on_delete=models.PROTECT, related_name="purchases")
    client_key = models.CharField(_("客户端编号"), max_length=64, unique=True)
    day = models.DateField(_("销售日期"))
    buyer_name = models.CharField(_("购药人"), max_length=50)
    address = models.CharField(_("现住址"), max_length=200, blank=True)
    # The buyer's grid when the ID matched a person, else the pharmacy's area.
    area = models.ForeignKey(Area, verbose_name=_("责任区划"), on_delete=models.PROTECT, related_name="+")
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    health_code = models.CharField(_("健康码"), max_length=8, choices=HealthCode.choices, blank=True)
    for_someone_else = models.BooleanField(_("代购"), default=False)
    items = models.JSONField(_("药品及数量"), default=list)
    buyer_verified = models.BooleanField(_("身份已核验"), default=False)
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    test_due_at = models.DateTimeField(_("核酸检测期限"))
    tested_at = models.DateTimeField(_("核酸采样时间"), null=True, blank=True)
    task = models.ForeignKey("tasks.Task", verbose_name=_("跟进任务"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    untested_signal_at = models.DateTimeField(_("逾期未检上报时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("四类药品购药登记")
        verbose_name_plural = _("四类药品购药登记")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["sentinel", "-created_at"], name="purchase_sentinel_idx"),
            models.Index(fields=["area", "day"], name="purchase_area_day_idx"),
            models.Index(fields=["day"], name="purchase_day_idx"),
            models.Index(fields=["test_due_at"], name="purchase_untested_idx", condition=models.Q(tested_at=None)),
            models.Index(fields=["person", "created_at"], name="purchase_person_idx"),
        ]

    def __str__(self):
        return f"{identity.mask_name(self.buyer_name)} {self.created_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("sentinels:purchase", args=[self.pk])

    def audit_repr(self):
        return f"{identity.mask_name(self.buyer_name)} {self.doc_masked}".strip()

    @property
    def masked_name(self) -> str:
        return identity.mask_name(self.buyer_name)

    @property
    def is_overdue(self) -> bool:
        return self.tested_at is None and self.test_due_at < timezone.now()
