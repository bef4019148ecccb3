"""Reading an uploaded register: xlsx (every sheet) or CSV (UTF-8, UTF-8 with BOM, GBK/GB18030).

The header is the row (among the first 20) that names the most register
fields, with 姓名 among them, so title rows and merged header cells above it
are skipped. Values are kept raw (the planner cleans the mapped columns).
A sheet is read whole into memory (calamine reads the sheet at once); the
upload size limit (FANGKONG_IMPORT_MAX_MB) keeps that bounded. Formula cells
give the value Excel last calculated; a formula never calculated reads as empty.
"""

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from python_calamine import CalamineWorkbook

from .fields import field_for_header
from .quirks import clean_text

CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
HEADER_SEARCH_ROWS = 20
EXCEL_TYPES = (".xlsx", ".xlsm", ".ods")
CSV_TYPES = (".csv", ".txt")


class RegisterFileError(ValueError):
    """The file as a whole cannot be read; str() names the problem in Chinese."""


@dataclass
class Sheet:
    name: str
    header_row: int
    headers: list[str]
    rows: list[tuple[int, list]] = field(default_factory=list)


def max_bytes() -> int:
    return settings.FANGKONG_IMPORT_MAX_MB * 1024 * 1024


def check_size(size: int) -> None:
    if size > max_bytes():
        raise RegisterFileError(
            f"文件 {size / 1024 / 1024:.0f} MB，超过 {settings.FANGKONG_IMPORT_MAX_MB} MB 的上限：请按乡镇或村拆分后分批上传。")
    if size == 0:
        raise RegisterFileError("文件是空的。")


def read_register(path: Path, filename: str) -> list[Sheet]:
    path = Path(path)
    size = path.stat().st_size
    check_size(size)
    suffix = Path(filename).suffix.lower()
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic == CFB_MAGIC:
        if suffix in (".xls", ".et", ".wps"):
            raise RegisterFileError("不支持旧版 Excel（.xls）或 WPS（.et）文件：请用 Excel 或 WPS 另存为 .xlsx 后上传。")
        raise RegisterFileError("文件设置了打开密码（或是旧版 .xls 格式）：请去除密码后另存为 .xlsx 再上传。")
    if suffix in (".xls", ".et"):
        raise RegisterFileError("不支持旧版 Excel（.xls）或 WPS（.et）文件：请用 Excel 或 WPS 另存为 .xlsx 后上传。")
    if suffix in EXCEL_TYPES:
        tables = _excel_tables(path)
    elif suffix in CSV_TYPES:
        tables = [("", _csv_rows(path.read_bytes()))]
    else:
        raise RegisterFileError("只支持 .xlsx 或 .csv 文件。")
    sheets = []
    for name, rows in tables:
        if not any(any(_filled(v) for v in row) for row in rows):
            continue
        sheet = _sheet(name, rows)
        if sheet is None:
            raise RegisterFileError(
                f"工作表“{name or 'CSV'}”找不到表头：表头行须含“姓名”和至少一个其他字段（如“公民身份号码”）。")
        sheets.append(sheet)
    if not sheets:
        raise RegisterFileError("文件是空的。")
    if not any(s.rows for s in sheets):
        raise RegisterFileError("只有表头，没有数据行。")
    return sheets


def _excel_tables(path: Path):
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise RegisterFileError(f"无法读取 Excel 文件（{exc}）：请用 Excel 或 WPS 重新另存为 .xlsx。") from exc
    tables = []
    for meta in workbook.sheets_metadata:
        if str(getattr(meta, "visible", "Visible")).lower().endswith("hidden"):
            continue
        tables.append((meta.name, workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)))
    return tables


def _csv_rows(data: bytes) -> list[list[str]]:
    text = _decode(data)
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    first_utf8 = first_other = None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            first_utf8 = first_utf8 or number
        except UnicodeDecodeError:
            first_other = first_other or number
        if first_utf8 and first_other:
            raise RegisterFileError(
                f"文件混用了多种编码（第{max(first_utf8, first_other)}行与前面不同）："
                "请在 Excel 或 WPS 中统一另存为 UTF-8 的 CSV 或 .xlsx。")
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegisterFileError(f"第{line}行的文字编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV，或 .xlsx。") from None


def _filled(value) -> bool:
    return value is not None and value != ""


def _sheet(name: str, rows: list[list]) -> Sheet | None:
    best, best_score = None, 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields = [field_for_header(v) for v in row if isinstance(v, str)]
        score = len({f for f in fields if f})
        if "name" in fields and score >= 2 and score > best_score:
            best, best_score = index, score
    if best is None:
        return None
    headers = [clean_text(v) for v in rows[best]]
    while headers and not headers[-1]:
        headers.pop()
    width = len(headers)
    data = []
    for number, row in enumerate(rows[best + 1:], start=best + 2):
        if any(_filled(v) for v in row):
            values = list(row[:width]) + [None] * (width - len(row))
            data.append((number, values))
    return Sheet(name=name, header_row=best + 1, headers=headers, rows=data)
