"""Area workflows: importing a county's area list."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from fangkong.core.scope import prefix_for
from fangkong.core.signals import audit_requested

from .choices import LEVEL_ORDER, AreaLevel
from .imports import find_header, parse_level, read_table
from .models import Area

EXPECTED_LENGTH = {AreaLevel.COUNTY: 12, AreaLevel.TOWNSHIP: 12, AreaLevel.VILLAGE: 12}


class AreaImportError(Exception):
    """Rows that cannot be imported; nothing was written."""

    def __init__(self, errors):
        super().__init__(_("区划导入失败"))
        self.errors = errors


def _row_errors(code, name, level_word, parent_code, known) -> tuple[list[str], str | None]:
    errors = []
    level = parse_level(level_word)
    if not code.isdigit():
        errors.append(_("区划代码只能是数字"))
    if not name:
        errors.append(_("名称不能为空"))
    if level is None:
        errors.append(_("层级“%(level)s”无法识别（可填：县、乡镇、街道、村、社区、网格）") % {"level": level_word})
        return errors, None
    expected = EXPECTED_LENGTH.get(level)
    if code.isdigit() and expected and len(code) != expected:
        errors.append(_("%(level)s的区划代码应为%(n)d位") % {"level": AreaLevel(level).label, "n": expected})
    if code.isdigit() and level == AreaLevel.GRID and len(code) <= 12:
        errors.append(_("网格编码应为村（社区）代码后加网格序号"))
    if level != AreaLevel.COUNTY:
        parent = known.get(parent_code)
        if not parent_code:
            errors.append(_("缺少上级代码"))
        elif parent is None:
            errors.append(_("上级代码 %(code)s 不存在（上级须先于下级出现，或已在系统中）") % {"code": parent_code})
        else:
            parent_level, parent_prefix = parent
            if LEVEL_ORDER.index(parent_level) != LEVEL_ORDER.index(level) - 1:
                errors.append(_("上级层级不符：%(level)s的上级应为%(parent)s") % {
                    "level": AreaLevel(level).label, "parent": LEVEL_ORDER[LEVEL_ORDER.index(level) - 1].label})
            elif not code.startswith(parent_prefix):
                errors.append(_("区划代码应以上级代码前缀 %(prefix)s 开头") % {"prefix": parent_prefix})
    return errors, level


def import_areas(user, filename: str, data: bytes, progress=None) -> dict:
    """Create or rename the areas listed in the file, all or nothing.

    Returns counts; raises AreaImportError with every bad row (row number,
    code, reasons) when any row is bad.
    """
    if not user.has_perm("areas.import_area"):
        raise PermissionDenied
    rows = read_table(filename, data)
    header_index, columns = find_header(rows)
    known = {a.code: (a.level, a.prefix) for a in Area.objects.only("code", "level", "prefix")}
    existing = set(known)
    parsed, errors = [], []
    body = rows[header_index + 1:]
    for offset, row in enumerate(body):
        line = header_index + offset + 2

        def cell(key, row=row):
            position = columns.get(key)
            return row[position].strip() if position is not None and position < len(row) else ""

        code, name, level_word, parent_code = cell("code"), cell("name"), cell("level"), cell("parent")
        if not any([code, name, level_word]):
            continue
        row_errors, level = _row_errors(code, name, level_word, parent_code, known)
        if code in {p[0] for p in parsed}:
            row_errors.append(_("区划代码在文件中重复"))
        if row_errors:
            errors.append({"row": line, "code": code, "errors": row_errors})
            continue
        known[code] = (level, prefix_for(code, level))
        parsed.append((code, name, level, parent_code or None))
        if progress and offset % 500 == 0:
            progress(offset, len(body))
    if errors:
        raise AreaImportError(errors)
    created = updated = 0
    with transaction.atomic():
        for code, name, level, parent_code in parsed:
            area, was_created = Area.objects.update_or_create(
                code=code, defaults={"name": name, "level": level, "parent_id": parent_code}
            )
            created += was_created
            updated += (not was_created) and code in existing
        audit_requested.send(
            sender=Area, user=user, action="import", object_type="areas.area",
            object_repr=filename[:200], changes={"created": created, "updated": updated},
        )
    if progress:
        progress(len(body), len(body), created=created, updated=updated)
    return {"created": created, "updated": updated}
