from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.core.signals import job_result_seen

from ..models import RegisterImport
from . import services
from .fields import FIELDS
from .forms import MappingForm, UploadForm
from .reader import RegisterFileError, check_size


def _batches(request):
    return RegisterImport.objects.restrict(request.user, "view").select_related("area", "created_by")


def _get(request, pk):
    return get_object_or_404(_batches(request).select_related("plan_job", "commit_job"), pk=pk)


@permission_required("people.add_person", raise_exception=True)
def import_list(request):
    too_big = _too_big(request)
    if too_big:
        return render(request, "people/register/list.html", {
            "form": UploadForm(user=request.user), "upload_error": too_big,
            "page_obj": paginate(request, _batches(request))}, status=413)
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.upload_register(request.user, form.cleaned_data["file"], form.cleaned_data["area"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("people:import_detail", pk=batch.pk)
    return render(request, "people/register/list.html", {
        "form": form, "page_obj": paginate(request, _batches(request)),
    })


def _too_big(request) -> str:
    """Refuse an oversized upload from its Content-Length, before the body is read."""
    if request.method != "POST":
        return ""
    try:
        check_size(max(int(request.META.get("CONTENT_LENGTH") or 0) - 64 * 1024, 1))
    except (RegisterFileError, ValueError) as exc:
        return str(exc)
    return ""


@permission_required("people.add_person", raise_exception=True)
def import_detail(request, pk):
    batch = _get(request, pk)
    status = services.effective_status(batch)
    form = MappingForm(request.POST or None, headers=services.headers_of(batch), mapping=batch.mapping)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_mapping(request.user, batch, form.mapping())
            services.start_dry_run(request.user, batch)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            return redirect("people:import_detail", pk=batch.pk)
    job = batch.commit_job if batch.status in ("committing", "committed") else batch.plan_job
    if job is not None:
        job.apply_live_progress()
        if job.is_finished and job.created_by_id == request.user.pk:
            job_result_seen.send(sender=type(job), job=job, user=request.user)
    return render(request, "people/register/detail.html", {
        "batch": batch, "status": status, "form": form, "job": job, "field_labels": {k: v[0] for k, v in FIELDS.items()},
        "counts": batch.summary.get("counts", {}),
    })


@require_POST
@permission_required("people.add_person", raise_exception=True)
def import_commit(request, pk):
    batch = _get(request, pk)
    try:
        services.start_commit(request.user, batch)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    return redirect("people:import_detail", pk=batch.pk)


@permission_required("people.add_person", raise_exception=True)
def import_errors(request, pk):
    batch = _get(request, pk)
    if not batch.error_report:
        raise Http404
    path = services.import_folder() / batch.error_report
    if not path.is_file():
        raise Http404
    record_event(request.user, AuditAction.EXPORT, batch, object_repr=_("错误报告：%(file)s") % {"file": batch.filename},
                 request=request)
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"错误行-{batch.filename.rsplit('.', 1)[0]}.xlsx")
