"""Quarantine in a real browser, end to end under "14+7": a high-risk arrival waiting in grid1 is picked up by a
point-to-point transfer the township plans, the site acknowledges and checks them into a room, the test days
come back negative, on day 15 the order moves to home monitoring with a five-person care team who each see
the person, a missed health check raises an escalation task, the doctor records a check on a phone, and the
order is released on day 22, not a day earlier. The census and the API agree with the orders.

Days pass by running the daily job for a given date (`fangkong quarantine_day --date`), as cron would on
that morning; the test days' results are written the way a lab's upload writes them (tubes with results).
"""

import json
import re
import sqlite3
import subprocess
import sys
from datetime import date, timedelta

import pytest

from tests.browser.conftest import ROOT, _server_env

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
CARE_TEAM = ("village1", "grid1", "doctor", "police", "volunteer")


def _db(demo_var_dir):
    return sqlite3.connect(demo_var_dir / "fangkong.sqlite3", timeout=30)


def _waiting_order(demo_var_dir, grid_code: str) -> tuple[int, str, date]:
    """An active centralized order in grid1, started, with nobody at a site and no transfer yet: (id, name, start)."""
    with _db(demo_var_dir) as db:
        row = db.execute("""
            SELECT o.id, p.name, o.start_date FROM policy_controlorder o JOIN people_person p ON p.id = o.person_id
             WHERE o.status = 'active' AND o.current_stage = 'centralized' AND o.area_id LIKE ? || '%'
               AND o.start_date <= ? AND o.id NOT IN (SELECT order_id FROM quarantine_stay)
               AND o.id NOT IN (SELECT order_id FROM quarantine_transferpassenger WHERE order_id IS NOT NULL)
             ORDER BY o.id LIMIT 1""", (grid_code, date.today().isoformat())).fetchone()
    assert row, "the demo county has no high-risk arrival waiting in grid1"
    return row[0], row[1], date.fromisoformat(row[2])


def _manage(demo_var_dir, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "fangkong.cli", *args], cwd=ROOT, env=_server_env(demo_var_dir),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


LAB = """
import itertools, sys
from datetime import datetime, time
from django.utils import timezone
from fangkong.accounts.models import User
from fangkong.policy.models import ControlOrder
from fangkong.testing.models import Sample, SamplingPoint, SamplingSession, Tube
order = ControlOrder.objects.get(pk={order})
point = SamplingPoint.objects.order_by("id").first()
lab = User.objects.get(username="site")
session = SamplingSession.objects.create(point=point, area=point.area, operator=lab, pool_size=1)
for day in [d for s in order.stages for d in s["test_dates"] if "{after}" < d <= "{until}"]:
    tube = Tube.objects.create(barcode=f"QB{{order.pk}}-{{day}}", session=session, area=point.area, capacity=1,
                               result="negative", resulted_at=timezone.now())
    Sample.objects.create(tube=tube, person=order.person, area=order.person.area, client_key=f"qb-{order}-{{day}}",
                          sampled_at=timezone.make_aware(datetime.combine(datetime.fromisoformat(day), time(9))))
"""


def _lab_results(demo_var_dir, order_id: int, after: date, until: date) -> None:
    """Negative single-tube results for the order's test days after AFTER up to UNTIL."""
    _manage(demo_var_dir, "shell", "-c", LAB.format(order=order_id, after=after.isoformat(), until=until.isoformat()))


CLEAN = ("from fangkong.testing.models import Sample, Tube; "
         "Sample.objects.filter(client_key__startswith='qb-').delete(); "
         "Tube.objects.filter(barcode__startswith='QB').delete()")


@pytest.fixture(autouse=True)
def _no_future_samples_left(demo_var_dir):
    """The results written ahead of time would count in other tests' testing rounds: remove them after."""
    yield
    _manage(demo_var_dir, "shell", "-c", CLEAN)


def _order_api(page, order_id: int) -> dict:
    response = page.request.get(f"/api/v1/control-orders/{order_id}")
    assert response.ok, response.text()
    return response.json()


