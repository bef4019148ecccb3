"""The risk-area list (中高风险地区名单) in and out of Excel.

An import file has a header row (within its first 10 rows) naming its
columns: 地区编码, or the names 省 / 市 / 县（区） resolved through the
national place list; 乡镇（街道）; 风险等级 (高/中/低, 封控区/管控区/防范区,
or the codes); 生效日期; 解除日期; 备注. Columns are found by header, in any
order; others are ignored. A file is taken whole or not at all: every row is
checked first and the problems are listed by row (the row number in the
file), and only a clean file is written (services.import_risk_areas). The
list is a few thousand rows at most, so all of it happens in the request.
"""

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import xlsxwriter
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fangkong.core.tabular import (
    CSV_TYPES,
    EXCEL_TYPES,
    HEADER_SEARCH_ROWS,
    Headers,
    ImportFileError,
    RowError,
    blank,
    read_tables,
    rows_under_header,
    simplified,
)

from . import places, services
from .choices import RiskLevel

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000

# The columns of the template and the export, in order.
TEMPLATE_COLUMNS = [
    ("place_code", "地区编码"), ("province", "省"), ("city", "市"), ("county", "县（区）"),
    ("township", "乡镇（街道）"), ("level", "风险等级"), ("effective_from", "生效日期"),
    ("effective_to", "解除日期"), ("note", "备注"),
]
LABELS = dict(TEMPLATE_COLUMNS)

# Header texts people use for each column (compared loosely: core.tabular.header_key).
HEADERS = {
    "place_code": ["地区编码", "区划代码", "行政区划代码", "地区代码", "区划编码"],
    "province": ["省", "省份", "省（区、市）", "省（自治区、直辖市）", "省级"],
    "city": ["市", "地市", "市（州）", "地（市、州）", "地级市", "城市"],
    "county": ["县（区）", "县", "区县", "县区", "县（市、区）", "区（县）"],
    "township": ["乡镇（街道）", "乡镇", "街道", "乡镇街道", "乡镇/街道", "街道（乡镇）"],
    "level": ["风险等级", "等级", "风险级别", "风险类别"],
    "effective_from": ["生效日期", "开始日期", "起始日期", "认定日期", "生效时间"],
    "effective_to": ["解除日期", "结束日期", "截止日期", "解除时间"],
    "note": ["备注", "说明"],
}

LEVEL_WORDS = {
    RiskLevel.HIGH: ["高", "高风险", "高风险区", "高风险地区"],
    RiskLevel.MEDIUM: ["中", "中风险", "中风险区", "中风险地区"],
    RiskLevel.LOW: ["低", "低风险", "低风险区", "低风险地区"],
    RiskLevel.SEALED: ["封控区", "封控"],
    RiskLevel.CONTROLLED: ["管控区", "管控"],
    RiskLevel.PRECAUTION: ["防范区", "防范"],
}

# The word the template and the export write for each level (the files stay Chinese whatever the UI language).
LEVEL_TEXT = {level: words[1] if len(words) > 2 else words[0] for level, words in LEVEL_WORDS.items()}

# Suffixes dropped when a typed place name does not match exactly ("山东" for 山东省).
_PLACE_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "自治县", "地区",
                   "省", "市", "盟", "州", "县", "区", "旗")
_MUNICIPAL_CITY_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass
class ParsedFile:
    rows: list[tuple[int, dict]] = field(default_factory=list)  # (row number, data for services)
    errors: list[RowError] = field(default_factory=list)


# Reading ------------------------------------------------------------------------------------------
HEADER_MAP = Headers(HEADERS)


def _is_header(found: dict) -> bool:
    return "level" in found and ("place_code" in found or "province" in found)


