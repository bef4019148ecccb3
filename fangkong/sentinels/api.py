"""Sentinels over the API: the list and registration, reports of every kind, four-class drug sales.

POST /sentinel-reports answers 422 with the field's Chinese message for bad
input (a future day included). POST /drug-purchases is idempotent by
``client_key``: the same key again answers 200 with the stored record and
``"duplicate": true``; an invalid ID number is stored all the same (201,
``"buyer_verified": false``) with a task to verify the buyer.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from fangkong.accounts.choices import Role
from fangkong.accounts.models import User
from fangkong.areas.models import Area
from fangkong.core.api_base import PageParams, errors, get_or_404, paginate
from fangkong.core.scope import prefix_q

from . import services
from .choices import ReportKind, SentinelKind
from .models import DrugPurchase, Sentinel, SentinelReport

router = Router(tags=["哨点监测"])
SENTINEL_NOT_FOUND = "未找到该哨点或无权查看。"


def _invalid(exc: ValidationError, status: int = 422):
    if hasattr(exc, "error_dict"):
        fields = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    else:
        fields = {NON_FIELD_ERRORS: [str(m) for m in exc.messages]}
    first = next((m[0] for m in fields.values() if m), _("输入有误。"))
    return Status(status, {"code": "invalid", "message": first, "errors": fields})


# Sentinels ---------------------------------------------------------------------------------------
class SentinelOut(Schema):
    id: int
    kind: str
    kind_label: str
    name: str
    area_code: str
    area_name: str
    address: str
    contact: str
    phone: str
    is_active: bool
    joined_on: date = Field(description="开始报告日期：此前没有报告不算缺报")
    reporters: list[str] = Field(description="报告人用户名")
    reported_today: bool = Field(description="今日是否已报告（零报告也算）")


class SentinelPage(Schema):
    count: int
    items: list[SentinelOut]


class SentinelsFilter(PageParams):
    kind: SentinelKind | None = Field(None, description="哨点类型")
    area: str | None = Field(None, description="区划代码：只列该区划及其下级的哨点")
    missing: bool | None = Field(None, description="true：只列今日尚未报告的哨点")


class SentinelIn(Schema):
    kind: SentinelKind = Field(description="village_clinic 村卫生室、private_clinic 个体诊所、tcm_clinic 中医诊所、"
                                           "pharmacy 药店、fever_clinic 发热门诊、pretriage 预检分诊、school 学校")
    name: str = Field(max_length=100)
    area: str = Field(description="所在区划代码")
    address: str = Field("", max_length=200)
    contact: str = Field("", max_length=50)
    phone: str = Field("", max_length=20)
    joined_on: date | None = Field(None, description="开始报告日期，默认今天")
    reporters: list[str] = Field(default_factory=list, description="报告人用户名（角色为哨点报告员）")


def sentinel_out(sentinel: Sentinel, reported: set[int]) -> dict:
    return {"id": sentinel.pk, "kind": sentinel.kind, "kind_label": str(sentinel.get_kind_display()),
            "name": sentinel.name, "area_code": sentinel.area_id, "area_name": sentinel.area.name,
            "address": sentinel.address, "contact": sentinel.contact, "phone": sentinel.phone,
            "is_active": sentinel.is_active, "joined_on": sentinel.joined_on,
            "reporters": [u.username for u in sentinel.reporters.all()], "reported_today": sentinel.pk in reported}


def _visible(user):
    if not user.has_perm("sentinels.view_sentinel"):
        raise PermissionDenied
    return services.sentinels_for(user).select_related("area").prefetch_related("reporters")


@router.get("/sentinels", response={200: SentinelPage, **errors(401, 403, 422)},
            summary="哨点列表（报告员：本人的哨点；其他：辖区内），含今日是否已报告")
def list_sentinels(request, filters: Query[SentinelsFilter]):
    rows = _visible(request.auth)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.area:
        area = Area.objects.filter(code=filters.area).first()
        rows = rows.filter(prefix_q("area_id", area.prefix)) if area is not None else rows.none()
    today = timezone.localdate()
    if filters.missing:
        rows = services.missing_reports(today, rows).prefetch_related("reporters")
    reported = services.reported_ids(today, rows)
    return paginate(rows.order_by("area_id", "kind", "name", "id"), filters, lambda s: sentinel_out(s, reported))


@router.get("/sentinels/{id}", response={200: SentinelOut, **errors(401, 403, 404)}, summary="一个哨点")
def get_sentinel(request, id: int):
    sentinel = get_or_404(_visible(request.auth), _(SENTINEL_NOT_FOUND), pk=id)
    return sentinel_out(sentinel, services.reported_ids(timezone.localdate(), [sentinel.pk]))


@router.post("/sentinels", response={201: SentinelOut, **errors(400, 401, 403, 422)},
             summary="登记哨点（指挥部、乡镇、村）")
def create_sentinel(request, payload: SentinelIn):
    user = request.auth
    if not user.has_perm("sentinels.add_sentinel"):
        raise PermissionDenied
    area = Area.objects.filter(code=payload.area).first()
    if area is None:
        return _invalid(ValidationError({"area": [_("区划代码不存在。")]}))
    reporters = list(User.objects.filter(username__in=payload.reporters, role=Role.SENTINEL_REPORTER,
                                         is_active=True))
    unknown = sorted(set(payload.reporters) - {u.username for u in reporters})
    if unknown:
        return _invalid(ValidationError({"reporters": [_("用户不存在或不是哨点报告员：%(u)s") % {"u": "、".join(unknown)}]}))
    data = payload.dict(exclude={"reporters", "area"})
    data["area"] = area
    try:
        sentinel = services.register_sentinel(user, data, reporters, request=request)
    except ValidationError as exc:
        return _invalid(exc)
    return Status(201, sentinel_out(sentinel, set()))


# Reports -----------------------------------------------------------------------------------------
class AbsenceRow(Schema):
    class_name: str = Field(max_length=50)
    absent_ill: int = Field(ge=0)


class ReportIn(Schema):
    sentinel: int = Field(description="哨点编号")
    kind: ReportKind = Field(description="daily_count 每日就诊数（发热门诊、预检分诊）、fever_patient 发热病人（实名）、"
                                         "absence 因病缺勤（学校）、zero_report 零报告")
    day: date | None = Field(None, description="报告日期，不能晚于今天；发热病人按首诊时间；默认今天")
    visits: int | None = Field(None, description="daily_count：就诊人数")
    positives: int | None = Field(None, description="daily_count：其中阳性人数")
    rows: list[AbsenceRow] | None = Field(None, description="absence：各班因病缺勤人数")
    class_name: str | None = Field(None, max_length=50, description="absence：单个班级（或用 rows）")
    absent_ill: int | None = Field(None, description="absence：单个班级的因病缺勤人数")
    name: str | None = Field(None, max_length=50, description="fever_patient：姓名")
    document_number: str | None = Field(None, max_length=40, description="fever_patient：身份证号码")
    phone: str | None = Field(None, max_length=20)
    address: str | None = Field(None, max_length=200)
    onset_date: date | None = None
    temperature: Decimal | None = Field(None, description="fever_patient：体温（℃）")
    referred_to: str | None = Field(None, max_length=100, description="fever_patient：转诊去向")
    consulted_at: datetime | None = Field(None, description="fever_patient：首诊时间（1 小时内报告），默认现在")
    note: str | None = Field(None, max_length=200)


class ReportOut(Schema):
    id: int
    sentinel_id: int
    kind: str
    day: date
    visits: int | None
    positives: int | None
    class_name: str
    absent_ill: int | None
    patient_name: str = Field(description="发热病人姓名（脱敏）")
    doc_masked: str
    temperature: Decimal | None
    referred_to: str
    consulted_at: datetime | None
    reported_at: datetime
    report_minutes: int | None = Field(description="首诊至报告的分钟数")
    late: bool = Field(description="是否超过 1 小时")


def report_out(report: SentinelReport) -> dict:
    return {"id": report.pk, "sentinel_id": report.sentinel_id, "kind": report.kind, "day": report.day,
            "visits": report.visits, "positives": report.positives, "class_name": report.class_name,
            "absent_ill": report.absent_ill, "patient_name": report.masked_name if report.patient_name else "",
            "doc_masked": report.doc_masked, "temperature": report.temperature, "referred_to": report.referred_to,
            "consulted_at": report.consulted_at, "reported_at": report.reported_at,
            "report_minutes": report.report_minutes, "late": report.is_late}


@router.post("/sentinel-reports", response={201: ReportOut, **errors(401, 403, 404, 422)},
             summary="哨点报告：每日就诊数、发热病人（实名，首诊 1 小时内）、因病缺勤或零报告")
def create_report(request, payload: ReportIn):
    user = request.auth
    if not user.has_perm("sentinels.add_sentinelreport"):
        raise PermissionDenied
    sentinel = get_or_404(services.reportable_for(user), _(SENTINEL_NOT_FOUND), pk=payload.sentinel)
    data = payload.dict(exclude={"sentinel", "kind", "day"}, exclude_none=True)
    if payload.rows is not None:
        data["rows"] = [row.dict() for row in payload.rows]
    consulted_at = data.get("consulted_at")
    if consulted_at is not None and timezone.is_naive(consulted_at):
        data["consulted_at"] = timezone.make_aware(consulted_at)
    day = payload.day
    if payload.kind == ReportKind.FEVER_PATIENT and day is not None and day > timezone.localdate():
        return _invalid(ValidationError({"day": [_("报告日期不能晚于今天。")]}))
    if payload.kind == ReportKind.DAILY_COUNT and payload.visits is None:
        return _invalid(ValidationError({"visits": [_("请填写就诊人数。")]}))
    try:
        report = services.record_report(user, sentinel, payload.kind, day or timezone.localdate(),
                                        request=request, **data)
    except ValidationError as exc:
        return _invalid(exc)
    return Status(201, report_out(report))


# Drug purchases ----------------------------------------------------------------------------------
class ItemIn(Schema):
    product: str = Field(description="药品代码（见四类药品目录）")
    quantity: int = Field(1, ge=1, le=99)


class PurchaseIn(Schema):
    sentinel: int = Field(description="药店（哨点）编号")
    client_key: str = Field(max_length=64, description="客户端编号：同一笔重复提交只保存一次")
    buyer_name: str = Field(max_length=50)
    document_number: str = Field("", max_length=40, description="身份证号码；无效也保存，记为未核验购药人")
    phone: str = Field("", max_length=20)
    address: str = Field("", max_length=200)
    symptoms: list[str] = Field(default_factory=list, description="fever、cough、sore_throat、chest_tightness、"
                                                                 "fatigue、diarrhoea、other")
    health_code: Literal["", "green", "yellow", "red"] = ""
    for_someone_else: bool = False
    items: list[ItemIn] = Field(description="药品及数量")
    sold_at: datetime | None = Field(None, description="销售时间（离线补传时填写），默认现在")


class TaskRef(Schema):
    id: int
    kind: str
    title: str
    area_code: str
    role: str
    deadline: datetime
    status: str


class PurchaseOut(Schema):
    id: int
    duplicate: bool = Field(description="true：该客户端编号已保存过，返回原记录")
    sentinel_id: int
    client_key: str
    buyer_name: str = Field(description="购药人姓名（脱敏）")
    doc_masked: str
    buyer_verified: bool = Field(description="false：身份证号码无效，已派核实任务")
    person_id: int | None
    area_code: str = Field(description="责任区划：匹配到人员时为其网格，否则为药店所在区划")
    symptoms: list[str]
    for_someone_else: bool
    items: list[dict]
    created_at: datetime
    test_due_at: datetime
    tested_at: datetime | None
    task: TaskRef | None


class PurchasePage(Schema):
    count: int
    items: list[PurchaseOut]


class PurchasesFilter(PageParams):
    sentinel: int | None = None
    status: Literal["untested", "overdue", "unverified"] | None = None
    day: date | None = None


def purchase_out(purchase: DrugPurchase, duplicate: bool = False) -> dict:
    task = purchase.task
    return {"id": purchase.pk, "duplicate": duplicate, "sentinel_id": purchase.sentinel_id,
            "client_key": purchase.client_key, "buyer_name": purchase.masked_name, "doc_masked": purchase.doc_masked,
            "buyer_verified": purchase.buyer_verified, "person_id": purchase.person_id, "area_code": purchase.area_id,
            "symptoms": purchase.symptoms, "for_someone_else": purchase.for_someone_else, "items": purchase.items,
            "created_at": purchase.created_at, "test_due_at": purchase.test_due_at, "tested_at": purchase.tested_at,
            "task": None if task is None else {"id": task.pk, "kind": task.kind, "title": task.title,
                                               "area_code": task.area_id, "role": task.role,
                                               "deadline": task.deadline, "status": task.status}}


@router.post("/drug-purchases", response={200: PurchaseOut, 201: PurchaseOut, **errors(401, 403, 404, 422)},
             summary="药店登记四类药品销售（同一客户端编号只保存一次）")
def create_purchase(request, payload: PurchaseIn):
    user = request.auth
    if not user.has_perm("sentinels.add_sentinelreport"):
        raise PermissionDenied
    sentinel = get_or_404(services.reportable_for(user), _(SENTINEL_NOT_FOUND), pk=payload.sentinel)
    data = payload.dict(exclude={"sentinel"})
    data["items"] = [item.dict() for item in payload.items]
    if data["sold_at"] is not None and timezone.is_naive(data["sold_at"]):
        data["sold_at"] = timezone.make_aware(data["sold_at"])
    try:
        purchase, created = services.record_purchase(user, sentinel, data, request=request)
    except ValidationError as exc:
        return _invalid(exc)
    if not created and purchase.sentinel_id != sentinel.pk:
        return _invalid(ValidationError({"client_key": [_("该客户端编号已被其他药店使用。")]}))
    return Status(201 if created else 200, purchase_out(purchase, duplicate=not created))


@router.get("/drug-purchases", response={200: PurchasePage, **errors(401, 403, 422)},
            summary="四类药品购药登记（药店：本店；其他：购药人或药店在辖区内）")
def list_purchases(request, filters: Query[PurchasesFilter]):
    user = request.auth
    if not user.has_perm("sentinels.view_drugpurchase"):
        raise PermissionDenied
    rows = services.purchases_for(user).select_related("task")
    if filters.sentinel:
        rows = rows.filter(sentinel_id=filters.sentinel)
    if filters.day:
        rows = rows.filter(day=filters.day)
    if filters.status == "untested":
        rows = rows.filter(tested_at__isnull=True)
    elif filters.status == "overdue":
        rows = rows.filter(tested_at__isnull=True, test_due_at__lt=timezone.now())
    elif filters.status == "unverified":
        rows = rows.filter(buyer_verified=False)
    return paginate(rows.order_by("-created_at", "-id"), filters, purchase_out)
