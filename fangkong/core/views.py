from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from .models import Job
from .signals import job_result_seen


def visible_jobs(user):
    return Job.objects.restrict(user, "view") | Job.objects.filter(created_by=user)


def job_detail(request, pk):
    job = get_object_or_404(visible_jobs(request.user), pk=pk).apply_live_progress()
    if job.is_finished and job.created_by_id == request.user.pk:
        job_result_seen.send(sender=Job, job=job, user=request.user)
    template = "core/job_status.html" if request.htmx else "core/job_detail.html"
    return render(request, template, {"job": job})


def job_file(request, pk):
    """The file a finished job produced (an export); only its owner may fetch it."""
    job = get_object_or_404(Job.objects.filter(Q(created_by=request.user)), pk=pk)
    name = (job.result or {}).get("file")
    if not name:
        raise Http404
    path = (settings.MEDIA_ROOT / "jobs" / Path(name).name).resolve()
    if not path.is_file():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.result.get("filename", path.name))
