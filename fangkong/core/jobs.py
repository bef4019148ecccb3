"""Running long work in the background with progress.

``start_job`` records a Job and enqueues ``run_job`` on the django-tasks
backend (the database backend and ``fangkong db_worker`` in production, the
immediate backend in tests). The job function is a plain function
``func(job, progress, **params)``; it calls ``progress(processed, total,
**counts)`` as it goes and returns the result dict (links to files).
"""

import logging
import traceback

from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import task

from .choices import JobStatus
from .models import Job, live_progress_path, write_live_progress
from .signals import job_finished

log = logging.getLogger(__name__)


def start_job(user, kind: str, title: str, func_path: str, *, area_code: str = "", **params) -> Job:
    job = Job.objects.create(
        kind=kind, title=title, created_by=user, area_code=area_code,
        params={"func": func_path, **params},
    )
    transaction.on_commit(lambda: run_job.enqueue(str(job.pk)))
    return job


def run_now(user, kind: str, title: str, func_path: str, *, area_code: str = "", **params) -> Job:
    """Run a short job in the request itself (a small export): same trail, no inbox notice."""
    job = Job.objects.create(
        kind=kind, title=title, created_by=user, area_code=area_code, notify=False,
        params={"func": func_path, **params},
    )
    run_job.call(str(job.pk))
    job.refresh_from_db()
    return job


@task()
def run_job(job_id: str) -> None:
    job = Job.objects.get(pk=job_id)
    if job.status != JobStatus.QUEUED:
        return
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now())
    job.refresh_from_db()
    params = dict(job.params)
    func = import_string(params.pop("func"))

    def progress(processed: int, total: int | None = None, **counts) -> None:
        fields = {"processed": processed, "heartbeat_at": timezone.now()}
        if total is not None:
            fields["total"] = total
        if counts:
            job.counts.update(counts)
            fields["counts"] = job.counts
        if connection.in_atomic_block:
            # Inside the job's own transaction a row update stays invisible until the
            # end (and SQLite has one writer): report through the side file instead.
            write_live_progress(job.pk, {**fields, "total": fields.get("total", job.total)})
        else:
            Job.objects.filter(pk=job.pk).update(**fields)

    try:
        result = func(job, progress, **params) or {}
    except Exception as exc:  # the job failed: record why, keep the worker alive
        log.exception("job %s failed", job.pk)
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, finished_at=timezone.now(),
            error=f"{exc}\n{traceback.format_exc(limit=3)}",
        )
        live_progress_path(job.pk).unlink(missing_ok=True)
        job.refresh_from_db()
        job_finished.send(sender=Job, job=job)
        return
    job.refresh_from_db()
    job.apply_live_progress()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), result=result, counts=job.counts,
        processed=max(job.processed, job.total), total=job.total,  # both may come from the live progress file
    )
    live_progress_path(job.pk).unlink(missing_ok=True)
    job.refresh_from_db()
    job_finished.send(sender=Job, job=job)


def reap_stale_jobs() -> int:
    """Mark running jobs whose worker died as failed, so their work can be started again."""
    reaped = 0
    for job in Job.objects.filter(status=JobStatus.RUNNING):
        job.apply_live_progress()
        if job.is_stale:
            reaped += Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.FAILED, finished_at=timezone.now(),
                error="后台进程中断（超时未报告进度），可重新发起。",
            )
            job.refresh_from_db()
            job_finished.send(sender=Job, job=job)
    return reaped