def read_rows(upload) -> list[tuple[int, dict]]:
    """The data rows of an uploaded file: (row number, {column: raw value}), blank rows left out."""
    name = getattr(upload, "name", "") or ""
    suffix = Path(name).suffix.lower()
    if upload.size > MAX_BYTES:
        raise ImportFileError(_("文件超过 %(mb)d MB 上限。") % {"mb": MAX_BYTES // 1024 // 1024})
    if suffix in (".xls", ".et", ".wps"):
        raise ImportFileError(_("不支持旧版 Excel（.xls）或 WPS（.et）格式：请另存为 Excel 工作簿（.xlsx）后上传。"))
    if suffix not in EXCEL_TYPES + CSV_TYPES:
        raise ImportFileError(_("只支持 Excel 工作簿（.xlsx）或 CSV 文件。"))

    def check(columns):
        missing = [LABELS[c] for c in ("effective_from",) if c not in columns]
        if missing:
            raise ImportFileError(_("表头缺少“%(columns)s”栏。") % {"columns": "”“".join(missing)})

    return rows_under_header(
        read_tables(upload.read(), suffix), HEADER_MAP, _is_header, check=check, max_rows=MAX_ROWS,
        not_found=_("找不到表头：前 %(n)d 行中须有一行含“风险等级”和“地区编码”（或“省”“市”“县（区）”）。请使用导入模板。")
        % {"n": HEADER_SEARCH_ROWS})


# Cleaning one row ---------------------------------------------------------------------------------
def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def place_code_of(value) -> str:
    """A typed code as a 6-digit place code: 11 -> 110000, 3709 -> 370900."""
    code = re.sub(r"\s", "", _text(value))
    if not code.isdigit():
        raise ValueError(_("地区编码“%(code)s”应为数字。") % {"code": code})
    if len(code) in (2, 4):
        code = code.ljust(6, "0")
    if len(code) != 6:
        raise ValueError(_("地区编码“%(code)s”应为6位行政区划代码（乡镇（街道）请写在“乡镇（街道）”栏）。")
                         % {"code": code})
    return code


def _short(name: str) -> str:
    for suffix in _PLACE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _pick(candidates: list, name: str):
    """The candidate called NAME: exactly, else the one whose name matches without its suffix."""
    exact = [p for p in candidates if p.name == name]
    if exact:
        return exact[0]
    loose = [p for p in candidates if _short(p.name) == _short(name)]
    return loose[0] if len(loose) == 1 else None


def _counties_in(province_code: str) -> list:
    result = []
    for child in places.children(province_code):
        result.extend(places.children(child.code) if child.level == "city" else [child])
    return result


def place_code_from_names(province: str, city: str, county: str) -> str:
    if not province:
        raise ValueError(_("请填写地区编码，或省、市、县（区）名称。"))
    found = _pick(places.children(None), province)
    if found is None:
        raise ValueError(_("找不到省份“%(name)s”。") % {"name": province})
    result = found
    city_place = None
    if city:
        city_place = _pick([p for p in places.children(found.code) if p.level == "city"], city)
        municipal = city in _MUNICIPAL_CITY_NAMES or _short(city) == _short(found.name)
        if city_place is None and not municipal:
            raise ValueError(_("在%(province)s找不到市“%(name)s”。") % {"province": found.name, "name": city})
        result = city_place or found
    if county:
        pool = places.children(city_place.code) if city_place else _counties_in(found.code)
        county_place = _pick(pool, county)
        if county_place is None:
            raise ValueError(_("在%(parent)s找不到县（区）“%(name)s”。") % {"parent": result.full_name, "name": county})
        result = county_place
    return result.code


_LEVELS = {word: level for level, words in LEVEL_WORDS.items() for word in words}
_LEVELS.update({str(level): level for level in RiskLevel.values})


def level_of(value) -> str:
    text = simplified(re.sub(r"\s", "", _text(value)).lower())
    if not text:
        raise ValueError(_("请填写风险等级。"))
    if text not in _LEVELS:
        raise ValueError(_("风险等级“%(value)s”无法识别：应为 高、中、低，或 封控区、管控区、防范区。") % {"value": text})
    return str(_LEVELS[text])


_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT].*)?")


