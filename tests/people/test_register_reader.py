"""Issue 3's bad input, one test each: what Excel does to cells, and files that cannot be read."""

from datetime import date

import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from fangkong.people.register.quirks import (
    RELATION_WORDS,
    QuirkError,
    clean_bool,
    clean_choice,
    clean_date,
    clean_id_number,
    clean_phone,
    clean_sex,
)
from fangkong.people.register.reader import RegisterFileError, check_size, read_register

VALID_ID = "370923198506150012"
VALID_ID = VALID_ID[:-1] + ric.calc_check_digit(VALID_ID)
ID_WITH_X = next(f"37092319850615{n:03d}X" for n in range(1000) if ric.calc_check_digit(f"37092319850615{n:03d}0") == "X")


# --- cells ---------------------------------------------------------------

def test_scientific_notation_is_refused_with_the_fix():
    with pytest.raises(QuirkError, match="科学计数法"):
        clean_id_number("3.70923E+17")


def test_an_id_stored_as_a_number_lost_its_last_digits():
    with pytest.raises(QuirkError, match="000"):
        clean_id_number(float(VALID_ID))


def test_an_id_ending_000_with_a_bad_check_digit_is_explained():
    damaged = VALID_ID[:15] + "000"
    if ric.calc_check_digit(damaged) != "0":
        with pytest.raises(QuirkError, match="000"):
            clean_id_number(damaged)


def test_lowercase_x_full_width_spaces_tabs_and_apostrophe_are_undone():
    assert clean_id_number(ID_WITH_X.lower()) == ID_WITH_X
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in VALID_ID)
    assert clean_id_number(full_width) == VALID_ID
    assert clean_id_number(f" {VALID_ID[:6]} {VALID_ID[6:14]}\t{VALID_ID[14:]} ") == VALID_ID
    assert clean_id_number("'" + VALID_ID) == VALID_ID


def test_old_15_digit_ids_ask_for_the_new_number():
    with pytest.raises(QuirkError, match="15位"):
        clean_id_number("370923850615001")


def test_phone_as_float_and_with_country_code():
    assert clean_phone(13862345678.0) == "13862345678"
    assert clean_phone("+86 138-6234-5678") == "13862345678"
    with pytest.raises(QuirkError, match="科学计数法"):
        clean_phone("1.38623E+10")


def test_dates_as_serial_numbers_and_chinese_text():
    assert clean_date(44660) == date(2022, 4, 9)
    assert clean_date(44660.0) == date(2022, 4, 9)
    assert clean_date("2022年4月9日") == date(2022, 4, 9)
    assert clean_date("2022/4/9") == date(2022, 4, 9)
    assert clean_date("20220409") == date(2022, 4, 9)
    with pytest.raises(QuirkError, match="不存在"):
        clean_date("2022年2月30日")
    with pytest.raises(QuirkError, match="晚于今天"):
        clean_date("2099-01-01")


def test_yes_no_sex_and_relation_words():
    assert clean_bool("是") is True and clean_bool("否") is False and clean_bool("") is None
    assert clean_bool("√") is True
    with pytest.raises(QuirkError):
        clean_bool("也许")
    assert clean_sex("女") == "F" and clean_sex(1.0) == "M"
    assert clean_choice("妻子", RELATION_WORDS) == "spouse"
    with pytest.raises(QuirkError, match="无法识别"):
        clean_choice("邻居", RELATION_WORDS)


@settings(max_examples=60, deadline=None)
@given(birth=st.dates(min_value=date(1930, 1, 1), max_value=date(2020, 12, 31)), serial=st.integers(0, 999),
       apostrophe=st.booleans(), wide=st.booleans(), spaces=st.booleans())
def test_any_valid_id_survives_excel_handling(birth, serial, apostrophe, wide, spaces):
    body = f"370923{birth:%Y%m%d}{serial:03d}"
    number = body + ric.calc_check_digit(body + "0")
    text = number.lower()
    if wide:
        text = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in text)
    if spaces:
        text = f" {text[:6]}\t{text[6:]} "
    if apostrophe:
        text = "'" + text
    assert clean_id_number(text) == number


