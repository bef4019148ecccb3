"""Testing in a real browser (issue 7's "done when"): site staff on a phone fill a 10-in-1 tube at a sampling
point; the lab uploads a result file with the tube positive; the tube shows 10 follow-ups and the grid worker
has one 单采复核 task per member; a single re-test of one member comes back positive and the epidemiologist
registers the case from the tube page."""

import re
import time
from datetime import UTC, datetime

import pytest
from stdnum.cn import ric

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
SURNAMES = "赵钱孙李周吴郑王冯陈"


def resident_id(i: int) -> str:
    """A valid resident ID (checksum computed) no other browser test uses: born 1971-1980."""
    body = f"370923{1971 + i}0{i % 9 + 1}16{500 + i * 2:03d}"
    return body + ric.calc_check_digit(body + "0")


def register_people(request, token: str, grids: list[str]) -> list[dict]:
    """Ten people with known ID numbers, five in each grid, through POST /api/v1/people as HQ."""
    people = []
    for i in range(10):
        name = f"{SURNAMES[i]}检{'一二三四五六七八九十'[i]}"
        response = request.post("/api/v1/people", headers={"Authorization": f"Bearer {token}"}, data={
            "name": name, "document_number": resident_id(i), "area": grids[i % 2], "address": "混采测试路1号"})
        assert response.status == 201, response.text()
        people.append({"id": response.json()["id"], "name": name, "number": resident_id(i), "grid": grids[i % 2]})
    return people


def scan(page, person: str, members: int) -> None:
    """Swab PERSON into the tube whose barcode is filled in; wait for the server's answer (MEMBERS in the tube)."""
    page.get_by_test_id("person-input").fill(person)
    page.get_by_test_id("scan-submit").click()
    page.locator("#tube-members li").nth(members - 1).wait_for()
    assert page.get_by_test_id("scan-error").is_hidden(), page.get_by_test_id("scan-error").inner_text()


def wait_queue_empty(page) -> None:
    session = page.locator("#sampling").get_attribute("data-session")
    page.wait_for_function("key => (localStorage.getItem(key) || '[]') === '[]'", arg=f"fk-testing-queue-{session}")


def start_session(page, pool_size: str) -> None:
    page.goto("/testing/")
    form = page.get_by_test_id("session-form")
    form.locator("select[name=point]").select_option(index=1)
    form.locator("select[name=pool_size]").select_option(pool_size)
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    assert re.search(r"/testing/sessions/\d+/$", page.url), page.url


def tube_row(page, barcode: str):
    """The row of BARCODE in the session page's list of tubes (reloaded: the server draws it) and its link."""
    page.reload()
    row = page.get_by_test_id("session-tubes").locator("li", has_text=barcode)
    return row, row.locator("a").get_attribute("href")


