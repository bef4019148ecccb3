"""Sampling and lab results over the API: sessions, samples, result batches, a tube's state.

POST /lab-results/batch reads the body itself (JSON or CSV, up to 100,000
rows): a batch is larger than Django's in-memory limit for ``request.body``.
"""

import csv
import io
import json
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from fangkong.core.api_base import NotFound, errors
from fangkong.core.tabular import ImportFileError, decode
from fangkong.people import identity

from . import services
from .models import SamplingPoint, SamplingSession, Tube

router = Router(tags=["核酸检测"])


def max_body_bytes() -> int:
    return int(getattr(settings, "FANGKONG_LAB_BATCH_MAX_BYTES", 64 * 1024 * 1024))


# Sessions ----------------------------------------------------------------------------------------
class SessionIn(Schema):
    point: int = Field(description="采样点编号")
    pool_size: int = Field(10, description="混采人数：1 单采、5、10 或 20")


class SessionOut(Schema):
    id: int
    point_id: int
    point_name: str
    area_code: str
    pool_size: int
    started_at: datetime
    closed_at: datetime | None


def session_out(session: SamplingSession) -> dict:
    return {"id": session.pk, "point_id": session.point_id, "point_name": session.point.name,
            "area_code": session.area_id, "pool_size": session.pool_size, "started_at": session.started_at,
            "closed_at": session.closed_at}


@router.post("/sampling-sessions", response={201: SessionOut, **errors(400, 401, 403, 404, 422)},
             summary="开始采样（开启采样批次，设定混采人数）")
def open_session(request, payload: SessionIn):
    user = request.auth
    if not user.has_perm("testing.add_samplingsession"):
        raise PermissionDenied
    point = SamplingPoint.objects.restrict(user, "view").filter(pk=payload.point).first()
    if point is None:
        raise NotFound(_("未找到该采样点或无权查看"))
    session = services.open_session(user, point, payload.pool_size)
    return Status(201, session_out(session))


# Samples -----------------------------------------------------------------------------------------
class SampleIn(Schema):
    session: int = Field(description="采样批次编号")
    barcode: str = Field(max_length=40, description="采样管管码")
    person: str = Field(max_length=64, description="被采样人个人码（扫码页“我的个人码”，FKP1. 开头，30 分钟内有效）或证件号码"
                                                   "（居民身份证、护照或通行证）")
    client_key: str = Field(max_length=64, description="客户端编号：离线重发同一条不会重复保存")
    sampled_at: datetime | None = Field(None, description="采样时间（离线补传时填写），默认当前")


class SampleOut(Schema):
    id: int
    created: bool = Field(description="false：该客户端编号已保存过，返回原记录")
    barcode: str
    tube_status: str = Field(description="open 采集中 / closed 已封管 / resulted 已出结果")
    filled: int = Field(description="本管已采人数")
    capacity: int
    person_name: str = Field(description="姓名（脱敏）")
    document: str = Field(description="证件号码（脱敏）")
    sampled_at: datetime
    duplicate: bool = Field(description="当天已采过样（仍保存）")


@router.post("/samples", response={200: SampleOut, 201: SampleOut, **errors(400, 401, 403, 404, 422)},
             summary="采样：一人入管（按客户端编号幂等；管满自动封管）")
def add_sample(request, payload: SampleIn):
    user = request.auth
    if not user.has_perm("testing.add_sample"):
        raise PermissionDenied
    session = (SamplingSession.objects.restrict(user, "view").filter(pk=payload.session).first()
               or SamplingSession.objects.filter(pk=payload.session, operator=user).first())
    if session is None:
        raise NotFound(_("未找到该采样批次或无权查看"))
    try:
        person = services.find_person(payload.person, at=payload.sampled_at)
    except services.PersonCodeError as exc:
        raise ValidationError({"person": exc.messages}) from exc
    if person is None:
        raise ValidationError({"person": [_("未找到该人员，请核对证件号码或先登记。")]})
    sample, created = services.add_sample(user, session, barcode=payload.barcode, person=person,
                                          client_key=payload.client_key, sampled_at=payload.sampled_at)
    tube = sample.tube
    body = {"id": sample.pk, "created": created, "barcode": tube.barcode, "tube_status": tube.status,
            "filled": tube.samples.count(), "capacity": tube.capacity,
            "person_name": identity.mask_name(sample.person.name), "document": sample.person.doc_masked,
            "sampled_at": sample.sampled_at, "duplicate": sample.duplicate}
    return Status(201 if created else 200, body)


# Lab results -------------------------------------------------------------------------------------
RESULT_ROW_SCHEMA = {
    "type": "object",
    "required": ["barcode", "result", "tested_at"],
    "properties": {
        "barcode": {"type": "string", "maxLength": 40, "description": "管码"},
        "result": {"type": "string", "description": "negative/positive/invalid（或 阴性/阳性/无效）"},
        "tested_at": {"type": "string", "description": "检测时间：ISO 8601 或“2022年4月9日 10:00”；不带时区按本地时间"},
        "ct_values": {"type": "object", "description": "Ct 值（可选），如 {\"ORF1ab\": 35.2, \"N\": 36.1}"},
    },
}


