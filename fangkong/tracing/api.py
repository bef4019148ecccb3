"""Cases, trajectories, contact discovery and dispatch over the API.

Epidemiologists and HQ only (the ``tracing.*`` permissions): everyone else
gets 403 on the case list and on registering a case, 404 on any single case
or contact (out of scope looks the same as missing). Trajectory, contact and
case-page reads are audited. Identity is always masked here.
"""

import uuid
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Body, Field, Query, Router, Schema, Status

from fangkong.areas.models import Area
from fangkong.core.api_base import PageParams, errors, get_or_404, paginate
from fangkong.core.choices import JobStatus
from fangkong.core.models import Job
from fangkong.core.scope import prefix_q
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import Person, document_index
from fangkong.people.selectors import people_for
from fangkong.people.services import find_or_register
from fangkong.policy import services as policy

from . import services
from .choices import CaseStatus, Classification, ContactKind, ContactStatus, Residence, Severity
from .filtersets import CaseFilterSet, ContactFilterSet
from .models import Case, Cluster, Contact

router = Router(tags=["流调溯源"])

CASE_NOT_FOUND = gettext_noop("未找到该病例或无权查看")
CONTACT_NOT_FOUND = gettext_noop("未找到该密接人员或无权查看")


# schemas -------------------------------------------------------------------------------------------
class PersonRef(Schema):
    id: int
    name: str
    doc_type: str
    doc_masked: str = Field(description="证件号码（脱敏）")
    phone_masked: str = Field(description="联系电话（脱敏）")
    area_code: str = Field(description="现住地网格的区划代码")
    area_name: str


class CaseRef(Schema):
    id: int
    number: str = Field(description="病例编号")


class ClusterRef(Schema):
    id: int
    code: str
    name: str


class WindowOut(Schema):
    start: datetime = Field(description="传染期（追溯窗口）开始：发病（无症状者为采样）前 N 天 0 时")
    end: datetime = Field(description="追溯窗口结束：隔离（收治）时间，未隔离为当前")
    days_before: int = Field(description="发病前追溯天数 N（启用中的防控策略）")


class CaseOut(Schema):
    id: int
    number: str = Field(description="病例编号")
    person: PersonRef
    area_code: str = Field(description="现住地网格的区划代码")
    area_name: str
    classification: str = Field(description="confirmed 确诊病例 / asymptomatic 无症状感染者 / suspected 疑似病例")
    classification_label: str
    severity: str = Field(description="mild 轻型 / moderate 普通型 / severe 重型 / critical 危重型；空为未填")
    severity_label: str
    status: str = Field(description="open 调查中 / closed 已结案 / excluded 已排除")
    status_label: str
    onset_date: date | None = Field(description="发病日期")
    sampled_at: datetime | None = Field(description="采样时间")
    result_at: datetime | None = Field(description="检测阳性时间")
    isolated_at: datetime | None = Field(description="隔离（收治）时间")
    reported_at: datetime | None = Field(description="网络直报时间")
    report_deadline: datetime = Field(description="网络直报时限（阳性结果后 2 小时）")
    report_overdue: bool = Field(description="已过直报时限仍未直报")
    traced_at: datetime | None = Field(description="最近一次密接研判时间")
    cluster_id: int | None
    created_at: datetime


class CaseDetail(CaseOut):
    diagnosed_at: datetime | None = Field(description="诊断时间")
    card_number: str = Field(description="报告卡编号")
    reporting_unit: str
    reporting_doctor: str
    residence: str = Field(description="病人属于：county / city / province / other_province / hmt / foreign")
    residence_label: str
    occupation: str
    note: str
    clock_start: datetime = Field(description="报告时钟起点：检测阳性时间，未填为登记时间")
    core_info_deadline: datetime = Field(description="核心信息调查时限（4 小时）")
    full_report_deadline: datetime = Field(description="流调报告时限（24 小时）")
    window: WindowOut = Field(description="传染期（轨迹与密接追溯的时间范围）")
    infected_by: CaseRef | None = Field(description="传染来源病例")
    cluster: ClusterRef | None = Field(description="所属聚集性疫情")
    contact_counts: dict[str, int] = Field(
        description="密接计数：found 已发现（不含已排除）/ proposed 待研判 / confirmed 已确认 / "
        "dispatched 已推送 / controlled 已落实管控 / overdue 逾期未落实 / transferred 已移交外地")
    trace_job_id: uuid.UUID | None = Field(description="最近一次密接研判后台任务")
    updated_at: datetime


