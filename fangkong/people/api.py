"""The person register over the API: search, register, change, view, reveal.

Document numbers and phones are always masked here; the plain values come
only from POST /people/{id}/reveal, with a reason that is logged.
"""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema, Status

from fangkong.areas.models import Area
from fangkong.core.api_base import PageParams, errors, get_or_404, paginate

from . import selectors, services
from .choices import DocumentType, Relation, Sex, VulnerableGroup
from .filtersets import PersonFilterSet
from .models import KeyGroup, Person

router = Router(tags=["人员"])

NOT_FOUND = gettext_noop("未找到该人员或无权查看")
FLAG_FIELDS = ("is_floating", "is_rental_tenant", "lives_alone_elderly")


class PersonFlags(Schema):
    is_floating: bool = Field(False, description="流动人口")
    is_rental_tenant: bool = Field(False, description="租户")
    lives_alone_elderly: bool = Field(False, description="独居老人")


class PersonFlagsPatch(Schema):
    is_floating: bool | None = None
    is_rental_tenant: bool | None = None
    lives_alone_elderly: bool | None = None


class PersonOut(Schema):
    id: int
    name: str
    sex: str = Field(description="M / F / U")
    sex_label: str
    birth_date: date | None
    age: int | None
    doc_type: str
    document_number: str = Field(description="证件号码（脱敏）")
    phone: str = Field(description="联系电话（脱敏）")
    area_code: str
    area_name: str
    household_id: int | None
    relation: str
    address: str
    vulnerable_group: str
    flags: PersonFlags
    key_groups: list[str] = Field(description="重点人群代码")


class PersonDetail(PersonOut):
    created_at: datetime
    updated_at: datetime


class PersonPage(Schema):
    count: int
    items: list[PersonOut]


class PeopleFilter(PageParams):
    """The same filters as the people list page (people.filtersets.PersonFilterSet)."""

    q: str = Field("", description="姓名、拼音首字母、证件号后四位、完整证件号或手机号")
    area: str | None = Field(None, description="区划代码：只列该区划及其下级的人员")
    key_group: str | None = Field(None, description="重点人群代码")
    sex: Sex | None = Field(None, description="性别：M 男，F 女，U 未知")
    vulnerable_group: VulnerableGroup | None = Field(None, description="困难群体类别")
    is_floating: bool | None = Field(None, description="是否流动人口")
    lives_alone_elderly: bool | None = Field(None, description="是否独居老人")


class PersonIn(Schema):
    name: str
    doc_type: str = DocumentType.RESIDENT_ID.value
    document_number: str = ""
    phone: str = ""
    area: str = Field(description="所属网格的区划代码")
    household: int | None = Field(None, description="户编号")
    sex: str | None = Field(None, description="M / F / U；居民身份证由号码推出")
    birth_date: date | None = Field(None, description="居民身份证由号码推出")
    relation: str = ""
    address: str = ""
    vulnerable_group: str = ""
    flags: PersonFlags = Field(default_factory=PersonFlags)
    key_groups: list[str] = Field(default_factory=list, description="重点人群代码")


class PersonPatch(Schema):
    name: str | None = None
    doc_type: str | None = None
    document_number: str | None = None
    phone: str | None = None
    area: str | None = None
    household: int | None = None
    sex: str | None = None
    birth_date: date | None = None
    relation: str | None = None
    address: str | None = None
    vulnerable_group: str | None = None
    flags: PersonFlagsPatch | None = None
    key_groups: list[str] | None = None


class RevealIn(Schema):
    reason: str = Field("", description="查看明文的事由（必填，会记入审计）")


class RevealOut(Schema):
    document_number: str
    phone: str


def person_data(person: Person) -> dict:
    """What the API shows of a person: masked identity only, never the sealed values."""
    return {
        "id": person.pk,
        "name": person.name,
        "sex": person.sex,
        "sex_label": person.get_sex_display(),
        "birth_date": person.birth_date,
        "age": person.age,
        "doc_type": person.doc_type,
        "document_number": person.doc_masked,
        "phone": person.phone_masked,
        "area_code": person.area_id,
        "area_name": person.area.name,
        "household_id": person.household_id,
        "relation": person.relation,
        "address": person.address,
        "vulnerable_group": person.vulnerable_group,
        "flags": {flag: getattr(person, flag) for flag in FLAG_FIELDS},
        "key_groups": [kg.code for kg in person.key_groups.all()],
    }


def person_detail(person: Person) -> dict:
    return {**person_data(person), "created_at": person.created_at, "updated_at": person.updated_at}