def test_arrival_transfer_site_home_care_and_release_under_14_plus_7(browser_context_factory, login, demo_accounts,
                                                                   demo_var_dir, shot):
    grid_code = demo_accounts["grid1"]["area_code"]
    order_id, name, start = _waiting_order(demo_var_dir, grid_code)
    day = lambda n: start + timedelta(days=n - 1)  # noqa: E731  (day 1 is the arrival)

    # The township plans the pickup to the county hotel from the order page's button.
    town = login(browser_context_factory(), "town1")
    town.goto(f"/quarantine/orders/{order_id}/")
    assert "14+7" in town.get_by_test_id("order-stages").inner_text() or "集中隔离" in town.locator("main").inner_text()
    town.goto(f"/quarantine/transfers/new/?order={order_id}")
    form = town.get_by_test_id("transfer-form")
    form.locator("select[name=kind]").select_option("to_site")
    hotel = form.locator("select[name=to_site] option", has_text="县城宾馆集中隔离点").get_attribute("value")
    form.locator("select[name=to_site]").select_option(hotel)
    form.locator("input[name=from_place]").fill("城东街道翠园社区")
    form.locator("input[name=vehicle]").fill("鲁N·12035")
    form.locator("input[name=driver]").fill("周师傅")
    form.locator("input[name=driver_phone]").fill("13905341234")
    with town.expect_navigation():
        town.get_by_test_id("transfer-submit").click()
    assert re.search(r"/quarantine/transfers/\d+/$", town.url), town.locator(".invalid-feedback, .alert").all_inner_texts()
    transfer_url = town.url
    with town.expect_navigation():
        town.get_by_test_id("depart-button").click()
    with town.expect_navigation():
        town.get_by_test_id("arrive-button").click()
    assert town.get_by_test_id("transfer-status").get_attribute("data-status") == "arrived"
    shot(town, "quarantine-transfer")

    # The site's staff, on a phone: acknowledge the handover (首接负责), then check the person into a room.
    site = login(browser_context_factory(**PHONE), "site")
    site.goto(transfer_url)
    with site.expect_navigation():
        site.get_by_test_id("acknowledge-button").click()
    assert site.get_by_test_id("transfer-status").get_attribute("data-status") == "acknowledged"
    site.goto("/quarantine/sites/")
    site.get_by_test_id("site-list").get_by_text("县城宾馆集中隔离点").first.click()
    site_url = site.url
    site.goto(site_url + "check-in/")
    search = site.get_by_test_id("check-in-search")
    search.locator("input[name=q]").fill(name)
    with site.expect_navigation():
        search.locator("[type=submit]").click()
    site.get_by_test_id(f"candidate-{order_id}").click()
    suggestions = site.get_by_test_id("suggested-rooms")
    suggestions.wait_for()
    room = suggestions.locator("[data-testid^=suggestion-]").first.get_attribute("data-testid").split("-", 1)[1]
    with site.expect_navigation():
        suggestions.locator("[data-testid^=suggestion-]").first.locator("button[type=submit]").click()
    site.goto(site_url)
    grid = site.get_by_test_id("room-grid")
    assert room in grid.inner_text()
    shot(site, "quarantine-rooms")

    # Day 14: the test days so far are negative; the site records the room's environment sample (8th edition).
    _lab_results(demo_var_dir, order_id, day(0), day(14))
    stay_link = grid.locator("a[href*='/check-out/']").first
    with _db(demo_var_dir) as db:
        stay_id = db.execute("SELECT id FROM quarantine_stay WHERE order_id = ? AND checked_out_at IS NULL",
                             (order_id,)).fetchone()[0]
    site.goto(f"/quarantine/stays/{stay_id}/check-out/")
    with site.expect_navigation():
        site.get_by_test_id("room-sample-negative").click()
    assert stay_link is not None

    # Not a day early: on day 14 the stage is still centralized; on day 15 it moves home.
    _manage(demo_var_dir, "quarantine_day", "--date", day(14).isoformat())
    hq = login(browser_context_factory(), "admin")
    assert _order_api(hq, order_id)["current_stage"] == "centralized"
    _manage(demo_var_dir, "quarantine_day", "--date", day(15).isoformat())
    detail = _order_api(hq, order_id)
    assert detail["current_stage"] == "home_monitoring", detail

    # The site checks the person out (home, by the point-to-point car), as its task asks.
    site.goto(f"/quarantine/stays/{stay_id}/check-out/")
    site.get_by_test_id("check-out-form").locator("select[name=left_to]").select_option("home")
    with site.expect_navigation():
        site.get_by_test_id("check-out-submit").click()

    # The five of the care team each see the person in their own list.
    for username in CARE_TEAM:
        member = login(browser_context_factory(**PHONE), username)
        member.goto("/quarantine/care/")
        assert name in member.get_by_test_id("care-list").inner_text(), username
        if username == "doctor":
            doctor = member
        else:
            member.context.close()
    doctor.goto(f"/quarantine/care/{order_id}/")
    assert len(doctor.get_by_test_id("care-team").locator("li, tr").all()) >= 5
    shot(doctor, "quarantine-care")

    # Day 15 ran to its end (the job was run for day 15 at 23:59): the checks were missed, the cadre has the task.
    village = login(browser_context_factory(), "village1")
    village.goto("/tasks/")
    assert "漏报" in village.locator("main").inner_text()
    village.context.close()

    # The doctor records a check on the phone; a 45 °C slip is refused as implausible.
    form = doctor.get_by_test_id("check-form")
    form.locator("input[name=temperature]").fill("45")
    with doctor.expect_navigation():
        form.locator("[type=submit]").click()
    assert "体温数值不合理" in doctor.locator("main").inner_text()
    form = doctor.get_by_test_id("check-form")
    form.locator("input[name=temperature]").fill("36.6")
    with doctor.expect_navigation():
        form.locator("[type=submit]").click()
    assert "36.6" in doctor.get_by_test_id("checks-table").inner_text(), doctor.locator("main").inner_text()[:600]

    # Release: the home test days are negative too; nothing on day 21, released on day 22.
    _lab_results(demo_var_dir, order_id, day(14), day(21))
    _manage(demo_var_dir, "quarantine_day", "--date", day(21).isoformat())
    assert _order_api(hq, order_id)["status"] == "active"
    _manage(demo_var_dir, "quarantine_day", "--date", day(22).isoformat())
    hq.goto(f"/quarantine/orders/{order_id}/")
    assert "已解除" in hq.locator("main").inner_text()
    history = hq.get_by_test_id("order-history").inner_text()
    assert "转入居家健康监测" in history and "期满解除" in history
    shot(hq, "quarantine-order")

    # The census: its numbers are the orders' (API and page).
    census = hq.request.get("/api/v1/census")
    assert census.ok, census.text()
    figures = census.json()
    with _db(demo_var_dir) as db:
        active = dict(db.execute("SELECT current_stage, COUNT(*) FROM policy_controlorder WHERE status = 'active' "
                                 "GROUP BY current_stage").fetchall())
    total = figures.get("total") or figures.get("totals")
    assert total, json.dumps(figures, ensure_ascii=False)[:500]
    for stage in ("centralized", "home_isolation", "home_monitoring"):
        assert total[stage] == active.get(stage, 0), (stage, total, active)
    hq.goto("/quarantine/census/")
    hq.get_by_test_id("census-table").wait_for()
    shot(hq, "quarantine-census")