class CasePage(Schema):
    count: int
    items: list[CaseOut]


class CasesFilter(PageParams):
    """The same filters as the case list page (tracing.filtersets.CaseFilterSet), and the area."""

    q: str = Field("", description="病例编号（如 BL20261120-001）、姓名（开头几个字）、拼音首字母、证件号后四位、"
                   "完整证件号或手机号")
    classification: Classification | None = Field(None, description="病例分类")
    status: CaseStatus | None = Field(None, description="状态")
    date_from: date | None = Field(None, description="登记日期自（含）")
    date_to: date | None = Field(None, description="登记日期至（含）")
    area: str | None = Field(None, description="区划代码：只列现住地在该区划及其下级的病例")


class CaseIn(Schema):
    """Either PERSON_ID, or the identity fields to find the person (or register them in AREA)."""

    person_id: int | None = Field(None, description="已登记人员的编号；不填则按下列身份信息查找或登记")
    name: str = Field("", max_length=50, description="姓名（不填 person_id 时必填）")
    doc_type: str = Field(DocumentType.RESIDENT_ID.value, description="证件类型")
    document_number: str = Field("", max_length=40, description="证件号码（不填 person_id 时必填）")
    phone: str = Field("", max_length=20, description="联系电话（新登记人员时必填）")
    area: str | None = Field(None, description="现住地网格的区划代码（新登记人员时必填）")
    address: str = Field("", max_length=200, description="现住址（新登记人员时）")
    classification: str = Field(description="confirmed 确诊病例 / asymptomatic 无症状感染者 / suspected 疑似病例")
    severity: str = Field("", description="mild / moderate / severe / critical；可空")
    onset_date: date | None = Field(None, description="发病日期（确诊病例填此项或采样时间）")
    sampled_at: datetime | None = Field(None, description="采样时间")
    result_at: datetime | None = Field(None, description="检测阳性时间：2 小时直报时钟由此起算")
    diagnosed_at: datetime | None = Field(None, description="诊断时间")
    isolated_at: datetime | None = Field(None, description="隔离（收治）时间：轨迹与密接追溯截止于此")
    reported_at: datetime | None = Field(None, description="网络直报时间")
    card_number: str = Field("", max_length=40, description="报告卡编号")
    reporting_unit: str = Field("", max_length=100, description="报告单位")
    reporting_doctor: str = Field("", max_length=50, description="报告医生")
    residence: str = Field(Residence.COUNTY.value, description="病人属于：county 本县区 / city / province / "
                           "other_province / hmt / foreign")
    occupation: str = Field("", max_length=40, description="职业")
    note: str = Field("", max_length=2000, description="备注")


class TrajectoryItem(Schema):
    source: str = Field(description="scan 扫场所码 / interview 流调访谈")
    start: datetime
    end: datetime = Field(description="扫码为扫码时间加场所类型的停留时间")
    venue_id: int | None
    venue_name: str
    venue_type: str = Field(description="场所类型代码")
    venue_type_name: str
    place: str = Field(description="地点")
    activity: str
    companions: str = Field(description="同行人员（访谈）")
    entry_id: int | None = Field(description="访谈轨迹条目编号")
    longitude: float | None = Field(description="经度（WGS-84）")
    latitude: float | None = Field(description="纬度（WGS-84）")


class TrajectoryOut(Schema):
    case_id: int
    window: WindowOut
    items: list[TrajectoryItem]


class JobRef(Schema):
    job_id: uuid.UUID = Field(description="后台任务编号")
    status_url: str = Field(description="查询进度的地址：GET /api/v1/jobs/{job_id}")


