"""Reading an area list (csv or xlsx: code, name, parent code, level) into rows.

Plain functions, no database: the service validates against the tree.
"""

import csv
import io

from django.utils.translation import gettext as _
from python_calamine import CalamineWorkbook

from .choices import AreaLevel

HEADERS = {
    "code": {"code", "区划代码", "代码", "编码", "统计用区划代码", "网格编码"},
    "name": {"name", "名称", "区划名称", "网格名称"},
    "parent": {"parent", "parent_code", "上级代码", "上级区划代码", "上级编码"},
    "level": {"level", "层级", "级别", "类型"},
}
LEVEL_WORDS = {
    AreaLevel.COUNTY: {"county", "县", "区", "市", "县（市、区）", "县级"},
    AreaLevel.TOWNSHIP: {"township", "乡", "镇", "街道", "乡镇", "乡镇（街道）", "乡镇街道"},
    AreaLevel.VILLAGE: {"village", "村", "社区", "村（社区）", "村社区", "居委会", "村委会"},
    AreaLevel.GRID: {"grid", "网格"},
}


class AreaFileError(ValueError):
    """The file as a whole cannot be read."""


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AreaFileError(_("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV，或 xlsx。"))


def read_table(filename: str, data: bytes) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xls", ".xlsm", ".ods")):
        try:
            sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        except Exception as exc:
            raise AreaFileError(_("无法读取 Excel 文件：%(error)s") % {"error": exc}) from exc
        rows = sheet.to_python(skip_empty_area=True)
    else:
        rows = list(csv.reader(io.StringIO(decode(data))))
    return [[_cell(v) for v in row] for row in rows]


def _cell(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


def parse_level(word: str) -> str | None:
    word = word.strip()
    for level, words in LEVEL_WORDS.items():
        if word in words:
            return level
    return None


def find_header(rows: list[list[str]]) -> tuple[int, dict[str, int]]:
    """The header row (the first one naming a code and a name column) and its column map."""
    for index, row in enumerate(rows[:10]):
        columns = {}
        for position, cell in enumerate(row):
            for key, names in HEADERS.items():
                if cell.strip().lower() in names and key not in columns:
                    columns[key] = position
        if {"code", "name", "level"} <= columns.keys():
            return index, columns
    raise AreaFileError(_("找不到表头：需要“区划代码”“名称”“层级”列（“上级代码”列可选）。"))
