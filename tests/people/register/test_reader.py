"""Reading uploaded registers: xlsx sheets, CSV encodings and the files that cannot be read (issue 3).

The files are made in tmp_path: xlsx with xlsxwriter, CSV as bytes.
"""

from datetime import date, datetime

import pytest
import xlsxwriter
from django.test import override_settings

from fangkong.people.register import reader
from fangkong.people.register.fields import guess_mapping
from fangkong.people.register.reader import (
    CFB_MAGIC,
    RegisterFileError,
    Sheet,
    check_size,
    read_register,
)

HEADERS = ["序号", "姓名", "性别", "公民身份号码", "联系电话", "楼栋", "单元", "门牌号", "与户主关系"]
ROWS = [
    [1, "张三", "男", "370923198506151231", "13862345678", "1号楼", "1", "101", "户主"],
    [2, "李四", "女", "37092319870302124X", "13962345678", "1号楼", "1", "101", "配偶"],
]


def write_xlsx(path, sheets: dict, *, title: str | None = None):
    """SHEETS: name -> rows (the first the header), each sheet optionally under a merged title row."""
    workbook = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        start = 0
        if title and rows[0]:
            sheet.merge_range(0, 0, 0, max(len(rows[0]) - 1, 1), title)
            start = 1
        for index, row in enumerate(rows):
            sheet.write_row(start + index, 0, row)
    workbook.close()
    return path


def write_csv(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


CSV_TEXT = "姓名,性别,身份证号,联系电话,现住址\r\n张三,男,370923198506151231,13862345678,\"东平县,1号楼\"\r\n李四,女,37092319870302124X,,幸福小区\r\n"


# --- xlsx ---------------------------------------------------------------------

def test_simple_xlsx(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", {"Sheet1": [HEADERS, *ROWS]})
    [sheet] = read_register(path, "r.xlsx")
    assert sheet == Sheet(name="Sheet1", header_row=1, headers=HEADERS,
                          rows=[(2, [1.0, *ROWS[0][1:]]), (3, [2.0, *ROWS[1][1:]])])


def test_title_row_and_merged_two_row_header(tmp_path):
    path = tmp_path / "messy.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    ws = workbook.add_worksheet("幸福小区")
    ws.merge_range("A1:H1", "东平县幸福小区常住人口信息汇总表")
    ws.merge_range("A2:H2", "填报单位：东平街道  填报日期：2022年4月9日")
    # A two-row header: the single-field columns merged down, 现住址 merged across its three parts.
    for column, text in enumerate(["姓名", "性别", "身份证号", "联系电话"]):
        ws.merge_range(2, column, 3, column, text)
    ws.merge_range("E3:G3", "现住址")
    ws.write_row("E4", ["楼栋", "单元", "房号"])
    ws.merge_range("H3:H4", "与户主关系")
    ws.write_row("A5", ["张三", "男", "370923198506151231", 13862345678, "3号楼", 2, "301", "户主"])
    ws.write_row("A7", ["李四", "女", "37092319870302124X", "", "3号楼", 2, "301", "妻"])  # row 6 left empty
    workbook.close()

    [sheet] = read_register(path, "messy.xlsx")
    assert sheet.name == "幸福小区"
    assert sheet.headers == ["姓名", "性别", "身份证号", "联系电话", "楼栋", "单元", "房号", "与户主关系"]
    assert sheet.header_row == 4
    assert [number for number, _ in sheet.rows] == [5, 7]  # the file's row numbers, empty row skipped
    assert sheet.rows[0][1] == ["张三", "男", "370923198506151231", 13862345678.0, "3号楼", 2.0, "301", "户主"]
    assert list(guess_mapping(sheet.headers).values()) == [
        "name", "sex", "id_number", "phone", "building", "unit", "door", "relation"]


def test_group_row_above_the_header_is_skipped(tmp_path):
    path = tmp_path / "groups.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    ws = workbook.add_worksheet("名单")
    ws.merge_range("A1:C1", "基本信息")
    ws.merge_range("D1:E1", "居住信息")
    ws.write_row("A2", ["姓名", "性别", "身份证号", "楼栋", "门牌号"])
    ws.write_row("A3", ["张三", "男", "370923198506151231", "1号楼", "101"])
    workbook.close()
    [sheet] = read_register(path, "groups.xlsx")
    assert sheet.header_row == 2
    assert sheet.headers == ["姓名", "性别", "身份证号", "楼栋", "门牌号"]
    assert sheet.rows == [(3, ["张三", "男", "370923198506151231", "1号楼", "101"])]


def test_a_data_row_is_not_taken_for_a_second_header_row(tmp_path):
    # No name, and "租户" happens to be a header word: still data.
    path = write_xlsx(tmp_path / "r.xlsx", {"S": [["姓名", "身份证号", "与户主关系"], ["", "", "租户"],
                                                   ["张三", "370923198506151231", "户主"]]})
    [sheet] = read_register(path, "r.xlsx")
    assert sheet.headers == ["姓名", "身份证号", "与户主关系"]
    assert [n for n, _ in sheet.rows] == [2, 3]


def test_one_sheet_per_building(tmp_path):
    path = write_xlsx(tmp_path / "小区.xlsx", {
        "1号楼": [HEADERS, ROWS[0]],
        "2号楼": [HEADERS[1:5], ["王五", "男", "370923199001011234", "13700000000"],
                 ["赵六", "女", "370923199202021234", ""]],
        "空白": [[]],
    }, title="常住人口信息汇总表")
    sheets = read_register(path, "小区.xlsx")
    assert [(s.name, s.header_row, len(s.rows)) for s in sheets] == [("1号楼", 2, 1), ("2号楼", 2, 2)]
    assert sheets[1].headers == ["姓名", "性别", "公民身份号码", "联系电话"]
    assert sheets[1].rows[1] == (4, ["赵六", "女", "370923199202021234", ""])


def test_hidden_sheets_are_ignored(tmp_path):
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("名单").write_row(0, 0, ["姓名", "身份证号"])
    workbook.get_worksheet_by_name("名单").write_row(1, 0, ["张三", "370923198506151231"])
    hidden = workbook.add_worksheet("字典")
    hidden.write_row(0, 0, ["男", "女"])
    hidden.hide()
    workbook.close()
    assert [s.name for s in read_register(path, "r.xlsx")] == ["名单"]


def test_formulas_give_their_cached_values(tmp_path):
    path = tmp_path / "f.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    ws = workbook.add_worksheet("S")
    ws.write_row(0, 0, ["姓名", "身份证号", "出生日期", "现住址"])
    ws.write_formula("A2", '="张"&"三"', None, "张三")
    ws.write_formula("B2", '=TEXT(370923198506151231,"0")', None, "370923198506151231")
    ws.write_formula("C2", "=DATE(1985,6,15)", workbook.add_format({"num_format": "yyyy-mm-dd"}), 31213)
    ws.write_formula("D2", '=A2&"家"')  # never calculated: no cached value
    workbook.close()
    [sheet] = read_register(path, "f.xlsx")
    name, number, birth, address = sheet.rows[0][1]
    assert (name, number) == ("张三", "370923198506151231")
    assert birth == date(1985, 6, 15)  # a date-formatted cell comes back as a date
    assert address in ("", 0, 0.0)


def test_rows_are_padded_and_truncated_to_the_header(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", {"S": [["姓名", "身份证号", "电话"], ["张三"],
                                                   ["李四", "1", "2", "多出来的", "列"]]})
    [sheet] = read_register(path, "r.xlsx")
    assert [values for _n, values in sheet.rows] == [["张三", "", ""], ["李四", "1", "2"]]