# --- files ---------------------------------------------------------------

def xlsx(path, sheets):
    book = xlsxwriter.Workbook(str(path))
    for name, rows, title in sheets:
        sheet = book.add_worksheet(name)
        start = 0
        if title:
            sheet.merge_range(0, 0, 0, 3, title)
            sheet.merge_range(1, 2, 1, 3, "联系方式")
            start = 2
        for r, row in enumerate(rows, start=start):
            for c, value in enumerate(row):
                if isinstance(value, tuple):
                    sheet.write_formula(r, c, value[0], None, value[1])
                else:
                    sheet.write(r, c, value)
    book.close()
    return path


def test_title_row_and_merged_header_above_are_skipped(tmp_path):
    path = xlsx(tmp_path / "r.xlsx", [("1号楼", [["姓名", "公民身份号码", "联系电话", "现住址"],
                                               ["张三", VALID_ID, "13800001111", "1号楼"]], "甲村汇总表")])
    sheet = read_register(path, "r.xlsx")[0]
    assert sheet.header_row == 3
    assert sheet.headers[:2] == ["姓名", "公民身份号码"]
    assert sheet.rows == [(4, ["张三", VALID_ID, "13800001111", "1号楼"])]


def test_one_sheet_per_building_and_formulas_give_their_values(tmp_path):
    rows = [["姓名", "身份证号", "门牌号"], ["张三", VALID_ID, ("=100+1", 101)]]
    path = xlsx(tmp_path / "r.xlsx", [("1号楼", rows, None), ("2号楼", rows, None), ("空表", [], None)])
    sheets = read_register(path, "r.xlsx")
    assert [s.name for s in sheets] == ["1号楼", "2号楼"]
    assert sheets[0].rows[0][1][2] in (101, 101.0)


def test_a_sheet_without_a_header_is_named(tmp_path):
    path = xlsx(tmp_path / "r.xlsx", [("说明", [["本表由网格员填写"], ["联系人：王"]], None)])
    with pytest.raises(RegisterFileError, match="说明"):
        read_register(path, "r.xlsx")


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(RegisterFileError, match="空"):
        read_register(empty, "empty.csv")
    header_only = tmp_path / "h.csv"
    header_only.write_text("姓名,公民身份号码\n", encoding="utf-8")
    with pytest.raises(RegisterFileError, match="只有表头"):
        read_register(header_only, "h.csv")


def test_password_protected_xlsx_xls_and_et(tmp_path):
    cfb = bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 600
    for name, message in (("locked.xlsx", "密码"), ("old.xls", "另存为 .xlsx"), ("wps.et", "另存为 .xlsx")):
        path = tmp_path / name
        path.write_bytes(cfb)
        with pytest.raises(RegisterFileError, match=message):
            read_register(path, name)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_encodings(tmp_path, encoding):
    path = tmp_path / "r.csv"
    path.write_bytes(f"姓名,公民身份号码\n张三,{VALID_ID}\n".encode(encoding))
    assert read_register(path, "r.csv")[0].rows[0][1] == ["张三", VALID_ID]


def test_csv_with_mixed_encodings_names_the_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("姓名,公民身份号码\n张三,1\n".encode() + "李四,2\n".encode("gbk"))
    with pytest.raises(RegisterFileError, match="第3行"):
        read_register(path, "r.csv")


def test_size_limit_is_stated_before_reading(settings):
    settings.FANGKONG_IMPORT_MAX_MB = 150
    with pytest.raises(RegisterFileError, match="150 MB"):
        check_size(200 * 1024 * 1024)


def test_other_file_types_are_refused(tmp_path):
    path = tmp_path / "r.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(RegisterFileError, match="xlsx"):
        read_register(path, "r.pdf")