def _switch_pack(hq, name: str) -> None:
    """HQ switches the active pack from the policy pages: preview, then confirm with a reason."""
    hq.goto("/policy/packs/")
    hq.get_by_role("link", name=re.compile(name)).first.click()
    hq.get_by_role("link", name="预览并启用").first.click()
    hq.get_by_label(re.compile("启用事由")).fill(f"执行{name}")
    with hq.expect_navigation():
        hq.get_by_role("button", name=re.compile("确认启用")).click()


def _waiting_close_contact(demo_var_dir, grid_code: str) -> tuple[int, date]:
    with _db(demo_var_dir) as db:
        row = db.execute("""
            SELECT o.id, o.start_date FROM policy_controlorder o
             WHERE o.status = 'active' AND o.category = 'close_contact' AND o.area_id LIKE ? || '%'
               AND o.start_date <= ? AND o.id NOT IN (SELECT order_id FROM quarantine_stay)
             ORDER BY o.id LIMIT 1""", (grid_code, date.today().isoformat())).fetchone()
    assert row, "the demo county has no close contact waiting in grid1"
    return row[0], date.fromisoformat(row[1])


def test_close_contact_released_on_day_11_under_7_plus_3(browser_context_factory, login, demo_accounts,
                                                         demo_var_dir, shot):
    grid_code = demo_accounts["grid1"]["area_code"]
    hq = login(browser_context_factory(), "admin")
    _switch_pack(hq, "第九版方案")
    try:
        order_id, start = _waiting_close_contact(demo_var_dir, grid_code)
        day = lambda n: start + timedelta(days=n - 1)  # noqa: E731  (day 1 is the last exposure)
        hq.goto(f"/quarantine/orders/{order_id}/")
        assert "7+3" in hq.locator("main").inner_text()
        _lab_results(demo_var_dir, order_id, day(0), day(10))
        _manage(demo_var_dir, "quarantine_day", "--date", day(7).isoformat())
        assert _order_api(hq, order_id)["current_stage"] == "centralized"
        _manage(demo_var_dir, "quarantine_day", "--date", day(8).isoformat())
        assert _order_api(hq, order_id)["current_stage"] == "home_monitoring"
        _manage(demo_var_dir, "quarantine_day", "--date", day(10).isoformat())
        assert _order_api(hq, order_id)["status"] == "active"
        _manage(demo_var_dir, "quarantine_day", "--date", day(11).isoformat())
        hq.goto(f"/quarantine/orders/{order_id}/")
        assert "已解除" in hq.locator("main").inner_text()
        assert "期满解除" in hq.get_by_test_id("order-history").inner_text()
    finally:
        _switch_pack(hq, "第八版方案")  # other tests see the demo as it was