class ContactOut(Schema):
    id: int
    case_id: int
    person: PersonRef
    kind: str = Field(description="close 密切接触者 / secondary 次密切接触者 / companion 时空伴随者")
    kind_label: str
    found_kind: str = Field(description="系统判定的类别")
    found_kind_label: str
    status: str = Field(description="proposed 待研判 / confirmed 已确认 / dismissed 已排除 / "
                        "dispatched 已推送管控 / transferred 已移交外地")
    status_label: str
    first_exposure: datetime | None
    last_exposure: datetime | None
    evidence: list[dict] = Field(description="判定依据：每条含 rule、text，及场所、时段、重叠分钟数、via 等")
    summary: str = Field(description="管控原因（给网格员看的一句话，不含病例身份）")
    via: int | None = Field(description="次密接经由的密接（密接记录编号）")
    manual: bool = Field(description="流调访谈中人工添加")
    is_case: bool = Field(description="本人也是病例")
    jurisdiction: str = Field(description="移交的地区")
    review_note: str
    reviewed_at: datetime | None
    order_id: int | None = Field(description="管控措施单编号")
    task_id: int | None = Field(description="管控任务编号")
    deadline: datetime | None = Field(description="落实管控的时限")
    dispatched_at: datetime | None
    found_at: datetime


class ContactPage(Schema):
    count: int
    items: list[ContactOut]


class ContactsFilter(PageParams):
    """The same filters as the contact list page (tracing.filtersets.ContactFilterSet)."""

    kind: ContactKind | None = Field(None, description="类别")
    status: ContactStatus | None = Field(None, description="状态")
    q: str = Field("", description="姓名（开头几个字）、拼音首字母、证件号后四位、完整证件号或手机号")


class ReviewIn(Schema):
    reason: str = Field("", max_length=300, description="研判说明（排除时必填）")


class DowngradeIn(ReviewIn):
    kind: str = Field(description="降为的类别：secondary 或 companion（须低于现类别）")


class TransferIn(ReviewIn):
    jurisdiction: str = Field(description="移交的地区（外地）")


class DispatchOut(Schema):
    dispatched: int = Field(description="已推送管控（措施单与网格任务）的人数")
    skipped_cases: int = Field(description="本人已是病例、未推送的人数")


# rendering -------------------------------------------------------------------------------------------
def person_ref(person: Person) -> dict:
    return {
        "id": person.pk, "name": person.name, "doc_type": person.doc_type, "doc_masked": person.doc_masked,
        "phone_masked": person.phone_masked, "area_code": person.area_id, "area_name": person.area.name,
    }


def _window(case: Case) -> dict:
    pack = policy.active_pack()
    start, end = services.window_of(case, pack)
    return {"start": start, "end": end, "days_before": pack.contact_window_days}


def case_data(case: Case) -> dict:
    return {
        "id": case.pk, "number": case.number, "person": person_ref(case.person),
        "area_code": case.area_id, "area_name": case.area.name,
        "classification": case.classification, "classification_label": case.get_classification_display(),
        "severity": case.severity, "severity_label": case.get_severity_display() if case.severity else "",
        "status": case.status, "status_label": case.get_status_display(),
        "onset_date": case.onset_date, "sampled_at": case.sampled_at, "result_at": case.result_at,
        "isolated_at": case.isolated_at, "reported_at": case.reported_at,
        "report_deadline": case.report_deadline,
        "report_overdue": case.reported_at is None and timezone.now() > case.report_deadline,
        "traced_at": case.traced_at, "cluster_id": case.cluster_id, "created_at": case.created_at,
    }


def case_detail(user, case: Case) -> dict:
    source = None
    if case.infected_by_id:
        source = Case.objects.restrict(user, "view").filter(pk=case.infected_by_id).values("id", "number").first()
    cluster = None
    if case.cluster_id:
        cluster = Cluster.objects.restrict(user, "view").filter(pk=case.cluster_id).values(
            "id", "code", "name").first()
    contacts = Contact.objects.restrict(user, "view").filter(case=case)
    return {
        **case_data(case),
        "diagnosed_at": case.diagnosed_at, "card_number": case.card_number,
        "reporting_unit": case.reporting_unit, "reporting_doctor": case.reporting_doctor,
        "residence": case.residence, "residence_label": case.get_residence_display(),
        "occupation": case.occupation, "note": case.note,
        "clock_start": case.clock_start, "core_info_deadline": case.core_info_deadline,
        "full_report_deadline": case.full_report_deadline,
        "window": _window(case), "infected_by": source, "cluster": cluster,
        "contact_counts": services.contact_counts(contacts),
        "trace_job_id": case.trace_job_id, "updated_at": case.updated_at,
    }


