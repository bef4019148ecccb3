"""Reading the tables of an uploaded file (xlsx via python-calamine, CSV in UTF-8/GBK) for the small imports.

The risk-area, venue, key-group roster and lab-result imports share this; the population register has its
own streaming reader (people/register/reader.py) for million-row files.
"""

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

EXCEL_TYPES = (".xlsx", ".xlsm", ".ods")
CSV_TYPES = (".csv", ".txt")


class ImportFileError(ValueError):
    """The file as a whole cannot be used; str() says why, in Chinese."""


@dataclass
class RowError:
    row: int  # the row number in the file (1-based)
    messages: list[str]


# Files from Traditional-Chinese offices: the characters of these headers and level words, made Simplified.
_SIMPLIFIED = str.maketrans("區碼編範風險級鄉鎮縣備註說開結時間認別類準", "区码编范风险级乡镇县备注说开结时间认别类准")


def simplified(text: str) -> str:
    return text.translate(_SIMPLIFIED)


def decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFileError(_("文件的文字编码无法识别：请另存为 UTF-8 编码的 CSV 或 .xlsx 后上传。")) from None


def read_tables(data: bytes, suffix: str) -> list[list[list]]:
    """The sheets of the file as lists of rows (row 1 of the file first)."""
    if suffix in EXCEL_TYPES:
        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            return [workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
                    for meta in workbook.sheets_metadata
                    if meta.visible == SheetVisibleEnum.Visible and meta.typ == SheetTypeEnum.WorkSheet]
        except Exception as exc:  # calamine raises its own error types for damaged files
            raise ImportFileError(
                _("无法读取 Excel 文件（%(error)s）：请用 Excel 或 WPS 打开后另存为 .xlsx 再上传。") % {"error": exc}
            ) from exc
    text = decode(data)
    delimiter = "\t" if text[:4096].count("\t") > text[:4096].count(",") else ","
    try:
        return [list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))]
    except csv.Error as exc:
        raise ImportFileError(_("CSV 文件无法读取（%(error)s）：请另存为 .xlsx 后上传。") % {"error": exc}) from None


# Finding the header row and the data under it ----------------------------------------------------
HEADER_SEARCH_ROWS = 10  # a title row and merged cells above the header are normal


def header_key(text) -> str:
    """A header cell compared loosely: spaces and asterisks dropped, full-width forms folded, Traditional
    characters made Simplified, Latin letters lower case, brackets full-width."""
    text = simplified(re.sub(r"[\s*＊]", "", unicodedata.normalize("NFKC", str(text or "")))).lower()
    return text.replace("(", "（").replace(")", "）")


class Headers:
    """The texts people put over each column ({field: [texts]}), matched with header_key."""

    def __init__(self, texts: dict[str, list[str]]):
        self.fields = {header_key(text): name for name, options in texts.items() for text in options}

    def field(self, value) -> str | None:
        return self.fields.get(header_key(value)) if value not in (None, "") else None

    def columns(self, row: list) -> dict[str, int]:
        """{field: position} of the known headers in ROW (the first column for a field wins)."""
        found = {}
        for position, value in enumerate(row):
            name = self.field(value)
            if name and name not in found:
                found[name] = position
        return found


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def rows_under_header(tables: list[list[list]], headers: Headers, is_header: Callable[[dict], bool], *,
                      max_rows: int, not_found: str,
                      check: Callable[[dict], None] | None = None) -> list[tuple[int, dict]]:
    """(row number, {field: raw value}) for the rows under the first header row IS_HEADER accepts.

    CHECK may raise ImportFileError on the header's columns (a required column missing). Blank rows are
    left out; a file with no data rows or more than MAX_ROWS is refused as a whole.
    """
    for table in tables:
        for index, row in enumerate(table[:HEADER_SEARCH_ROWS]):
            columns = headers.columns(row)
            if not is_header(columns):
                continue
            if check is not None:
                check(columns)
            rows = []
            for number, values in enumerate(table[index + 1:], start=index + 2):
                record = {c: values[i] if i < len(values) else None for c, i in columns.items()}
                if not all(blank(v) for v in record.values()):
                    rows.append((number, record))
            if not rows:
                raise ImportFileError(_("只有表头，没有数据行。"))
            if len(rows) > max_rows:
                raise ImportFileError(_("一次最多导入 %(max)d 行，请分批上传。") % {"max": max_rows})
            return rows
    raise ImportFileError(not_found)

