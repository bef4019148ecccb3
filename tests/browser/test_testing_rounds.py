"""Mass-testing rounds and key-group schedules in a real browser: HQ starts a township round and watches the
coverage per grid; the grid worker on a phone accounts for people not yet sampled (卧床 makes a home-sampling
task); HQ imports a key-group roster, sees its coverage and the overdue list, and creates overdue tasks."""

import re
import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from stdnum.cn import ric

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
NAMES = ["韩递一", "杨递二", "朱递三"]


def resident_id(i: int) -> str:
    """A valid resident ID (checksum computed) no other browser test uses: born 1961-1963."""
    body = f"370923{1961 + i}0{i + 3}21{300 + i * 2:03d}"
    return body + ric.calc_check_digit(body + "0")


def _db(demo_var_dir):
    return sqlite3.connect(demo_var_dir / "fangkong.sqlite3", timeout=30)


def _township(demo_var_dir, code: str) -> tuple[str, str]:
    """The township (乡镇) above the area CODE: (code, name)."""
    with _db(demo_var_dir) as db:
        while True:
            parent, level, name = db.execute(
                "SELECT parent_id, level, name FROM areas_area WHERE code = ?", (code,)).fetchone()
            if level == "township":
                return code, name
            assert parent, f"no township above {code}"
            code = parent


def _token(page, demo_accounts) -> str:
    response = page.request.post("/api/v1/auth/token", data={
        "username": "admin", "password": demo_accounts["admin"]["password"]})
    assert response.ok, response.text()
    return response.json()["token"]


def test_township_round_coverage_and_exemptions(browser_context_factory, login, demo_accounts, demo_var_dir, shot):
    grid_code = demo_accounts["grid1"]["area_code"]
    township_code, township_name = _township(demo_var_dir, grid_code)

    # HQ starts a round for grid1's township from the start form.
    hq = login(browser_context_factory(), "admin")
    hq.goto("/testing/rounds/")
    form = hq.get_by_test_id("round-form")
    form.locator("select[name=area]").select_option(township_code)
    form.locator("input[name=hours]").fill("24")
    with hq.expect_navigation():
        hq.get_by_test_id("round-start").click()
    assert re.search(r"/testing/rounds/\d+/$", hq.url), (hq.url, hq.locator(".alert, .invalid-feedback").all_inner_texts())
    round_url = hq.url
    assert township_name in hq.locator("main").inner_text()
    grids = hq.get_by_test_id("coverage-grid").locator("tbody tr")
    assert grids.count() >= 2
    assert int(hq.get_by_test_id("stat-residents").inner_text()) > 0
    assert hq.get_by_test_id("total-progress").inner_text().endswith("%")
    row = hq.get_by_test_id("coverage-grid").locator(f"tbody tr[data-key='{grid_code}']")
    assert row.locator(".progress-bar").count() == 1
    residents = int(row.locator("td").nth(1).inner_text())
    assert residents > 2

    # The grid worker on a phone: the not-yet-sampled list; one bedridden, one away.
    worker = login(browser_context_factory(**PHONE), "grid1")
    worker.goto(round_url)
    worker.get_by_test_id("link-missing").click()
    worker.get_by_test_id("missing-list").wait_for()
    assert int(worker.get_by_test_id("missing-count").inner_text()) == residents
    items = worker.get_by_test_id("missing-list").locator(".list-group-item")
    bedridden = items.nth(0).locator(".fw-bold").inner_text().strip()
    with worker.expect_navigation():
        items.nth(0).get_by_test_id("exempt-bedridden").click()
    assert "已生成上门采样任务" in worker.locator(".alert-success").inner_text()
    away = items.nth(0).locator(".fw-bold").inner_text().strip()
    assert away != bedridden
    with worker.expect_navigation():
        items.nth(0).get_by_test_id("exempt-away").click()
    assert int(worker.get_by_test_id("missing-count").inner_text()) == residents - 2
    shot(worker, "testing-round-missing")

    # The round page counts them as exempted (说明): in grid1's row and among the reasons.
    hq.goto(round_url)
    row = hq.get_by_test_id("coverage-grid").locator(f"tbody tr[data-key='{grid_code}']")
    cells = row.locator("td").all_inner_texts()
    assert cells[3].strip() == "2", cells
    assert int(cells[4]) == residents - 2, cells
    live = hq.locator("#round-live").inner_text()
    assert "卧床（上门采样） 1" in live and "外出 1" in live, live
    shot(hq, "testing-round")

    # The home-sampling task in grid1's inbox.
    worker.goto("/tasks/")
    tasks = worker.get_by_test_id("inbox").inner_text()
    assert f"上门采样：{bedridden}" in tasks, tasks
    assert f"上门采样：{away}" not in tasks


