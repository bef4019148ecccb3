"""Arrival declarations for the public (no account): declare, and look one up by receipt + phone digits.

Guarded like the public form: the body size is checked before it is read,
floods are refused per client address and per ID number, and a look-up
gives the same 404 whether the receipt or the digits were wrong.
"""

import functools
from datetime import datetime

from django.http import JsonResponse
from django.urls import reverse
from django.utils.http import urlencode
from ninja import Field, Query, Router, Schema, Status
from ninja.decorators import decorate_view

from fangkong.core.api_base import NotFound, errors

from . import services
from .public_forms import (
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    TOO_MANY,
    TOO_MANY_FOR_ID,
    address_flooding,
    document_flooding,
    shown,
    too_large,
)

router = Router(tags=["入返报备（公众）"])


class StopIn(Schema):
    place_code: str = Field(description="县（区）的6位行政区划代码，如 110101")
    township: str = Field("", description="乡镇（街道），选填")
    date_from: str = Field(description="起始日期 YYYY-MM-DD")
    date_to: str = Field("", description="结束日期 YYYY-MM-DD，不填同起始日期")


class CompanionIn(Schema):
    name: str
    relation: str = ""
    document_number: str = Field("", description="身份证号，选填")


class DeclarationIn(Schema):
    name: str
    document_number: str = Field(description="18位居民身份证号")
    phone: str = Field(description="11位手机号")
    origin_code: str = Field(description="出发地6位行政区划代码")
    origin_detail: str = ""
    stops: list[StopIn] = Field(default_factory=list, description="近14天旅居史")
    transport: str = Field(description="train / flight / car / bus / other")
    transport_number: str = Field("", description="车次或航班号（火车、飞机必填）")
    plate: str = Field("", description="车牌号（自驾必填）")
    planned_arrival: str = Field(description="计划到达时间，ISO 8601，如 2022-05-01T15:00:00+08:00；"
                                             "今天起最多提前 FANGKONG_DECLARE_DAYS_AHEAD 天")
    area: str = Field(description="目的地村（社区）或网格的区划代码")
    address: str = Field(description="目的地详细地址")
    companions: list[CompanionIn] = Field(default_factory=list, description="同行人员")
    symptoms: list[str] = Field(default_factory=list,
                                description="症状：fever, cough, sore_throat, fatigue, smell, diarrhoea")
    vaccine_doses: int = Field(0, description="新冠疫苗接种剂次 0–5")


class ReceiptOut(Schema):
    receipt: str = Field(description="回执码：查询、修改、到达时出示")
    created: bool = Field(description="false：同一身份证号已有待到达的申报，已按本次更新")
    measure: str = Field(description="管控措施代码")
    measure_label: str
    instructions: str = Field(description="告知内容")
    test_dates: list[str] = Field(description="检测日期 YYYY-MM-DD")
    status_url: str = Field(description="查询页面（需手机号后四位）")


class StageOut(Schema):
    stage: str
    label: str
    start: str
    end: str
    test_dates: list[str]


class PublicDeclarationOut(Schema):
    receipt: str
    status: str
    status_label: str
    name: str = Field(description="姓名（脱敏）")
    doc_masked: str = Field(description="身份证号（脱敏）")
    phone_masked: str = Field(description="手机号（脱敏）")
    origin: str
    planned_arrival: datetime
    destination: str
    measure: str
    measure_label: str
    instructions: str
    test_dates: list[str]
    stages: list[StageOut]
    editable: bool = Field(description="到达前可修改")


class LookupParams(Schema):
    phone_last4: str = Field("", description="申报手机号后四位")


def _refusal(status: int, code: str, message) -> JsonResponse:
    return JsonResponse({"code": code, "message": str(message)}, status=status,
                        json_dumps_params={"ensure_ascii": False})


def _guarded(scope: str, *, check_size: bool):
    """Refuse an oversized body or a flood before ninja reads and parses the body."""

    def decorator(run):
        @functools.wraps(run)
        def wrapper(request, *args, **kwargs):
            if check_size and too_large(request):
                return _refusal(413, "too_large", PAYLOAD_TOO_LARGE)
            if address_flooding(request, scope):
                return _refusal(429, "throttled", TOO_MANY)
            return run(request, *args, **kwargs)

        return wrapper

    return decorator


@router.post(
    "", auth=None, response={201: ReceiptOut, 200: ReceiptOut, **errors(400, 409, 413, 422, 429)},
    summary="入返报备（无需登录）",
)
@decorate_view(_guarded("declare", check_size=True))
def declare(request, payload: DeclarationIn):
    """201 for a new declaration; 200 when the same ID number (same phone) already had an open one, now updated.

    The same ID number with another phone is refused with 409.
    """
    if document_flooding(payload.document_number):
        return Status(429, {"code": "throttled", "message": str(TOO_MANY_FOR_ID)})
    try:
        declaration, created = services.submit_declaration(payload.dict(), request=request)
    except services.DuplicateDeclaration as exc:
        return Status(409, {"code": "duplicate", "message": exc.messages[0],
                            "errors": {k: [str(m) for m in v] for k, v in exc.message_dict.items()}})
    status_url = request.build_absolute_uri(
        f"{reverse('declare:status')}?{urlencode({'receipt': declaration.receipt})}")
    view = shown(declaration)
    return Status(201 if created else 200, {
        "receipt": declaration.receipt, "created": created, "measure": view["measure"],
        "measure_label": view["measure_label"], "instructions": view["instructions"],
        "test_dates": view["test_dates"], "status_url": status_url,
    })


@router.get(
    "/{receipt}", auth=None, response={200: PublicDeclarationOut, **errors(404, 422, 429)},
    summary="查询本人申报（回执码 + 手机号后四位）",
)
@decorate_view(_guarded("declare-lookup", check_size=False))
def lookup(request, receipt: str, params: Query[LookupParams]):
    declaration = services.public_lookup(receipt, params.phone_last4)
    if declaration is None:
        raise NotFound(str(NOT_FOUND))
    return shown(declaration)

