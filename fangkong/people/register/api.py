"""POST /api/v1/imports/people and POST /api/v1/exports/people: both answer with a job to poll."""

import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from fangkong.areas.models import Area
from fangkong.core.api_base import errors
from fangkong.core.jobs import start_job

from . import services
from .reader import RegisterFileError

router = Router(tags=["人口信息导入导出"])


class JobRef(Schema):
    job: uuid.UUID = Field(description="用 GET /api/v1/jobs/{job} 查询进度和结果")
    batch: int | None = Field(None, description="导入批次编号（页面 /people/imports/{batch}/）")


class ExportIn(Schema):
    q: str = ""
    area: str | None = None
    key_group: str | None = None
    sex: str | None = None
    vulnerable_group: str | None = None
    is_floating: bool | None = None
    lives_alone_elderly: bool | None = None
    unmasked: bool = Field(False, description="导出明文证件号和手机号：须有查看明文权限并填写 reason")
    reason: str = ""


@router.post("/imports/people", response={202: JobRef, **errors(400, 401, 403, 422)},
             summary="上传《常住人口信息汇总表》：预检或直接导入")
def import_people(request, file: File[UploadedFile], area: Form[str | None] = None, dry_run: Form[bool] = True):
    """Columns are matched by header (and the mapping last confirmed for the area).

    `dry_run=true` (default) only plans: the job's result lists the counts and
    the error-report URL; `dry_run=false` plans and imports in one transaction.
    """
    user = request.auth
    target = Area.objects.restrict(user, "view").filter(code=area).first() if area else user.area
    if target is None:
        raise ValidationError({"area": _("所选区划不存在或不在您的管辖范围内。")})
    try:
        batch = services.upload_register(user, file, target)
    except RegisterFileError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    services.save_mapping(user, batch, {h: batch.mapping.get(h, "") for h in services.headers_of(batch)})
    if dry_run:
        job = services.start_dry_run(user, batch)
    else:
        job = services.start_commit(user, batch, then_dry_run=True)
    return Status(202, {"job": job.pk, "batch": batch.pk})


@router.post("/exports/people", response={202: JobRef, **errors(400, 401, 403, 422)},
             summary="导出人员名单（xlsx，默认脱敏）")
def export_people(request, payload: ExportIn):
    user = request.auth
    if not user.has_perm("people.export_person"):
        raise PermissionDenied
    if payload.unmasked:
        if not user.has_perm("people.reveal_person"):
            raise PermissionDenied
        if len(payload.reason.strip()) < 2:
            raise ValidationError({"reason": _("导出明文须填写事由（至少2个字）。")})
    query = QueryDict(mutable=True)
    for key, value in payload.dict(exclude={"unmasked", "reason"}, exclude_none=True).items():
        if value != "":
            query[key] = str(value).lower() if isinstance(value, bool) else str(value)
    job = start_job(user, "people.export", _("导出人员名单（明文）") if payload.unmasked else _("导出人员名单"),
                    "fangkong.people.jobs.export_people_job", area_code=user.area_id or "",
                    query=query.urlencode(), unmasked=payload.unmasked, reason=payload.reason.strip())
    return Status(202, {"job": job.pk})
