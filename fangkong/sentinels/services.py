"""Sentinel reports and four-class drug purchases (发挥卫生室、小诊所、药店"探头"作用).

Clinics report each fever patient by real name within an hour of the first
consultation (首诊负责制), fever clinics and pre-triage desks their daily
visit counts, schools the pupils absent through illness; a sentinel with
nothing to report files a zero report, which counts as a report. Pharmacies
register every sale of the four drug classes; the buyer gets a follow-up
test task for their grid, due ``FANGKONG_DRUG_TEST_HOURS`` (default 48)
after the sale, and a buyer still untested when it falls due raises one
signal. ``daily_counts`` turns all of it into the per-township series the
early-warning detectors read.
"""

import contextlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import diff, record_event
from fangkong.core.scope import prefix_q
from fangkong.people import identity
from fangkong.people.models import Person, document_index
from fangkong.tasks.choices import OPEN_STATUSES, TaskStatus
from fangkong.tasks.services import OFFICER_ROLE_FOR_LEVEL, create_task
from fangkong.warning.choices import Severity
from fangkong.warning.services import raise_signal

from .choices import (
    SIGNAL_BUYER_UNTESTED,
    SIGNAL_FEVER_PATIENT,
    TASK_BUYER_TEST,
    TASK_BUYER_VERIFY,
    BuyerSymptom,
    HealthCode,
    ReportKind,
    SentinelKind,
    SignalType,
)
from .models import DrugProduct, DrugPurchase, Sentinel, SentinelReport

REPORT_WITHIN_MINUTES = 60
MAX_QUANTITY = 99
MAX_ITEMS = 20
# Risk levels of a recent trip that make a fever patient "from a risk area" (policy.choices.RiskLevel).
RISK_LEVELS = ("high", "medium", "sealed", "controlled")
RISK_TRAVEL_DAYS = 14


def test_hours() -> int:
    return int(getattr(settings, "FANGKONG_DRUG_TEST_HOURS", 48))


def _require(user, perm: str):
    if user is None or not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied


# Reach -------------------------------------------------------------------------------------------
def _is_reporter(user) -> bool:
    return getattr(user, "role", None) == Role.SENTINEL_REPORTER


def sentinels_for(user):
    """The sentinels USER may see: a reporter their own sentinels, anyone else those in their area."""
    if user is None or not user.is_authenticated or not user.has_perm("sentinels.view_sentinel"):
        return Sentinel.objects.none()
    if _is_reporter(user):
        return Sentinel.objects.filter(reporters=user)
    return Sentinel.objects.restrict(user, "view")


def reportable_for(user):
    """The sentinels USER may file reports (and sales) for."""
    if user is None or not user.is_authenticated or not user.has_perm("sentinels.add_sentinelreport"):
        return Sentinel.objects.none()
    return sentinels_for(user).filter(is_active=True)


def reports_for(user):
    if user is None or not user.is_authenticated or not user.has_perm("sentinels.view_sentinelreport"):
        return SentinelReport.objects.none()
    if _is_reporter(user):
        return SentinelReport.objects.filter(sentinel__reporters=user)
    return SentinelReport.objects.restrict(user, "view")


def purchases_for(user):
    """Sales USER may see: their pharmacies' (reporters), or by the buyer's or the pharmacy's area."""
    if user is None or not user.is_authenticated or not user.has_perm("sentinels.view_drugpurchase"):
        return DrugPurchase.objects.none()
    if _is_reporter(user):
        return DrugPurchase.objects.filter(sentinel__reporters=user)
    prefix = user.scope_prefix
    if prefix is None:
        return DrugPurchase.objects.all()
    return DrugPurchase.objects.filter(prefix_q("area_id", prefix) | prefix_q("sentinel__area_id", prefix))


def _may_report(user, sentinel: Sentinel):
    _require(user, "sentinels.add_sentinelreport")
    if not reportable_for(user).filter(pk=sentinel.pk).exists():
        raise PermissionDenied


# Sentinels ---------------------------------------------------------------------------------------
SENTINEL_FIELDS = ["kind", "name", "area", "address", "contact", "phone", "joined_on", "is_active"]


