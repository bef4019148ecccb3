"""The foundation's flows in a real browser, against the demo county under gunicorn."""

import re

import pytest

from fangkong.people.identity import name_pinyin

pytestmark = pytest.mark.browser


def account(demo_accounts, role, index=0):
    matches = [a for a in demo_accounts.values() if a["role"] == role]
    return matches[index]["username"]


def test_county_admin_walks_the_area_tree_down_to_a_person(page, login, demo_accounts, shot, live_server_url):
    login(page, account(demo_accounts, "hq_admin"))
    assert "工作台" in page.title()
    population = page.get_by_test_id("stat-population").inner_text()
    assert int(population.replace(",", "")) > 1000
    shot(page, "home")
    page.get_by_role("link", name="区划网格").click()
    for _level in ("township", "village", "grid"):
        page.get_by_test_id("children").locator("tbody a").first.click()
    page.locator("table tbody a").first.click()  # a building
    page.locator("table tbody a").first.click()  # a household
    assert "家庭成员" in page.content()
    page.locator("table tbody a").first.click()  # a member
    masked = page.get_by_test_id("doc-masked").inner_text()
    assert re.fullmatch(r"\d{4}\*{10}[\dX]{4}", masked), masked
    shot(page, "person")


def test_search_by_pinyin_initials_and_id_last4(page, login, demo_accounts, shot):
    login(page, account(demo_accounts, "hq_admin"))
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/")[2] + "/people/")
    first_row = page.get_by_test_id("people-table").locator("tbody tr").first
    name = first_row.locator("td").nth(0).inner_text()
    last4 = first_row.locator("td").nth(3).inner_text()[-4:]
    _full, initials = name_pinyin(name)
    page.get_by_role("searchbox").fill(initials)
    page.get_by_role("button", name="查询").click()
    names = page.get_by_test_id("people-table").locator("tbody tr td:first-child").all_inner_texts()
    assert names and all(name_pinyin(n)[1].startswith(initials) for n in names)
    shot(page, "people-search")
    page.get_by_role("searchbox").fill(last4)
    page.get_by_role("button", name="查询").click()
    masked = page.get_by_test_id("people-table").locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert masked and all(m.endswith(last4) for m in masked)


def test_reveal_needs_a_reason_and_shows_in_the_audit_trail(browser_context_factory, login, demo_accounts,
                                                            live_server_url):
    epi_page = browser_context_factory()
    login(epi_page, account(demo_accounts, "hq_admin"))
    epi_page.goto(f"{live_server_url}/people/")
    epi_page.get_by_test_id("people-table").locator("tbody a").first.click()
    epi_page.get_by_role("button", name="查看明文").click()
    assert epi_page.get_by_test_id("revealed").count() == 0  # the browser refuses an empty reason
    epi_page.get_by_placeholder("查看事由（必填，记入审计）").fill("核实返乡人员身份")
    epi_page.get_by_role("button", name="查看明文").click()
    revealed = epi_page.get_by_test_id("revealed").inner_text()
    assert re.search(r"\d{17}[\dX]", revealed)

    auditor_page = browser_context_factory()
    login(auditor_page, account(demo_accounts, "auditor"))
    auditor_page.goto(f"{live_server_url}/audit/?action=reveal")
    assert "核实返乡人员身份" in auditor_page.get_by_test_id("audit-table").inner_text()


def test_grid_worker_on_a_phone_sees_only_their_grid_and_works_the_inbox(phone_page, login, demo_accounts, shot,
                                                                        live_server_url):
    worker = account(demo_accounts, "grid_worker")
    login(phone_page, worker)
    grid_code = demo_accounts[worker]["area_code"]
    phone_page.goto(f"{live_server_url}/tasks/")
    shot(phone_page, "phone-inbox")
    tasks = phone_page.get_by_test_id("inbox").locator("a")
    if tasks.count():
        tasks.first.click()
        phone_page.get_by_label("办理结果").fill("已电话联系并入户核实")
        phone_page.get_by_role("button", name="办结").click()
        assert "任务已办结" in phone_page.content()
    phone_page.goto(f"{live_server_url}/areas/{grid_code}/")
    assert phone_page.get_by_test_id("area-population").is_visible()
    # another grid's page is a 404 for this worker
    other = account(demo_accounts, "grid_worker", 1)
    response = phone_page.goto(f"{live_server_url}/areas/{demo_accounts[other]['area_code']}/")
    assert response.status == 404


def test_language_switch_to_english(page, login, demo_accounts, live_server_url):
    login(page, account(demo_accounts, "hq_admin"))
    with page.expect_navigation():  # choosing a language submits the form
        page.locator("select[name=language]").select_option("en")
    assert page.locator("html").get_attribute("lang") == "en"
