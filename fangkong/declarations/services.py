"""Arrival workflows: declare, correct, decide, follow up, check at the road, escalate.

The public form and API, the staff pages and the checkpoint page all call
these; each writes its audit row. The measure itself is decided by the
active policy pack (``policy.services``), never here.
"""

import hmac
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core import crypto
from fangkong.core.scope import in_scope
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import document_index, phone_index
from fangkong.people.services import find_or_register
from fangkong.policy import matching, places
from fangkong.policy import services as policy
from fangkong.policy.choices import Category, Measure
from fangkong.policy.planning import arrival_test_dates
from fangkong.tasks.choices import OPEN_STATUSES, TaskStatus
from fangkong.tasks.models import Task
from fangkong.tasks.services import can_work, complete_task, create_task
from fangkong.warning.choices import SignalKind
from fangkong.warning.services import raise_signal

from .choices import (
    OPEN_DECLARATION,
    DeclarationStatus,
    HealthCode,
    Source,
    Symptom,
    TestResult,
    Transport,
)
from .models import Checkpoint, CheckpointPassage, Declaration, TravelStop

RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 10
MAX_STOPS = 20
MAX_COMPANIONS = 10
FOLLOWUP = "arrival_followup"
PICKUP = "arrival_pickup"
MISSED = "arrival_missed"
CHECKPOINT_ALERT = "checkpoint_alert"


class DuplicateDeclaration(ValidationError):
    """The ID already has an open declaration made with another phone: only its owner may change it."""


def new_receipt() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def normalize_receipt(text: str) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())[:RECEIPT_LENGTH + 2]


# Validation --------------------------------------------------------------------------------------
def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    value = "" if value is None else str(value)
    # Control characters have no place in a name or an address.
    return "".join(ch for ch in value if ch >= " " or ch == "\t").strip()[:limit]


def _date(value) -> date | None:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return parse_date(str(value)) if value else None
    except ValueError:  # well-formed but impossible, e.g. 2022-02-30
        return None


def _datetime(value) -> datetime | None:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day, 12)
    elif value:
        text = str(value).strip().replace(" ", "T")
        try:
            result = parse_datetime(text) or (parse_date(text) and datetime.combine(parse_date(text), datetime.min.time()).replace(hour=12))
        except ValueError:
            result = None
    else:
        result = None
    if result and timezone.is_naive(result):
        result = timezone.make_aware(result)
    return result or None


