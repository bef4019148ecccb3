"""Check-ins over the API: gateways push them in bulk, tracers read them, departments check venues.

POST /checkins/batch reads the body itself (JSON or CSV, up to 50,000 rows):
a batch is larger than Django's in-memory upload limit for ``request.body``
and is answered without the per-row validation of a response schema.
"""

import datetime as dt
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.api_base import NotFound, PageParams, errors
from fangkong.core.pagination import page_size_from
from fangkong.core.scope import prefix_q
from fangkong.people import identity
from fangkong.people.selectors import people_for

from . import compliance, ingest
from .models import CheckIn, Venue

router = Router(tags=["扫码记录"])


def max_body_bytes() -> int:
    return int(getattr(settings, "FANGKONG_CHECKIN_BATCH_MAX_BYTES", 32 * 1024 * 1024))


# Bulk push ---------------------------------------------------------------------------------------
class BatchRowOut(Schema):
    index: int = Field(description="行序号，从 0 开始（CSV 不含表头行）")
    key: str = Field(description="幂等键")
    result: str = Field(description="accepted 已保存 / duplicate 重复（已保存过） / rejected 拒收")
    error: str | None = Field(None, description="拒收或重复的原因")


class BatchOut(Schema):
    accepted: int
    duplicate: int
    rejected: int
    rows: list[BatchRowOut]


BATCH_ROW_SCHEMA = {
    "type": "object",
    "required": ["key", "venue", "person", "scanned_at"],
    "properties": {
        "key": {"type": "string", "maxLength": 64, "description": "幂等键：重推同一行不会重复保存"},
        "venue": {"oneOf": [{"type": "integer"}, {"type": "string"}], "description": "场所编号或场所码"},
        "person": {"type": "string", "description": "居民身份证号码（人员须已登记）"},
        "name": {"type": "string", "description": "姓名（可选，给出时须与登记一致）"},
        "scanned_at": {"type": "string", "format": "date-time",
                       "description": "扫码时间，ISO 8601；不带时区按本地时间"},
        "status": {"type": "string", "enum": ["green", "yellow", "red", ""], "description": "当时显示的颜色（可选）"},
    },
}


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
    # Not request.body: that refuses anything over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
    return request.read(limit + 1)[: limit + 1]