def test_date_cells_stay_dates(tmp_path):
    path = tmp_path / "d.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    ws = workbook.add_worksheet("S")
    ws.write_row(0, 0, ["姓名", "出生日期"])
    ws.write("A2", "张三")
    ws.write_datetime("B2", datetime(1985, 6, 15), workbook.add_format({"num_format": "yyyy年m月d日"}))
    workbook.close()
    [sheet] = read_register(path, "d.xlsx")
    assert sheet.rows[0][1][1] in (date(1985, 6, 15), datetime(1985, 6, 15))


def test_sheet_without_header_names_the_sheet(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", {"1号楼": [HEADERS, ROWS[0]], "填表说明": [["请按要求填写"], ["身份证号填18位"]]})
    with pytest.raises(RegisterFileError, match="工作表“填表说明”找不到表头"):
        read_register(path, "r.xlsx")


def test_header_beyond_row_20_is_not_found(tmp_path):
    rows = [["说明"]] * 20 + [["姓名", "身份证号"], ["张三", "370923198506151231"]]
    path = write_xlsx(tmp_path / "r.xlsx", {"名单": rows})
    with pytest.raises(RegisterFileError, match="名单"):
        read_register(path, "r.xlsx")


def test_header_only_xlsx(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", {"1号楼": [HEADERS], "2号楼": [HEADERS]}, title="汇总表")
    with pytest.raises(RegisterFileError, match="只有表头，没有数据行"):
        read_register(path, "r.xlsx")


def test_empty_xlsx(tmp_path):
    path = tmp_path / "empty.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Sheet1")
    workbook.close()
    with pytest.raises(RegisterFileError, match="文件是空的"):
        read_register(path, "empty.xlsx")


def test_damaged_xlsx(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(RegisterFileError, match="无法读取 Excel 文件"):
        read_register(path, "bad.xlsx")


def test_csv_renamed_to_xlsx(tmp_path):
    path = write_csv(tmp_path / "r.xlsx", CSV_TEXT)
    with pytest.raises(RegisterFileError, match="不是有效的 .xlsx 文件"):
        read_register(path, "r.xlsx")


# --- files that are not xlsx --------------------------------------------------

def cfb_file(path, *streams: str):
    """A file with the Compound File (OLE2) signature, as .xls, .et and encrypted .xlsx files have."""
    body = CFB_MAGIC + b"\0" * 504 + b"".join(name.encode("utf-16-le") + b"\0" * 64 for name in streams)
    path.write_bytes(body + b"\0" * (4096 - len(body) % 4096))
    return path


def test_password_protected_xlsx(tmp_path):
    path = cfb_file(tmp_path / "加密.xlsx", "EncryptionInfo", "EncryptedPackage")
    with pytest.raises(RegisterFileError, match="文件设置了打开密码") as err:
        read_register(path, "加密.xlsx")
    assert "另存为 .xlsx" in str(err.value)


def test_cfb_file_named_xlsx_without_encryption_streams(tmp_path):
    path = cfb_file(tmp_path / "r.xlsx")
    with pytest.raises(RegisterFileError, match="打开密码"):
        read_register(path, "r.xlsx")


@pytest.mark.parametrize("name", ["登记表.xls", "登记表.et", "登记表.XLS"])
def test_old_excel_and_wps_files(tmp_path, name):
    path = cfb_file(tmp_path / name, "Workbook")
    with pytest.raises(RegisterFileError, match="请用 Excel 或 WPS 打开，“另存为” Excel 工作簿（.xlsx）后上传"):
        read_register(path, name)


def test_xls_that_is_really_html(tmp_path):
    path = write_csv(tmp_path / "export.xls", "<html><table><tr><td>姓名</td></tr></table></html>")
    with pytest.raises(RegisterFileError, match=r"\.xlsx"):
        read_register(path, "export.xls")


@pytest.mark.parametrize("name", ["r.pdf", "r.docx", "r", "r.json"])
def test_other_types_list_the_supported_ones(tmp_path, name):
    path = write_csv(tmp_path / "upload", CSV_TEXT)
    with pytest.raises(RegisterFileError, match="只支持") as err:
        read_register(path, name)
    assert ".xlsx" in str(err.value) and ".csv" in str(err.value)


# --- csv ----------------------------------------------------------------------

EXPECTED_CSV_ROWS = [
    (2, ["张三", "男", "370923198506151231", "13862345678", "东平县,1号楼"]),
    (3, ["李四", "女", "37092319870302124X", "", "幸福小区"]),
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings(tmp_path, encoding):
    path = write_csv(tmp_path / "r.csv", CSV_TEXT, encoding)
    [sheet] = read_register(path, "r.csv")
    assert sheet.name == ""
    assert sheet.header_row == 1
    assert sheet.headers == ["姓名", "性别", "身份证号", "联系电话", "现住址"]
    assert sheet.rows == EXPECTED_CSV_ROWS


def test_gb18030_only_characters(tmp_path):
    # 䶮 (CJK extension A) is not in GBK; 䶮 and 𠀀 are in GB18030.
    path = write_csv(tmp_path / "r.csv", "姓名,身份证号\n刘䶮,370923198506151231\n𠀀,\n", "gb18030")
    [sheet] = read_register(path, "r.csv")
    assert [values[0] for _n, values in sheet.rows] == ["刘䶮", "𠀀"]


def test_tab_separated_text(tmp_path):
    path = write_csv(tmp_path / "r.txt", CSV_TEXT.replace(",", "\t").replace('"东平县\t1号楼"', "东平县,1号楼"),
                     "utf-16")
    [sheet] = read_register(path, "r.txt")
    assert sheet.rows == EXPECTED_CSV_ROWS


def test_csv_quoted_line_break_keeps_the_file_line_numbers(tmp_path):
    text = '姓名,身份证号,现住址\n张三,370923198506151231,"幸福小区\n1号楼"\n李四,37092319870302124X,x\n'
    [sheet] = read_register(write_csv(tmp_path / "r.csv", text), "r.csv")
    assert sheet.rows == [(2, ["张三", "370923198506151231", "幸福小区\n1号楼"]),
                          (4, ["李四", "37092319870302124X", "x"])]


def test_csv_with_a_title_line_and_blank_lines(tmp_path):
    text = "常住人口信息汇总表,,,\n,,,\n姓名,性别,身份证号,\n,,,\n张三,男,370923198506151231,\n"
    [sheet] = read_register(write_csv(tmp_path / "r.csv", text, "gbk"), "r.csv")
    assert (sheet.header_row, sheet.headers) == (3, ["姓名", "性别", "身份证号"])
    assert sheet.rows == [(5, ["张三", "男", "370923198506151231"])]


def test_csv_with_mixed_encodings_names_the_line(tmp_path):
    data = ("姓名,身份证号\n张三,370923198506151231\n".encode() + "李四,37092319870302124X\n".encode("gbk")
            + "王五,\n".encode())
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    with pytest.raises(RegisterFileError, match="混用") as err:
        read_register(path, "mixed.csv")
    assert "第3行" in str(err.value)


def test_csv_with_mixed_encodings_gbk_first(tmp_path):
    # A BOM, then GBK lines, then a line pasted in from a UTF-8 file.
    data = b"\xef\xbb\xbf" + "姓名,身份证号\n张三,1\n".encode("gbk") + "\n李四,2\n".encode()
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    with pytest.raises(RegisterFileError, match="第4行是 UTF-8，而第1行是 GBK"):
        read_register(path, "mixed.csv")


def test_empty_csv(tmp_path):
    for content in (b"", b"\r\n\r\n", b",,,\n,,\n", b"\xef\xbb\xbf"):
        path = tmp_path / "empty.csv"
        path.write_bytes(content)
        with pytest.raises(RegisterFileError, match="文件是空的"):
            read_register(path, "empty.csv")


def test_header_only_csv(tmp_path):
    path = write_csv(tmp_path / "h.csv", "姓名,性别,身份证号\r\n,,\r\n", "utf-8-sig")
    with pytest.raises(RegisterFileError, match="只有表头，没有数据行"):
        read_register(path, "h.csv")


def test_csv_without_header(tmp_path):
    path = write_csv(tmp_path / "r.csv", "张三,370923198506151231\n")
    with pytest.raises(RegisterFileError, match="找不到表头"):
        read_register(path, "r.csv")


def test_csv_with_nul_bytes(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("姓名,身份证号\n张三,1\0\n".encode())
    try:
        [sheet] = read_register(path, "r.csv")  # Python >= 3.13's csv reads NUL
    except RegisterFileError as exc:
        assert "第2行" in str(exc)
    else:
        assert sheet.rows[0][1][0] == "张三"


# --- size ---------------------------------------------------------------------

def test_size_limit_default_is_150_mb():
    check_size(150 * 1024 * 1024)
    with pytest.raises(RegisterFileError, match="文件超过 150 MB 上限") as err:
        check_size(200 * 1024 * 1024)
    assert "200 MB" in str(err.value)
    assert reader.MAX_BYTES == 150 * 1024 * 1024


def test_size_limit_follows_the_setting(tmp_path):
    path = write_csv(tmp_path / "r.csv", CSV_TEXT + "x" * (1024 * 1024))
    with override_settings(FANGKONG_IMPORT_MAX_MB=1):
        assert reader.MAX_BYTES == 1024 * 1024
        with pytest.raises(RegisterFileError, match="文件超过 1 MB 上限"):
            read_register(path, "r.csv")


def test_size_zero_is_empty():
    with pytest.raises(RegisterFileError, match="文件是空的"):
        check_size(0)


def test_gbk_lines_that_happen_to_be_valid_utf8_are_not_mixed(tmp_path):
    # About 1 GBK line in 10,000 is also valid UTF-8 (it decodes to Greek or
    # Cyrillic letters): a big GBK register must not be refused as mixed.
    accidental = "ɺթ,ת,Ρѽ".encode().decode("gbk")  # GBK text whose bytes are valid UTF-8
    text = f"姓名,性别,身份证号,现住址\n张三,男,370923198506151231,幸福小区\n{accidental},,\n李四,女,,\n"
    data = text.encode("gbk")
    data.split(b"\n")[2].decode("utf-8")  # really valid UTF-8
    [sheet] = read_register(write_csv(tmp_path / "r.csv", text, "gbk"), "r.csv")
    assert [values[0] for _n, values in sheet.rows] == ["张三", accidental.split(",")[0], "李四"]