def _coordinate(value) -> float | None:
    return None if value is None else float(value)


def trajectory_item(item: dict) -> dict:
    venue = item["venue"]
    entry = item.get("entry")
    return {
        "source": item["source"], "start": item["start"], "end": item["end"],
        "venue_id": venue.pk if venue else None, "venue_name": venue.name if venue else "",
        "venue_type": venue.type.code if venue else "", "venue_type_name": venue.type.name if venue else "",
        "place": item["place"] or "", "activity": item["activity"] or "",
        "companions": item.get("companions") or "", "entry_id": entry.pk if entry else None,
        "longitude": _coordinate(venue.longitude) if venue else None,
        "latitude": _coordinate(venue.latitude) if venue else None,
    }


def contact_data(contact: Contact) -> dict:
    return {
        "id": contact.pk, "case_id": contact.case_id, "person": person_ref(contact.person),
        "kind": contact.kind, "kind_label": contact.get_kind_display(),
        "found_kind": contact.found_kind, "found_kind_label": contact.get_found_kind_display(),
        "status": contact.status, "status_label": contact.get_status_display(),
        "first_exposure": contact.first_exposure, "last_exposure": contact.last_exposure,
        "evidence": contact.evidence or [], "summary": contact.summary, "via": contact.via_id,
        "manual": contact.manual, "is_case": contact.is_case, "jurisdiction": contact.jurisdiction,
        "review_note": contact.review_note, "reviewed_at": contact.reviewed_at,
        "order_id": contact.order_id, "task_id": contact.task_id, "deadline": contact.deadline,
        "dispatched_at": contact.dispatched_at, "found_at": contact.found_at,
    }


# lookups ---------------------------------------------------------------------------------------------
def _cases(user, action: str = "view"):
    return Case.objects.restrict(user, action).select_related("person", "person__area", "area")


def _get_case(request, id: int, action: str = "view") -> Case:
    return get_or_404(_cases(request.auth, action), _(CASE_NOT_FOUND), pk=id)


def _contacts(user, action: str = "view"):
    return Contact.objects.restrict(user, action).select_related("person", "person__area")


def _get_contact(request, id: int) -> Contact:
    return get_or_404(_contacts(request.auth, "change"), _(CONTACT_NOT_FOUND), pk=id)


def _aware(value):
    if isinstance(value, datetime) and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _case_fields(payload: CaseIn) -> tuple[dict, dict]:
    """The case data services.register_case takes, and the errors found in it."""
    data = {name: _aware(getattr(payload, name)) for name in services.CASE_FIELDS}
    problems = {}
    if data["severity"] and data["severity"] not in Severity.values:
        problems["severity"] = [_("取值无效。")]
    if data["residence"] not in Residence.values:
        problems["residence"] = [_("取值无效。")]
    try:
        services.clean_case(data)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            problems.setdefault(field, []).extend(messages)
    return data, problems


