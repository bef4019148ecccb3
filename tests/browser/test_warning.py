"""Sentinels and early warning in a real browser (issue 9's "done when"): a pharmacy at phone width registers
a four-class sale; the buyer's grid worker has the test task; an untested buyer has raised a signal; a jump in
fever-clinic visits in one township raises a statistical alert that the epidemiologist verifies and responds
to, with tasks; the board shows the township on the map and the series with its threshold."""

import re
import sqlite3
import subprocess
import sys

import pytest
from stdnum.cn import ric

from tests.browser.conftest import ROOT, _server_env

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def _db(demo_var_dir):
    return sqlite3.connect(demo_var_dir / "fangkong.sqlite3", timeout=30)


def _token(page, demo_accounts, username: str) -> str:
    response = page.request.post("/api/v1/auth/token", data={
        "username": username, "password": demo_accounts[username]["password"]})
    assert response.ok, response.text()
    return response.json()["token"]


def test_pharmacy_sale_buyer_task_cluster_alert_and_board(browser_context_factory, login, demo_accounts,
                                                          demo_var_dir, shot):
    grid_code = demo_accounts["grid1"]["area_code"]
    with _db(demo_var_dir) as db:
        pharmacy = db.execute("""SELECT s.id FROM sentinels_sentinel s JOIN sentinels_sentinel_reporters r
                                 ON r.sentinel_id = s.id JOIN accounts_user u ON u.id = r.user_id
                                 WHERE s.kind = 'pharmacy' AND u.username = 'clinic'""").fetchone()[0]
        fever_clinic, township = db.execute("SELECT id, substr(area_id, 1, 9) || '000' FROM sentinels_sentinel "
                                            "WHERE kind = 'fever_clinic' ORDER BY id LIMIT 1").fetchone()

    # A resident of grid1, registered by the grid worker (so the sale's ID number finds them).
    worker = login(browser_context_factory(), "grid1")
    body = "370923" + "19700304" + "617"
    document = body + ric.calc_check_digit(body + "0")
    headers = {"Authorization": f"Bearer {_token(worker, demo_accounts, 'grid1')}"}
    created = worker.request.post("/api/v1/people", headers=headers, data={
        "name": "严购药", "document_number": document, "phone": "13905340617", "area": grid_code})
    assert created.status in (201, 409), created.text()

    # The pharmacy, on a phone: a four-class sale (antipyretic), the buyer has a fever.
    shop = login(browser_context_factory(**PHONE), "clinic")
    shop.goto(f"/sentinels/{pharmacy}/sale/")
    form = shop.get_by_test_id("sale-form")
    form.get_by_test_id("buyer-name").fill("严购药")
    form.get_by_test_id("document-number").fill(document)
    form.get_by_test_id("phone").fill("13905340617")
    form.get_by_test_id("address").fill("城东街道翠园社区 3 号楼")
    form.locator("label", has_text="发热").first.click()
    product = form.get_by_test_id("drug-product").first
    ibuprofen = product.locator("option", has_text="布洛芬").first.get_attribute("value")
    product.select_option(ibuprofen)
    shot(shop, "sentinels-sale")
    with shop.expect_navigation():
        shop.get_by_test_id("sale-submit").click()
    assert "严" in shop.get_by_test_id("today-sales").inner_text()

    # The buyer's grid worker has the test task (the name masked in the title).
    worker.goto("/tasks/")
    assert "购药" in worker.locator("main").inner_text()

    # An untested buyer (the demo's, three days ago) has raised a signal; HQ sees it in the signal list.
    hq = login(browser_context_factory(), "admin")
    hq.goto("/warning/signals/")
    assert "未按时检测" in hq.locator("main").inner_text() or "未检测" in hq.locator("main").inner_text()

    # A cluster: today's fever-clinic visits jump far above the weekly rhythm; the daily detection runs.
    token = _token(hq, demo_accounts, "admin")
    report = hq.request.post("/api/v1/sentinel-reports", headers={"Authorization": f"Bearer {token}"},
                             data={"sentinel": fever_clinic, "kind": "daily_count", "visits": 160, "positives": 3})
    assert report.status in (200, 201), report.text()
    result = subprocess.run([sys.executable, "-m", "fangkong.cli", "detect_alerts"], cwd=ROOT,
                            env=_server_env(demo_var_dir), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    with _db(demo_var_dir) as db:
        alert_id = db.execute("SELECT id FROM warning_alert WHERE source = 'detector' AND signal_type = "
                              "'fever_clinic_visits' AND area_id = ? ORDER BY id DESC LIMIT 1", (township,)).fetchone()
    assert alert_id, result.stdout

    # The epidemiologist verifies it as a true signal and responds with tasks.
    epi = login(browser_context_factory(), "epi")
    epi.goto(f"/warning/alerts/{alert_id[0]}/")
    shot(epi, "warning-alert")
    verify = epi.get_by_test_id("verify-form")
    verify.locator("input[name=verdict][value=true]").check()
    verify.locator("textarea[name=reason]").fill("发热门诊就诊数骤增，核实为真实聚集。")
    with epi.expect_navigation():
        epi.get_by_test_id("verify-submit").click()
    respond = epi.get_by_test_id("respond-form")
    respond.locator("input[name=actions]").first.check()
    respond.locator("textarea[name=note]").fill("排查近 3 日就诊者，开展核酸检测。")
    with epi.expect_navigation():
        epi.get_by_test_id("respond-submit").click()
    assert epi.get_by_test_id("alert-status").inner_text().strip() == "已处置"

    # The board: the township coloured on the offline map, the series with its threshold.
    hq.goto("/warning/board/")
    hq.get_by_test_id("warning-map").locator("canvas").first.wait_for()
    rows = hq.get_by_test_id("board-townships").inner_text()
    assert re.search(r"\t1\t", rows) or "1" in rows
    hq.get_by_test_id("series-chart").locator("canvas").first.wait_for()
    hq.get_by_test_id("series-note").filter(has_text=re.compile(".+")).wait_for()
    shot(hq, "warning-board")
