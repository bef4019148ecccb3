"""The one task inbox: work routed to an area and a role, with a deadline."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.choices import Role
from fangkong.areas.models import Area
from fangkong.core.querysets import RestrictedManager

from .choices import OPEN_STATUSES, TaskKind, TaskStatus


class Task(models.Model):
    """A piece of work for the people holding ROLE in AREA (or one named user).

    When its deadline passes it turns overdue and escalates one level up the
    area tree: ``escalated_to`` is then the area whose officers must act.
    """

    scope_field = "area_id"

    kind = models.CharField(_("类型"), max_length=40, default=TaskKind.GENERAL)
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    subject_type = models.ForeignKey(
        ContentType, verbose_name=_("对象类型"), null=True, blank=True, on_delete=models.PROTECT
    )
    subject_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    area = models.ForeignKey(Area, verbose_name=_("责任区划"), on_delete=models.PROTECT, related_name="tasks")
    role = models.CharField(_("责任角色"), max_length=30, choices=Role.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("指定人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="assigned_tasks",
    )
    deadline = models.DateTimeField(_("截止时间"))
    status = models.CharField(_("状态"), max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    result_note = models.TextField(_("办理结果"), blank=True)
    escalated_to = models.ForeignKey(
        Area, verbose_name=_("已上报至"), null=True, blank=True, on_delete=models.PROTECT, related_name="escalated_tasks"
    )
    escalation_level = models.PositiveSmallIntegerField(_("上报级数"), default=0)
    escalated_at = models.DateTimeField(_("上报时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("办理人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("任务")
        verbose_name_plural = _("任务")
        ordering = ["deadline", "id"]
        indexes = [
            models.Index(fields=["area", "role", "status", "deadline"], name="task_inbox_idx"),
            models.Index(fields=["escalated_to", "status", "deadline"], name="task_escalated_idx"),
            models.Index(fields=["assignee", "status", "deadline"], name="task_assignee_idx"),
            models.Index(fields=["status", "deadline"], name="task_due_idx"),
            models.Index(fields=["subject_type", "subject_id"], name="task_subject_idx"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_late(self) -> bool:
        return self.is_open and self.deadline < timezone.now()
