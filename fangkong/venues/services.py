"""Venue workflows: place codes, identifying a visitor, the scan, and what a scan shows.

The scan is the hot path (thousands a second at a county's rush hour): it
reads the venue, the person's stored colour and a one-minute duplicate
window, and writes one row; a yellow or red scan also writes a Signal.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.accounts.models import Organization
from fangkong.areas.choices import AreaLevel
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import diff, record_event
from fangkong.core.scope import in_scope
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import Person, document_index
from fangkong.people.services import find_or_register
from fangkong.policy.choices import Colour
from fangkong.policy.services import current_status, door_check
from fangkong.warning.choices import Severity, SignalKind
from fangkong.warning.services import raise_signal

from . import tokens
from .choices import CheckInSource
from .models import CheckIn, Venue, VenueType

DUPLICATE_WINDOW = timedelta(minutes=1)


class InvalidCode(ValidationError):
    """A place code that is forged, mistyped, revoked, or of a closed venue."""


class InvalidToken(ValidationError):
    """A personal token that is forged or was issued to another device: identify again."""


# Place codes -------------------------------------------------------------------------------------
def code_of(venue: Venue) -> str:
    return tokens.place_code(venue.pk, venue.code_version)


def venue_for_code(code: str, request=None) -> Venue:
    """The open venue a place code names; a bad code is refused and logged."""
    parsed = tokens.parse_place_code(code)
    venue = None
    if parsed is not None:
        # The area too: a yellow or red scan's signal names it.
        venue = Venue.objects.select_related("type", "area").filter(pk=parsed[0], is_active=True).first()
    if venue is None or venue.code_version != parsed[1]:
        revoked = venue is not None
        record_event(None, AuditAction.VIEW, object_type="venues.venue", object_id=str(parsed[0]) if parsed else "",
                     object_repr=(code or "")[:60], request=request,
                     reason=_("已作废的场所码") if revoked else _("伪造或无效的场所码"))
        raise InvalidCode(_("场所码无效或已作废，请扫描场所张贴的最新场所码。"), code="invalid_code")
    return venue


@transaction.atomic
def reissue_code(user, venue: Venue, request=None) -> Venue:
    """A new code for the venue; every poster printed before stops working at once."""
    if not user.has_perm("venues.change_venue"):
        raise PermissionDenied
    before = venue.code_version
    venue.code_version += 1
    venue.code_issued_at = timezone.now()
    venue.save(update_fields=["code_version", "code_issued_at", "updated_at"])
    record_event(user, AuditAction.UPDATE, venue, request=request, reason=_("重新签发场所码"),
                 changes={"code_version": [before, venue.code_version]})
    return venue


# Visitors ----------------------------------------------------------------------------------------
def identify_visitor(data: dict, device_secret: str, venue: Venue, request=None) -> tuple[Person, str]:
    """First scan on a device: name, ID number and phone -> the person and a token for this device.

    An ID already in the register must come with the same name; the register is
    never changed from here. Someone not registered yet is added (in the
    venue's area) so that their scans can be traced.
    """
    errors = {}
    name = str(data.get("name") or "").strip()[:50]
    if not name:
        errors["name"] = _("请填写姓名。")
    number = ""
    try:
        number = identity.validate_resident_id(str(data.get("document_number") or ""))
    except ValidationError as exc:
        errors["document_number"] = exc.messages[0]
    phone = ""
    try:
        phone = identity.validate_phone(data.get("phone"))
        if not phone:
            errors["phone"] = _("请填写手机号码。")
    except ValidationError as exc:
        errors["phone"] = exc.messages[0]
    if not device_secret or len(device_secret) < 16:
        errors["device"] = _("无法识别本机，请允许浏览器保存数据后重试。")
    if errors:
        raise ValidationError(errors)
    existing = Person.objects.with_document(document_index(DocumentType.RESIDENT_ID, number)).first()
    if existing is not None and existing.name != name:
        raise ValidationError({"name": _("姓名与身份证号不符。")})
    person, _created = find_or_register(name=name, doc_type=DocumentType.RESIDENT_ID, number=number, phone=phone,
                                        area=venue.area, address="",
                                        reason=_("扫场所码登记：%(venue)s") % {"venue": venue.name})
    return person, tokens.personal_token(person.pk, device_secret)


def draw_person_code(token: str, device_secret: str) -> tuple[Person, str]:
    """The person a device's token names and a fresh person code (个人码) for a sampling point to scan."""
    person_id = tokens.parse_personal_token(token, device_secret)
    person = Person.objects.filter(pk=person_id).only("id", "name").first() if person_id is not None else None
    if person is None:
        raise InvalidToken(_("身份凭证无效，请重新登记。"), code="invalid_token")
    return person, tokens.person_code(person.pk)


# The scan ----------------------------------------------------------------------------------------
@dataclass
class ScanResult:
    checkin: CheckIn
    venue: Venue
    colour: str
    reasons: list = field(default_factory=list)
    duplicate: bool = False

    @property
    def label(self) -> str:
        return {Colour.GREEN: _("通行"), Colour.YELLOW: _("限制"), Colour.RED: _("禁止")}[self.colour]


def scan(code: str, token: str, device_secret: str, *, now: datetime | None = None, request=None) -> ScanResult:
    """Check a person in at a venue and say what the door keeper should do."""
    now = now or timezone.now()
    venue = venue_for_code(code, request=request)
    person_id = tokens.parse_personal_token(token, device_secret)
    if person_id is None:
        raise InvalidToken(_("身份凭证无效，请重新登记。"), code="invalid_token")
    try:
        status = current_status(person_id, now)
    except Person.DoesNotExist as exc:  # a token of a record that is gone: identify again
        raise InvalidToken(_("身份凭证无效，请重新登记。"), code="invalid_token") from exc
    # The venue's own door rule (a recent negative test) on top of the person's colour. It restricts entry
    # here but is not a signal: only a person under a measure (or a positive pool) out and about is one.
    colour, reasons = door_check(person_id, venue.type.code, status.colour, status.reasons, now)
    recent = (CheckIn.objects.filter(person_id=person_id, scanned_at__gte=now - DUPLICATE_WINDOW,
                                     scanned_at__lte=now, venue=venue).order_by("-scanned_at").first())
    if recent is not None:
        return ScanResult(recent, venue, colour, reasons, duplicate=True)
    with transaction.atomic():
        checkin = CheckIn.objects.create(person_id=person_id, venue=venue, scanned_at=now,
                                         status_shown=colour, source=CheckInSource.SCAN)
        if status.colour != Colour.GREEN:
            red = status.colour == Colour.RED
            raise_signal(
                SignalKind.SCAN_RED if red else SignalKind.SCAN_YELLOW,
                title=_("%(colour)s人员扫码：%(venue)s") % {"colour": Colour(status.colour).label, "venue": venue.name},
                area=venue.area, person_id=person_id, subject=checkin, occurred_at=now,
                severity=Severity.CRITICAL if red else Severity.WARNING,
                details={"venue": venue.pk, "reasons": status.reasons},
            )
    return ScanResult(checkin, venue, colour, reasons)


# Registering venues ------------------------------------------------------------------------------
VENUE_FIELDS = ("name", "type", "area", "address", "manager_name", "manager_phone", "supervisor",
                "expected_daily_visitors", "dwell_minutes", "is_active")


def default_supervisor(venue_type: VenueType) -> Organization | None:
    """The county department that inspects venues of this type (市场监管局 for markets …)."""
    if not venue_type.department_kind:
        return None
    return (Organization.objects.filter(kind=venue_type.department_kind, area__level=AreaLevel.COUNTY)
            .order_by("id").first())


def _venue_snapshot(venue: Venue) -> dict:
    return {"name": venue.name, "type": venue.type.code, "area": venue.area_id, "address": venue.address,
            "manager_name": venue.manager_name, "manager_phone": venue.manager_phone,
            "supervisor": venue.supervisor_id, "expected_daily_visitors": venue.expected_daily_visitors,
            "dwell_minutes": venue.dwell_minutes, "is_active": venue.is_active}


def _check_venue(user, venue: Venue) -> None:
    errors = {}
    if not venue.name.strip():
        errors["name"] = _("请填写场所名称。")
    if not venue.address.strip():
        errors["address"] = _("请填写地址。")
    if not in_scope(venue.area_id, user.scope_prefix):
        errors["area"] = _("所选区划不在您的管辖范围内。")
    if venue.type_id and not venue.type.is_active:
        errors["type"] = _("该场所类型已停用。")
    if errors:
        raise ValidationError(errors)


def _build_venue(user, data: dict) -> Venue:
    values = {f: data[f] for f in VENUE_FIELDS if f in data}
    values.setdefault("is_active", True)
    values["expected_daily_visitors"] = values.get("expected_daily_visitors") or 0
    for text in ("name", "address", "manager_name", "manager_phone"):
        values[text] = (values.get(text) or "").strip()
    if values.get("supervisor") is None and values.get("type") is not None:
        values["supervisor"] = default_supervisor(values["type"])
    venue = Venue(**values, created_by=user)
    _check_venue(user, venue)
    return venue


def _may(user, perm: str) -> None:
    if user is None or not user.has_perm(perm):
        raise PermissionDenied


@transaction.atomic
def register_venue(user, data: dict, request=None) -> Venue:
    """A new venue; a venue manager who registers it becomes one of its managers."""
    _may(user, "venues.add_venue")
    venue = _build_venue(user, data)
    venue.save()
    if user.role == Role.VENUE_MANAGER:
        venue.managers.add(user)
    record_event(user, AuditAction.CREATE, venue, request=request,
                 changes={k: [None, v] for k, v in _venue_snapshot(venue).items()})
    return venue


@transaction.atomic
def update_venue(user, venue: Venue, data: dict, request=None) -> Venue:
    _may(user, "venues.change_venue")
    before = _venue_snapshot(venue)
    for name in VENUE_FIELDS:
        if name in data:
            value = data[name]
            setattr(venue, name, value.strip() if isinstance(value, str) else value)
    if "supervisor" in data and data["supervisor"] is None:
        venue.supervisor = default_supervisor(venue.type)
    venue.expected_daily_visitors = venue.expected_daily_visitors or 0
    _check_venue(user, venue)
    venue.save()
    changes = diff(before, _venue_snapshot(venue))
    if changes:
        record_event(user, AuditAction.UPDATE, venue, request=request, changes=changes)
    return venue


@transaction.atomic
def import_venues(user, rows: list[dict], *, filename: str = "", request=None) -> dict:
    """Register every row (all or nothing); a row naming a venue already in its area is skipped."""
    _may(user, "venues.add_venue")
    existing = set(Venue.objects.filter(area__in={r["area"] for r in rows}).values_list("area_id", "name"))
    created = skipped = 0
    for data in rows:
        if (data["area"].pk, data["name"]) in existing:
            skipped += 1
            continue
        venue = _build_venue(user, data)
        venue.save()
        if user.role == Role.VENUE_MANAGER:
            venue.managers.add(user)
        existing.add((venue.area_id, venue.name))
        created += 1
    record_event(user, AuditAction.IMPORT, object_type="venues.venue", object_repr=filename or _("场所导入"),
                 request=request, changes={"file": filename, "created": created, "skipped": skipped})
    return {"created": created, "skipped": skipped}
