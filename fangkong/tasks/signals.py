"""The inbox hears about finished background jobs: their starter finds the result there."""

from datetime import timedelta

from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.core.choices import JobStatus
from fangkong.core.signals import job_finished

from .choices import TaskKind
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
