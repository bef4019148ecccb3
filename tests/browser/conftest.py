"""Browser tests: Debian's chromium, driven by Playwright, against the demo county under gunicorn.

The server is real: ``fangkong demo --no-serve`` builds a small county in a
temporary FANGKONG_VAR_DIR (SQLite), then gunicorn serves it on a free port
of 127.0.0.1. Playwright's own browser download is never used.

Fixtures: ``live_server_url``, ``demo_accounts`` (by username), ``browser``,
``page`` (desktop), ``phone_page`` (390x844, mobile), ``browser_context_factory``
(a fresh page in a fresh context, for two users at once), ``login(page,
username)`` and ``shot(page, name)`` (./screenshots/<name>.png).
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FANGKONG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DEMO_PEOPLE = 2000
DEMO_SEED = 7
SCREENSHOTS = ROOT / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(var_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FANGKONG_DATA_KEY", "FANGKONG_DATA_KEY_FILE", "DJANGO_SETTINGS_MODULE")}
    env.update(FANGKONG_VAR_DIR=str(var_dir), FANGKONG_DEMO="1", PYTHONUNBUFFERED="1",
               FANGKONG_LOGIN_RATE_PER_MINUTE="1000")
    return env


def _wait_until_up(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def demo_var_dir(tmp_path_factory) -> Path:
    """A temporary var/ holding the demo county: SQLite database, data key, demo-accounts.json."""
    var_dir = tmp_path_factory.mktemp("fangkong-var")
    result = subprocess.run(
        [sys.executable, "-m", "fangkong.cli", "demo", "--no-serve",
         "--people", str(DEMO_PEOPLE), "--seed", str(DEMO_SEED)],
        cwd=ROOT, env=_server_env(var_dir), capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0:
        raise RuntimeError(f"fangkong demo failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return var_dir


@pytest.fixture(scope="session")
def live_server_url(demo_var_dir):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = demo_var_dir / "gunicorn.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = _server_env(demo_var_dir)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(gunicorn), "fangkong.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2",
             "--timeout", "120", "--access-logfile", "-"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        # Imports and exports run as background jobs: the worker the demo runs beside the server.
        worker = subprocess.Popen(
            [sys.executable, "-m", "fangkong.cli", "db_worker", "--interval", "0.2", "--no-startup-delay",
             "--no-reload"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(url, server, log)
        yield url
    finally:
        for process in (server, worker):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def demo_accounts(demo_var_dir) -> dict:
    accounts = json.loads((demo_var_dir / "demo-accounts.json").read_text(encoding="utf-8"))
    return {account["username"]: account for account in accounts}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_context_factory(browser, live_server_url):
    """new_page(**context_options): a page in a fresh context (own cookies), closed after the test."""
    contexts = []

    def new_page(**options):
        options = {"locale": "zh-CN", "viewport": DESKTOP, "base_url": live_server_url, **options}
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(browser_context_factory):
    return browser_context_factory()


@pytest.fixture
def phone_page(browser_context_factory):
    return browser_context_factory(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


@pytest.fixture
def login(live_server_url, demo_accounts):
    """login(page, username): sign in through the login form with the demo password."""

    def do_login(page, username: str):
        page.goto(f"{live_server_url}/accounts/login/")
        form = page.locator("form:has(#id_password)")
        form.locator("input[name=username]:not([type=hidden])").fill(username)
        form.locator("input[name=password]").fill(demo_accounts[username]["password"])
        with page.expect_navigation():
            form.locator("[type=submit]").click()
        if "/accounts/login/" in page.url:
            raise AssertionError(f"login as {username} failed: {page.locator('.alert').all_inner_texts()}")
        return page

    return do_login


def save_screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def shot():
    """shot(page, name): save a full-page screenshot to ./screenshots/<name>.png."""
    return save_screenshot