def clean_submission(data: dict, *, source: str = Source.PUBLIC, now: datetime | None = None) -> dict:
    """Validate a declaration as typed on the form or posted to the API.

    Errors come back as one ValidationError whose keys name the field
    (``stops.2.place_code``), each message in Chinese.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    errors: dict[str, str] = {}
    cleaned: dict = {}

    cleaned["name"] = _text(data, "name", 50)
    if not cleaned["name"]:
        errors["name"] = _("请填写姓名。")
    try:
        cleaned["document_number"] = identity.validate_document(DocumentType.RESIDENT_ID,
                                                                str(data.get("document_number") or ""))
    except ValidationError as exc:
        errors["document_number"] = exc.messages[0]
    if not data.get("document_number"):
        errors["document_number"] = _("请填写身份证号码。")
    try:
        cleaned["phone"] = identity.validate_phone(data.get("phone"))
        if not cleaned["phone"]:
            errors["phone"] = _("请填写手机号码。")
    except ValidationError as exc:
        errors["phone"] = exc.messages[0]

    arrival = _datetime(data.get("planned_arrival"))
    if source != Source.PUBLIC and arrival is None:
        arrival = now
    if arrival is None:
        errors["planned_arrival"] = _("请填写计划到达时间。")
    else:
        ahead = settings.FANGKONG_DECLARE_DAYS_AHEAD
        if timezone.localdate(arrival) < today:
            errors["planned_arrival"] = _("计划到达日期不能早于今天。已到达的请联系所在村（社区）或网格员登记。")
        elif timezone.localdate(arrival) > today + timedelta(days=ahead):
            errors["planned_arrival"] = _("最多只能提前%(days)d天申报。") % {"days": ahead}
    cleaned["planned_arrival"] = arrival

    origin = places.lookup(str(data.get("origin_code") or ""))
    if origin is None:
        errors["origin_code"] = _("请从列表中选择出发地（省、市、县）。")
    cleaned["origin_code"] = origin.code if origin else ""
    cleaned["origin_name"] = origin.full_name if origin else ""
    cleaned["origin_detail"] = _text(data, "origin_detail", 200)

    stops = data.get("stops") or []
    if not isinstance(stops, list):
        stops, errors["stops"] = [], _("旅居史格式无效。")
    if len(stops) > MAX_STOPS:
        errors["stops"] = _("旅居史最多填写%(n)d条。") % {"n": MAX_STOPS}
        stops = []
    cleaned_stops = []
    earliest = today - timedelta(days=30)
    for index, stop in enumerate(stops):
        key = f"stops.{index}"
        if not isinstance(stop, dict):
            errors[key] = _("第%(n)d条旅居史格式无效。") % {"n": index + 1}
            continue
        place = places.lookup(str(stop.get("place_code") or ""))
        start, end = _date(stop.get("date_from")), _date(stop.get("date_to") or stop.get("date_from"))
        if place is None:
            errors[f"{key}.place_code"] = _("第%(n)d条旅居史的地区不存在，请从列表中选择。") % {"n": index + 1}
        if start is None or end is None:
            errors[f"{key}.date_from"] = _("第%(n)d条旅居史请填写起止日期。") % {"n": index + 1}
        elif start > end:
            errors[f"{key}.date_to"] = _("第%(n)d条旅居史的结束日期早于开始日期。") % {"n": index + 1}
        elif start < earliest or end > today + timedelta(days=settings.FANGKONG_DECLARE_DAYS_AHEAD):
            errors[f"{key}.date_from"] = _("第%(n)d条旅居史的日期须在近30天内。") % {"n": index + 1}
        if place is not None and start and end and start <= end:
            cleaned_stops.append({"place_code": place.code, "place_name": place.full_name,
                                  "township": _text(stop, "township", 60), "date_from": start, "date_to": end})
    cleaned["stops"] = cleaned_stops

    transport = data.get("transport") or ""
    if transport not in Transport.values:
        errors["transport"] = _("请选择交通方式。")
    cleaned["transport"] = transport
    cleaned["transport_number"] = _text(data, "transport_number", 30).upper()
    cleaned["plate"] = _text(data, "plate", 12).upper()
    if transport in (Transport.TRAIN, Transport.FLIGHT) and not cleaned["transport_number"]:
        errors["transport_number"] = _("乘火车或飞机请填写车次或航班号。")
    if transport == Transport.CAR and not cleaned["plate"]:
        errors["plate"] = _("自驾请填写车牌号。")

    area = Area.objects.filter(code=str(data.get("area") or "")).first()
    if area is None or area.level not in (AreaLevel.VILLAGE, AreaLevel.GRID):
        errors["area"] = _("请选择目的地所在的村（社区）。")
    cleaned["area"] = area
    cleaned["address"] = _text(data, "address", 200)
    if not cleaned["address"]:
        errors["address"] = _("请填写目的地详细地址。")

    companions = data.get("companions") or []
    if not isinstance(companions, list) or len(companions) > MAX_COMPANIONS:
        errors["companions"] = _("同行人员最多填写%(n)d人。") % {"n": MAX_COMPANIONS}
        companions = []
    cleaned_companions = []
    for index, companion in enumerate(companions):
        if not isinstance(companion, dict):
            errors[f"companions.{index}"] = _("第%(n)d位同行人员格式无效。") % {"n": index + 1}
            continue
        name = _text(companion, "name", 50)
        if not name:
            errors[f"companions.{index}.name"] = _("请填写第%(n)d位同行人员的姓名。") % {"n": index + 1}
        number = ""
        if companion.get("document_number"):
            try:
                number = identity.validate_resident_id(str(companion["document_number"]))
            except ValidationError as exc:
                errors[f"companions.{index}.document_number"] = _("第%(n)d位同行人员：") % {"n": index + 1} + exc.messages[0]
        cleaned_companions.append({"name": name, "relation": _text(companion, "relation", 20),
                                   "doc_masked": identity.mask_document(number),
                                   "doc_index": document_index(DocumentType.RESIDENT_ID, number) if number else ""})
    cleaned["companions"] = cleaned_companions

    symptoms = data.get("symptoms") or []
    if not isinstance(symptoms, list) or any(s not in Symptom.values for s in symptoms):
        errors["symptoms"] = _("症状选项无效。")
        symptoms = []
    cleaned["symptoms"] = sorted(set(symptoms))
    try:
        doses = int(data.get("vaccine_doses") or 0)
    except (TypeError, ValueError):
        doses = -1
    if not 0 <= doses <= 5:
        errors["vaccine_doses"] = _("疫苗接种剂次应为0到5。")
    cleaned["vaccine_doses"] = max(doses, 0)
    if errors:
        raise ValidationError(errors)
    return cleaned


# Declaring ---------------------------------------------------------------------------------------
DECLARED_FIELDS = ["name", "origin_code", "origin_name", "origin_detail", "transport", "transport_number", "plate",
                   "planned_arrival", "area", "address", "companions", "symptoms", "vaccine_doses"]


def _apply(declaration: Declaration, cleaned: dict) -> None:
    for field in DECLARED_FIELDS:
        setattr(declaration, field, cleaned[field])
    declaration.set_document(cleaned["document_number"])
    declaration.set_phone(cleaned["phone"])


def _save_stops(declaration: Declaration, stops: list[dict]) -> None:
    declaration.stops.all().delete()
    TravelStop.objects.bulk_create([TravelStop(declaration=declaration, **stop) for stop in stops])


def matcher_stops(declaration: Declaration, stops: list[dict] | None = None) -> list[matching.Stop]:
    """The travel history as the matcher sees it, the place of departure included.

    The origin counts for the day before arrival and the day itself; with no
    stops listed, the returnee is taken to have stayed at the origin for the
    whole look-back window.
    """
    arrival = timezone.localdate(declaration.planned_arrival)
    rows = stops if stops is not None else list(declaration.stops.values())
    result = [matching.Stop(s["place_code"], s["date_from"], s["date_to"], s.get("township", "")) for s in rows]
    origin_from = arrival - timedelta(days=1) if result else arrival - timedelta(days=60)
    result.append(matching.Stop(declaration.origin_code, origin_from, arrival))
    return result


@transaction.atomic
def submit_declaration(data: dict, *, source: str = Source.PUBLIC, user=None, request=None,
                       now: datetime | None = None) -> tuple[Declaration, bool]:
    """Record a declaration; the same ID with an open declaration updates it (same phone) or is refused.

    Returns (declaration, created). The measure, the person link, the control
    order and the follow-up tasks are settled before it returns.
    """
    cleaned = clean_submission(data, source=source, now=now)
    doc_index = document_index(DocumentType.RESIDENT_ID, cleaned["document_number"])
    existing = (Declaration.objects.select_for_update()
                .filter(doc_index=doc_index, status__in=OPEN_DECLARATION).order_by("-id").first())
    if existing is not None:
        if source == Source.PUBLIC and not hmac.compare_digest(existing.phone_index, phone_index(cleaned["phone"])):
            raise DuplicateDeclaration({"document_number": _(
                "该身份证号已有一份未到达的申报，且手机号不同。如需修改，请用回执码和申报时手机号的后四位查询后修改，"
                "或联系目的地村（社区）。")}, code="duplicate")
        return _update(existing, cleaned, user=user, request=request), False
    declaration = Declaration(source=source, created_by=user if user and user.is_authenticated else None)
    _apply(declaration, cleaned)
    for _attempt in range(5):
        declaration.receipt = new_receipt()
        try:
            with transaction.atomic():
                declaration.save()
            break
        except IntegrityError:
            continue
    _save_stops(declaration, cleaned["stops"])
    _decide(declaration, cleaned["stops"], user=user)
    record_event(user, AuditAction.CREATE, declaration, request=request,
                 changes={"source": [None, source], "measure": [None, declaration.measure]})
    return declaration, True


def _update(declaration: Declaration, cleaned: dict, *, user=None, request=None) -> Declaration:
    before = {f: str(getattr(declaration, f)) for f in ("planned_arrival", "origin_code", "area_id", "measure")}
    _apply(declaration, cleaned)
    declaration.status = DeclarationStatus.SUBMITTED
    declaration.submit_count += 1
    declaration.save()
    _save_stops(declaration, cleaned["stops"])
    _decide(declaration, cleaned["stops"], user=user)
    after = {f: str(getattr(declaration, f)) for f in ("planned_arrival", "origin_code", "area_id", "measure")}
    record_event(user, AuditAction.UPDATE, declaration, request=request,
                 changes={k: [before[k], after[k]] for k in before if before[k] != after[k]})
    return declaration


def correct_declaration(declaration: Declaration, data: dict, *, request=None) -> Declaration:
    """The returnee's own correction (receipt + phone digits checked by the caller), until arrival."""
    if declaration.status != DeclarationStatus.SUBMITTED:
        raise ValidationError(_("该申报已到达或已关闭，不能再修改。如有变化请联系目的地村（社区）。"))
    cleaned = clean_submission(data)
    if document_index(DocumentType.RESIDENT_ID, cleaned["document_number"]) != declaration.doc_index:
        raise ValidationError({"document_number": _("身份证号码不能修改；如填错请重新申报。")})
    with transaction.atomic():
        locked = Declaration.objects.select_for_update().get(pk=declaration.pk)
        if locked.status != DeclarationStatus.SUBMITTED:
            raise ValidationError(_("该申报已到达或已关闭，不能再修改。"))
        return _update(locked, cleaned, request=request)