class RejectedRow(Schema):
    row: int = Field(description="行号（JSON 从 1 起；CSV 为文件行号）")
    errors: list[str]


class IngestOut(Schema):
    accepted: int = Field(description="新保存的结果（含未匹配、冲突）")
    duplicate: int = Field(description="重发（同管码同检测时间已保存过）")
    unmatched: int = Field(description="管码未知：已保存，待采样数据到达后关联")
    conflicts: int = Field(description="与同管已有结果不一致：都保存，该管标记待核")
    positives: int = Field(description="本批新出阳性的采样管数")
    followups: int = Field(description="混管阳性：新建单采复核人数")
    already_cases: int = Field(description="混管阳性：已是病例、不再复核的人数")
    rejected: list[RejectedRow]


def _read_body(request) -> bytes:
    limit = max_body_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise HttpError(413, _("请求体超过 %(mb)d MB，请分批推送。") % {"mb": limit // (1024 * 1024)})
    if hasattr(request, "_body"):
        return request._body
    return request.read(limit + 1)[: limit + 1]


def parse_json(raw: bytes) -> list:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(_("请求内容不是有效的 JSON：%(detail)s") % {"detail": exc}, code="invalid") from exc
    if isinstance(data, dict):
        data = data.get("rows")
    if not isinstance(data, list):
        raise ValidationError(_('JSON 应为行的列表，或 {"rows": [...]}。'), code="invalid")
    return data


def parse_csv(raw: bytes) -> list:
    try:
        table = list(csv.reader(io.StringIO(decode(raw), newline="")))
    except (ImportFileError, csv.Error) as exc:
        raise ValidationError(str(exc), code="invalid") from exc
    rows = services.rows_from_table(table)
    if rows is None:
        raise ValidationError(_("CSV 缺少表头行（barcode,result,tested_at[,ct_orf1ab,ct_n]）。"), code="invalid")
    return rows


@router.post(
    "/lab-results/batch",
    response={200: IngestOut, **errors(400, 401, 403, 413, 422)},
    summary="批量上传检测结果（JSON 或 CSV，单次至多 100000 行，可安全重发）",
    description=(
        "请求体为 JSON（行的数组，或 `{\"rows\": [...]}`），或 `Content-Type: text/csv` 的 CSV "
        "（表头 barcode,result,tested_at,ct_orf1ab,ct_n，或 管码,检测结果,检测时间）。"
        "按管码加检测时间幂等；管码未知的结果保存待关联；同管结果不一致时都保存并标记待核。"
        "混管阳性自动为每名成员建单采复核任务；单管阳性即时预警。"
    ),
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": RESULT_ROW_SCHEMA}},
        "text/csv": {"schema": {"type": "string"}},
    }}},
)
def ingest_batch(request, lab: str = ""):
    user = request.auth
    if not user.has_perm("testing.add_labresult"):
        raise PermissionDenied
    raw = _read_body(request)
    if len(raw) > max_body_bytes():
        raise HttpError(413, _("请求体过大，请分批推送。"))
    if request.content_type in ("text/csv", "application/csv", "text/plain"):
        rows = parse_csv(raw)
    else:
        rows = parse_json(raw)
    answer = services.ingest_results(user, rows, lab=lab)
    return HttpResponse(json.dumps(answer, ensure_ascii=False, separators=(",", ":")),
                        content_type="application/json")


# Tubes -------------------------------------------------------------------------------------------
class MemberOut(Schema):
    name: str = Field(description="姓名（脱敏）")
    document: str = Field(description="证件号码（脱敏）")
    sampled_at: datetime
    duplicate: bool


class LabResultOut(Schema):
    result: str
    tested_at: datetime
    lab: str
    ct_values: dict
    conflicting: bool


class TubeOut(Schema):
    barcode: str
    session_id: int
    point_name: str
    capacity: int
    status: str
    filled: int
    result: str = Field(description="negative / positive / invalid，空为未出结果")
    resulted_at: datetime | None
    needs_review: bool = Field(description="收到不一致的结果，待核")
    members: list[MemberOut]
    lab_results: list[LabResultOut]


@router.get("/tubes/{barcode}", response={200: TubeOut, **errors(401, 403, 404)},
            summary="采样管：成员（脱敏）与检测结果")
def get_tube(request, barcode: str):
    user = request.auth
    if not user.has_perm("testing.view_tube"):
        raise PermissionDenied
    tube = (Tube.objects.restrict(user, "view").select_related("session__point")
            .filter(barcode=services.normalize_barcode(barcode)).first())
    if tube is None:
        raise NotFound(_("未找到该采样管或无权查看"))
    members = services.mask_members(tube)
    results = [{"result": r.result, "tested_at": r.tested_at, "lab": r.lab, "ct_values": r.ct_values,
                "conflicting": r.conflicting} for r in tube.lab_results.order_by("tested_at", "id")]
    return {"barcode": tube.barcode, "session_id": tube.session_id, "point_name": tube.session.point.name,
            "capacity": tube.capacity, "status": tube.status, "filled": len(members), "result": tube.result,
            "resulted_at": tube.resulted_at, "needs_review": tube.needs_review, "members": members,
            "lab_results": results}