def _clean_place(user, data: dict, sentinel: Sentinel | None = None) -> tuple[str, str, object]:
    """(kind, name, area) of a sentinel being registered or edited: a known kind, a name, an area in reach,
    and no other sentinel of that kind and name there."""
    area = data.get("area")
    if area is None:
        raise ValidationError({"area": [_("请选择哨点所在区划。")]})
    from fangkong.areas.models import Area

    if not Area.objects.restrict(user, "view").filter(pk=area.pk).exists():
        raise ValidationError({"area": [_("所选区划不在您的管辖范围内。")]})
    if data.get("kind") not in SentinelKind.values:
        raise ValidationError({"kind": [_("请选择哨点类型。")]})
    name = (data.get("name") or "").strip()
    if not name:
        raise ValidationError({"name": [_("请填写哨点名称。")]})
    others = Sentinel.objects.filter(area=area, kind=data["kind"], name=name)
    if sentinel is not None:
        others = others.exclude(pk=sentinel.pk)
    if others.exists():
        raise ValidationError({"name": [_("该区划已有同名同类型的哨点。")]})
    return data["kind"], name, area


@transaction.atomic
def register_sentinel(user, data: dict, reporters=(), request=None) -> Sentinel:
    """A new sentinel in the user's area, with its reporters."""
    _require(user, "sentinels.add_sentinel")
    kind, name, area = _clean_place(user, data)
    joined_on = data.get("joined_on") or timezone.localdate()
    sentinel = Sentinel.objects.create(
        kind=kind, name=name, area=area, address=data.get("address", ""), contact=data.get("contact", ""),
        phone=data.get("phone", ""), joined_on=joined_on, is_active=data.get("is_active", True),
        created_by=user, updated_by=user)
    if reporters:
        sentinel.reporters.set(reporters)
    record_event(user, AuditAction.CREATE, sentinel, request=request,
                 changes={"kind": [None, sentinel.kind], "area": [None, area.pk],
                          "reporters": [None, sorted(u.username for u in reporters)]})
    return sentinel


def first_report_day(sentinel: Sentinel) -> date | None:
    """The first day SENTINEL reported (a report of any kind, or a sale), or None."""
    days = [SentinelReport.objects.filter(sentinel=sentinel).order_by("day").values_list("day", flat=True).first(),
            DrugPurchase.objects.filter(sentinel=sentinel).order_by("day").values_list("day", flat=True).first()]
    days = [day for day in days if day is not None]
    return min(days) if days else None


@transaction.atomic
def update_sentinel(user, sentinel: Sentinel, data: dict, reporters=None, request=None) -> Sentinel:
    """Change a sentinel in the user's area (its reporters too when REPORTERS is given); fields DATA lacks stay."""
    _require(user, "sentinels.change_sentinel")
    if not Sentinel.objects.restrict(user, "change").filter(pk=sentinel.pk).exists():
        raise PermissionDenied
    data = {field: data[field] for field in SENTINEL_FIELDS if field in data and data[field] is not None}
    data["kind"], data["name"], data["area"] = _clean_place(user, {
        "kind": sentinel.kind, "name": sentinel.name, "area": sentinel.area, **data}, sentinel)
    first = first_report_day(sentinel) if "joined_on" in data else None
    if first is not None and data["joined_on"] > first:
        raise ValidationError({"joined_on": [_("开始报告日期不能晚于该哨点第一次报告的日期（%(day)s）。") % {
            "day": first.isoformat()}]})
    before = {f: getattr(sentinel, f"{f}_id" if f == "area" else f) for f in SENTINEL_FIELDS}
    for field, value in data.items():
        setattr(sentinel, field, value)
    sentinel.updated_by = user
    sentinel.save()
    after = {f: getattr(sentinel, f"{f}_id" if f == "area" else f) for f in SENTINEL_FIELDS}
    changes = diff({k: str(v) for k, v in before.items()}, {k: str(v) for k, v in after.items()})
    if reporters is not None:
        old = sorted(sentinel.reporters.values_list("username", flat=True))
        sentinel.reporters.set(reporters)
        new = sorted(u.username for u in reporters)
        if old != new:
            changes["reporters"] = [old, new]
    record_event(user, AuditAction.UPDATE, sentinel, changes=changes, request=request)
    return sentinel


