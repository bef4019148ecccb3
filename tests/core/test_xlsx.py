"""The streaming xlsx writer: what Excel's readers (calamine, openpyxl) see in what it writes."""

import io

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from fangkong.core.xlsx import write_xlsx

HEADERS = ["姓名", "公民身份号码", "现住址", "备注"]


def test_rows_come_back_as_written(tmp_path):
    rows = [["王大明", "3709**********1234", "甲村3号楼1单元301", "户主"],
            ["李<小>红", "", "A&B 小区", ""],
            [" 前后空格 ", "x", "", "最后一格"]] + [[f"人{n}", str(n), "地址", ""] for n in range(5000)]
    path = tmp_path / "people.xlsx"
    assert write_xlsx(path, "人员", HEADERS, rows) == len(rows)
    read = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("人员").to_python()
    assert read[0] == HEADERS
    assert read[1:4] == [rows[0], rows[1], rows[2]]
    assert read[-1] == ["人4999", "4999", "地址", ""]
    assert len(read) == len(rows) + 1

    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    sheet = book["人员"]
    assert sheet["A1"].font.b and not sheet["A2"].font.b
    # Text cells (an ID number typed over them stays text), the empty ones too.
    assert sheet["B2"].number_format == "@" and sheet["B3"].number_format == "@"
    assert [c.value for c in sheet[3]] == ["李<小>红", None, "A&B 小区", None]
    assert sheet["A4"].value == " 前后空格 "
    assert sheet["D4"].value == "最后一格"


def test_characters_xml_cannot_hold_are_written_as_excel_does(tmp_path):
    path = tmp_path / "people.xlsx"
    write_xlsx(path, "人员", HEADERS, [["王\x01明", "", "", ""]])
    # _x0001_, as Excel and xlsxwriter write it; Excel and calamine read the character back.
    assert CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[1][0] == "王\x01明"
    assert openpyxl.load_workbook(path)["人员"]["A2"].value == "王_x0001_明"


def test_a_failing_row_source_fails_the_file(tmp_path):
    def rows():
        yield ["王大明", "", "", ""]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="went away"):
        write_xlsx(tmp_path / "people.xlsx", "人员", HEADERS, rows())
