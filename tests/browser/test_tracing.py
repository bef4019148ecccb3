"""Rapid tracing in a real browser (issue 6's "done when"): an epidemiologist turns a person into a case,
sees the trajectory, runs discovery, reviews and dispatches contacts, and the grid worker finds the task
without the case's identity; HQ proposes and publishes zones; the chain graph shows two linked cases."""

import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.browser


def _pick_person(demo_var_dir, grid_code: str) -> tuple[int, str]:
    """Someone in GRID with a household of two or more and check-ins in the last three days, not a case yet."""
    since = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(demo_var_dir / "fangkong.sqlite3") as db:
        row = db.execute(
            """SELECT p.id, p.name FROM people_person p
               WHERE p.area_id = ? AND p.merged_into_id IS NULL
                 AND p.household_id IN (SELECT household_id FROM people_person
                                        GROUP BY household_id HAVING COUNT(*) >= 2)
                 AND (SELECT COUNT(*) FROM venues_checkin c WHERE c.person_id = p.id AND c.scanned_at >= ?) >= 2
                 AND p.id NOT IN (SELECT person_id FROM tracing_case)
               ORDER BY p.id LIMIT 1""", (grid_code, since)).fetchone()
    assert row, "the demo county has nobody to turn into a case"
    return row


def test_case_to_dispatched_contacts_zones_and_chain(browser_context_factory, login, demo_accounts, demo_var_dir,
                                                     live_server_url, shot):
    grid_code = demo_accounts["grid1"]["area_code"]
    person_id, name = _pick_person(demo_var_dir, grid_code)
    epi = login(browser_context_factory(), "epi")
    epi.on("dialog", lambda dialog: dialog.accept())

    # The person page: 登记为病例.
    epi.goto(f"/people/{person_id}/")
    epi.get_by_test_id("register-case").click()
    form = epi.get_by_test_id("case-form")
    form.locator("#id_classification").select_option("confirmed")
    form.locator("#id_onset_date").fill((timezone.localdate() - timedelta(days=1)).isoformat())
    with epi.expect_navigation():
        form.locator("[type=submit]").click()
    assert re.search(r"/tracing/cases/\d+/$", epi.url), epi.url
    number = epi.get_by_test_id("case-number").inner_text().strip()
    assert number.startswith("BL")
    assert "网络直报" in epi.get_by_test_id("clocks").inner_text()
    case_url = epi.url

    # The trajectory: the check-ins of the window, on a timeline and a map.
    epi.get_by_test_id("trajectory-link").click()
    timeline = epi.get_by_test_id("timeline")
    timeline.wait_for()
    assert "扫码" in timeline.inner_text()
    epi.get_by_test_id("trajectory-map").locator("canvas").first.wait_for()
    shot(epi, "tracing-trajectory")

    # Discovery as a background job, with progress; then the contacts with their evidence.
    epi.goto(case_url)
    epi.get_by_test_id("trace-button").click()
    epi.locator("#job-status[data-status=succeeded]").wait_for(timeout=60_000)
    epi.goto(case_url + "contacts/")
    table = epi.get_by_test_id("contacts-table")
    assert "同住" in table.inner_text()
    shot(epi, "tracing-contacts")

    # Review: confirm all close contacts, then dispatch.
    with epi.expect_navigation():
        epi.get_by_test_id("bulk-confirm").locator("form:has(input[name=kind][value=close]) [type=submit]").click()
    epi.goto(case_url)
    with epi.expect_navigation():
        epi.get_by_test_id("dispatch-button").click()
    assert "推送管控措施" in epi.locator(".alert").first.inner_text()

    # The grid worker has the task: the reason in one line, never the case.
    worker = login(browser_context_factory(), "grid1")
    worker.goto("/tasks/")
    inbox = worker.locator("main").inner_text()
    assert "密切接触者管控" in inbox
    assert number not in inbox
    worker.locator("a", has_text="密切接触者管控").first.click()
    task_text = worker.locator("main").inner_text()
    assert "与病例同住" in task_text or "与病例同时段在" in task_text
    assert number not in task_text
    assert worker.request.get(f"{live_server_url}{case_url.split(live_server_url)[-1]}").status in (403, 404)

    # HQ: zones proposed from the cases, one published.
    hq = login(browser_context_factory(), "admin")
    hq.on("dialog", lambda dialog: dialog.accept())
    hq.goto("/tracing/zones/?status=proposed")
    with hq.expect_navigation():
        hq.get_by_test_id("propose-zones").click()
    hq.goto("/tracing/zones/?status=proposed")
    hq.get_by_test_id("zones-table").locator("tbody a").first.click()
    assert hq.get_by_test_id("lift-criteria").is_visible()
    with hq.expect_navigation():
        hq.get_by_test_id("publish-zone").click()
    assert "已发布" in hq.get_by_test_id("zone-status").inner_text()
    shot(hq, "tracing-zone")

    # The chain: the demo's two linked cases in one cluster, drawn as a graph.
    epi.goto("/tracing/clusters/")
    epi.get_by_test_id("cluster-table").locator("tbody a").first.click()
    epi.get_by_test_id("chain-graph").locator("canvas").first.wait_for()
    nodes = epi.get_by_test_id("chain-nodes").locator("tbody tr")
    assert nodes.count() >= 2
    assert epi.get_by_test_id("chain-edges").locator("tbody tr").count() >= 1
    shot(epi, "tracing-chain")
    epi.goto("/tracing/")
    shot(epi, "tracing-board")
