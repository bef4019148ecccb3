"""The venue list (场所名单) in and out of Excel.

An import file has a header row (within its first 10 rows) naming its
columns: 场所名称, 场所类型 (name or code), 所属区划编码 (or 所属区划 by
name), 地址, 负责人, 负责人电话, 主管部门 (blank: the county department of
the type), 预计日客流, optionally 停留时间（分钟）. Columns are found by header,
in any order. A file is taken whole or not at all: every row is checked
first, problems are listed by the row number in the file, and only a clean
file is written (services.import_venues). The file reader is the risk-area
import's (xlsx, ods or csv in UTF-8 / GB18030).
"""

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fangkong.accounts.choices import OrganizationKind
from fangkong.accounts.models import Organization
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.tabular import (
    HEADER_SEARCH_ROWS,
    Headers,
    ImportFileError,
    RowError,
    read_tables,
    rows_under_header,
)
from fangkong.people.identity import validate_phone

from .models import VenueType

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
FILE_TYPES = (".xlsx", ".xlsm", ".ods", ".csv", ".txt")

# The columns of the template and the export, in order.
TEMPLATE_COLUMNS = [
    ("name", "场所名称"), ("type", "场所类型"), ("area_code", "所属区划编码"), ("area_name", "所属区划"),
    ("address", "地址"), ("manager_name", "负责人"), ("manager_phone", "负责人电话"), ("supervisor", "主管部门"),
    ("expected_daily_visitors", "预计日客流"), ("dwell_minutes", "停留时间（分钟）"),
]
LABELS = dict(TEMPLATE_COLUMNS)
HEADERS = {
    "name": ["场所名称", "名称", "场所"],
    "type": ["场所类型", "类型", "场所类别"],
    "area_code": ["所属区划编码", "区划编码", "区划代码", "所属区划代码", "网格编码"],
    "area_name": ["所属区划", "所属区划名称", "区划名称", "所属村社区", "所属网格"],
    "address": ["地址", "场所地址", "详细地址"],
    "manager_name": ["负责人", "负责人姓名", "联系人"],
    "manager_phone": ["负责人电话", "联系电话", "电话", "负责人手机", "手机号码"],
    "supervisor": ["主管部门", "行业主管部门", "监管部门"],
    "expected_daily_visitors": ["预计日客流", "日客流", "预计日客流（人次）", "日均客流"],
    "dwell_minutes": ["停留时间（分钟）", "停留时间", "停留分钟"],
}


HEADER_MAP = Headers(HEADERS)


