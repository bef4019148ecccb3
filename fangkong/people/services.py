"""Person workflows: register, change, reveal, view, merge, recount.

Every function takes the acting user, runs in a transaction and writes its
own audit row. Views, the API and commands only parse, call and render.
"""

from collections import Counter

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils.translation import gettext as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Household
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import diff, record_event
from fangkong.core.scope import LEVEL_PREFIX_LENGTH, in_scope

from . import identity
from .choices import DocumentType, Sex
from .models import Person, document_index

# Fields a caller may set directly; identity fields go through clean_identity.
PLAIN_FIELDS = [
    "name", "sex", "birth_date", "household", "relation", "address", "is_floating",
    "is_rental_tenant", "vulnerable_group", "lives_alone_elderly", "workplace",
]
AUDITED_FIELDS = PLAIN_FIELDS + ["area", "doc_type", "doc_masked", "phone_masked"]


def snapshot(person: Person) -> dict:
    values = {}
    for field in AUDITED_FIELDS:
        value = getattr(person, f"{field}_id" if field in ("area", "household") else field)
        values[field] = value.isoformat() if hasattr(value, "isoformat") else value
    values["key_groups"] = sorted(kg.code for kg in person.key_groups.all()) if person.pk else []
    return values


def clean_identity(data: dict, instance: Person | None = None) -> dict:
    """Validate the name, document and phone in DATA; ValidationError names each bad field."""
    errors = {}
    cleaned = {}
    name = data.get("name")
    if name is None and instance is not None:
        name = instance.name
    name = (name or "").strip()
    if not name:
        errors["name"] = _("请填写姓名。")
    elif len(name) > 50:
        errors["name"] = _("姓名不能超过50个字。")
    cleaned["name"] = name
    doc_type = data.get("doc_type") or DocumentType.RESIDENT_ID
    if doc_type not in DocumentType.values:
        errors["doc_type"] = _("证件类型无效。")
    number = ""
    raw_number = data.get("document_number")
    if raw_number is None and instance is not None:
        number = instance.document_number
    elif doc_type != DocumentType.NONE:
        if not raw_number:
            errors["document_number"] = _("请填写证件号码。")
        else:
            try:
                number = identity.validate_document(doc_type, raw_number)
            except ValidationError as exc:
                errors["document_number"] = exc.messages[0]
    if number and "document_number" not in errors:
        index = document_index(doc_type, number)
        clash = Person.objects.with_document(index)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["document_number"] = _("该证件号码已登记为另一人员，同一证件号码只能对应一人。")
    cleaned["doc_type"] = doc_type
    cleaned["document_number"] = number
    if "phone" in data:
        try:
            cleaned["phone"] = identity.validate_phone(data.get("phone"))
        except ValidationError as exc:
            errors["phone"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    if doc_type == DocumentType.RESIDENT_ID and number:
        birth_date, sex = identity.resident_id_facts(number)
        cleaned["birth_date"] = birth_date
        cleaned["sex"] = sex
    return cleaned


def _check_area(user, area: Area):
    if area is None:
        raise ValidationError({"area": _("请选择所属网格。")})
    if not in_scope(area.code, user.scope_prefix):
        raise ValidationError({"area": _("所选区划不在您的管辖范围内。")})


def _check_person_in_scope(user, person: Person):
    """Callers fetch people through restrict(); this guards a service called with any other row."""
    if not in_scope(person.area_id, user.scope_prefix):
        raise PermissionDenied


def _apply(person: Person, data: dict, cleaned: dict) -> None:
    for field in PLAIN_FIELDS:
        if field in data:
            setattr(person, field, data[field])
    for field in ("name", "birth_date", "sex"):
        if field in cleaned:
            setattr(person, field, cleaned[field])
    person.name_pinyin, person.name_initials = identity.name_pinyin(person.name)
    person.set_document(cleaned["doc_type"], cleaned["document_number"])
    if "phone" in cleaned:
        person.set_phone(cleaned["phone"])
    if person.sex not in Sex.values:
        person.sex = Sex.UNKNOWN


def ancestor_prefixes(code: str) -> list[str]:
    prefixes = [code[:n] for n in LEVEL_PREFIX_LENGTH.values() if n < len(code)]
    return [*prefixes, code]


def _shift_population(area_code: str, delta: int) -> None:
    Area.objects.filter(prefix__in=ancestor_prefixes(area_code)).update(population=F("population") + delta)


@transaction.atomic
def create_person(user, data: dict, *, area: Area, key_groups=(), request=None) -> Person:
    """Register a person in AREA (a grid, or any area in the user's scope)."""
    if not user.has_perm("people.add_person"):
        raise PermissionDenied
    _check_area(user, area)
    cleaned = clean_identity(data)
    person = Person(area=area, created_by=user, updated_by=user)
    _apply(person, data, cleaned)
    person.save()
    if key_groups:
        person.key_groups.set(key_groups)
    _shift_population(area.code, 1)
    record_event(user, AuditAction.CREATE, person, changes=diff({}, snapshot(person)), request=request)
    return person


@transaction.atomic
def update_person(user, person: Person, data: dict, *, area: Area | None = None, key_groups=None,
                  request=None) -> Person:
    if not user.has_perm("people.change_person"):
        raise PermissionDenied
    _check_person_in_scope(user, person)
    before = snapshot(person)
    cleaned = clean_identity({**data, "doc_type": data.get("doc_type", person.doc_type)}, instance=person)
    old_area = person.area_id
    if area is not None and area.code != old_area:
        _check_area(user, area)
        person.area = area
    _apply(person, data, cleaned)
    person.updated_by = user
    person.save()
    if key_groups is not None:
        person.key_groups.set(key_groups)
    if person.area_id != old_area:
        _shift_population(old_area, -1)
        _shift_population(person.area_id, 1)
    changes = diff(before, snapshot(person))
    if changes:
        record_event(user, AuditAction.UPDATE, person, changes=changes, request=request)
    return person


def record_person_view(user, person: Person, request=None) -> None:
    """Opening a person page is logged: reads of personal data leave a trail."""
    record_event(user, AuditAction.VIEW, person, request=request)


@transaction.atomic
def reveal_person(user, person: Person, reason: str, request=None) -> dict:
    """The plain document number and phone, for a stated reason that is logged."""
    if not user.has_perm("people.reveal_person"):
        raise PermissionDenied
    _check_person_in_scope(user, person)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValidationError({"reason": _("查看明文须填写事由（至少2个字）。")})
    record_event(user, AuditAction.REVEAL, person, reason=reason, request=request)
    return {"document_number": person.document_number, "phone": person.phone}


def duplicate_candidates(queryset, limit: int = 200):
    """Suspected duplicates in QUERYSET: the same name and birth date, in the same household.

    Returns lists of people, each list one suspected group.
    """
    groups = (
        queryset.current().exclude(birth_date=None).exclude(household=None)
        .values("name", "birth_date", "household")
        .annotate(n=Count("id")).filter(n__gt=1).order_by("name")[:limit]
    )
    result = []
    for group in groups:
        members = list(
            queryset.current().filter(
                name=group["name"], birth_date=group["birth_date"], household=group["household"]
            ).select_related("area", "household").order_by("id")
        )
        if len(members) > 1:
            result.append(members)
    return result


@transaction.atomic
def merge_people(user, keep: Person, duplicate: Person, reason: str, request=None) -> Person:
    """Fold DUPLICATE into KEEP. The duplicate row stays (marked merged) with its history."""
    if not user.has_perm("people.merge_person"):
        raise PermissionDenied
    _check_person_in_scope(user, keep)
    _check_person_in_scope(user, duplicate)
    if keep.pk == duplicate.pk:
        raise ValidationError(_("不能把人员与其自身合并。"))
    if keep.merged_into_id or duplicate.merged_into_id:
        raise ValidationError(_("已合并的人员不能再次合并。"))
    if keep.doc_index and duplicate.doc_index and keep.doc_index != duplicate.doc_index:
        raise ValidationError(_("两人证件号码不同，不是同一人，不能合并。"))
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValidationError({"reason": _("合并须填写事由。")})
    before = snapshot(keep)
    # Fill what the kept record lacks from the duplicate.
    if not keep.doc_index and duplicate.doc_index:
        doc_type, number = duplicate.doc_type, duplicate.document_number
        duplicate.doc_index = ""
        duplicate.save(update_fields=["doc_index"])
        keep.set_document(doc_type, number)
    if not keep.phone_index and duplicate.phone_index:
        keep.set_phone(duplicate.phone)
    for field in ("address", "relation", "vulnerable_group"):
        if not getattr(keep, field) and getattr(duplicate, field):
            setattr(keep, field, getattr(duplicate, field))
    for flag in ("is_floating", "is_rental_tenant", "lives_alone_elderly"):
        setattr(keep, flag, getattr(keep, flag) or getattr(duplicate, flag))
    keep.updated_by = user
    keep.save()
    keep.key_groups.add(*duplicate.key_groups.all())
    duplicate.merged_into = keep
    duplicate.updated_by = user
    duplicate.save(update_fields=["merged_into", "updated_by", "updated_at"])
    _shift_population(duplicate.area_id, -1)
    record_event(user, AuditAction.MERGE, keep, reason=reason, request=request,
                 changes={**diff(before, snapshot(keep)), "merged_from": [None, duplicate.pk]})
    record_event(user, AuditAction.MERGE, duplicate, reason=reason, request=request,
                 changes={"merged_into": [None, keep.pk]})
    return keep


def recount_population() -> int:
    """Recompute every area's population from the register (after bulk loads)."""
    per_area = Person.objects.current().values("area_id").annotate(n=Count("id"))
    totals: Counter = Counter()
    for row in per_area.iterator():
        for prefix in ancestor_prefixes(row["area_id"]):
            totals[prefix] += row["n"]
    areas = list(Area.objects.only("code", "prefix", "population"))
    for area in areas:
        area.population = totals.get(area.prefix, 0)
    Area.objects.bulk_update(areas, ["population"], batch_size=2000)
    return sum(n for p, n in totals.items() if len(p) == LEVEL_PREFIX_LENGTH[AreaLevel.COUNTY])


def household_for(user, household_id) -> Household | None:
    return Household.objects.restrict(user, "view").filter(pk=household_id).first()


@transaction.atomic
def find_or_register(*, name: str, doc_type: str, number: str, phone: str, area: Area, address: str = "",
                     user=None, reason: str = "") -> tuple[Person, bool]:
    """The person holding this (already validated) document, or a new one registered in AREA.

    For flows that meet a person before any officer does (an arrival
    declaration, a scan): an existing record is linked and left unchanged,
    so nothing typed by the public can overwrite the register.
    """
    index = document_index(doc_type, number)
    existing = Person.objects.with_document(index).first() if number else None
    if existing is not None:
        while existing.merged_into_id:
            existing = existing.merged_into
        return existing, False
    person = Person(area=area, address=address[:200], created_by=user if user and user.is_authenticated else None)
    data = {"name": name, "doc_type": doc_type, "document_number": number, "phone": phone}
    cleaned = {"name": name, "doc_type": doc_type, "document_number": number, "phone": phone}
    if doc_type == DocumentType.RESIDENT_ID and number:
        cleaned["birth_date"], cleaned["sex"] = identity.resident_id_facts(number)
    _apply(person, data, cleaned)
    person.save()
    _shift_population(area.code, 1)
    record_event(user, AuditAction.CREATE, person, changes=diff({}, snapshot(person)), reason=reason)
    return person, True
