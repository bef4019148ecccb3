"""The person register: one row per person, identity sealed at rest."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area, Household
from fangkong.core import crypto
from fangkong.core.models import TimeStampedModel
from fangkong.core.querysets import RestrictedManager, RestrictedQuerySet

from . import identity
from .choices import DocumentType, Relation, Sex, VulnerableGroup


class KeyGroup(models.Model):
    """A key group (重点人群): a data-driven list edited by the headquarters."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60, unique=True)
    description = models.TextField(_("说明"), blank=True)
    # 应检尽检: how often members are tested (every N days), which department answers for the group,
    # and how members are identified (a roster kept by the department, the register's flag …).
    test_interval_days = models.PositiveSmallIntegerField(_("检测间隔（天）"), null=True, blank=True,
                                                          help_text=_("留空表示不定期检测；每周两次填 3"))
    department = models.ForeignKey("accounts.Organization", verbose_name=_("责任部门"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="key_groups")
    identified_by = models.CharField(_("人员来源"), max_length=200, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("重点人群")
        verbose_name_plural = _("重点人群")
        ordering = ["sort_order", "code"]

    def __str__(self):
        return self.name


CURRENT = models.Q(merged_into__isnull=True)


class PersonQuerySet(RestrictedQuerySet):
    def current(self):
        """People not merged into another record."""
        return self.filter(CURRENT)

    def with_document(self, index: str):
        """The person holding the document with this blind index (one indexed look-up).

        The unique index on doc_index is partial (blank excluded); SQLite uses
        it only when the query repeats that condition, else it scans 1M rows.
        """
        return self.filter(doc_index=index).exclude(doc_index="").order_by("pk")


class Person(TimeStampedModel):
    """A person known to the platform: resident, returnee, contact, case.

    The document number and phone are stored three ways: sealed (AES-GCM),
    a blind index for exact lookup, and the masked form shown in lists.
    Write them only through ``set_document`` / ``set_phone``.
    """

    scope_field = "area_id"

    name = models.CharField(_("姓名"), max_length=50)
    name_pinyin = models.CharField(_("姓名拼音"), max_length=120, blank=True)
    name_initials = models.CharField(_("拼音首字母"), max_length=30, blank=True)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    doc_type = models.CharField(
        _("证件类型"), max_length=20, choices=DocumentType.choices, default=DocumentType.RESIDENT_ID
    )
    doc_sealed = models.TextField(_("证件号码（密文）"), blank=True, editable=False)
    doc_index = models.CharField(_("证件号码索引"), max_length=40, blank=True, editable=False)
    doc_masked = models.CharField(_("证件号码"), max_length=40, blank=True, editable=False)
    doc_last4 = models.CharField(_("证件号后四位"), max_length=4, blank=True, editable=False)
    phone_sealed = models.TextField(_("联系电话（密文）"), blank=True, editable=False)
    phone_index = models.CharField(_("联系电话索引"), max_length=40, blank=True, editable=False)
    phone_masked = models.CharField(_("联系电话"), max_length=20, blank=True, editable=False)
    area = models.ForeignKey(Area, verbose_name=_("所属网格"), on_delete=models.PROTECT, related_name="people")
    household = models.ForeignKey(
        Household, verbose_name=_("户"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    relation = models.CharField(_("与户主关系"), max_length=20, choices=Relation.choices, blank=True)
    address = models.CharField(_("现住址"), max_length=200, blank=True)
    is_floating = models.BooleanField(_("流动人口"), default=False)
    is_rental_tenant = models.BooleanField(_("租户"), default=False)
    vulnerable_group = models.CharField(
        _("困难群体类别"), max_length=20, choices=VulnerableGroup.choices, blank=True, default=""
    )
    lives_alone_elderly = models.BooleanField(_("独居老人"), default=False)
    # Same office, workshop or classroom makes a close contact (china-ops.md §1, situation 4).
    workplace = models.CharField(_("工作单位/学校班级"), max_length=100, blank=True)
    key_groups = models.ManyToManyField(KeyGroup, verbose_name=_("重点人群"), blank=True, related_name="people")
    merged_into = models.ForeignKey(
        "self", verbose_name=_("已合并至"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )

    objects = models.Manager.from_queryset(PersonQuerySet)()

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        ordering = ["area_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["doc_index"], condition=~models.Q(doc_index=""), name="person_unique_document"
            ),
        ]
        # The search indexes are partial on current (not merged) people: every
        # list and search filters on that, so counts are answered from the index.
        indexes = [
            models.Index(fields=["area", "name", "id"], name="person_area_name_idx", condition=CURRENT),
            models.Index(fields=["name", "area"], name="person_name_idx", condition=CURRENT),
            models.Index(fields=["name_pinyin", "area"], name="person_pinyin_idx", condition=CURRENT),
            models.Index(fields=["name_initials", "area"], name="person_initials_idx", condition=CURRENT),
            models.Index(fields=["doc_last4", "area"], name="person_doc_last4_idx", condition=CURRENT),
            models.Index(fields=["phone_index"], name="person_phone_idx"),
            models.Index(fields=["name", "birth_date"], name="person_name_birth_idx"),
            models.Index(fields=["workplace"], name="person_workplace_idx", condition=~models.Q(workplace="")),
        ]

    def __str__(self):
        return self.name

    def audit_repr(self):
        return f"{self.name} {self.doc_masked}".strip()

    # identity, sealed -------------------------------------------------------
    def set_document(self, doc_type: str, number: str) -> None:
        """Store an already validated document number."""
        self.doc_type = doc_type
        self.doc_sealed = crypto.encrypt(number)
        self.doc_index = document_index(doc_type, number)
        self.doc_masked = identity.mask_document(number)
        self.doc_last4 = number[-4:] if number else ""

    def set_phone(self, phone: str) -> None:
        self.phone_sealed = crypto.encrypt(phone)
        self.phone_index = phone_index(phone)
        self.phone_masked = identity.mask_phone(phone)

    @property
    def document_number(self) -> str:
        """The plain number. Read it only through people.services.reveal_person."""
        return crypto.decrypt(self.doc_sealed)

    @property
    def phone(self) -> str:
        return crypto.decrypt(self.phone_sealed)

    @property
    def age(self):
        from datetime import date

        if not self.birth_date:
            return None
        today = date.today()
        return today.year - self.birth_date.year - ((today.month, today.day) < (self.birth_date.month, self.birth_date.day))


def document_index(doc_type: str, number: str) -> str:
    return crypto.blind_index(f"doc:{doc_type}", number) if number else ""


def phone_index(phone: str) -> str:
    return crypto.blind_index("phone", phone) if phone else ""


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("待确认列")
    PLANNING = "planning", _("预检中")
    PLANNED = "planned", _("已预检")
    COMMITTING = "committing", _("导入中")
    COMMITTED = "committed", _("已导入")
    FAILED = "failed", _("失败")


class RegisterImport(models.Model):
    """One upload of the population register (常住人口信息汇总表) and what became of it.

    The file stays under var/files/imports until the batch is committed; the
    dry run and the commit both plan from it, so a commit always matches the
    data as it is at commit time.
    """

    scope_field = "area_id"

    area = models.ForeignKey(Area, verbose_name=_("导入区划"), on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("文件名"), max_length=200)
    stored_name = models.CharField(_("存储文件"), max_length=100)
    sha256 = models.CharField(_("文件摘要"), max_length=64)
    size = models.PositiveBigIntegerField(_("大小"), default=0)
    sheets = models.JSONField(_("工作表"), default=list, blank=True)
    mapping = models.JSONField(_("列对应"), default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    summary = models.JSONField(_("预检结果"), default=dict, blank=True)
    error_report = models.CharField(_("错误报告"), max_length=100, blank=True)
    plan_job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    commit_job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    committed_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("人口信息导入")
        verbose_name_plural = _("人口信息导入")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["area", "-created_at"], name="import_area_idx")]

    def __str__(self):
        return self.filename


class ImportMapping(models.Model):
    """The column mapping last confirmed for an area: header text -> field code."""

    area = models.OneToOneField(Area, verbose_name=_("区划"), on_delete=models.CASCADE, related_name="+")
    mapping = models.JSONField(_("列对应"), default=dict)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("导入列对应")
        verbose_name_plural = _("导入列对应")

    def __str__(self):
        return str(self.area_id)