# Reports -----------------------------------------------------------------------------------------
def _clean_day(day, sentinel: Sentinel) -> date:
    if isinstance(day, datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            raise ValidationError({"day": [_("日期格式应为 YYYY-MM-DD。")]}) from None
    if not isinstance(day, date):
        raise ValidationError({"day": [_("请填写报告日期。")]})
    if day > timezone.localdate():
        raise ValidationError({"day": [_("报告日期不能晚于今天。")]})
    if not sentinel.is_active:
        raise ValidationError(_("该哨点已停用，不能再报告。"))
    return day


def _reached_back(sentinel: Sentinel, day: date) -> None:
    # A report for a day before the sentinel joined moves the start back: that day it was reporting.
    if day < sentinel.joined_on:
        Sentinel.objects.filter(pk=sentinel.pk).update(joined_on=day)
        sentinel.joined_on = day


def _count(value, field: str, label: str, maximum: int = 100_000) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: [_("%(label)s应为整数。") % {"label": label}]}) from None
    if number < 0 or number > maximum:
        raise ValidationError({field: [_("%(label)s应在 0 至 %(max)s 之间。") % {"label": label, "max": maximum}]})
    return number


def record_report(user, sentinel: Sentinel, kind: str, day=None, request=None, **data) -> SentinelReport:
    """Any kind of report; the kind-specific functions below do the work."""
    if kind == ReportKind.ZERO_REPORT:
        return record_zero_report(user, sentinel, day, request=request)
    if kind == ReportKind.DAILY_COUNT:
        return record_daily_counts(user, sentinel, day, data.get("visits"), data.get("positives", 0),
                                   note=data.get("note", ""), request=request)
    if kind == ReportKind.ABSENCE:
        rows = data.get("rows")
        if rows is None:
            rows = [{"class_name": data.get("class_name", ""), "absent_ill": data.get("absent_ill")}]
        return record_absences(user, sentinel, day, rows, request=request)[0]
    if kind == ReportKind.FEVER_PATIENT:
        return record_fever_patient(user, sentinel, data, request=request)
    raise ValidationError({"kind": [_("报告类型不正确。")]})


@transaction.atomic
def record_zero_report(user, sentinel: Sentinel, day=None, request=None) -> SentinelReport:
    """Nothing to report today (零报告): a report all the same. Filing it twice keeps one."""
    _may_report(user, sentinel)
    day = _clean_day(day or timezone.localdate(), sentinel)
    report, created = SentinelReport.objects.get_or_create(
        sentinel=sentinel, day=day, kind=ReportKind.ZERO_REPORT,
        defaults={"area_id": sentinel.area_id, "created_by": user})
    if created:
        _reached_back(sentinel, day)
        record_event(user, AuditAction.CREATE, report, request=request, changes={"day": [None, day.isoformat()]})
    return report


@transaction.atomic
def record_daily_counts(user, sentinel: Sentinel, day, visits, positives=0, note: str = "",
                        request=None) -> SentinelReport:
    """A fever clinic's (or pre-triage desk's) counts for a day; sending the day again corrects it."""
    _may_report(user, sentinel)
    if not sentinel.reports_counts:
        raise ValidationError(_("只有发热门诊和预检分诊报告每日就诊数。"))
    day = _clean_day(day, sentinel)
    visits = _count(visits, "visits", _("就诊人数"))
    positives = _count(positives or 0, "positives", _("阳性人数"))
    if positives > visits:
        raise ValidationError({"positives": [_("阳性人数不能多于就诊人数。")]})
    report = SentinelReport.objects.select_for_update().filter(
        sentinel=sentinel, day=day, kind=ReportKind.DAILY_COUNT).first()
    if report is None:
        report = SentinelReport.objects.create(sentinel=sentinel, area_id=sentinel.area_id, day=day,
                                               kind=ReportKind.DAILY_COUNT, visits=visits, positives=positives,
                                               note=note[:200], created_by=user)
        _reached_back(sentinel, day)
        record_event(user, AuditAction.CREATE, report, request=request,
                     changes={"visits": [None, visits], "positives": [None, positives]})
        return report
    changes = diff({"visits": report.visits, "positives": report.positives},
                   {"visits": visits, "positives": positives})
    report.visits, report.positives, report.note = visits, positives, note[:200]
    report.reported_at = timezone.now()
    report.save(update_fields=["visits", "positives", "note", "reported_at", "updated_at"])
    record_event(user, AuditAction.UPDATE, report, request=request, changes=changes)
    return report


