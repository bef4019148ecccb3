"""Arrivals in a real browser: a returnee declares on a phone, the grid worker confirms,
HQ switches the policy pack, a checkpoint registers arrivals (issue 4's "done when")."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from stdnum.cn import ric

pytestmark = pytest.mark.browser

# In the demo county, 北京市 朝阳区 is a medium-risk area in force (fangkong/demo/arrivals.py).
MEDIUM_RISK_COUNTY = ("110000", "110000", "110105")


def resident_id(serial: int) -> str:
    body = f"1101051990{serial % 12 + 1:02d}15{serial % 100:02d}1"
    return body + ric.calc_check_digit(body + "0")


def pick_place(scope, field_id: str, path) -> None:
    selects = scope.locator(f'[data-place-for="{field_id}"] select')
    for level, code in enumerate(path):
        selects.nth(level).select_option(code)


def declare(page, live_server_url, demo_accounts, *, name: str, number: str, phone: str) -> str:
    """Fill the public form at phone width as a returnee would; returns the receipt code."""
    grid = demo_accounts["grid1"]["area_code"]
    tomorrow = timezone.localdate() + timedelta(days=1)
    page.goto(f"{live_server_url}/declare/")
    page.fill("#id_name", name)
    page.fill("#id_document_number", number)
    page.fill("#id_phone", phone)
    pick_place(page, "id_origin_code", MEDIUM_RISK_COUNTY)
    pick_place(page, "id_stops-0-place_code", MEDIUM_RISK_COUNTY)
    page.fill("#id_stops-0-date_from", (tomorrow - timedelta(days=6)).isoformat())
    page.fill("#id_stops-0-date_to", (tomorrow - timedelta(days=1)).isoformat())
    page.select_option("#id_transport", "train")
    page.fill("#id_transport_number", "G1234")
    page.fill("#id_planned_arrival", f"{tomorrow.isoformat()}T10:00")
    # grid1 lies in town1's township; the page shows township → village → grid.
    page.locator("select[aria-label='乡镇（街道）']").select_option(label=demo_accounts["town1"]["area_name"])
    page.select_option("#id_area", grid[:12])
    page.select_option("#id_grid", grid)
    page.fill("#id_address", "幸福小区3号楼2单元501")
    page.get_by_role("button", name="提交申报").click()
    page.wait_for_url(re.compile(r"/declare/receipt/"))
    return page.get_by_test_id("receipt").inner_text().strip()


def test_returnee_declares_grid_worker_confirms_hq_switches_pack(browser_context_factory, login, demo_accounts,
                                                                  live_server_url, shot):
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    returnee = browser_context_factory(**phone)
    receipt = declare(returnee, live_server_url, demo_accounts, name="返乡测试人", number=resident_id(1),
                      phone="13912340001")
    body = returnee.content()
    assert "居家隔离" in body and "请直接返回目的地住所" in body
    assert "13912340001" not in body and resident_id(1) not in body
    shot(returnee, "declare-receipt")

    # The grid worker of the destination grid finds the task in the inbox and confirms the arrival.
    worker = login(browser_context_factory(**phone), "grid1")
    worker.goto(f"{live_server_url}/tasks/")
    worker.get_by_role("link", name=re.compile("入返人员落地跟进：返")).first.click()
    worker.get_by_role("link", name="查看").click()
    assert receipt in worker.content()
    shot(worker, "declaration-phone")
    worker.get_by_role("button", name="已到达", exact=True).click()
    worker.locator("#form-arrive.collapse.show").wait_for()  # the form has finished sliding open
    with worker.expect_navigation():
        worker.get_by_role("button", name="确认已到达", exact=True).click()
    assert worker.get_by_test_id("declaration-status").inner_text() == "已到达"
    today = timezone.localdate()
    assert (today + timedelta(days=13)).isoformat() in worker.get_by_test_id("order-stages").inner_text()
    detail_url = worker.url

    # HQ previews the switch to "7+3" and applies it: the planned end moves 7 days earlier.
    hq = login(browser_context_factory(), "admin")
    hq.goto(f"{live_server_url}/policy/packs/")
    hq.get_by_role("link", name=re.compile("第九版方案")).first.click()
    hq.get_by_role("link", name="预览并启用").first.click()
    preview = hq.content()
    assert "提前" in preview
    shot(hq, "pack-preview")
    hq.get_by_label(re.compile("启用事由")).fill("执行第九版防控方案")
    with hq.expect_navigation():
        hq.get_by_role("button", name=re.compile("确认启用")).click()
    assert "第九版方案" in hq.content()
    worker.goto(detail_url)
    stages = worker.get_by_test_id("order-stages").inner_text()
    assert (today + timedelta(days=6)).isoformat() in stages
    assert (today + timedelta(days=13)).isoformat() not in stages

    # Back to the default pack, so that other tests see the demo as it was.
    hq.goto(f"{live_server_url}/policy/packs/")
    hq.get_by_role("link", name=re.compile("第八版方案")).first.click()
    hq.get_by_role("link", name="预览并启用").first.click()
    hq.get_by_label(re.compile("启用事由")).fill("恢复演示默认策略")
    with hq.expect_navigation():
        hq.get_by_role("button", name=re.compile("确认启用")).click()


def test_checkpoint_checks_a_receipt_and_registers_an_arrival_on_the_spot(browser_context_factory, login,
                                                                            demo_accounts, live_server_url, shot):
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    returnee = browser_context_factory(**phone)
    receipt = declare(returnee, live_server_url, demo_accounts, name="卡点测试人", number=resident_id(2),
                      phone="13912340002")
    officer = login(browser_context_factory(**phone), "checkpoint")
    officer.goto(f"{live_server_url}/declarations/checkpoint/")
    links = officer.locator("a[href*='checkpoint=']")
    if links.count():
        links.first.click()
    # A QR scanner types the status URL; the page takes the receipt out of it.
    officer.fill("#receipt-input", f"{live_server_url}/declare/status/?receipt={receipt}")
    officer.fill("#receipt-temperature", "36.6")
    officer.locator("label[for='receipt-green']").click()
    with officer.expect_navigation():
        officer.get_by_role("button", name="登记查验").click()
    result = officer.get_by_test_id("check-result").inner_text()
    assert "查验完成" in result and receipt in result and "居家隔离" in result
    shot(officer, "checkpoint-receipt")

    officer.get_by_role("tab", name="现场登记（无报备）").click()
    form = officer.get_by_test_id("onsite-form")
    form.locator("#id_name").fill("现场登记人")
    form.locator("#id_document_number").fill(resident_id(3))
    form.locator("#id_phone").fill("13912340003")
    form.locator("#id_origin_province").select_option("370000")  # 山东省 济南市 历下区
    officer.wait_for_function("document.querySelector('#id_origin_city').options.length > 1")
    form.locator("#id_origin_city").select_option("370100")
    officer.wait_for_function("document.querySelector('#id_origin_county').options.length > 1")
    form.locator("#id_origin_county").select_option("370102")
    form.locator("#id_area").select_option(demo_accounts["grid1"]["area_code"])
    form.locator("#id_address").fill("卡点现场登记地址1号")
    form.locator("#id_transport").select_option("car")
    form.locator("#id_plate").fill("京A12345")
    form.locator("#onsite-temperature").fill("37.8")
    form.locator("label[for='onsite-green']").click()
    with officer.expect_navigation():
        form.get_by_role("button", name="登记并查验").click()
    result = officer.get_by_test_id("check-result").inner_text()
    assert "已推送乡镇" in result and "37.8" in result and "居家隔离" in result
    shot(officer, "checkpoint-onsite")