def upload(page, tmp_path, name: str, rows: list[tuple[str, str, str]]) -> None:
    path = tmp_path / name
    # After the sampling, as in the lab; to the millisecond, since a scan may fall in this very second.
    tested = datetime.now(UTC).isoformat(timespec="milliseconds")
    lines = ["管码,检测结果,检测时间,ORF1ab,N"] + [f"{b},{r},{tested},{o},{n}" for b, r, o, n in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.goto("/testing/results/upload/")
    form = page.get_by_test_id("upload-form")
    form.locator("input[name=file]").set_input_files(str(path))
    form.locator("input[name=lab]").fill("县第三方医学检验实验室")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    page.get_by_test_id("import-summary").wait_for()


def test_pool_to_followups_to_single_retest_to_case(browser_context_factory, login, demo_accounts, tmp_path, shot):
    grids = [demo_accounts["grid1"]["area_code"], demo_accounts["grid2"]["area_code"]]
    hq = browser_context_factory()
    token = hq.request.post("/api/v1/auth/token", data={
        "username": "admin", "password": demo_accounts["admin"]["password"]}).json()["token"]
    people = register_people(hq.request, token, grids)
    stamp = f"{int(time.time()) % 10**8:08d}"
    pool_barcode, single_barcode = f"HC{stamp}", f"DC{stamp}"

    # Site staff on a phone: a 10-in-1 session at a sampling point, one tube filled with ten people.
    site = login(browser_context_factory(**PHONE), "site")
    start_session(site, "10")
    assert "10混1" in site.locator("main").inner_text()
    site.get_by_test_id("barcode-input").fill(pool_barcode)
    for count, person in enumerate(people[:5], start=1):
        scan(site, person["number"], count)
    assert site.get_by_test_id("tube-fill").inner_text() == "5/10"
    shot(site, "testing-sampling")
    for count, person in enumerate(people[5:9], start=6):
        scan(site, person["number"], count)
    assert site.get_by_test_id("tube-fill").inner_text() == "9/10"
    site.get_by_test_id("person-input").fill(people[9]["number"])
    site.get_by_test_id("scan-submit").click()
    ok = site.get_by_test_id("scan-ok")
    ok.wait_for()
    assert "10/10" in ok.inner_text() and "已封管" in ok.inner_text()
    assert site.get_by_test_id("barcode-input").input_value() == ""  # ready for the next tube
    wait_queue_empty(site)
    assert site.get_by_test_id("scan-error").is_hidden()
    row, pool_url = tube_row(site, pool_barcode)
    assert "10/10" in row.inner_text() and "已封管" in row.inner_text()

    # The lab: a result file with the tube positive.
    lab = login(browser_context_factory(), "lab")
    upload(lab, tmp_path, "pool.csv", [(pool_barcode, "阳性", "27.5", "28.1")])
    assert lab.get_by_test_id("summary-accepted").inner_text() == "1"
    assert lab.get_by_test_id("summary-positives").inner_text() == "1"
    assert lab.get_by_test_id("summary-unmatched").inner_text() == "0"

    # The tube page: positive, ten members under 单采复核.
    epi = login(browser_context_factory(), "epi")
    epi.goto(pool_url)
    assert epi.get_by_test_id("tube-result").inner_text() == "阳性"
    followups = epi.get_by_test_id("followups").locator("li")
    assert followups.count() == 10
    assert all("待单采复核" in text for text in followups.all_inner_texts())
    shot(epi, "testing-tube-positive")

    # The grid worker: one task per member of their grid, each naming that member only.
    worker = login(browser_context_factory(), "grid1")
    worker.goto("/tasks/")
    tasks = worker.get_by_test_id("inbox").locator("a", has_text="混管阳性单采复核").all_inner_texts()
    mine = [p["name"] for p in people if p["grid"] == grids[0]]
    assert len(tasks) == len(mine) == 5, tasks
    for text in tasks:
        named = [name for name in (p["name"] for p in people) if name in text]
        assert len(named) == 1 and named[0] in mine, text
    worker.get_by_test_id("inbox").locator("a", has_text=mine[0]).click()
    assert pool_barcode in worker.locator("main").inner_text()

    # The single re-test of one member: a 1-in-1 session, the tube full at once.
    member = people[0]
    start_session(site, "1")
    site.get_by_test_id("barcode-input").fill(single_barcode)
    site.get_by_test_id("person-input").fill(member["number"])
    site.get_by_test_id("scan-submit").click()
    site.get_by_test_id("scan-ok").wait_for()
    assert "1/1" in site.get_by_test_id("scan-ok").inner_text()
    wait_queue_empty(site)
    assert site.get_by_test_id("scan-error").is_hidden()
    _row, single_url = tube_row(site, single_barcode)

    upload(lab, tmp_path, "single.csv", [(single_barcode, "阳性", "25.2", "26.0")])
    assert lab.get_by_test_id("summary-positives").inner_text() == "1"

    epi.goto(pool_url)
    statuses = epi.get_by_test_id("followups").locator("li").all_inner_texts()
    assert sum("复核阳性" in text for text in statuses) == 1
    assert any("复核阳性" in text and single_barcode in text for text in statuses)

    # The epidemiologist registers the case from the single tube.
    epi.goto(single_url)
    epi.get_by_test_id("case-prompt").wait_for()
    sampled = epi.get_by_test_id("tube-created-at").inner_text().strip()  # "Y-m-d H:i", local time
    epi.get_by_test_id("case-link").click()
    form = epi.get_by_test_id("case-form")
    form.locator("#id_classification").select_option("confirmed")
    # A confirmed case needs an onset date or a sampling time; the link from the tube does not carry it.
    form.locator("#id_sampled_at").fill(sampled.replace(" ", "T"))
    with epi.expect_navigation():
        form.locator("[type=submit]").click()
    errors = epi.locator(".invalid-feedback, .alert-danger").all_inner_texts()
    assert re.search(r"/tracing/cases/\d+/$", epi.url), (epi.url, errors)
    assert epi.get_by_test_id("case-number").inner_text().strip().startswith("BL")
    assert member["name"] in epi.locator("h1").first.inner_text()
    shot(epi, "testing-case")
