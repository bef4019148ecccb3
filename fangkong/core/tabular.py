"""Reading the tables of an uploaded file (xlsx via python-calamine, CSV in UTF-8/GBK) for the small imports.

The risk-area and venue imports share this; the population register has its
own streaming reader (people/register/reader.py) for million-row files.
"""

import codecs
import csv
import io
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