@dataclass
class ParsedFile:
    rows: list[tuple[int, dict]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def read_rows(upload) -> list[tuple[int, dict]]:
    """The data rows of an uploaded file: (row number, {column: raw value}), blank rows left out."""
    suffix = Path(getattr(upload, "name", "") or "").suffix.lower()
    if upload.size > MAX_BYTES:
        raise ImportFileError(_("文件超过 %(mb)d MB 上限。") % {"mb": MAX_BYTES // 1024 // 1024})
    if suffix not in FILE_TYPES:
        raise ImportFileError(_("只支持 Excel 工作簿（.xlsx）或 CSV 文件。"))

    def check(columns):
        if "area_code" not in columns and "area_name" not in columns:
            raise ImportFileError(_("表头缺少“所属区划编码”（或“所属区划”）栏。"))

    return rows_under_header(
        read_tables(upload.read(), suffix), HEADER_MAP, lambda c: "name" in c and "type" in c, check=check,
        max_rows=MAX_ROWS,
        not_found=_("找不到表头：前 %(n)d 行中须有一行含“场所名称”“场所类型”“所属区划编码”。请使用导入模板。")
        % {"n": HEADER_SEARCH_ROWS})


class Lookups:
    """What a row may name, loaded once per file: types, the user's areas, the county departments."""

    def __init__(self, user):
        self.types = {}
        for venue_type in VenueType.objects.filter(is_active=True):
            self.types[venue_type.code.lower()] = venue_type
            self.types[venue_type.name] = venue_type
            for part in re.split(r"[、，,]", venue_type.name):
                self.types.setdefault(part, venue_type)
        self.areas = {a.code: a for a in Area.objects.restrict(user, "view").select_related("parent")}
        self.area_names: dict[str, list[Area]] = {}
        for area in self.areas.values():
            self.area_names.setdefault(area.name, []).append(area)
            if area.parent_id:
                self.area_names.setdefault(f"{area.parent.name}{area.name}", []).append(area)
        orgs = list(Organization.objects.filter(area__level=AreaLevel.COUNTY).order_by("id"))
        self.orgs = {o.name: o for o in orgs}
        kind_labels = dict(OrganizationKind.choices)
        for org in orgs:
            self.orgs.setdefault(str(kind_labels.get(org.kind, "")), org)

    def venue_type(self, value) -> VenueType:
        text = _text(value)
        if not text:
            raise ValueError(_("请填写场所类型。"))
        found = self.types.get(text) or self.types.get(text.lower())
        if found is None:
            raise ValueError(_("场所类型“%(value)s”无法识别：请填写类型名称（如 超市、商场）或代码。") % {"value": text})
        return found

    def area(self, code, name) -> Area:
        code, name = re.sub(r"\s", "", _text(code)), re.sub(r"[\s/／>]", "", _text(name))
        if code:
            if code not in self.areas:
                raise ValueError(_("区划编码“%(code)s”不存在或不在您的管辖范围内。") % {"code": code})
            return self.areas[code]
        if not name:
            raise ValueError(_("请填写所属区划编码或所属区划名称。"))
        found = self.area_names.get(name, [])
        if not found:
            raise ValueError(_("找不到区划“%(name)s”（或不在您的管辖范围内）。") % {"name": name})
        if len(found) > 1:
            raise ValueError(_("区划名称“%(name)s”有重名，请改填区划编码。") % {"name": name})
        return found[0]

    def supervisor(self, value) -> Organization | None:
        text = _text(value)
        if not text:
            return None
        if text not in self.orgs:
            raise ValueError(_("找不到主管部门“%(value)s”：请填写县级部门名称（如 市场监管局），或留空按场所类型自动选择。")
                             % {"value": text})
        return self.orgs[text]


def _count(value, label: str, *, maximum: int) -> int | None:
    text = _text(value).replace(",", "")
    if not text:
        return None
    if not text.isdigit() or int(text) > maximum:
        raise ValueError(_("%(label)s“%(value)s”应为不大于 %(max)d 的整数。") % {"label": label, "value": text,
                                                                            "max": maximum})
    return int(text)


def clean_row(record: dict, lookups: Lookups) -> tuple[dict, list[str]]:
    """One file row -> (the data services.import_venues takes, the problems found, in Chinese)."""
    problems: dict[str, str] = {}
    data = {"name": _text(record.get("name"))[:100], "address": _text(record.get("address"))[:200],
            "manager_name": _text(record.get("manager_name"))[:50], "is_active": True}
    if not data["name"]:
        problems["name"] = _("请填写场所名称。")
    if not data["address"]:
        problems["address"] = _("请填写地址。")
    checks = {
        "type": lambda: lookups.venue_type(record.get("type")),
        "area": lambda: lookups.area(record.get("area_code"), record.get("area_name")),
        "supervisor": lambda: lookups.supervisor(record.get("supervisor")),
        "expected_daily_visitors": lambda: _count(record.get("expected_daily_visitors"), LABELS[
            "expected_daily_visitors"], maximum=10_000_000) or 0,
        "dwell_minutes": lambda: _count(record.get("dwell_minutes"), LABELS["dwell_minutes"], maximum=1440) or None,
    }
    for name, check in checks.items():
        try:
            data[name] = check()
        except ValueError as exc:
            problems[name] = str(exc)
    try:
        data["manager_phone"] = validate_phone(_text(record.get("manager_phone")))
    except ValidationError as exc:
        problems["manager_phone"] = _("负责人电话：%(error)s") % {"error": exc.messages[0]}
    return data, list(problems.values())


def parse(upload, user) -> ParsedFile:
    """Read and check every row of UPLOAD; ImportFileError when the file as a whole is unusable."""
    parsed = ParsedFile()
    lookups = Lookups(user)
    seen: dict[tuple, int] = {}
    for number, record in read_rows(upload):
        data, problems = clean_row(record, lookups)
        if not problems:
            key = (data["area"].pk, data["name"])
            if key in seen:
                problems.append(_("与第 %(row)d 行重复（同一区划下同名场所）。") % {"row": seen[key]})
            seen.setdefault(key, number)
        if problems:
            parsed.errors.append(RowError(number, problems))
        else:
            parsed.rows.append((number, data))
    return parsed


# Writing ------------------------------------------------------------------------------------------
def _sheet(workbook, rows: int):
    header = workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    text = workbook.add_format({"num_format": "@"})
    sheet = workbook.add_worksheet(_("场所"))
    sheet.write_row(0, 0, [label for _name, label in TEMPLATE_COLUMNS], header)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 2, 17, text)
    sheet.set_column(3, 3, 16)
    sheet.set_column(4, 4, 30)
    sheet.set_column(5, 5, 10)
    sheet.set_column(6, 6, 14, text)
    sheet.set_column(7, 7, 14)
    sheet.set_column(8, 9, 12)
    sheet.data_validation(1, 1, max(rows, 5000), 1, {
        "validate": "list", "error_type": "warning",
        "source": list(VenueType.objects.filter(is_active=True).values_list("name", flat=True))[:60],
    })
    return sheet


def template_xlsx() -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    _sheet(workbook, 0)
    notes = workbook.add_worksheet(_("填写说明"))
    notes.set_column(0, 0, 100)
    types = "、".join(VenueType.objects.filter(is_active=True).values_list("name", flat=True))
    lines = [
        _("1. 每行一个场所，从第2行起填写；不要改动表头。"),
        _("2. 场所类型填写名称或代码，可选：%(types)s。") % {"types": types},
        _("3. 所属区划编码填区划代码（如网格或村社区的编码）；也可不填编码，改填“所属区划”名称（重名时须填编码）。"),
        _("4. 主管部门填县级部门名称（如 市场监管局、教体局），留空则按场所类型自动选择。"),
        _("5. 预计日客流、停留时间（分钟）填整数；停留时间留空则按场所类型的默认值。"),
        _("6. 整个文件一起导入：任何一行有误则全部不导入，页面会逐行列出问题；同一区划下已有同名场所的行会跳过。"),
    ]
    for index, line in enumerate(lines):
        notes.write_string(index, 0, line)
    workbook.close()
    return buffer.getvalue()


def export_xlsx(venues) -> tuple[bytes, int]:
    """VENUES (a queryset) in the template's layout, so an export can be edited and imported again."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    venues = venues.select_related("type", "area", "supervisor")
    sheet = _sheet(workbook, 0)
    written = 0
    for written, v in enumerate(venues.iterator(chunk_size=2000), start=1):
        sheet.write_row(written, 0, [v.name, v.type.name])
        sheet.write_string(written, 2, v.area_id)
        sheet.write_row(written, 3, [v.area.name, v.address, v.manager_name])
        sheet.write_string(written, 6, v.manager_phone)
        sheet.write_row(written, 7, [v.supervisor.name if v.supervisor else "", v.expected_daily_visitors,
                                     v.dwell_minutes if v.dwell_minutes else ""])
    workbook.close()
    return buffer.getvalue(), written


__all__ = ["ImportFileError", "RowError", "ParsedFile", "TEMPLATE_COLUMNS", "parse", "template_xlsx", "export_xlsx"]
