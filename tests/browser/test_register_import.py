"""Issue 3's flow in a real browser: a township officer imports a messy register, fixes it and re-imports."""

import re
from datetime import date

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from stdnum.cn import ric

pytestmark = pytest.mark.browser

HEADERS = ["序号", "姓名", "性别", "公民身份号码", "联系电话", "居住楼栋", "单元", "门牌号", "与户主关系", "现住址"]


def resident_id(serial: int, male: bool) -> str:
    sex = (serial * 2 + (1 if male else 0)) % 10
    body = f"370923{date(1970 + serial % 40, 1 + serial % 12, 1 + serial % 27):%Y%m%d}{serial % 100:02d}{sex}"
    return body + ric.calc_check_digit(body + "0")


def messy_register(path, count=6):
    """A title row merged across, a header Excel users write, IDs as Excel leaves them."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("5号楼")
    sheet.merge_range(0, 0, 0, len(HEADERS) - 1, "城东街道常住人口信息汇总表（2022年4月）")
    for col, header in enumerate(HEADERS):
        sheet.write(1, col, header)
    for n in range(count):
        number = resident_id(900 + n, male=n % 2 == 0)
        cells = [n + 1, f"测试{'甲乙丙丁戊己庚辛'[n]}", "男" if n % 2 == 0 else "女", number,
                 13800000000.0 + 900 + n, "5号楼", "1", f"{501 + n}", "户主", "城东街道5号楼"]
        if n == 1:
            cells[3] = number.lower()                    # a lowercase x stays acceptable
        if n == 4:
            cells[3] = float(number[:15] + "000")         # Excel kept 15 digits: the ID is lost
        if n == 5:
            cells[3] = "'" + number[:-1] + ("1" if number[-1] != "1" else "2")  # a wrong check digit
        for col, value in enumerate(cells):
            if isinstance(value, float):
                sheet.write_number(n + 2, col, value)
            else:
                sheet.write_string(n + 2, col, str(value))
    book.close()
    return [resident_id(900 + n, male=n % 2 == 0) for n in range(count)]


def test_township_officer_imports_fixes_and_reimports(page, login, demo_accounts, live_server_url, tmp_path, shot):
    officer = next(a for a in demo_accounts.values() if a["role"] == "township_officer")
    login(page, officer["username"])
    numbers = messy_register(tmp_path / "register.xlsx")
    page.goto(f"{live_server_url}/people/imports/")
    page.set_input_files("input[name=file]", str(tmp_path / "register.xlsx"))
    grid = page.locator("#id_area option", has_text="网格").first.get_attribute("value")
    page.locator("#id_area").select_option(grid)
    page.get_by_role("button", name="上传").click()

    # The header "居住楼栋" is not guessed: the officer sets it to 楼栋.
    building = page.get_by_label("居住楼栋")
    assert building.input_value() == ""
    building.select_option("building")
    shot(page, "import-mapping")
    page.get_by_role("button", name="保存并预检").click()
    page.wait_for_selector("[data-testid=counts]", timeout=60_000)
    counts = page.get_by_test_id("counts").inner_text()
    assert re.search(r"新增\s*4", counts) and re.search(r"拒收\s*2", counts), counts
    rejected = page.get_by_test_id("rejected").inner_text()
    assert "000" in rejected and "校验位" in rejected
    shot(page, "import-dry-run")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("下载错误行")).click()
    report = tmp_path / "errors.xlsx"
    download.value.save_as(report)
    page.get_by_role("button", name=re.compile("确认导入")).click()
    page.wait_for_selector("text=已于", timeout=60_000)
    assert "已导入" in page.get_by_test_id("batch-status").inner_text()

    # Fix the two rows in the error report and upload it as it is.
    rows = CalamineWorkbook.from_path(str(report)).get_sheet_by_index(0).to_python()
    header = rows[0]
    id_col = header.index("公民身份号码")
    fixed = tmp_path / "fixed.xlsx"
    book = xlsxwriter.Workbook(str(fixed))
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, str(value))
    for r, row in enumerate(rows[1:], start=1):
        serial = int(float(row[header.index("序号")])) - 1
        sheet.write_string(r, id_col, numbers[serial])
    book.close()
    page.goto(f"{live_server_url}/people/imports/")
    page.set_input_files("input[name=file]", str(fixed))
    page.locator("#id_area").select_option(grid)
    page.get_by_role("button", name="上传").click()
    assert page.get_by_label("居住楼栋").input_value() == "building"  # remembered for this area
    page.get_by_role("button", name="保存并预检").click()
    page.wait_for_selector("[data-testid=counts]", timeout=60_000)
    assert re.search(r"新增\s*2", page.get_by_test_id("counts").inner_text())
    page.get_by_role("button", name=re.compile("确认导入")).click()
    page.wait_for_selector("text=已于", timeout=60_000)

    page.goto(f"{live_server_url}/people/?q=测试")
    assert page.get_by_test_id("people-table").locator("tbody tr").count() == 6