@router.post(
    "/checkins/batch",
    response={200: BatchOut, **errors(400, 401, 403, 413, 422)},
    summary="批量推送扫码记录（JSON 或 CSV，单次至多 50000 行，可安全重试）",
    description=(
        "请求体为 JSON（行的数组，或 `{\"rows\": [...]}`），或 `Content-Type: text/csv` 的 CSV "
        "（表头 key,venue,person,name,scanned_at,status）。每行须有幂等键 key；重推同一批不会重复保存。"
        "格式有误、人员未登记、扫码时间晚于当前 5 分钟或早于保存期限的行被拒收，其余行照常保存。"
        "`only_problems=true` 时 rows 只列重复和拒收的行。"
    ),
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": BATCH_ROW_SCHEMA}},
        "text/csv": {"schema": {"type": "string"}},
    }}},
)
def push_batch(request, only_problems: bool = False):
    if not request.auth.has_perm("venues.add_checkin"):
        raise PermissionDenied
    raw = _read_body(request)
    if len(raw) > max_body_bytes():
        raise HttpError(413, _("请求体过大，请分批推送。"))
    if request.content_type in ("text/csv", "application/csv", "text/plain"):
        rows = ingest.parse_csv(raw)
    else:
        rows = ingest.parse_json(raw)
    result = ingest.ingest_checkins(request.auth, rows, request=request)
    body = json.dumps(result.as_dict(only_problems), ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(body, content_type="application/json")


# Reading check-ins -------------------------------------------------------------------------------
class CheckInFilter(PageParams):
    person: int | None = Field(None, description="人员编号")
    venue: int | None = Field(None, description="场所编号")
    from_: datetime | None = Field(None, alias="from", description="起始时间（含），默认保存期限之初")
    to: datetime | None = Field(None, description="截止时间（不含），默认当前")


class CheckInOut(Schema):
    id: int
    person_id: int
    person_name: str = Field(description="姓名（脱敏）")
    venue_id: int
    venue_name: str
    scanned_at: datetime
    status_shown: str = Field(description="green / yellow / red，空为未查验")
    source: str = Field(description="scan 扫码 / batch 批量推送")


class CheckInPage(Schema):
    count: int
    items: list[CheckInOut]


@router.get(
    "/checkins",
    response={200: CheckInPage, **errors(400, 401, 403, 404, 422)},
    summary="查询扫码记录（流调；须指定人员或场所，记入审计）",
)
def list_checkins(request, filters: Query[CheckInFilter]):
    user = request.auth
    if not user.has_perm("venues.view_checkin"):
        raise PermissionDenied
    if filters.person is None and filters.venue is None:
        raise ValidationError({"person": [_("请指定人员或场所。")]})
    end = filters.to or timezone.now()
    start = filters.from_ or end - timedelta(days=ingest.retention_days())
    rows = CheckIn.objects.filter(scanned_at__gte=start, scanned_at__lt=end)
    if filters.venue is not None:
        if not Venue.objects.restrict(user, "view").filter(pk=filters.venue).exists():
            raise NotFound(_("未找到该场所或无权查看"))
        rows = rows.filter(venue_id=filters.venue)
    if filters.person is not None:
        if not people_for(user).filter(pk=filters.person).exists():
            raise NotFound(_("未找到该人员或无权查看"))
        rows = rows.filter(person_id=filters.person)
        if filters.venue is None and user.scope_prefix is not None:
            rows = rows.filter(prefix_q("venue__area_id", user.scope_prefix))
    size = page_size_from(filters.page_size)
    offset = (filters.page - 1) * size
    count = rows.count()
    page = rows.order_by("-scanned_at", "-id").values_list(
        "id", "person_id", "person__name", "venue_id", "venue__name", "scanned_at", "status_shown", "source",
    )[offset:offset + size] if offset < count else []
    items = [{"id": pk, "person_id": person_id, "person_name": identity.mask_name(name), "venue_id": venue_id,
              "venue_name": venue_name, "scanned_at": at, "status_shown": status, "source": source}
             for pk, person_id, name, venue_id, venue_name, at, status, source in page]
    record_event(user, AuditAction.VIEW, object_type="venues.checkin",
                 object_id=str(filters.person or ""), object_repr=_("查询扫码记录"),
                 changes={"person": filters.person, "venue": filters.venue, "from": start.isoformat(),
                          "to": end.isoformat(), "page": filters.page, "count": count},
                 request=request)
    return {"count": count, "items": items}


# Compliance --------------------------------------------------------------------------------------
class ComplianceFilter(PageParams):
    date: dt.date | None = Field(None, description="日期，默认昨日")
    area: str | None = Field(None, description="区划代码：只看该区划及其下级的场所")
    type: str | None = Field(None, description="场所类型代码")
    department: int | None = Field(None, description="主管部门（单位编号）")
    flagged: bool = Field(False, description="只看有问题的场所")


class ComplianceRowOut(Schema):
    venue_id: int
    venue_name: str
    area_code: str
    area_name: str
    type: str
    department: str | None
    is_active: bool
    expected: int = Field(description="预计日客流")
    scans: int = Field(description="当日扫码人次")
    coverage: float | None = Field(description="扫码人次 / 预计客流")
    nongreen: int = Field(description="当日非绿码放行人次")
    red: int
    nongreen_share: float | None
    average: float = Field(description="前 7 日日均扫码人次")
    zero_days: int = Field(description="近 7 日无扫码天数")
    silent_days: int = Field(description="连续无扫码天数（截至当日）")
    days: list[int] = Field(description="逐日扫码人次，最后一项为当日")
    flags: list[str] = Field(description="silent 连续无扫码 / drop 骤降 / nongreen 放行红黄码")


class ComplianceOut(Schema):
    date: dt.date
    summary: dict
    count: int
    items: list[ComplianceRowOut]


def compliance_row(item: compliance.VenueDay) -> dict:
    venue = item.venue
    return {
        "venue_id": venue.pk, "venue_name": venue.name, "area_code": venue.area_id, "area_name": venue.area.name,
        "type": venue.type.code, "department": venue.supervisor.name if venue.supervisor else None,
        "is_active": venue.is_active, "expected": item.expected, "scans": item.scans, "coverage": item.coverage,
        "nongreen": item.nongreen, "red": item.red, "nongreen_share": item.nongreen_share,
        "average": round(item.average, 2), "zero_days": item.zero_days, "silent_days": item.silent_days,
        "days": item.days, "flags": item.flags,
    }


@router.get(
    "/venues/compliance",
    response={200: ComplianceOut, **errors(401, 403, 422)},
    summary="场所查验：逐场所当日扫码量、非绿码放行和问题标记",
)
def venue_compliance(request, filters: Query[ComplianceFilter]):
    user = request.auth
    if not user.has_perm("venues.view_compliance"):
        raise PermissionDenied
    day = filters.date or compliance.default_day()
    area = None
    if filters.area:
        area = Area.objects.restrict(user, "view").filter(code=filters.area).first()
        if area is None:
            raise ValidationError({"area": [_("所选区划不存在或不在您的管辖范围内。")]})
    venues = compliance.filter_venues(compliance.compliance_venues(user), area=area, type_code=filters.type or "",
                                      department=filters.department)
    items = compliance.compute(venues, day)
    totals = compliance.summary(items)
    if filters.flagged:
        items = [i for i in items if i.flags]
    size = page_size_from(filters.page_size)
    offset = (filters.page - 1) * size
    return {"date": day, "summary": totals, "count": len(items),
            "items": [compliance_row(i) for i in items[offset:offset + size]]}
