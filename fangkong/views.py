"""The workbench (工作台): what the signed-in user should look at first.

It reads several apps, so it lives at the project level, above them all.
"""

from django.shortcuts import render
from django.utils import timezone

from fangkong.areas.models import Area
from fangkong.core.models import Job
from fangkong.tasks.choices import OPEN_STATUSES, TaskStatus
from fangkong.tasks.services import inbox


def home(request):
    user = request.user
    tasks = inbox(user)
    now = timezone.now()
    end_of_day = timezone.localtime(now).replace(hour=23, minute=59, second=59)
    area = user.area
    children = Area.objects.restrict(user, "view").filter(parent=area).order_by("code")[:30] if area else []
    context = {
        "area": area,
        "children": children,
        "inbox_open": tasks.filter(status__in=OPEN_STATUSES).count(),
        "inbox_overdue": tasks.filter(status=TaskStatus.OVERDUE).count() + tasks.filter(
            status__in=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS], deadline__lt=now).count(),
        "inbox_today": tasks.filter(deadline__gte=now, deadline__lte=end_of_day).count(),
        "next_tasks": tasks[:5],
        "jobs": Job.objects.filter(created_by=user)[:5],
        "can_search_people": user.has_perm("people.view_person"),
    }
    return render(request, "home.html", context)
