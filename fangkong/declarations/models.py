"""Arrival declarations (入返报备) and road checkpoints (交通卡点)."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core import crypto
from fangkong.core.querysets import RestrictedManager
from fangkong.people import identity
from fangkong.people.models import document_index, phone_index

from .choices import DeclarationStatus, HealthCode, Source, TestResult, Transport


class Declaration(models.Model):
    """One returnee's declaration of one trip into the county, and what became of it.

    The ID number and phone are sealed like a person's. The receipt code and
    the last four digits of the phone are what the returnee needs to look the
    declaration up again; an ID number matching an existing person links the
    record without ever showing that person's data on a public page.
    """

    scope_field = "area_id"

    receipt = models.CharField(_("回执码"), max_length=12, unique=True)
    source = models.CharField(_("来源"), max_length=12, choices=Source.choices, default=Source.PUBLIC)
    status = models.CharField(_("状态"), max_length=12, choices=DeclarationStatus.choices,
                              default=DeclarationStatus.SUBMITTED)
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="declarations")
    name = models.CharField(_("姓名"), max_length=50)
    doc_sealed = models.TextField(_("身份证号（密文）"), editable=False)
    doc_index = models.CharField(_("身份证号索引"), max_length=40, editable=False)
    doc_masked = models.CharField(_("身份证号"), max_length=40, editable=False)
    phone_sealed = models.TextField(_("联系电话（密文）"), editable=False)
    phone_index = models.CharField(_("联系电话索引"), max_length=40, editable=False)
    phone_masked = models.CharField(_("联系电话"), max_length=20, editable=False)
    phone_last4 = models.CharField(_("手机号后四位"), max_length=4, editable=False)
    origin_code = models.CharField(_("出发地编码"), max_length=6)
    origin_name = models.CharField(_("出发地"), max_length=120)
    origin_detail = models.CharField(_("出发地详细地址"), max_length=200, blank=True)
    transport = models.CharField(_("交通方式"), max_length=10, choices=Transport.choices)
    transport_number = models.CharField(_("车次/航班号"), max_length=30, blank=True)
    plate = models.CharField(_("车牌号"), max_length=12, blank=True)
    planned_arrival = models.DateTimeField(_("计划到达时间"))
    area = models.ForeignKey(Area, verbose_name=_("目的地"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("目的地详细地址"), max_length=200)
    companions = models.JSONField(_("同行人员"), default=list, blank=True)
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    vaccine_doses = models.PositiveSmallIntegerField(_("疫苗接种剂次"), default=0)
    # The decision -------------------------------------------------------------------------------
    risk_level = models.CharField(_("旅居地最高风险"), max_length=12, blank=True)
    category = models.CharField(_("人员类别"), max_length=30, blank=True)
    measure = models.CharField(_("管控措施"), max_length=20, blank=True)
    evidence = models.JSONField(_("判定依据"), default=list, blank=True)
    instructions = models.TextField(_("告知内容"), blank=True)
    test_dates = models.JSONField(_("检测日期"), default=list, blank=True)
    pack = models.ForeignKey("policy.PolicyPack", verbose_name=_("依据策略"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    control_order = models.ForeignKey("policy.ControlOrder", verbose_name=_("管控措施单"), null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")
    # Follow-up ----------------------------------------------------------------------------------
    arrived_at = models.DateTimeField(_("到达时间"), null=True, blank=True)
    arrival_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True,
                                             blank=True, on_delete=models.SET_NULL, related_name="+")
    first_test_at = models.DateTimeField(_("落地检采样时间"), null=True, blank=True)
    antigen_result = models.CharField(_("抗原结果"), max_length=10, choices=TestResult.choices, blank=True)
    pcr_result = models.CharField(_("核酸结果"), max_length=10, choices=TestResult.choices, blank=True)
    followup_note = models.CharField(_("跟进说明"), max_length=300, blank=True)
    escalated_at = models.DateTimeField(_("逾期上报时间"), null=True, blank=True)
    submit_count = models.PositiveIntegerField(_("提交次数"), default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("申报时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("入返报备")
        verbose_name_plural = _("入返报备")
        ordering = ["-planned_arrival", "-id"]
        indexes = [
            models.Index(fields=["doc_index", "status"], name="decl_doc_idx"),
            models.Index(fields=["area", "status", "planned_arrival"], name="decl_area_idx"),
            models.Index(fields=["status", "planned_arrival"], name="decl_due_idx"),
            models.Index(fields=["person"], name="decl_person_idx"),
        ]

    def __str__(self):
        return f"{self.name} {self.receipt}"

    def get_absolute_url(self):
        return reverse("declarations:detail", args=[self.pk])

    def audit_repr(self):
        return f"{identity.mask_name(self.name)} {self.receipt}"

    def set_document(self, number: str) -> None:
        self.doc_sealed = crypto.encrypt(number)
        self.doc_index = document_index("resident_id", number)
        self.doc_masked = identity.mask_document(number)

    def set_phone(self, phone: str) -> None:
        self.phone_sealed = crypto.encrypt(phone)
        self.phone_index = phone_index(phone)
        self.phone_masked = identity.mask_phone(phone)
        self.phone_last4 = phone[-4:]

    @property
    def is_open(self) -> bool:
        return self.status == DeclarationStatus.SUBMITTED

    @property
    def masked_name(self) -> str:
        return identity.mask_name(self.name)


class TravelStop(models.Model):
    """A place in the 14-day travel history: a county (from the national code list), township, dates."""

    declaration = models.ForeignKey(Declaration, verbose_name=_("报备"), on_delete=models.CASCADE,
                                    related_name="stops")
    place_code = models.CharField(_("地区编码"), max_length=6)
    place_name = models.CharField(_("地区"), max_length=120)
    township = models.CharField(_("乡镇（街道）"), max_length=60, blank=True)
    date_from = models.DateField(_("起始日期"))
    date_to = models.DateField(_("结束日期"))

    class Meta:
        verbose_name = _("旅居史")
        verbose_name_plural = _("旅居史")
        ordering = ["declaration", "date_from", "id"]

    def __str__(self):
        return f"{self.place_name} {self.date_from}~{self.date_to}"


class Checkpoint(models.Model):
    """A road or station checkpoint (交通卡点) run by a township or the county."""

    scope_field = "area_id"

    name = models.CharField(_("卡点名称"), max_length=100)
    area = models.ForeignKey(Area, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="+")
    location = models.CharField(_("位置"), max_length=200, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("交通卡点")
        verbose_name_plural = _("交通卡点")
        ordering = ["area_id", "name"]

    def __str__(self):
        return self.name


class CheckpointPassage(models.Model):
    """One arrival checked at a checkpoint: temperature and the health-code colour shown."""

    scope_field = "area_id"

    checkpoint = models.ForeignKey(Checkpoint, verbose_name=_("卡点"), on_delete=models.PROTECT,
                                   related_name="passages")
    area = models.ForeignKey(Area, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="+")
    declaration = models.ForeignKey(Declaration, verbose_name=_("报备"), on_delete=models.PROTECT,
                                    related_name="passages")
    temperature = models.DecimalField(_("体温（℃）"), max_digits=3, decimal_places=1)
    health_code = models.CharField(_("健康码"), max_length=8, choices=HealthCode.choices)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("查验人"), null=True,
                                on_delete=models.SET_NULL, related_name="+")
    passed_at = models.DateTimeField(_("查验时间"))

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("卡点查验")
        verbose_name_plural = _("卡点查验")
        ordering = ["-passed_at", "-id"]
        indexes = [models.Index(fields=["checkpoint", "-passed_at"], name="passage_checkpoint_idx")]

    def __str__(self):
        return f"{self.checkpoint} {self.passed_at:%Y-%m-%d %H:%M}"

    @property
    def is_fever(self) -> bool:
        return self.temperature >= settings.FANGKONG_FEVER_CELSIUS