def _get_person(request, id: int, action: str = "view") -> Person:
    people = (
        selectors.people_for(request.auth, action)
        .select_related("area")
        .prefetch_related("key_groups")
    )
    return get_or_404(people, _(NOT_FOUND), pk=id)


def _resolve_references(user, payload: dict) -> tuple[dict, dict]:
    """Turn codes and ids in PAYLOAD into the area, household and key groups the services take.

    Only what the user may see can be referred to; anything else is an input error.
    """
    found: dict = {}
    problems: dict = {}
    if payload.get("area") is not None:
        found["area"] = Area.objects.restrict(user, "view").filter(code=payload["area"]).first()
        if found["area"] is None:
            problems["area"] = _("所选区划不存在或不在您的管辖范围内。")
    if "household" in payload:
        household = None
        if payload["household"] is not None:
            household = services.household_for(user, payload["household"])
            if household is None:
                problems["household"] = _("所选的户不存在或不在您的管辖范围内。")
        found["household"] = household
    if payload.get("key_groups") is not None:
        codes = set(payload["key_groups"])
        groups = list(KeyGroup.objects.restrict(user, "view").filter(code__in=codes))
        unknown = sorted(codes - {kg.code for kg in groups})
        if unknown:
            problems["key_groups"] = _("未知的重点人群代码：%(codes)s") % {
                "codes": "、".join(unknown)
            }
        found["key_groups"] = groups
    for field, choices in (
        ("sex", Sex),
        ("relation", Relation),
        ("vulnerable_group", VulnerableGroup),
    ):
        if payload.get(field) and payload[field] not in choices.values:
            problems[field] = _("取值无效。")
    return found, problems


# A null for these means "none"; for any other field it means "not given".
NULLABLE_FIELDS = ("household", "birth_date")


def _sent(payload: Schema, *, partial: bool = False) -> dict:
    data = payload.dict(exclude_unset=partial)
    return {k: v for k, v in data.items() if v is not None or k in NULLABLE_FIELDS}


def _person_fields(payload: dict, found: dict) -> dict:
    """The data dict people.services expects, from the fields the client sent."""
    data = {
        k: v for k, v in payload.items() if k not in ("area", "household", "key_groups", "flags")
    }
    if "household" in found:
        data["household"] = found["household"]
    data.update({k: v for k, v in (payload.get("flags") or {}).items() if v is not None})
    return data


@router.get("", response={200: PersonPage, **errors(401, 422)}, summary="查找人员（脱敏）")
def list_people(request, filters: Query[PeopleFilter]):
    params = filters.dict(exclude={"page", "page_size"}, exclude_none=True)
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    filterset = PersonFilterSet(data, queryset=selectors.people_for(request.auth))
    if not filterset.is_valid():
        return {"count": 0, "items": []}
    people = filterset.qs.select_related("area").order_by("area_id", "name", "id")
    return paginate(people.prefetch_related("key_groups"), filters, person_data)


@router.post("", response={201: PersonDetail, **errors(400, 401, 403, 422)}, summary="登记人员")
def create_person(request, payload: PersonIn):
    data = _sent(payload)
    found, problems = _resolve_references(request.auth, data)
    if problems:
        raise ValidationError(problems)
    person = services.create_person(
        request.auth,
        _person_fields(data, found),
        area=found["area"],
        key_groups=found["key_groups"],
        request=request,
    )
    return Status(201, person_detail(_get_person(request, person.pk)))


@router.get(
    "/{id}", response={200: PersonDetail, **errors(401, 404)}, summary="查看人员（脱敏，记入审计）"
)
def get_person(request, id: int):
    person = _get_person(request, id)
    services.record_person_view(request.auth, person, request=request)
    return person_detail(person)


@router.patch(
    "/{id}", response={200: PersonDetail, **errors(400, 401, 403, 404, 422)}, summary="修改人员信息"
)
def update_person(request, id: int, payload: PersonPatch):
    person = _get_person(request, id, "change")
    data = _sent(payload, partial=True)
    found, problems = _resolve_references(request.auth, data)
    if problems:
        raise ValidationError(problems)
    services.update_person(
        request.auth,
        person,
        _person_fields(data, found),
        area=found.get("area"),
        key_groups=found.get("key_groups"),
        request=request,
    )
    return person_detail(_get_person(request, id))


@router.post(
    "/{id}/reveal",
    response={200: RevealOut, **errors(400, 401, 403, 404, 422)},
    summary="查看证件号码和电话明文（须填事由，记入审计）",
)
def reveal_person(request, id: int, payload: RevealIn):
    person = _get_person(request, id)
    return services.reveal_person(request.auth, person, payload.reason, request=request)
