import pytest

pytestmark = pytest.mark.browser


def test_login_page_loads_in_chinese(page, live_server_url, shot):
    response = page.goto(f"{live_server_url}/accounts/login/")
    assert response.status == 200
    assert "防控" in page.title()
    assert page.locator("html").get_attribute("lang") in ("zh-hans", "zh-Hans", "zh-cn", "zh-CN")
    shot(page, "login")


def test_wrong_password_stays_on_the_login_page(page, live_server_url, demo_accounts):
    username = list(demo_accounts)[-1]  # an account the other browser tests leave alone
    page.goto(f"{live_server_url}/accounts/login/")
    form = page.locator("form:has(#id_password)")
    form.locator("input[name=username]:not([type=hidden])").fill(username)
    form.locator("input[name=password]").fill("not-the-Password-1")
    form.locator("[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/login/" in page.url
    assert page.locator(".alert-danger").count() == 1


def test_login_helper_reaches_the_workbench(page, login, demo_accounts):
    username = next(a["username"] for a in demo_accounts.values() if a["role"] == "hq_admin")
    login(page, username)
    assert "/accounts/login/" not in page.url
