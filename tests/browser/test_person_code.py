"""我的个人码 in a real browser: a visitor identified at a venue opens their person code on a phone; the QR
read off the screen is what the sampling operator scans instead of an ID number; the sample is theirs."""

import sqlite3
import time

import pytest

from .test_testing import start_session, wait_queue_empty
from .test_venues import PHONE, qr_of_pdf, resident_id, scan_as

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

pytestmark = pytest.mark.browser


def qr_on_screen(page) -> str:
    import io

    picture = Image.open(io.BytesIO(page.get_by_test_id("person-code-qr").screenshot()))
    found = zxingcpp.read_barcodes(picture)
    assert found, "no QR code on the person-code page"
    return found[0].text


def test_the_person_code_on_a_phone_is_scanned_at_sampling(browser_context_factory, login, live_server_url,
                                                           demo_var_dir, shot):
    hq = login(browser_context_factory(), "admin")
    hq.goto(f"{live_server_url}/venues/")
    hq.locator("table tbody a").first.click()
    pdf = hq.request.get(hq.url.split("?")[0].rstrip("/") + "/poster.pdf")
    venue_url = qr_of_pdf(pdf.body())

    number = resident_id(77)
    phone, status = scan_as(browser_context_factory, venue_url, name="个码测试", number=number, phone="13712340077")
    assert "通行" in status.inner_text()
    phone.get_by_role("button", name="返回").click()
    phone.get_by_test_id("person-code-link").click()
    phone.get_by_test_id("person-code-qr").locator("svg").wait_for()
    assert phone.get_by_test_id("person-code-name").inner_text() == "个**试"
    shown = phone.get_by_test_id("person-code-text").inner_text()
    code = qr_on_screen(phone)
    assert code == shown and code.startswith("FKP1.")
    shot(phone, "person-code")

    # A device that never identified is told what to do, and shows no code.
    stranger = browser_context_factory(**PHONE)
    stranger.goto(f"{live_server_url}/scan/me/")
    assert "请先扫描任一场所码" in stranger.get_by_test_id("person-code-message").inner_text()
    assert stranger.get_by_test_id("person-code-qr").is_hidden()

    # The sampling operator scans the code (a scanner types what the QR holds) into a 5-in-1 tube.
    site = login(browser_context_factory(**PHONE), "site")
    start_session(site, "5")
    barcode = f"PC{int(time.time()) % 10**8:08d}"
    site.get_by_test_id("barcode-input").fill(barcode)
    site.get_by_test_id("person-input").fill(code)
    site.get_by_test_id("scan-submit").click()
    ok = site.get_by_test_id("scan-ok")
    ok.wait_for()
    assert "个**试" in ok.inner_text()
    wait_queue_empty(site)
    shot(site, "person-code-sampled")
    with sqlite3.connect(demo_var_dir / "fangkong.sqlite3") as db:
        owner = db.execute(
            "SELECT p.name FROM testing_sample s JOIN testing_tube t ON t.id = s.tube_id "
            "JOIN people_person p ON p.id = s.person_id WHERE t.barcode = ?", [barcode]).fetchone()
    assert owner == ("个码测试",)

    # A forged code is refused with what to do.
    site.get_by_test_id("person-input").fill(code[:-4] + "AAAA")
    site.get_by_test_id("scan-submit").click()
    error = site.get_by_test_id("scan-error")
    error.wait_for()
    assert "个人码无效" in error.inner_text()