def _decide(declaration: Declaration, stops: list[dict], *, user=None) -> None:
    """Judge the trip by the active pack, link the person, impose the measure, route the work."""
    arrival = timezone.localdate(declaration.planned_arrival)
    was_high = declaration.category == Category.HIGH_RISK_ARRIVAL
    decision = policy.decide_arrival(matcher_stops(declaration, stops), arrival)
    declaration.pack = decision.pack
    declaration.category = decision.category
    declaration.risk_level = decision.level
    declaration.measure = decision.measure
    declaration.evidence = decision.evidence()
    declaration.instructions = decision.instructions
    rule = decision.rule
    tests = arrival_test_dates(rule.arrival_test_days, arrival) if rule and decision.measure == Measure.ARRIVAL_TESTS else []
    declaration.test_dates = [d.isoformat() for d in tests]
    if declaration.person_id is None:
        person, _created = find_or_register(
            name=declaration.name, doc_type=DocumentType.RESIDENT_ID, number=declaration_document(declaration),
            phone=declaration_phone(declaration), area=declaration.area, address=declaration.address,
            user=user, reason=_("入返报备 %(receipt)s") % {"receipt": declaration.receipt},
        )
        declaration.person = person
    reason = _("%(category)s，入返报备 %(receipt)s") % {"category": Category(decision.category).label,
                                                        "receipt": declaration.receipt}
    order = policy.impose_measure(declaration.person, decision.category, reason, arrival, subject=declaration,
                                  user=user, pack=decision.pack, area=declaration.area)
    if order is not None:
        declaration.test_dates = [d for s in order.stages for d in s["test_dates"]]
    declaration.control_order = order
    declaration.save()
    _route_followup(declaration, rule, user=user)
    if decision.category == Category.HIGH_RISK_ARRIVAL and not was_high:
        raise_signal(SignalKind.HIGH_RISK_ARRIVAL, area=declaration.area, person=declaration.person,
                     subject=declaration, details={"evidence": declaration.evidence},
                     title=_("高风险地区来（返）人员：%(name)s，来自%(origin)s") % {
                         "name": declaration.masked_name, "origin": declaration.origin_name})


