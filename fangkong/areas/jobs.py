"""Background work for areas."""

from pathlib import Path

from django.contrib.auth import get_user_model

from .imports import AreaFileError
from .services import AreaImportError, import_areas


def import_areas_job(job, progress, path: str, filename: str) -> dict:
    user = get_user_model().objects.get(pk=job.created_by_id)
    data = Path(path).read_bytes()
    try:
        counts = import_areas(user, filename, data, progress=progress)
    except AreaImportError as exc:
        return {"ok": False, "errors": exc.errors[:500], "error_count": len(exc.errors)}
    except AreaFileError as exc:
        return {"ok": False, "errors": [{"row": 0, "code": "", "errors": [str(exc)]}], "error_count": 1}
    finally:
        Path(path).unlink(missing_ok=True)
    return {"ok": True, **counts, "summary": [["新增区划", counts["created"]], ["更新区划", counts["updated"]]]}
