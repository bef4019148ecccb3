from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangkong.core.pagination import paginate

from . import services
from .choices import OPEN_STATUSES, TaskStatus
from .forms import CompleteTaskForm
from .models import Task

TABS = {
    "open": (gettext_lazy("待办"), OPEN_STATUSES),
    "overdue": (gettext_lazy("已逾期"), [TaskStatus.OVERDUE]),
    "done": (gettext_lazy("已完成"), [TaskStatus.DONE]),
    "cancelled": (gettext_lazy("已取消"), [TaskStatus.CANCELLED]),
}


def inbox(request):
    status = request.GET.get("status") if request.GET.get("status") in TABS else "open"
    tasks = services.inbox(request.user, TABS[status][1])
    if status in ("done", "cancelled"):
        tasks = tasks.order_by("-completed_at", "-id")
    return render(request, "tasks/inbox.html", {
        "page_obj": paginate(request, tasks), "status": status,
        "tabs": [(key, label) for key, (label, _s) in TABS.items()],
    })


def _get_task(request, pk):
    return get_object_or_404(Task.objects.restrict(request.user, "view").select_related(
        "area", "escalated_to", "assignee", "completed_by", "subject_type"), pk=pk)


def detail(request, pk):
    task = _get_task(request, pk)
    return render(request, "tasks/detail.html", {
        "task": task, "form": CompleteTaskForm(), "subject_url": _subject_url(request.user, task),
    })


@require_POST
def start(request, pk):
    task = _get_task(request, pk)
    try:
        services.start_task(request.user, task)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    return redirect("tasks:detail", pk=task.pk)


@require_POST
def complete(request, pk):
    task = _get_task(request, pk)
    form = CompleteTaskForm(request.POST)
    if not form.is_valid():
        return render(request, "tasks/detail.html", {"task": task, "form": form,
                                                     "subject_url": _subject_url(request.user, task)})
    try:
        services.complete_task(request.user, task, form.cleaned_data["note"])
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
        return redirect("tasks:detail", pk=task.pk)
    messages.success(request, _("任务已办结。"))
    return redirect("tasks:inbox")


def _subject_url(user, task):
    """A link to the task's subject when it is a page the user may open."""
    subject = task.subject_type
    if subject is None:
        return None
    kind = (subject.app_label, subject.model)
    if kind == ("people", "person") and user.has_perm("people.view_person"):
        return reverse("people:detail", args=[task.subject_id])
    if kind == ("core", "job"):
        return reverse("core:job", args=[task.subject_id])
    # Apps above this one (declarations …) give their subjects a get_absolute_url.
    model = subject.model_class()
    if model is not None and hasattr(model, "get_absolute_url") and user.has_perm(f"{kind[0]}.view_{kind[1]}"):
        return model(pk=task.subject_id).get_absolute_url()
    return None


def _error_text(exc):
    if isinstance(exc, PermissionDenied):
        return _("您无权办理该任务。")
    return "；".join(exc.messages)