@transaction.atomic
def record_absences(user, sentinel: Sentinel, day, rows, request=None) -> list[SentinelReport]:
    """A school's pupils absent through illness, one row per class; a class sent again is corrected."""
    _may_report(user, sentinel)
    if not sentinel.reports_absences:
        raise ValidationError(_("只有学校报告因病缺勤。"))
    day = _clean_day(day, sentinel)
    cleaned = {}
    for row in rows or []:
        class_name = str(row.get("class_name") or "").strip()[:50]
        if not class_name:
            raise ValidationError({"class_name": [_("请填写班级。")]})
        cleaned[class_name] = _count(row.get("absent_ill"), "absent_ill", _("因病缺勤人数"), 2000)
    if not cleaned:
        raise ValidationError({"class_name": [_("请至少填写一个班级。")]})
    saved = []
    for class_name, absent in cleaned.items():
        report = SentinelReport.objects.select_for_update().filter(
            sentinel=sentinel, day=day, kind=ReportKind.ABSENCE, class_name=class_name).first()
        if report is None:
            report = SentinelReport.objects.create(sentinel=sentinel, area_id=sentinel.area_id, day=day,
                                                   kind=ReportKind.ABSENCE, class_name=class_name,
                                                   absent_ill=absent, created_by=user)
            record_event(user, AuditAction.CREATE, report, request=request,
                         changes={"class_name": [None, class_name], "absent_ill": [None, absent]})
        elif report.absent_ill != absent:
            record_event(user, AuditAction.UPDATE, report, request=request,
                         changes={"absent_ill": [report.absent_ill, absent]})
            report.absent_ill, report.reported_at = absent, timezone.now()
            report.save(update_fields=["absent_ill", "reported_at", "updated_at"])
        saved.append(report)
    _reached_back(sentinel, day)
    return saved


