"""Reading an uploaded register: xlsx/xlsm/ods (every visible sheet) or CSV.

The header is the row, among the first 20 of a sheet, that names the most
register fields (fields.field_for_header), with 姓名 among them and at least
two fields in all; title rows and merged group cells above it ("基本信息"
across several columns) are skipped. A second header row right under it (a
two-row header: "现住址" merged over 楼栋 / 单元 / 门牌号) is merged in.

Values are kept raw, as calamine or the csv module gives them (float, int,
date, datetime, str, bool, ""): the planner cleans only the mapped columns
(see quirks.py). Formula cells give the value Excel last calculated and
saved; a formula never calculated (a file written by a program that does not
store results) reads as empty or 0.

Memory: a sheet is read whole into memory (calamine parses a sheet at once,
and the rows are kept as Python lists); the upload size limit
(settings.FANGKONG_IMPORT_MAX_MB, 150 MB by default, checked by check_size
before anything is read) keeps that bounded. A 1,000,000-row x 15-column
xlsx (70 MB) reads in about 15 s with a peak RSS of about 2.2 GB (calamine's
parse is 10 s of it); the same rows as a GBK CSV (117 MB) in about 6 s, 2 GB.

CSV: UTF-8, UTF-8 with BOM, UTF-16 (Excel's "Unicode 文本") or GB18030 (a
superset of GBK and GB2312) are detected; a file whose lines mix UTF-8 and
GBK is refused with the first line that differs. Comma- or tab-separated.
"""

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from .fields import field_for_header
from .quirks import clean_text

CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # OLE2 / Compound File: .xls, .et, an encrypted xlsx
ZIP_MAGIC = b"PK\x03\x04"
HEADER_SEARCH_ROWS = 20
EXCEL_TYPES = (".xlsx", ".xlsm", ".ods")
CSV_TYPES = (".csv", ".txt")
OLD_TYPES = (".xls", ".et", ".ett", ".xlt", ".wps")
SUPPORTED = "Excel 工作簿（.xlsx）、CSV（.csv，逗号或制表符分隔，UTF-8 或 GBK 编码）或 OpenDocument 表格（.ods）"
DEFAULT_MAX_MB = 150


class RegisterFileError(ValueError):
    """The file as a whole cannot be read; str() names the problem (and sheet or line) in Chinese."""


@dataclass
class Sheet:
    name: str  # sheet name ("" for a CSV)
    header_row: int  # 1-based row number of the (last) header row in the file
    headers: list[str]  # cleaned header texts
    # (1-based row number in the file, raw cell values padded/truncated to len(headers)); empty rows skipped
    rows: list[tuple[int, list]] = field(default_factory=list)


def max_mb() -> int:
    return int(getattr(settings, "FANGKONG_IMPORT_MAX_MB", DEFAULT_MAX_MB))


def max_bytes() -> int:
    return max_mb() * 1024 * 1024


def __getattr__(name):
    # MAX_BYTES reads the setting when asked for, so override_settings works.
    if name == "MAX_BYTES":
        return max_bytes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_size(size: int) -> None:
    """Refuse an upload by its size alone, before it is read (and before it is stored)."""
    if size > max_bytes():
        raise RegisterFileError(
            f"文件超过 {max_mb()} MB 上限（本文件 {size / 1024 / 1024:.0f} MB）：请按乡镇或村拆分后分批上传。")
    if size == 0:
        raise RegisterFileError("文件是空的。")


