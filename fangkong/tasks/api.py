"""The task inbox over the API: my tasks, start one, complete one."""

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema

from fangkong.core.api_base import PageParams, errors, get_or_404, paginate

from . import services
from .choices import TaskStatus
from .models import Task

router = Router(tags=["任务"])

NOT_FOUND = gettext_noop("未找到该任务或无权查看")


class TaskOut(Schema):
    id: int
    kind: str
    title: str
    description: str
    status: str
    status_label: str
    area_code: str = Field(description="责任区划代码")
    area_name: str
    role: str = Field(description="责任角色")
    role_label: str
    assignee_id: int | None
    deadline: datetime
    is_late: bool
    escalated_to: str | None = Field(description="已上报至的区划代码")
    escalation_level: int
    subject_type: str | None = Field(description="关联对象类型，如 people.person")
    subject_id: str
    result_note: str
    created_at: datetime
    completed_at: datetime | None


class TaskPage(Schema):
    count: int
    items: list[TaskOut]


class TaskFilter(PageParams):
    status: str | None = Field(None, description="状态；不填则列出未办结的（待办、办理中、已逾期）")


class CompleteIn(Schema):
    note: str = Field("", description="办理结果（必填）")


def task_data(task: Task) -> dict:
    subject_type = None
    if task.subject_type_id:
        # get_for_id reads through ContentType's cache: no query per row.
        content_type = ContentType.objects.get_for_id(task.subject_type_id)
        subject_type = f"{content_type.app_label}.{content_type.model}"
    return {
        "id": task.pk,
        "kind": task.kind,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "status_label": task.get_status_display(),
        "area_code": task.area_id,
        "area_name": task.area.name,
        "role": task.role,
        "role_label": task.get_role_display(),
        "assignee_id": task.assignee_id,
        "deadline": task.deadline,
        "is_late": task.is_late,
        "escalated_to": task.escalated_to_id,
        "escalation_level": task.escalation_level,
        "subject_type": subject_type,
        "subject_id": task.subject_id,
        "result_note": task.result_note,
        "created_at": task.created_at,
        "completed_at": task.completed_at,
    }


def _get_task(request, id: int) -> Task:
    tasks = Task.objects.restrict(request.auth, "change").select_related("area")
    return get_or_404(tasks, _(NOT_FOUND), pk=id)


@router.get("", response={200: TaskPage, **errors(400, 401, 422)}, summary="我的待办任务")
def list_tasks(request, filters: Query[TaskFilter]):
    statuses = None
    if filters.status:
        if filters.status not in TaskStatus.values:
            raise ValidationError({"status": _("状态无效。")})
        statuses = [filters.status]
    return paginate(services.inbox(request.auth, statuses), filters, task_data)


@router.post(
    "/{id}/start", response={200: TaskOut, **errors(400, 401, 403, 404)}, summary="开始办理"
)
def start_task(request, id: int):
    task = services.start_task(request.auth, _get_task(request, id))
    return task_data(task)


@router.post(
    "/{id}/complete", response={200: TaskOut, **errors(400, 401, 403, 404, 422)}, summary="办结任务"
)
def complete_task(request, id: int, payload: CompleteIn):
    task = services.complete_task(request.auth, _get_task(request, id), payload.note)
    return task_data(task)