def _identity(user, payload: CaseIn) -> tuple[dict, dict]:
    """The validated identity fields (to find or register the person), and the errors found in them."""
    problems: dict[str, list[str]] = {}
    name = payload.name.strip()
    if not name:
        problems["name"] = [_("请填写姓名，或选择已登记的人员（person_id）。")]
    doc_type = payload.doc_type or DocumentType.RESIDENT_ID
    number = ""
    if doc_type not in DocumentType.values or doc_type == DocumentType.NONE:
        problems["doc_type"] = [_("证件类型无效。")]
    elif not payload.document_number.strip():
        problems["document_number"] = [_("请填写证件号码。")]
    else:
        try:
            number = identity.validate_document(doc_type, payload.document_number)
        except ValidationError as exc:
            problems["document_number"] = list(exc.messages)
    phone = ""
    try:
        phone = identity.validate_phone(payload.phone)
    except ValidationError as exc:
        problems["phone"] = list(exc.messages)
    existing = None
    if number and "document_number" not in problems:
        existing = Person.objects.with_document(document_index(doc_type, number)).first()
        while existing is not None and existing.merged_into_id:
            existing = existing.merged_into
    if existing is not None:
        if not people_for(user).filter(pk=existing.pk).exists():
            problems["document_number"] = [_("该证件号码对应的人员不在您的管辖范围内。")]
        elif name and existing.name != name:
            problems["name"] = [_("姓名与证件号码不符。")]
        return {"person": existing}, problems
    if not number:
        return {}, problems  # whether the person is new is not known yet: area and phone wait
    area = None
    if not payload.area:
        problems["area"] = [_("新登记人员请选择现住地网格。")]
    else:
        area = Area.objects.restrict(user, "view").filter(code=payload.area).first()
        if area is None:
            problems["area"] = [_("所选区划不存在或不在您的管辖范围内。")]
    if not phone and "phone" not in problems:
        problems["phone"] = [_("新登记人员请填写手机号码。")]
    return {"name": name, "doc_type": doc_type, "number": number, "phone": phone, "area": area,
            "address": payload.address.strip()}, problems


# cases -----------------------------------------------------------------------------------------------
def _filtered(filterset_class, filters: PageParams, queryset, exclude=()):
    """QUERYSET through the list page's filterset, with the query parameters the client sent."""
    params = filters.dict(exclude={"page", "page_size", *exclude}, exclude_none=True)
    data = {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in params.items()}
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError({field: list(messages) for field, messages in filterset.errors.items()})
    return filterset.qs


@router.get("/cases", response={200: CasePage, **errors(400, 401, 403, 422)}, summary="病例列表（按辖区）")
def list_cases(request, filters: Query[CasesFilter]):
    user = request.auth
    if not user.has_perm("tracing.view_case"):
        raise PermissionDenied
    cases = _cases(user)
    if filters.area:
        # The queryset is already the user's scope: an area outside it leaves nothing.
        area = Area.objects.filter(code=filters.area.strip()).only("prefix").first()
        cases = cases.filter(prefix_q("area_id", area.prefix)) if area else cases.none()
    cases = _filtered(CaseFilterSet, filters, cases, exclude={"area"})
    return paginate(cases.order_by("-created_at", "-id"), filters, case_data)


@router.post("/cases", response={201: CaseDetail, **errors(400, 401, 403, 422)},
             summary="登记病例（直报时钟开始计时）")
def create_case(request, payload: CaseIn):
    """Register a case: by `person_id`, or by name and document (the person is found, or registered in `area`).

    The case is linked to the case it was a contact of, and the 2-hour reporting clock starts.
    """
    user = request.auth
    if not user.has_perm("tracing.add_case"):
        raise PermissionDenied
    data, problems = _case_fields(payload)
    person = None
    found = {}
    if payload.person_id is not None:
        person = people_for(user).filter(pk=payload.person_id).first()
        if person is None:
            problems["person_id"] = [_("所选人员不存在或不在您的管辖范围内。")]
    else:
        found, identity_problems = _identity(user, payload)
        problems = {**identity_problems, **problems}
        person = found.get("person")
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        if person is None:
            person, _created = find_or_register(
                name=found["name"], doc_type=found["doc_type"], number=found["number"], phone=found["phone"],
                area=found["area"], address=found["address"], user=user, reason=_("登记病例"))
        case = services.register_case(user, person, data, request=request)
    case = _get_case(request, case.pk)
    services.record_view(user, case, _("病例详情"), request=request)
    return Status(201, case_detail(user, case))


@router.get("/cases/{id}", response={200: CaseDetail, **errors(401, 404)},
            summary="查看病例：报告时钟、传染期、传染来源、聚集性疫情、密接计数（记入审计）")
def get_case(request, id: int):
    case = _get_case(request, id)
    services.record_view(request.auth, case, _("病例详情"), request=request)
    return case_detail(request.auth, case)


@router.get("/cases/{id}/trajectory", response={200: TrajectoryOut, **errors(401, 404)},
            summary="病例传染期内的活动轨迹：扫码记录与流调访谈（记入审计）")