def read_register(path: Path, filename: str) -> list[Sheet]:
    """Every sheet of the register file at PATH (FILENAME, as uploaded, gives the type)."""
    path = Path(path)
    check_size(path.stat().st_size)
    suffix = Path(filename).suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(8)
    if suffix in OLD_TYPES:
        raise RegisterFileError(
            f"不支持旧版 Excel（.xls）或 WPS（.et）格式的文件（{filename}）：请用 Excel 或 WPS 打开，"
            "“另存为” Excel 工作簿（.xlsx）后上传。")
    if head == CFB_MAGIC:
        if _is_encrypted_ooxml(path):
            raise RegisterFileError("文件设置了打开密码：请在 Excel 或 WPS 中去除密码后另存为 .xlsx 再上传。")
        if suffix in CSV_TYPES:
            raise RegisterFileError("这不是 CSV 文件，而是旧版 Excel（.xls）文件：请另存为 .xlsx 后上传。")
        raise RegisterFileError(
            "文件设置了打开密码，或是改了扩展名的旧版 .xls 文件：请去除密码后另存为 .xlsx 再上传。")
    if suffix in EXCEL_TYPES:
        if not head.startswith(ZIP_MAGIC):
            raise RegisterFileError(f"文件“{filename}”不是有效的 {suffix} 文件（可能只是改了扩展名）：请用 Excel 或 WPS "
                                    "打开后另存为 .xlsx 再上传。")
        tables = _excel_tables(path)
    elif suffix in CSV_TYPES:
        if head.startswith(ZIP_MAGIC):
            raise RegisterFileError("这不是 CSV 文件，而是 Excel 工作簿：请把扩展名改回 .xlsx 后上传。")
        tables = [("", *_csv_table(path.read_bytes()))]
    else:
        raise RegisterFileError(f"不支持“{suffix or filename}”类型的文件：只支持 {SUPPORTED}。")
    sheets = []
    for name, rows, numbers in tables:
        sheet = _sheet(name, rows, numbers)
        if sheet is None:
            if _has_data(rows):
                where = f"工作表“{name}”" if name else "文件"
                raise RegisterFileError(
                    f"{where}找不到表头：前 {HEADER_SEARCH_ROWS} 行中须有一行同时含“姓名”和至少一个其他栏目"
                    "（如“公民身份号码”、“联系电话”）。如果这张表不是人员名单（如填表说明），请删除或隐藏后再上传。")
            continue
        sheets.append(sheet)
    if not sheets:
        raise RegisterFileError("文件是空的：没有找到任何数据。")
    if not any(sheet.rows for sheet in sheets):
        raise RegisterFileError("只有表头，没有数据行：请填写人员信息后再上传。")
    return sheets


def _is_encrypted_ooxml(path: Path) -> bool:
    """An encrypted xlsx is a Compound File holding EncryptionInfo and EncryptedPackage streams."""
    marker = "EncryptedPackage".encode("utf-16-le")
    with path.open("rb") as handle:
        data = handle.read(1024 * 1024)
    if marker in data:
        return True
    # The directory may sit at the end of a big file.
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 1024 * 1024))
        return marker in handle.read()


def _excel_tables(path: Path) -> list[tuple[str, list, None]]:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        tables = []
        for meta in workbook.sheets_metadata:
            if meta.visible != SheetVisibleEnum.Visible or meta.typ != SheetTypeEnum.WorkSheet:
                continue  # hidden sheets and chart sheets
            # skip_empty_area=False: the rows start at A1, so row numbers are the file's.
            rows = workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            tables.append((meta.name, rows, None))
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise RegisterFileError(f"无法读取 Excel 文件（{exc}）：请用 Excel 或 WPS 打开后重新另存为 .xlsx。") from exc
    return tables


def _csv_table(data: bytes) -> tuple[list[list[str]], list[int]]:
    """The CSV's records and the file line each begins on (a quoted cell may span lines)."""
    text = _decode(data)
    sample = text[:8192]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines, delimiter=delimiter)
    rows, numbers = [], []
    start = 1
    try:
        for record in reader:
            rows.append(record)
            numbers.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RegisterFileError(f"CSV 第{reader.line_num}行无法读取（{exc}）：请在 Excel 或 WPS 中另存为 .xlsx 后上传。") from None
    return rows, numbers


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise RegisterFileError("文件的 UTF-16 编码有误：请另存为 UTF-8 编码的 CSV 或 .xlsx。") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    _check_one_encoding(data)
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegisterFileError(
            f"第{line}行的文字编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV，或 .xlsx。") from None


