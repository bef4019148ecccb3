"""Base models shared by every app, and background jobs with progress."""

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import JobStatus
from .querysets import RestrictedManager


class TimeStampedModel(models.Model):
    """Created/updated times and the users who did it.

    The two user columns are bookkeeping (the audit log is the record of who
    did what), never searched on: no index and no database constraint, so
    that loading a county's register checks a million rows' users once in
    Python instead of twice a row in the database. Django still nulls them
    when a user is deleted.
    """

    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False,
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("更新人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False,
    )

    class Meta:
        abstract = True


class Job(models.Model):
    """A piece of long work (import, export, report) run in the background.

    The job function reports progress here; pages poll it and the API serves
    it at /api/v1/jobs/{id}. Results are links to files or pages.
    """

    scope_field = "area_code"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("类型"), max_length=60)
    title = models.CharField(_("标题"), max_length=200)
    status = models.CharField(_("状态"), max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    processed = models.PositiveIntegerField(_("已处理"), default=0)
    total = models.PositiveIntegerField(_("总数"), default=0)
    counts = models.JSONField(_("统计"), default=dict, blank=True)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    result = models.JSONField(_("结果"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    area_code = models.CharField(_("区划代码"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True,
        on_delete=models.SET_NULL, related_name="jobs",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("最近心跳"), null=True, blank=True)
    notify = models.BooleanField(_("完成后通知"), default=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="job_user_created_idx")]

    def __str__(self):
        return f"{self.title} ({self.get_status_display()})"

    @property
    def progress(self) -> float:
        if self.status == JobStatus.SUCCEEDED:
            return 100.0
        if not self.total:
            return 0.0
        return round(min(100.0, 100.0 * self.processed / self.total), 1)

    def apply_live_progress(self) -> "Job":
        """Take in progress reported from inside a transaction (see jobs.progress)."""
        if self.status == JobStatus.RUNNING:
            live = read_live_progress(self.pk)
            if live:
                self.processed, self.total = live["processed"], live["total"]
                self.counts = live.get("counts", self.counts)
                self.heartbeat_at = datetime.fromisoformat(live["heartbeat_at"])
        return self

    @property
    def is_stale(self) -> bool:
        """Running, but its worker has not reported for a while (killed or crashed)."""
        if self.status != JobStatus.RUNNING:
            return False
        last = self.heartbeat_at or self.started_at
        return last is not None and timezone.now() - last > timedelta(seconds=settings.FANGKONG_JOB_STALE_SECONDS)

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)


def live_progress_path(job_id) -> Path:
    return settings.MEDIA_ROOT / "jobs" / f"{job_id}.progress.json"


def write_live_progress(job_id, fields: dict) -> None:
    path = live_progress_path(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(fields, default=str), encoding="utf-8")
    temporary.replace(path)


def read_live_progress(job_id) -> dict | None:
    try:
        return json.loads(live_progress_path(job_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