def declaration_document(declaration: Declaration) -> str:
    return crypto.decrypt(declaration.doc_sealed)


def declaration_phone(declaration: Declaration) -> str:
    return crypto.decrypt(declaration.phone_sealed)


def _open_task(declaration: Declaration, kind: str) -> Task | None:
    return Task.objects.filter(
        subject_type=ContentType.objects.get_for_model(Declaration), subject_id=str(declaration.pk),
        kind=kind, status__in=OPEN_STATUSES,
    ).first()


def _worker_role(area: Area) -> str:
    return Role.GRID_WORKER if area.level == AreaLevel.GRID else Role.VILLAGE_OFFICER


def followup_description(declaration: Declaration) -> str:
    lines = [
        _("入返人员：%(name)s（%(doc)s）") % {"name": declaration.name, "doc": declaration.doc_masked},
        _("出发地：%(origin)s；计划到达：%(at)s") % {
            "origin": declaration.origin_name,
            "at": timezone.localtime(declaration.planned_arrival).strftime("%Y-%m-%d %H:%M")},
        _("目的地：%(address)s") % {"address": declaration.address},
        _("管控措施：%(measure)s") % {"measure": Measure(declaration.measure).label if declaration.measure else "-"},
    ]
    if declaration.test_dates:
        lines.append(_("检测日期：%(dates)s") % {"dates": "、".join(declaration.test_dates)})
    lines.append(_("请上门登记，确认到达，落实第一落点检测和管控措施。"))
    return "\n".join(lines)


