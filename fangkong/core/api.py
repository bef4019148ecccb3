"""Background jobs over the API: progress of an import, export or report."""

import uuid
from datetime import datetime

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from .api_base import NotFound, errors
from .models import Job

router = Router(tags=["后台任务"])


class JobOut(Schema):
    id: uuid.UUID
    kind: str
    title: str
    status: str = Field(description="queued / running / succeeded / failed")
    status_label: str
    progress: float = Field(description="进度百分比 0–100")
    processed: int
    total: int
    counts: dict
    result: dict = Field(description="结果：文件或页面的链接")
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def jobs_for(user):
    """Jobs in the user's area, and the jobs they started themselves."""
    return Job.objects.restrict(user, "view") | Job.objects.filter(created_by=user)


def job_data(job: Job) -> dict:
    job.apply_live_progress()
    return {
        "id": job.pk,
        "kind": job.kind,
        "title": job.title,
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress": job.progress,
        "processed": job.processed,
        "total": job.total,
        "counts": job.counts,
        "result": job.result,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


@router.get("/{id}", response={200: JobOut, **errors(401, 404)}, summary="后台任务的状态和进度")
def get_job(request, id: str):
    message = _("未找到该后台任务或无权查看")
    try:
        job_id = uuid.UUID(id)
    except ValueError:
        raise NotFound(message) from None
    job = jobs_for(request.auth).filter(pk=job_id).first()
    if job is None:
        raise NotFound(message)
    return job_data(job)