def test_keygroup_roster_coverage_and_overdue_tasks(browser_context_factory, login, demo_accounts, demo_var_dir,
                                                   tmp_path, shot):
    grid_code = demo_accounts["grid1"]["area_code"]
    _code, township_name = _township(demo_var_dir, grid_code)
    hq = login(browser_context_factory(), "admin")
    token = _token(hq, demo_accounts)
    people = []
    for i, name in enumerate(NAMES):
        response = hq.request.post("/api/v1/people", headers={"Authorization": f"Bearer {token}"}, data={
            "name": name, "document_number": resident_id(i), "area": grid_code, "address": "快递测试路2号"})
        assert response.status == 201, response.text()
        people.append({"id": response.json()["id"], "name": name, "number": resident_id(i)})

    # The groups; 快递外卖人员; its roster import.
    hq.goto("/testing/key-groups/")
    hq.get_by_test_id("keygroup-courier").locator("a", has_text="快递外卖人员").click()
    hq.get_by_test_id("coverage").wait_for()
    group_url = hq.url
    members_before = int(hq.get_by_test_id("total-members").inner_text())
    hq.get_by_test_id("link-import").click()
    roster = tmp_path / "快递外卖人员名单.csv"
    rows = [f"{p['number']},{p['name']},县城配送站,{township_name}" for p in people[:2]]
    rows.append(f"{people[2]['number']},{people[2]['name']},同城外卖,")
    roster.write_text("身份证号,姓名,工作单位,所在乡镇\n" + "\n".join(rows) + "\n", encoding="utf-8-sig")
    form = hq.get_by_test_id("roster-import").locator("form")
    form.locator("input[name=file]").set_input_files(str(roster))
    with hq.expect_navigation():
        form.locator("[type=submit]").click()
    assert hq.url.split("?")[0] == group_url, (hq.url, hq.locator(".alert, .invalid-feedback").all_inner_texts())
    assert "新增 3 人" in hq.locator(".alert-success").inner_text()
    assert int(hq.get_by_test_id("total-members").inner_text()) == members_before + 3
    assert int(hq.get_by_test_id("total-due-today").inner_text()) >= 3  # never sampled: due from today

    # One member overdue: next_due yesterday (the server's local date).
    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)).isoformat()
    with _db(demo_var_dir) as db:
        changed = db.execute(
            "UPDATE testing_rosterentry SET next_due = ? WHERE person_id = ? AND group_id = "
            "(SELECT id FROM people_keygroup WHERE name = ?)", (yesterday, people[0]["id"], "快递外卖人员")).rowcount
    assert changed == 1

    hq.get_by_test_id("tab-township").click()
    hq.wait_for_url(re.compile(r"by=township"))
    coverage = hq.get_by_test_id("coverage").locator("tbody").inner_text()
    assert township_name in coverage, coverage
    assert int(hq.get_by_test_id("total-overdue").inner_text()) >= 1
    overdue = hq.get_by_test_id("overdue-list").locator("tbody tr")
    mine = overdue.filter(has_text="县城配送站")
    assert mine.count() == 1 and mine.locator("td").last.inner_text().strip() == "1", overdue.all_inner_texts()
    assert people[0]["name"] not in hq.get_by_test_id("overdue-list").inner_text()  # masked
    hq.get_by_test_id("tab-department").click()
    hq.wait_for_url(re.compile(r"by=department"))
    assert hq.get_by_test_id("coverage").locator("tbody tr").count() >= 1

    with hq.expect_navigation():
        hq.get_by_test_id("overdue-tasks").click()
    assert "督促任务" in hq.locator(".alert-success").inner_text()
    shot(hq, "testing-keygroup")