def _route_followup(declaration: Declaration, rule, *, user=None) -> None:
    """One open follow-up task for the destination grid; a pickup task for the township when the rule asks."""
    hours = rule.followup_hours if rule else 24
    anchor = declaration.arrived_at or declaration.planned_arrival
    deadline = anchor + timedelta(hours=hours)
    task = _open_task(declaration, FOLLOWUP)
    title = _("入返人员落地跟进：%(name)s") % {"name": declaration.masked_name}
    if task is None:
        create_task(kind=FOLLOWUP, title=title, area=declaration.area, role=_worker_role(declaration.area),
                    deadline=deadline, subject=declaration, description=followup_description(declaration),
                    created_by=user if user and user.is_authenticated else None)
    else:
        Task.objects.filter(pk=task.pk).update(
            area=declaration.area, role=_worker_role(declaration.area), deadline=deadline,
            description=followup_description(declaration), title=title,
            status=TaskStatus.OPEN if deadline > timezone.now() and task.status == TaskStatus.OVERDUE else task.status,
        )
    pickup = _open_task(declaration, PICKUP)
    if rule is not None and rule.pickup_required:
        township = declaration.area.township()
        pickup_title = _("点对点接返：%(name)s") % {"name": declaration.masked_name}
        if pickup is None:
            create_task(kind=PICKUP, title=pickup_title, area=township, role=Role.TOWNSHIP_OFFICER,
                        deadline=declaration.planned_arrival, subject=declaration,
                        description=followup_description(declaration),
                        created_by=user if user and user.is_authenticated else None)
        else:
            Task.objects.filter(pk=pickup.pk).update(deadline=declaration.planned_arrival,
                                                     description=followup_description(declaration))
    elif pickup is not None:
        Task.objects.filter(pk=pickup.pk).update(status=TaskStatus.CANCELLED,
                                                 result_note=_("重新判定后无需点对点接返"))


# The public side ---------------------------------------------------------------------------------
def public_lookup(receipt: str, phone_last4: str) -> Declaration | None:
    """The declaration for a receipt, only when the phone's last four digits match too."""
    receipt = normalize_receipt(receipt)
    digits = "".join(ch for ch in (phone_last4 or "") if ch.isdigit())
    if len(receipt) != RECEIPT_LENGTH or len(digits) != 4:
        return None
    declaration = Declaration.objects.filter(receipt=receipt).select_related("area", "control_order").first()
    if declaration is None or not hmac.compare_digest(declaration.phone_last4, digits):
        return None
    return declaration


def public_view(declaration: Declaration) -> dict:
    """What the returnee's own status page may show: what they typed (masked) and what to do. Nothing else."""
    order = declaration.control_order
    return {
        "receipt": declaration.receipt,
        "status": declaration.status,
        "status_label": declaration.get_status_display(),
        "name": declaration.masked_name,
        "doc_masked": declaration.doc_masked,
        "phone_masked": declaration.phone_masked,
        "origin": declaration.origin_name,
        "planned_arrival": declaration.planned_arrival,
        "destination": f"{declaration.area.name} {declaration.address}",
        "measure": declaration.measure,
        "measure_label": Measure(declaration.measure).label if declaration.measure else "",
        "instructions": declaration.instructions,
        "test_dates": declaration.test_dates,
        "stages": order.stages if order else [],
        "editable": declaration.status == DeclarationStatus.SUBMITTED,
    }


