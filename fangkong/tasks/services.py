"""Creating, working and escalating tasks. Other apps create work only through here."""

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.areas.choices import AreaLevel
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event

from .choices import OPEN_STATUSES, TaskStatus
from .models import Task

# Who answers for an area when work climbs up to it.
OFFICER_ROLE_FOR_LEVEL = {
    AreaLevel.COUNTY: Role.HQ_STAFF,
    AreaLevel.TOWNSHIP: Role.TOWNSHIP_OFFICER,
    AreaLevel.VILLAGE: Role.VILLAGE_OFFICER,
    AreaLevel.GRID: Role.GRID_WORKER,
}


def create_task(*, kind: str, title: str, area, role: str, deadline, subject=None, description: str = "",
                assignee=None, created_by=None) -> Task:
    """Put work in the inbox of ROLE in AREA. Other apps call this; it audits as the creator."""
    if deadline is None:
        raise ValidationError({"deadline": _("任务必须有截止时间。")})
    task = Task(kind=kind, title=title, description=description, area=area, role=role,
                deadline=deadline, assignee=assignee, created_by=created_by)
    if subject is not None:
        task.subject_type = ContentType.objects.get_for_model(subject)
        task.subject_id = str(subject.pk)
    task.save()
    if created_by is not None:
        record_event(created_by, AuditAction.CREATE, task, object_repr=title)
    return task


def create_tasks(specs: list[dict], created_by=None) -> list[Task]:
    """Many tasks at once (a daily job's work): each spec holds create_task's keyword arguments.

    One audit row for the batch when a user acts; a scheduled job (no user) writes none, like create_task.
    """
    tasks = []
    for spec in specs:
        spec = dict(spec)
        subject = spec.pop("subject", None)
        task = Task(created_by=created_by, **spec)
        if subject is not None:
            task.subject_type = ContentType.objects.get_for_model(subject)
            task.subject_id = str(subject.pk)
        tasks.append(task)
    Task.objects.bulk_create(tasks, batch_size=1000)
    if created_by is not None and tasks:
        record_event(created_by, AuditAction.CREATE, None, object_type="tasks.task", object_id="*",
                     object_repr=_("批量任务 %(n)s 条") % {"n": len(tasks)},
                     changes={"kinds": [None, sorted({t.kind for t in tasks})], "count": [None, len(tasks)]})
    return tasks


def inbox_q(user) -> Q:
    """Tasks that are the user's to do: their role in their area, named to them, or escalated to their area."""
    q = Q(assignee=user)
    if user.area_id:
        q |= Q(area_id=user.area_id, role=user.role, assignee=None)
        if user.role == OFFICER_ROLE_FOR_LEVEL.get(user.area.level) or user.role == Role.HQ_ADMIN:
            q |= Q(escalated_to_id=user.area_id)
    return q


def inbox(user, statuses=None):
    """The user's inbox, soonest deadline first."""
    statuses = statuses or OPEN_STATUSES
    return (
        Task.objects.restrict(user, "view").filter(inbox_q(user), status__in=statuses)
        .select_related("area", "escalated_to").order_by("deadline", "id")
    )


def can_work(user, task: Task) -> bool:
    """Whether USER may start or complete TASK: theirs by the inbox rules, or HQ."""
    if not user.has_perm("tasks.change_task"):
        return False
    return Task.objects.filter(pk=task.pk).filter(inbox_q(user)).exists() or user.role in (
        Role.HQ_ADMIN, Role.HQ_STAFF
    )


@transaction.atomic
def start_task(user, task: Task) -> Task:
    if not can_work(user, task):
        raise PermissionDenied
    if task.status not in (TaskStatus.OPEN, TaskStatus.OVERDUE):
        raise ValidationError(_("只有待办或逾期的任务可以开始办理。"))
    before = task.status
    task.status = TaskStatus.IN_PROGRESS if task.deadline >= timezone.now() else TaskStatus.OVERDUE
    if task.assignee_id is None:
        task.assignee = user
    task.save(update_fields=["status", "assignee"])
    record_event(user, AuditAction.UPDATE, task, object_repr=task.title, changes={"status": [before, task.status]})
    return task


@transaction.atomic
def complete_task(user, task: Task, note: str) -> Task:
    if not can_work(user, task):
        raise PermissionDenied
    if not task.is_open:
        raise ValidationError(_("该任务已办结或已取消。"))
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("请填写办理结果。")})
    before = task.status
    task.status = TaskStatus.DONE
    task.result_note = note
    task.completed_at = timezone.now()
    task.completed_by = user
    task.save(update_fields=["status", "result_note", "completed_at", "completed_by"])
    record_event(user, AuditAction.UPDATE, task, object_repr=task.title,
                 changes={"status": [before, TaskStatus.DONE], "result_note": [None, note]})
    return task


@transaction.atomic
def cancel_task(user, task: Task, reason: str) -> Task:
    if user.role not in (Role.HQ_ADMIN, Role.HQ_STAFF) and task.created_by_id != user.pk:
        raise PermissionDenied
    if not task.is_open:
        raise ValidationError(_("该任务已办结或已取消。"))
    before = task.status
    task.status = TaskStatus.CANCELLED
    task.result_note = reason
    task.save(update_fields=["status", "result_note"])
    record_event(user, AuditAction.UPDATE, task, object_repr=task.title, reason=reason,
                 changes={"status": [before, TaskStatus.CANCELLED]})
    return task


def escalate_overdue_tasks(now=None) -> int:
    """Mark late tasks overdue and move each one level up the area tree.

    A task already escalated climbs again when it stays open for another
    FANGKONG_ESCALATION_REPEAT_HOURS. Returns how many tasks moved.
    """
    now = now or timezone.now()
    repeat = timedelta(hours=settings.FANGKONG_ESCALATION_REPEAT_HOURS)
    due = (
        Task.objects.filter(status__in=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE],
                            deadline__lt=now)
        .filter(Q(escalated_at=None) | Q(escalated_at__lt=now - repeat))
        .select_related("area__parent", "escalated_to__parent")
    )
    moved = 0
    for task in due.iterator(chunk_size=500):
        current = task.escalated_to or task.area
        target = current.parent
        with transaction.atomic():
            fields = {"status": TaskStatus.OVERDUE, "escalated_at": now}
            if target is not None:
                fields.update(escalated_to=target, escalation_level=task.escalation_level + 1)
            updated = Task.objects.filter(pk=task.pk, status__in=OPEN_STATUSES).filter(
                Q(escalated_at=None) | Q(escalated_at__lt=now - repeat)
            ).update(**fields)
            if updated and target is not None:
                moved += 1
                record_event(None, AuditAction.UPDATE, task, object_repr=task.title,
                             changes={"escalated_to": [current.code, target.code]},
                             reason=_("逾期未办结，自动上报上一级"))
    return moved
