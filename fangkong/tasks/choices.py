from django.db import models
from django.utils.translation import gettext_lazy as _


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待办")
    IN_PROGRESS = "in_progress", _("办理中")
    DONE = "done", _("已完成")
    OVERDUE = "overdue", _("已逾期")
    CANCELLED = "cancelled", _("已取消")


OPEN_STATUSES = [TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE]


class TaskKind(models.TextChoices):
    """Kinds known so far; later apps add theirs (the field takes any code)."""

    VERIFY_PERSON = "verify_person", _("核实人员信息")
    VISIT = "visit", _("入户走访")
    GENERAL = "general", _("一般任务")
    JOB_RESULT = "job_result", _("后台任务结果")