def get_trajectory(request, id: int):
    case = _get_case(request, id)
    pack = policy.active_pack()
    items = services.trajectory(case, pack)
    services.record_view(request.auth, case, _("活动轨迹"), request=request)
    start, end = services.window_of(case, pack)
    return {
        "case_id": case.pk,
        "window": {"start": start, "end": end, "days_before": pack.contact_window_days},
        "items": [trajectory_item(item) for item in items],
    }


@router.post("/cases/{id}/trace", response={202: JobRef, **errors(401, 403, 404)},
             summary="开始密接研判（后台任务，返回任务编号）")
def trace_case(request, id: int):
    """Contact discovery runs as a background job; poll `status_url` for its progress.

    While a discovery for this case is still queued or running, that job is answered again.
    """
    case = _get_case(request, id, "change")
    job = None
    if case.trace_job_id:
        job = Job.objects.filter(pk=case.trace_job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()
    if job is None:
        job = services.start_trace(request.auth, case)
    status_url = reverse("api:get_job", kwargs={"id": str(job.pk)})
    return Status(202, {"job_id": job.pk, "status_url": status_url})


@router.get("/cases/{id}/contacts", response={200: ContactPage, **errors(400, 401, 404, 422)},
            summary="病例的密接、次密接、时空伴随者及判定依据（记入审计）")
def list_contacts(request, id: int, filters: Query[ContactsFilter]):
    case = _get_case(request, id)
    contacts = _filtered(ContactFilterSet, filters, _contacts(request.auth).filter(case=case))
    services.record_view(request.auth, case, _("密接名单"), request=request)
    return paginate(contacts.order_by("kind", "first_exposure", "id"), filters, contact_data)


@router.post("/cases/{id}/dispatch", response={200: DispatchOut, 202: JobRef, **errors(400, 401, 403, 404)},
             summary="推送已确认的密接：按启用策略下达管控措施并派发网格任务")
def dispatch_case(request, id: int):
    """A few hundred contacts are dispatched at once (200); more go to a background job (202 with its id)."""
    case = _get_case(request, id, "change")
    if not services.dispatch_runs_inline(case):
        job = services.start_dispatch(request.auth, case)
        return Status(202, {"job_id": job.pk, "status_url": reverse("api:get_job", kwargs={"id": str(job.pk)})})
    return services.dispatch(request.auth, case, request=request)


# contact review ----------------------------------------------------------------------------------------
def _review(request, id: int, action: str, **kwargs) -> dict:
    contact = _get_contact(request, id)
    services.review_contact(request.auth, contact, action, request=request, **kwargs)
    return contact_data(_get_contact(request, id))


@router.post("/contacts/{id}/confirm", response={200: ContactOut, **errors(400, 401, 404, 422)},
             summary="确认密接（按现类别）")
def confirm_contact(request, id: int, payload: Body[ReviewIn | None] = None):
    return _review(request, id, "confirm", reason=payload.reason if payload else "")


@router.post("/contacts/{id}/dismiss", response={200: ContactOut, **errors(400, 401, 404, 422)},
             summary="排除密接（须说明理由）")
def dismiss_contact(request, id: int, payload: ReviewIn):
    return _review(request, id, "dismiss", reason=payload.reason)


@router.post("/contacts/{id}/downgrade", response={200: ContactOut, **errors(400, 401, 404, 422)},
             summary="降低类别并确认（如密接降为时空伴随者）")
def downgrade_contact(request, id: int, payload: DowngradeIn):
    return _review(request, id, "downgrade", reason=payload.reason, kind=payload.kind)


@router.post("/contacts/{id}/transfer", response={200: ContactOut, **errors(400, 401, 404, 422)},
             summary="移交外地（协查）")
def transfer_contact(request, id: int, payload: TransferIn):
    return _review(request, id, "transfer", reason=payload.reason, jurisdiction=payload.jurisdiction)


@router.post("/contacts/{id}/reopen", response={200: ContactOut, **errors(400, 401, 404, 422)},
             summary="撤销研判结果，改回待研判（已推送管控的除外）")
def reopen_contact(request, id: int, payload: Body[ReviewIn | None] = None):
    return _review(request, id, "reopen", reason=payload.reason if payload else "")