# What Chinese text in a register is made of, beyond ASCII: CJK ideographs
# (with extensions), CJK and full-width punctuation, ·, ×, √, ①, “”, —.
_CHINESE_TEXT = re.compile(
    "^[\x00-\x7f\u00b7\u00d7\u00b0\u2010-\u206f\u2100-\u27bf\u2e80-\u2fff\u3000-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]*$")


def _line_encoding(line: bytes) -> str:
    """"utf-8" for a line of Chinese text in UTF-8, else "gbk".

    A GBK line can happen to be valid UTF-8 (about 1 line in 10,000 of a
    register): it then decodes to Greek, Cyrillic or Armenian letters, never
    to Chinese, so it is not taken for UTF-8.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "gbk"
    return "utf-8" if _CHINESE_TEXT.match(text) else "gbk"


def _check_one_encoding(data: bytes) -> None:
    """Refuse a file whose lines mix UTF-8 and GBK (rows pasted together from different files)."""
    first = None  # (encoding, line number) of the first line with non-ASCII text
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        encoding = _line_encoding(line)
        if first is None:
            first = (encoding, number)
        elif encoding != first[0]:
            names = {"utf-8": "UTF-8", "gbk": "GBK"}
            raise RegisterFileError(
                f"文件混用了两种文字编码：第{number}行是 {names[encoding]}，而第{first[1]}行是 {names[first[0]]}。"
                "请在 Excel 或 WPS 中打开，统一另存为 .xlsx 或 UTF-8 编码的 CSV 后上传。")


def _blank(row: list) -> bool:
    # list.count runs in C: far cheaper than testing cell by cell in Python.
    return row.count("") + row.count(None) == len(row)


def _has_data(rows: list[list]) -> bool:
    return not all(_blank(row) for row in rows)


def _header_fields(row: list) -> list[str | None]:
    return [field_for_header(value) if isinstance(value, str) else None for value in row]


def _sheet(name: str, rows: list[list], numbers: list[int] | None) -> Sheet | None:
    best, best_score = None, 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields = _header_fields(row)
        score = len(set(fields) - {None})
        if "name" in fields and score >= 2 and score > best_score:
            best, best_score = index, score
    if best is None:
        return None
    headers = [clean_text(value) for value in rows[best]]
    last = best
    if best + 1 < len(rows) and _is_sub_header(rows[best], rows[best + 1]):
        # A two-row header: the lower row names the columns under a merged group cell.
        for column, value in enumerate(rows[best + 1]):
            text = clean_text(value)
            if text:
                if column < len(headers):
                    headers[column] = text
                else:
                    headers.extend([""] * (column - len(headers)) + [text])
        last = best + 1
    while headers and not headers[-1]:
        headers.pop()
    width = len(headers)
    data = []
    append = data.append
    for index in range(last + 1, len(rows)):
        row = rows[index]
        if _blank(row):
            continue
        if len(row) != width:
            row = row[:width] if len(row) > width else row + [""] * (width - len(row))
        append((numbers[index] if numbers else index + 1, row))
    return Sheet(name=name, header_row=(numbers[last] if numbers else last + 1), headers=headers, rows=data)


def _is_sub_header(top: list, row: list) -> bool:
    """Whether ROW, right under the header TOP, is the header's second line.

    It is when it has nothing under 姓名, mostly header words, and a header
    word under an empty top cell (the columns a merged group cell spans).
    """
    fields = _header_fields(top)
    name_column = fields.index("name")
    if name_column < len(row) and row[name_column] not in ("", None):
        return False
    below = _header_fields(row)
    recognised = [f for f in below if f]
    filled = [value for value in row if value not in ("", None)]
    if not recognised or len(recognised) * 2 < len(filled):
        return False
    return any(f and (column >= len(top) or top[column] in ("", None)) for column, f in enumerate(below))