# The staff side ----------------------------------------------------------------------------------
def declarations_for(user, action: str = "view"):
    return Declaration.objects.restrict(user, action)


def _check(user, declaration: Declaration, perm: str = "declarations.change_declaration") -> None:
    if not user.has_perm(perm) or not in_scope(declaration.area_id, user.scope_prefix):
        raise PermissionDenied


@transaction.atomic
def confirm_arrival(user, declaration: Declaration, *, at: datetime | None = None, note: str = "",
                    request=None) -> Declaration:
    """The grid worker met the returnee: arrived. The measure is re-counted from the real arrival day."""
    _check(user, declaration)
    if declaration.status not in (DeclarationStatus.SUBMITTED, DeclarationStatus.NO_SHOW, DeclarationStatus.ARRIVED):
        raise ValidationError(_("该申报已取消，不能确认到达。"))
    at = at or timezone.now()
    if at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"arrived_at": _("到达时间不能晚于现在。")})
    before = declaration.status
    _mark_arrived(declaration, at, user)
    task = _open_task(declaration, FOLLOWUP)
    if task is not None and can_work(user, task):
        complete_task(user, task, note or _("已到达，已上门登记。"))
    record_event(user, AuditAction.UPDATE, declaration, request=request, reason=note,
                 changes={"status": [before, DeclarationStatus.ARRIVED]})
    return declaration


def _mark_arrived(declaration: Declaration, at: datetime, user) -> None:
    declaration.status = DeclarationStatus.ARRIVED
    if declaration.arrived_at is None:
        declaration.arrived_at = at
        declaration.arrival_confirmed_by = user if user and user.is_authenticated else None
    declaration.save(update_fields=["status", "arrived_at", "arrival_confirmed_by", "updated_at"])
    arrival_day = timezone.localdate(declaration.arrived_at)
    if declaration.category and declaration.person_id:
        order = policy.impose_measure(
            declaration.person, declaration.category, _("%(category)s，入返报备 %(receipt)s") % {
                "category": Category(declaration.category).label, "receipt": declaration.receipt},
            arrival_day, subject=declaration, user=user, pack=declaration.pack, area=declaration.area,
        )
        if order is not None:
            declaration.test_dates = [d for s in order.stages for d in s["test_dates"]]
            declaration.control_order = order
        elif declaration.pack_id:
            rule = policy.rule_for(declaration.pack, declaration.category)
            if rule and rule.arrival_test_days:
                declaration.test_dates = [d.isoformat() for d in arrival_test_dates(rule.arrival_test_days, arrival_day)]
        declaration.save(update_fields=["test_dates", "control_order", "updated_at"])


@transaction.atomic
def record_first_test(user, declaration: Declaration, *, sampled_at: datetime | None = None, antigen: str = "",
                      pcr: str = "", request=None) -> Declaration:
    """The first-landing-point test (第一落点检测): swab taken, antigen result, PCR result when back."""
    _check(user, declaration)
    errors = {}
    if antigen and antigen not in TestResult.values:
        errors["antigen"] = _("抗原结果无效。")
    if pcr and pcr not in TestResult.values:
        errors["pcr"] = _("核酸结果无效。")
    sampled_at = sampled_at or timezone.now()
    if sampled_at > timezone.now() + timedelta(minutes=5):
        errors["sampled_at"] = _("采样时间不能晚于现在。")
    if errors:
        raise ValidationError(errors)
    before = {"antigen": declaration.antigen_result, "pcr": declaration.pcr_result}
    declaration.first_test_at = sampled_at
    if antigen:
        declaration.antigen_result = antigen
    if pcr:
        declaration.pcr_result = pcr
    declaration.save(update_fields=["first_test_at", "antigen_result", "pcr_result", "updated_at"])
    if declaration.status == DeclarationStatus.SUBMITTED:
        _mark_arrived(declaration, sampled_at, user)
    if TestResult.POSITIVE in (antigen, pcr):
        create_task(kind=CHECKPOINT_ALERT, title=_("落地检阳性：%(name)s") % {"name": declaration.masked_name},
                    area=declaration.area.township(), role=Role.TOWNSHIP_OFFICER,
                    deadline=timezone.now() + timedelta(hours=1), subject=declaration,
                    description=followup_description(declaration), created_by=user)
    record_event(user, AuditAction.UPDATE, declaration, request=request,
                 changes={"antigen": [before["antigen"], declaration.antigen_result],
                          "pcr": [before["pcr"], declaration.pcr_result]})
    return declaration


