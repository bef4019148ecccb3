"""Places in a real browser (issue 5's "done when"): the QR decoded from a printed poster PDF opens the
scan page on a phone; a person with no measure sees green, a person under isolation sees red and a
signal is recorded; the door keeper's screen is live."""

import json
import re
import sqlite3
from datetime import timedelta

import pytest
from django.utils import timezone
from stdnum.cn import ric

pypdfium2 = pytest.importorskip("pypdfium2")
zxingcpp = pytest.importorskip("zxingcpp")

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def resident_id(serial: int) -> str:
    body = f"3709231988{serial % 12 + 1:02d}20{serial % 100:02d}3"
    return body + ric.calc_check_digit(body + "0")


def qr_of_pdf(data: bytes) -> str:
    page = pypdfium2.PdfDocument(data)[0]
    found = zxingcpp.read_barcodes(page.render(scale=2).to_pil())
    assert found, "no QR code on the poster"
    return found[0].text


def scan_as(browser_context_factory, url: str, *, name: str, number: str, phone: str):
    page = browser_context_factory(**PHONE)
    page.goto(url)
    page.fill("#fk-name", name)
    page.fill("#fk-doc", number)
    page.fill("#fk-phone", phone)
    page.get_by_role("button", name="登记并扫码").click()
    status = page.get_by_test_id("scan-status")
    status.wait_for(state="visible")
    return page, status


def test_poster_qr_to_green_and_red_scans(browser_context_factory, login, live_server_url, demo_var_dir, shot):
    hq = login(browser_context_factory(), "admin")
    hq.goto(f"{live_server_url}/venues/")
    hq.locator("table tbody a").first.click()
    venue_name = hq.locator("h1").first.inner_text().split()[0]
    shot(hq, "venue-detail")
    pdf = hq.request.get(hq.url.split("?")[0].rstrip("/") + "/poster.pdf")
    assert pdf.ok and pdf.body()[:4] == b"%PDF"
    url = qr_of_pdf(pdf.body())
    assert url.startswith(f"{live_server_url}/scan/?c=")

    page, status = scan_as(browser_context_factory, url, name="扫码测试甲", number=resident_id(1),
                           phone="13712340001")
    assert "通行" in status.inner_text() and venue_name in status.inner_text()
    first = page.locator("[data-clock]").inner_text()
    page.wait_for_timeout(1200)
    assert page.locator("[data-clock]").inner_text() != first  # a live page, not a screenshot
    shot(page, "scan-green")

    # Someone declared from a medium-risk area is under home isolation: red, and a signal.
    tomorrow = timezone.localdate() + timedelta(days=1)
    grid = json.loads((demo_var_dir / "demo-accounts.json").read_text(encoding="utf-8"))
    grid_code = next(a["area_code"] for a in grid if a["username"] == "grid1")
    body = {"name": "扫码测试乙", "document_number": resident_id(2), "phone": "13712340002",
            "origin_code": "110105", "stops": [], "transport": "train", "transport_number": "G1",
            "planned_arrival": f"{tomorrow}T10:00:00", "area": grid_code, "address": "测试地址1号",
            "companions": [], "symptoms": [], "vaccine_doses": 2}
    declared = hq.request.post(f"{live_server_url}/api/v1/public/declarations", data=json.dumps(body),
                               headers={"Content-Type": "application/json"})
    assert declared.status == 201, declared.text()
    page, status = scan_as(browser_context_factory, url, name="扫码测试乙", number=resident_id(2),
                           phone="13712340002")
    assert "禁止" in status.inner_text()
    shot(page, "scan-red")
    with sqlite3.connect(demo_var_dir / "fangkong.sqlite3") as db:
        kinds = [row[0] for row in db.execute("SELECT kind FROM warning_signal")]
    assert "scan_red" in kinds


def test_compliance_flags_the_venue_that_stopped_scanning(browser_context_factory, login, live_server_url, shot):
    hq = login(browser_context_factory(), "admin")
    hq.goto(f"{live_server_url}/venues/compliance/?flagged=on")
    badges = hq.get_by_test_id("compliance-table").locator("tbody .badge").all_inner_texts()
    assert any("无扫码" in b for b in badges), badges
    shot(hq, "compliance")
    with hq.expect_navigation():
        hq.get_by_role("button", name=re.compile("派发|生成|督查")).first.click()
    assert "任务" in hq.content()
