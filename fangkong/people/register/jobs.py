"""The register import's background jobs: dry run and commit."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from ..models import ImportStatus, RegisterImport
from . import services


def _context(job, batch: int):
    user = get_user_model().objects.select_related("area").get(pk=job.created_by_id)
    return RegisterImport.objects.select_related("area").get(pk=batch), user


def _result(batch: RegisterImport, counts: dict) -> dict:
    result = {
        "batch": batch.pk, "batch_url": reverse("people:import_detail", args=[batch.pk]),
        "accepted": counts["new"] + counts["updated"] + counts["unchanged"], **counts,
        "summary": [["新增", counts["new"]], ["更新", counts["updated"]], ["无变化", counts["unchanged"]],
                    ["拒收", counts["rejected"]], ["新建户", counts["households_new"]]],
    }
    if batch.error_report:
        result["error_report_url"] = reverse("people:import_errors", args=[batch.pk])
    return result


def _guarded(job, batch_id, run):
    batch, user = _context(job, batch_id)
    try:
        counts = run(batch, user)
    except (ValidationError, ValueError) as exc:
        RegisterImport.objects.filter(pk=batch.pk).update(
            status=ImportStatus.FAILED, summary={"error": "；".join(getattr(exc, "messages", [str(exc)]))})
        raise
    except BaseException:
        RegisterImport.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED)
        raise
    batch.refresh_from_db()
    return _result(batch, counts)


def dry_run_job(job, progress, batch: int) -> dict:
    return _guarded(job, batch, lambda b, u: services.run_dry_run(b, u, progress))


def commit_job(job, progress, batch: int) -> dict:
    return _guarded(job, batch, lambda b, u: services.run_commit(b, u, progress))