def _aware(value, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(value)
        if parsed is None:
            raise ValidationError({field: [_("时间格式不正确。")]})
        value = parsed
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def find_person_by_document(number: str) -> Person | None:
    """The current person holding resident ID NUMBER (already validated), following merges; else None."""
    person = Person.objects.with_document(document_index("resident_id", number)).first()
    seen = 0
    while person is not None and person.merged_into_id and seen < 5:
        person, seen = person.merged_into, seen + 1
    return person


def risk_travel(person: Person | None) -> bool | None:
    """Hook: whether PERSON declared a trip from a medium/high-risk area in the last 14 days (None: unknown)."""
    if person is None:
        return None
    from fangkong.declarations.models import Declaration

    since = timezone.now() - timedelta(days=RISK_TRAVEL_DAYS)
    return Declaration.objects.filter(person=person, risk_level__in=RISK_LEVELS, created_at__gte=since).exists()


@transaction.atomic
def record_fever_patient(user, sentinel: Sentinel, data: dict, request=None) -> SentinelReport:
    """One fever patient by real name, reported within an hour of the first consultation; writes a signal."""
    _may_report(user, sentinel)
    if not sentinel.reports_patients:
        raise ValidationError(_("该哨点不报告发热病人。"))
    now = timezone.now()
    name = str(data.get("name") or "").strip()[:50]
    if not name:
        raise ValidationError({"name": [_("请填写病人姓名。")]})
    number = identity.normalize_document(data.get("document_number"))
    if not number:
        raise ValidationError({"document_number": [_("请填写病人身份证号码（实名报告）。")]})
    try:
        number = identity.validate_resident_id(number)
    except ValidationError as exc:
        raise ValidationError({"document_number": exc.messages}) from None
    try:
        phone = identity.validate_phone(data.get("phone"))
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    consulted_at = _aware(data.get("consulted_at"), "consulted_at") or now
    if consulted_at > now + timedelta(minutes=5):
        raise ValidationError({"consulted_at": [_("首诊时间不能晚于现在。")]})
    day = _clean_day(timezone.localtime(consulted_at).date(), sentinel)
    temperature = data.get("temperature")
    if temperature not in (None, ""):
        try:
            temperature = Decimal(str(temperature)).quantize(Decimal("0.1"))
        except InvalidOperation:
            raise ValidationError({"temperature": [_("体温应为数字，如 38.2。")]}) from None
        if not Decimal("34") <= temperature <= Decimal("43"):
            raise ValidationError({"temperature": [_("体温应在 34 至 43 ℃ 之间，请核对。")]})
    else:
        temperature = None
    onset = data.get("onset_date") or None
    if isinstance(onset, str):
        try:
            onset = date.fromisoformat(onset)
        except ValueError:
            raise ValidationError({"onset_date": [_("日期格式应为 YYYY-MM-DD。")]}) from None
    if onset is not None and onset > day:
        raise ValidationError({"onset_date": [_("发病日期不能晚于就诊日期。")]})
    person = find_person_by_document(number)
    report = SentinelReport(sentinel=sentinel, area_id=sentinel.area_id, day=day, kind=ReportKind.FEVER_PATIENT,
                            patient_name=name, patient_address=str(data.get("address") or "")[:200],
                            onset_date=onset, temperature=temperature,
                            referred_to=str(data.get("referred_to") or "")[:100], consulted_at=consulted_at,
                            person=person, note=str(data.get("note") or "")[:200], reported_at=now,
                            created_by=user)
    report.set_document(number, valid=True)
    report.set_phone(phone)
    report.save()
    _reached_back(sentinel, day)
    record_event(user, AuditAction.CREATE, report, request=request,
                 changes={"day": [None, day.isoformat()], "minutes": [None, report.report_minutes],
                          "person": [None, person.pk if person else None]})
    from_risk = risk_travel(person)
    title = _("%(sentinel)s报告发热病人 %(name)s") % {"sentinel": sentinel.name, "name": report.masked_name}
    if temperature is not None:
        title += f" {temperature}℃"
    raise_signal(SIGNAL_FEVER_PATIENT, title=title, area=sentinel.area, person=person, subject=report,
                 severity=Severity.CRITICAL if from_risk else Severity.WARNING, occurred_at=consulted_at,
                 details={"sentinel": sentinel.pk, "sentinel_kind": sentinel.kind,
                          "temperature": str(temperature) if temperature is not None else None,
                          "referred_to": report.referred_to, "report_minutes": report.report_minutes,
                          "late": report.is_late, "from_risk_area": from_risk})
    return report


# Drug purchases ----------------------------------------------------------------------------------
def _clean_items(items) -> list[dict]:
    if not isinstance(items, list | tuple) or not items:
        raise ValidationError({"items": [_("请至少选择一种药品。")]})
    if len(items) > MAX_ITEMS:
        raise ValidationError({"items": [_("一次最多登记 %(n)s 种药品。") % {"n": MAX_ITEMS}]})
    keys = [str(item.get("product", "")).strip() for item in items if isinstance(item, dict)]
    products = {p.code: p for p in DrugProduct.objects.filter(is_active=True, code__in=keys)}
    merged: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError({"items": [_("药品格式不正确。")]})
        code = str(item.get("product", "")).strip()
        if code not in products:
            raise ValidationError({"items": [_("药品“%(code)s”不在四类药品目录中。") % {"code": code}]})
        quantity = _count(item.get("quantity", 1), "items", _("数量"), MAX_QUANTITY)
        if quantity < 1:
            raise ValidationError({"items": [_("数量至少为 1。")]})
        merged[code] = merged.get(code, 0) + quantity
    return [{"product": code, "name": products[code].name, "drug_class": products[code].drug_class,
             "quantity": quantity} for code, quantity in merged.items()]


def _role_for(area) -> str:
    return OFFICER_ROLE_FOR_LEVEL.get(area.level, Role.GRID_WORKER)


def record_purchase(user, sentinel: Sentinel, data: dict, request=None) -> tuple[DrugPurchase, bool]:
    """Register one four-class sale; returns (purchase, created). The same CLIENT_KEY again returns the first."""
    _may_report(user, sentinel)
    client_key = str(data.get("client_key") or "").strip()
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": [_("客户端编号必填，至多 64 个字符。")]})
    existing = DrugPurchase.objects.filter(client_key=client_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return _create_purchase(user, sentinel, client_key, data, request), True
    except IntegrityError:
        # The same key sent twice at once: the other request stored it.
        existing = DrugPurchase.objects.filter(client_key=client_key).first()
        if existing is None:
            raise
        return existing, False


def _create_purchase(user, sentinel, client_key, data, request) -> DrugPurchase:
    if not sentinel.is_pharmacy:
        raise ValidationError(_("只有药店登记四类药品销售。"))
    now = timezone.now()
    sold_at = _aware(data.get("sold_at"), "sold_at") or now
    if sold_at > now + timedelta(minutes=5):
        raise ValidationError({"sold_at": [_("销售时间不能晚于现在。")]})
    day = _clean_day(timezone.localtime(sold_at).date(), sentinel)
    name = str(data.get("buyer_name") or "").strip()[:50]
    if not name:
        raise ValidationError({"buyer_name": [_("请填写购药人姓名。")]})
    items = _clean_items(data.get("items"))
    symptoms = [s for s in (data.get("symptoms") or []) if s]
    unknown = [s for s in symptoms if s not in BuyerSymptom.values]
    if unknown:
        raise ValidationError({"symptoms": [_("症状“%(s)s”不正确。") % {"s": unknown[0]}]})
    health_code = data.get("health_code") or ""
    if health_code and health_code not in HealthCode.values:
        raise ValidationError({"health_code": [_("健康码颜色不正确。")]})
    number = identity.normalize_document(data.get("document_number"))[:40]
    verified = False
    with contextlib.suppress(ValidationError):
        number, verified = identity.validate_resident_id(number), True
    # A phone that does not look like one is kept as typed: the sale is never refused for it.
    phone = identity.normalize_phone(data.get("phone"))[:20]
    person = find_person_by_document(number) if verified else None
    area = person.area if person is not None else sentinel.area
    purchase = DrugPurchase(
        sentinel=sentinel, client_key=client_key, day=day, buyer_name=name,
        address=str(data.get("address") or "")[:200], area=area, symptoms=sorted(set(symptoms)),
        health_code=health_code, for_someone_else=bool(data.get("for_someone_else")), items=items,
        buyer_verified=verified, person=person, test_due_at=sold_at + timedelta(hours=test_hours()),
        created_by=user, created_at=sold_at)
    purchase.set_document(number, valid=verified)
    purchase.set_phone(phone)
    purchase.save()
    drugs = "、".join(f"{i['name']}×{i['quantity']}" for i in items)
    due = timezone.localtime(purchase.test_due_at).strftime("%m-%d %H:%M")
    if verified:
        task = create_task(
            kind=TASK_BUYER_TEST, title=_("购药人核酸检测 %(name)s") % {"name": purchase.masked_name},
            area=area, role=_role_for(area), deadline=purchase.test_due_at, subject=purchase, created_by=user,
            description=_("%(pharmacy)s 购买四类药品：%(drugs)s。请督促其在 %(due)s 前完成核酸检测。")
            % {"pharmacy": sentinel.name, "drugs": drugs, "due": due})
    else:
        task = create_task(
            kind=TASK_BUYER_VERIFY, title=_("核实购药人身份 %(name)s") % {"name": purchase.masked_name},
            area=sentinel.area, role=_role_for(sentinel.area), deadline=purchase.test_due_at, subject=purchase,
            created_by=user,
            description=_("%(pharmacy)s 登记的购药人身份证号码无效（%(doc)s）。请核实身份，并督促其在 %(due)s 前"
                          "完成核酸检测。购买：%(drugs)s。")
            % {"pharmacy": sentinel.name, "doc": purchase.doc_masked or _("未填写"), "due": due, "drugs": drugs})
    purchase.task = task
    purchase.save(update_fields=["task"])
    record_event(user, AuditAction.CREATE, purchase, request=request,
                 changes={"sentinel": [None, sentinel.pk], "verified": [None, verified],
                          "person": [None, person.pk if person else None], "items": [None, len(items)]})
    return purchase


def _close_task(task, note: str) -> None:
    if task is None or task.status not in OPEN_STATUSES:
        return
    before = task.status
    task.status, task.result_note, task.completed_at = TaskStatus.DONE, note, timezone.now()
    task.save(update_fields=["status", "result_note", "completed_at"])
    record_event(None, AuditAction.UPDATE, task, object_repr=task.title,
                 changes={"status": [before, TaskStatus.DONE], "result_note": [None, note]},
                 reason=_("采样记录自动办结"))


def refresh_buyer_tests(now=None) -> int:
    """Mark buyers tested from their samples taken since the sale; closes their test tasks. Returns how many."""
    from fangkong.testing.models import Sample

    now = now or timezone.now()
    first = Sample.objects.filter(person_id=OuterRef("person_id"), sampled_at__gte=OuterRef("created_at"),
                                  sampled_at__lte=now).order_by("sampled_at").values("sampled_at")[:1]
    rows = list(DrugPurchase.objects.filter(tested_at__isnull=True, person__isnull=False)
                .annotate(first_sample=Subquery(first)).filter(first_sample__isnull=False)
                .select_related("task"))
    for purchase in rows:
        with transaction.atomic():
            purchase.tested_at = purchase.first_sample
            purchase.save(update_fields=["tested_at"])
            record_event(None, AuditAction.UPDATE, purchase, changes={"tested_at": [None, purchase.tested_at.isoformat()]},
                         reason=_("购药人已采样"))
            if purchase.task is not None and purchase.task.kind == TASK_BUYER_TEST:
                _close_task(purchase.task, _("已于 %(at)s 采样。") % {
                    "at": timezone.localtime(purchase.tested_at).strftime("%m-%d %H:%M")})
    return len(rows)


def overdue_buyers(now=None) -> int:
    """One signal per buyer still untested past the deadline (the row is claimed first, so never twice)."""
    now = now or timezone.now()
    due = list(DrugPurchase.objects.filter(tested_at__isnull=True, untested_signal_at__isnull=True,
                                           test_due_at__lt=now).select_related("sentinel", "area")
               .order_by("test_due_at", "id")[:5000])
    raised = 0
    for purchase in due:
        with transaction.atomic():
            claimed = DrugPurchase.objects.filter(pk=purchase.pk, untested_signal_at__isnull=True).update(
                untested_signal_at=now)
            if not claimed:
                continue
            hours = int((now - purchase.created_at).total_seconds() // 3600)
            raise_signal(
                SIGNAL_BUYER_UNTESTED, area=purchase.area, person_id=purchase.person_id, subject=purchase,
                title=_("购药人 %(name)s 购药 %(hours)s 小时未检测（%(pharmacy)s）") % {
                    "name": purchase.masked_name, "hours": hours, "pharmacy": purchase.sentinel.name},
                details={"sentinel": purchase.sentinel_id, "verified": purchase.buyer_verified,
                         "symptoms": purchase.symptoms, "drug_classes": sorted({i["drug_class"] for i in purchase.items}),
                         "due_at": purchase.test_due_at.isoformat()},
                occurred_at=purchase.test_due_at)
            raised += 1
    return raised


def run_followups(now=None) -> dict:
    """The periodic job: buyers tested, then the overdue ones signalled."""
    now = now or timezone.now()
    return {"tested": refresh_buyer_tests(now), "signals": overdue_buyers(now)}


# Reporting status --------------------------------------------------------------------------------
def reported_ids(day: date, sentinels=None) -> set[int]:
    """Sentinels with any report (a zero report too, or a sale for pharmacies) on DAY."""
    reports = SentinelReport.objects.filter(day=day)
    sales = DrugPurchase.objects.filter(day=day)
    if sentinels is not None:
        reports = reports.filter(sentinel__in=sentinels)
        sales = sales.filter(sentinel__in=sentinels)
    return set(reports.values_list("sentinel_id", flat=True).distinct()) | set(
        sales.values_list("sentinel_id", flat=True).distinct())


def missing_reports(day: date, sentinels=None):
    """Active sentinels (of SENTINELS, default all) that have not reported on DAY and had joined by then."""
    sentinels = Sentinel.objects.all() if sentinels is None else sentinels
    active = sentinels.filter(is_active=True, joined_on__lte=day)
    return active.exclude(pk__in=reported_ids(day, active)).select_related("area")


# Counts for the detectors ------------------------------------------------------------------------
def _township(code: str) -> str:
    """The township code of an area code (the county's own code for county-level sentinels)."""
    return code[:9] + "000"


def daily_counts(day_from: date, day_to: date) -> list[tuple[str, str, date, int]]:
    """(township code, signal type, day, count) for every non-zero count between the two days, inclusive.

    One grouped query per signal type. Days with no row are zero for
    sentinels that had joined by then; ``sentinel_coverage`` tells which.
    """
    township = Substr("sentinel__area_id", 1, 9)
    reports = SentinelReport.objects.filter(day__gte=day_from, day__lte=day_to)
    queries = [
        (SignalType.FEVER_CLINIC_VISITS, reports.filter(kind=ReportKind.DAILY_COUNT), Sum("visits")),
        (SignalType.CLINIC_FEVER_PATIENTS, reports.filter(kind=ReportKind.FEVER_PATIENT), Count("id")),
        (SignalType.SCHOOL_ABSENCES, reports.filter(kind=ReportKind.ABSENCE), Sum("absent_ill")),
        (SignalType.DRUG_SALES, DrugPurchase.objects.filter(day__gte=day_from, day__lte=day_to), Count("id")),
    ]
    rows = []
    for signal_type, queryset, measure in queries:
        grouped = (queryset.annotate(township=township).values("township", "day").annotate(n=measure)
                   .order_by("township", "day"))
        rows.extend((row["township"] + "000", str(signal_type), row["day"], int(row["n"] or 0))
                    for row in grouped if row["n"])
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return rows


SIGNAL_SENTINEL_KINDS = {
    SignalType.FEVER_CLINIC_VISITS: (SentinelKind.FEVER_CLINIC, SentinelKind.PRETRIAGE),
    SignalType.CLINIC_FEVER_PATIENTS: (SentinelKind.VILLAGE_CLINIC, SentinelKind.PRIVATE_CLINIC,
                                       SentinelKind.TCM_CLINIC, SentinelKind.FEVER_CLINIC, SentinelKind.PRETRIAGE),
    SignalType.DRUG_SALES: (SentinelKind.PHARMACY,),
    SignalType.SCHOOL_ABSENCES: (SentinelKind.SCHOOL,),
}


def sentinel_coverage() -> dict[tuple[str, str], list[date]]:
    """{(township code, signal type): the joining days of its sentinels, sorted}.

    A detector treats a township × signal series as starting at the first
    joining day, and may scale by the number of sentinels reporting on a
    day, so a new sentinel joining is not read as an outbreak.
    """
    joined = defaultdict(list)
    for area_id, kind, joined_on in Sentinel.objects.filter(is_active=True).values_list("area_id", "kind",
                                                                                         "joined_on"):
        for signal_type, kinds in SIGNAL_SENTINEL_KINDS.items():
            if kind in kinds:
                joined[(_township(area_id), str(signal_type))].append(joined_on)
    return {key: sorted(days) for key, days in joined.items()}


def reporting_completeness(day: date, sentinels=None) -> dict:
    """How many active sentinels reported on DAY, of how many (for the warning board)."""
    sentinels = Sentinel.objects.all() if sentinels is None else sentinels
    active = sentinels.filter(is_active=True, joined_on__lte=day)
    total = active.count()
    done = len(reported_ids(day, active))
    return {"day": day, "reported": done, "total": total,
            "percent": round(100.0 * done / total, 1) if total else 100.0}