@transaction.atomic
def mark_not_arrived(user, declaration: Declaration, *, new_arrival: datetime | None = None, note: str = "",
                     request=None) -> Declaration:
    """未返回/改期: with a new date the follow-up moves to it; without, the declaration is closed as a no-show."""
    _check(user, declaration)
    if declaration.status != DeclarationStatus.SUBMITTED:
        raise ValidationError(_("只有待到达的申报可以标记未返回或改期。"))
    note = (note or "").strip()[:300]
    if not note:
        raise ValidationError({"note": _("请填写情况说明。")})
    before = {"status": declaration.status, "planned_arrival": declaration.planned_arrival.isoformat()}
    declaration.followup_note = note
    task = _open_task(declaration, FOLLOWUP)
    if new_arrival is not None:
        today = timezone.localdate()
        if timezone.localdate(new_arrival) < today:
            raise ValidationError({"new_arrival": _("改期后的到达日期不能早于今天。")})
        declaration.planned_arrival = new_arrival
        declaration.escalated_at = None
        declaration.save()
        _decide(declaration, list(declaration.stops.values()), user=user)
    else:
        declaration.status = DeclarationStatus.NO_SHOW
        declaration.save()
        policy.cancel_measures_from(declaration, user, _("未返回"))
        if task is not None and can_work(user, task):
            complete_task(user, task, _("未返回：%(note)s") % {"note": note})
    record_event(user, AuditAction.UPDATE, declaration, request=request, reason=note,
                 changes={"status": [before["status"], declaration.status],
                          "planned_arrival": [before["planned_arrival"], declaration.planned_arrival.isoformat()]})
    return declaration


def escalate_missed_arrivals(now: datetime | None = None) -> int:
    """Declarations still unconfirmed a follow-up period after their date: a task for the township, once."""
    now = now or timezone.now()
    grace = timedelta(hours=settings.FANGKONG_ARRIVAL_GRACE_HOURS)
    due = (Declaration.objects.filter(status=DeclarationStatus.SUBMITTED, escalated_at=None,
                                      planned_arrival__lt=now - grace).select_related("area__parent__parent"))
    count = 0
    for declaration in due.iterator(chunk_size=500):
        with transaction.atomic():
            updated = Declaration.objects.filter(pk=declaration.pk, escalated_at=None).update(escalated_at=now)
            if not updated:
                continue
            create_task(kind=MISSED, title=_("逾期未确认到达：%(name)s") % {"name": declaration.masked_name},
                        area=declaration.area.township(), role=Role.TOWNSHIP_OFFICER,
                        deadline=now + timedelta(hours=12), subject=declaration,
                        description=followup_description(declaration))
            record_event(None, AuditAction.UPDATE, declaration, changes={"escalated_at": [None, now.isoformat()]},
                         reason=_("计划到达后仍未确认到达，上报乡镇（街道）"))
            count += 1
    return count


# Checkpoints -------------------------------------------------------------------------------------
def find_for_checkpoint(user, receipt: str) -> Declaration | None:
    """A checkpoint may open any declaration by its receipt (the returnee shows it); the look-up is audited."""
    if not user.has_perm("declarations.add_checkpointpassage"):
        raise PermissionDenied
    declaration = Declaration.objects.filter(receipt=normalize_receipt(receipt)).select_related("area").first()
    if declaration is not None:
        record_event(user, AuditAction.VIEW, declaration, reason=_("卡点扫码查验"))
    return declaration