def date_of(value, label: str) -> date | None:
    """A cell as a date: Excel dates, 2022-05-01, 2022/5/1, 2022年5月1日, 20220501 or an Excel serial number."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        if re.fullmatch(r"\d{8}", text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if isinstance(value, int | float) and 20_000 < value < 80_000:
            return date(1899, 12, 30) + timedelta(days=int(value))
        match = _DATE_TEXT.fullmatch(text)
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        pass
    raise ValueError(_("%(label)s“%(value)s”无法识别：请写成 2022-05-01 这样的日期。") % {"label": label, "value": text})


def clean_row(record: dict) -> tuple[dict, list[str]]:
    """One file row -> (the data services.clean_risk_area takes, the problems found, in Chinese)."""
    problems: dict[str, str] = {}
    data = {"township": _text(record.get("township"))[:60], "note": _text(record.get("note"))[:200]}
    try:
        if not blank(record.get("place_code")):
            data["place_code"] = place_code_of(record["place_code"])
        else:
            data["place_code"] = place_code_from_names(
                _text(record.get("province")), _text(record.get("city")), _text(record.get("county")))
    except ValueError as exc:
        problems["place_code"] = str(exc)
    try:
        data["level"] = level_of(record.get("level"))
    except ValueError as exc:
        problems["level"] = str(exc)
    for name in ("effective_from", "effective_to"):
        try:
            data[name] = date_of(record.get(name), LABELS[name])
        except ValueError as exc:
            problems[name] = str(exc)
    try:
        services.clean_risk_area(data)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            problems.setdefault(name, "；".join(messages))
    return data, list(problems.values())


def parse(upload) -> ParsedFile:
    """Read and check every row of UPLOAD; ImportFileError when the file as a whole is unusable."""
    parsed = ParsedFile()
    for number, record in read_rows(upload):
        data, problems = clean_row(record)
        if problems:
            parsed.errors.append(RowError(number, problems))
        else:
            parsed.rows.append((number, data))
    return parsed


# Writing ------------------------------------------------------------------------------------------
def _place_names(code: str) -> list[str]:
    """[province, city, county] names of a place code ('' where the level does not apply)."""
    names = {"province": "", "city": "", "county": ""}
    place = places.lookup(code)
    while place is not None:
        names[place.level] = place.name
        place = places.lookup(place.parent) if place.parent else None
    return [names["province"], names["city"], names["county"]]


def _workbook(buffer):
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    formats = {
        "header": workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "text": workbook.add_format({"num_format": "@"}),
    }
    return workbook, formats


def _list_sheet(workbook, formats, rows: int):
    sheet = workbook.add_worksheet(_("风险地区"))
    sheet.write_row(0, 0, [label for _name, label in TEMPLATE_COLUMNS], formats["header"])
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, 0, 11, formats["text"])
    sheet.set_column(1, 3, 14)
    sheet.set_column(4, 4, 18)
    sheet.set_column(5, 5, 10)
    sheet.set_column(6, 7, 12, formats["date"])
    sheet.set_column(8, 8, 30)
    sheet.data_validation(1, 5, max(rows, 5000), 5, {
        "validate": "list", "source": list(LEVEL_TEXT.values()),
        "error_type": "warning", "input_title": _("风险等级"),
        "input_message": _("高风险、中风险、低风险，或封控区、管控区、防范区"),
    })
    return sheet


def template_xlsx() -> bytes:
    """The import template: the list sheet (header only) and a sheet of instructions with examples."""
    buffer = io.BytesIO()
    workbook, formats = _workbook(buffer)
    _list_sheet(workbook, formats, 0)
    notes = workbook.add_worksheet(_("填写说明"))
    notes.set_column(0, 0, 100)
    lines = [
        _("1. 每行一个风险地区，从第2行起填写；不要改动表头。"),
        _("2. 地区编码填6位行政区划代码（如 110101 北京市东城区）；也可不填编码，改填省、市、县（区）名称。"),
        _("3. 只列某个乡镇（街道）时，在“乡镇（街道）”栏填写其名称，地区须到县（区）一级。"),
        _("4. 风险等级填 高风险、中风险、低风险，或 封控区、管控区、防范区（也可只写 高、中、低）。"),
        _("5. 日期写成 2022-05-01；尚未解除的地区“解除日期”留空。"),
        _("6. 整个文件一起导入：任何一行有误则全部不导入，页面会逐行列出问题；与名单上已有记录完全相同的行会跳过。"),
        "",
        _("示例："),
        "110101\t\t\t\t东华门街道\t高风险\t2022-05-01\t\t",
        "\t山东省\t泰安市\t东平县\t\t中风险\t2022-05-03\t2022-05-20\t",
    ]
    for index, line in enumerate(lines):
        notes.write_string(index, 0, line)
    workbook.close()
    return buffer.getvalue()


def export_xlsx(areas) -> bytes:
    """AREAS (a queryset) in the template's layout, so an export can be edited and imported again."""
    buffer = io.BytesIO()
    workbook, formats = _workbook(buffer)
    rows = list(areas.values_list("place_code", "township", "level", "effective_from", "effective_to", "note"))
    sheet = _list_sheet(workbook, formats, len(rows))
    for index, (code, township, level, start, end, note) in enumerate(rows, start=1):
        sheet.write_string(index, 0, code)
        sheet.write_row(index, 1, [*_place_names(code), township, LEVEL_TEXT.get(level, level)])
        sheet.write_datetime(index, 6, datetime.combine(start, datetime.min.time()), formats["date"])
        if end:
            sheet.write_datetime(index, 7, datetime.combine(end, datetime.min.time()), formats["date"])
        sheet.write_string(index, 8, note)
    workbook.close()
    return buffer.getvalue()
