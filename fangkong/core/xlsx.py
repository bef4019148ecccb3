"""A one-sheet xlsx of text cells, written as a stream: a million rows in seconds.

xlsxwriter spends about 5 µs a cell in Python; a register export has 19
cells a row. Here a row of cells becomes one piece of SpreadsheetML text
(inline strings, so no shared-string table to hold in memory), and a second
thread deflates and writes the sheet while the rows are built (zlib and
file writes release the GIL). Every cell is text, as in the register, and
formatted as text, so that Excel never turns an ID number into a float,
not even one typed over the exported one.
"""

import queue
import re
import threading
import zipfile
from itertools import islice

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CONTENT_TYPES = (
    f'{DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
)
PACKAGE_RELS = (
    f'{DECLARATION}<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
    f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK_RELS = (
    f'{DECLARATION}<Relationships xmlns="{PACKAGE}">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/></Relationships>'
)
# Style 0: normal; style 1: bold (the header row); style 2: text ("@"), every data cell, so that an ID
# number typed over in Excel stays text instead of becoming 3.70923E+17.
STYLES = (
    f'{DECLARATION}<styleSheet xmlns="{MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
# What XML 1.0 cannot hold; Excel writes such characters as _xHHHH_.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile("[&<>]")  # quotes need no escape in element text
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
BOLD, TEXT = ' s="1"', ' s="2"'
ROWS_A_PIECE = 2000
PIECES_AHEAD = 4


def _workbook(sheet_name: str) -> str:
    return (f'{DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
            f'<sheet name="{_text(sheet_name)}" sheetId="1" r:id="rId1"/></sheets></workbook>')


def _text(value: str) -> str:
    if _SPECIAL.search(value):
        value = _SPECIAL.sub(lambda m: _ESCAPES[m.group()], value)
    return value


def _row(number: int, cells, style: str) -> str:
    # Cells carry no reference (r="B2"): they follow one another, an empty one as <c/>. Cheaper by half.
    parts = [f'<row r="{number}">']
    for value in cells:
        if not value:
            parts.append(f"<c{style}/>")
            continue
        if "&" in value or "<" in value or ">" in value:
            value = _text(value)
        if value[0] == " " or value[-1] == " ":
            parts.append(f'<c{style} t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>')
        else:
            parts.append(f'<c{style} t="inlineStr"><is><t>{value}</t></is></c>')
    parts.append("</row>")
    return "".join(parts)


def write_xlsx(path, sheet_name: str, headers: list[str], rows, progress=None) -> int:
    """Write HEADERS (bold) and ROWS (sequences of str, in the headers' order) as the one sheet of an xlsx at PATH.

    PROGRESS(n) is called every few thousand rows. Returns the number of rows written.
    """
    pieces: queue.Queue = queue.Queue(maxsize=PIECES_AHEAD)
    failure = []
    written = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", PACKAGE_RELS)
        book.writestr("xl/workbook.xml", _workbook(sheet_name))
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        book.writestr("xl/styles.xml", STYLES)
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:

            def drain():
                try:
                    while (piece := pieces.get()) is not None:
                        sheet.write(piece)
                except BaseException as exc:  # handed to the writing thread below
                    failure.append(exc)
                    while pieces.get() is not None:
                        pass

            writer = threading.Thread(target=drain, name="xlsx-writer", daemon=True)
            writer.start()
            try:
                pieces.put(f'{DECLARATION}<worksheet xmlns="{MAIN}"><sheetData>'.encode()
                           + _row(1, headers, BOLD).encode())
                rows = iter(rows)
                while chunk := list(islice(rows, ROWS_A_PIECE)):
                    text = "".join([_row(written + n, cells, TEXT) for n, cells in enumerate(chunk, start=2)])
                    if _ILLEGAL.search(text):
                        text = _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
                    pieces.put(text.encode())
                    written += len(chunk)
                    if failure:
                        break
                    if progress:
                        progress(written)
                pieces.put(b"</sheetData></worksheet>")
            finally:
                pieces.put(None)
                writer.join()
    if failure:
        raise failure[0]
    return written