def _clean_check(temperature, health_code) -> tuple[Decimal, str]:
    errors = {}
    try:
        value = Decimal(str(temperature)).quantize(Decimal("0.1"))
        if not Decimal("34.0") <= value <= Decimal("43.0"):
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["temperature"] = _("体温应在34.0到43.0℃之间。")
        value = Decimal("0")
    if health_code not in HealthCode.values:
        errors["health_code"] = _("请选择健康码颜色。")
    if errors:
        raise ValidationError(errors)
    return value, health_code


@transaction.atomic
def checkpoint_check(user, checkpoint: Checkpoint, *, temperature, health_code: str, receipt: str = "",
                     data: dict | None = None, note: str = "", request=None) -> CheckpointPassage:
    """Check one arrival at a checkpoint: by receipt, or a new declaration made on the spot."""
    if not user.has_perm("declarations.add_checkpointpassage"):
        raise PermissionDenied
    if not Checkpoint.objects.restrict(user, "view").filter(pk=checkpoint.pk, is_active=True).exists():
        raise PermissionDenied
    value, colour = _clean_check(temperature, health_code)
    if receipt:
        declaration = find_for_checkpoint(user, receipt)
        if declaration is None:
            raise ValidationError({"receipt": _("回执码不存在，请核对或现场登记。")})
        if declaration.status == DeclarationStatus.CANCELLED:
            raise ValidationError({"receipt": _("该申报已取消，请现场重新登记。")})
    elif data is not None:
        data = {**data, "planned_arrival": data.get("planned_arrival") or timezone.now()}
        declaration, _created = submit_declaration(data, source=Source.CHECKPOINT, user=user, request=request)
    else:
        raise ValidationError({"receipt": _("请扫描申报回执码，或现场登记。")})
    now = timezone.now()
    passage = CheckpointPassage.objects.create(
        checkpoint=checkpoint, area=checkpoint.area, declaration=declaration, temperature=value,
        health_code=colour, note=(note or "").strip()[:200], officer=user, passed_at=now,
    )
    if declaration.status in (DeclarationStatus.SUBMITTED, DeclarationStatus.NO_SHOW):
        _mark_arrived(declaration, now, user)
        rule = policy.rule_for(declaration.pack, declaration.category) if declaration.pack_id else None
        _route_followup(declaration, rule, user=user)
    if passage.is_fever or colour != HealthCode.GREEN:
        create_task(
            kind=CHECKPOINT_ALERT,
            title=_("卡点发现异常：%(name)s（%(what)s）") % {
                "name": declaration.masked_name,
                "what": "、".join(w for w in [_("发热") if passage.is_fever else "",
                                              str(HealthCode(colour).label) if colour != HealthCode.GREEN else ""] if w)},
            area=declaration.area.township(), role=Role.TOWNSHIP_OFFICER,
            deadline=now + timedelta(hours=2), subject=declaration,
            description=followup_description(declaration), created_by=user,
        )
    record_event(user, AuditAction.CREATE, passage, request=request,
                 object_repr=f"{checkpoint.name} {declaration.receipt}",
                 changes={"temperature": [None, str(value)], "health_code": [None, colour]})
    return passage


@transaction.atomic
def save_checkpoint(user, checkpoint: Checkpoint, *, request=None) -> Checkpoint:
    """Create or change a checkpoint (name, area, location, on/off) in the user's area; audited."""
    if not user.has_perm("declarations.change_checkpoint") or not in_scope(checkpoint.area_id, user.scope_prefix):
        raise PermissionDenied
    fields = ("name", "area_id", "location", "is_active")
    before = {}
    if checkpoint.pk:
        old = Checkpoint.objects.filter(pk=checkpoint.pk).values(*fields).first() or {}
        if old and not in_scope(old["area_id"], user.scope_prefix):
            raise PermissionDenied
        before = {k: str(v) for k, v in old.items()}
    created = not before
    checkpoint.save()
    after = {k: str(getattr(checkpoint, k)) for k in fields}
    record_event(user, AuditAction.CREATE if created else AuditAction.UPDATE, checkpoint, request=request,
                 changes={k: [before.get(k), after[k]] for k in fields if before.get(k) != after[k]})
    return checkpoint
