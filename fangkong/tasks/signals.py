"""The inbox hears about finished background jobs: their starter finds the result there."""

from datetime import timedelta

from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.core.choices import JobStatus
from fangkong.core.signals import job_finished, job_result_seen

from .choices import OPEN_STATUSES, TaskKind, TaskStatus
from .models import Task
from .services import create_task


@receiver(job_finished)
def job_result_to_inbox(sender, job, **kwargs):
    user = job.created_by
    if not job.notify or user is None or user.area_id is None:
        return
    outcome = _("已完成") if job.status == JobStatus.SUCCEEDED else _("失败")
    create_task(
        kind=TaskKind.JOB_RESULT, title=f"{job.title}：{outcome}", area=user.area, role=user.role,
        assignee=user, deadline=timezone.now() + timedelta(days=1), subject=job,
        description=_("后台任务已结束，请查看结果。"),
    )


@receiver(job_result_seen)
def close_job_notice(sender, job, user, **kwargs):
    """Opening the result is what the notice asked for: it is done."""
    Task.objects.filter(kind=TaskKind.JOB_RESULT, subject_id=str(job.pk), assignee=user,
                        status__in=OPEN_STATUSES).update(
        status=TaskStatus.DONE, completed_at=timezone.now(), completed_by=user, result_note=_("已查看结果"))
