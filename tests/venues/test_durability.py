"""Acknowledged scans and batches survive a kill -9 of the server (the database client) mid-batch.

The real thing: a small demo county in a temporary var directory (SQLite),
gunicorn serving it, scans and a 50,000-row batch over HTTP, then SIGKILL to
every server process while the batch is being written (seen from outside: the
server holds SQLite's write lock). After a restart every
scan that was answered is there, the batch is all or nothing, and posting it
again stores each row exactly once.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

SETUP = """
import json
from fangkong.people.models import Person
from fangkong.venues import services, tokens
from fangkong.venues.models import Venue
venues = list(Venue.objects.order_by("id")[:5])
people = list(Person.objects.current().exclude(doc_index="").order_by("id")[:300])
print(json.dumps({
    "codes": [services.code_of(v) for v in venues], "venues": [v.pk for v in venues],
    "scanners": [[tokens.personal_token(p.pk, f"device-{p.pk:026d}"), f"device-{p.pk:026d}"] for p in people[:60]],
    "numbers": [p.document_number for p in people],
}))
"""

COUNTS = """
import json
from fangkong.venues.models import CheckIn
print(json.dumps({"scan": CheckIn.objects.filter(source="scan").count(),
                  "batch": CheckIn.objects.filter(source="batch").count()}))
"""


def fangkong(env, *args):
    result = subprocess.run([sys.executable, "-m", "fangkong.cli", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def shell(env, code):
    return json.loads(fangkong(env, "shell", "-c", code).strip().splitlines()[-1])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url, body, headers=None, timeout=60):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read())


class Server:
    def __init__(self, env, port):
        self.url = f"http://127.0.0.1:{port}"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), "fangkong.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "120"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=2)
                return
            except OSError:  # refused, reset or timed out while it starts
                time.sleep(0.3)
        self.kill9()
        raise RuntimeError("gunicorn did not start")

    def kill9(self):
        os.killpg(self.process.pid, signal.SIGKILL)  # master and workers at once, no clean-up
        self.process.wait()


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """A small demo county in a var directory of its own: (environment, SETUP's data, demo accounts, var dir)."""
    var = tmp_path_factory.mktemp("county")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FANGKONG_DATA_KEY", "DJANGO_SETTINGS_MODULE")}
    env.update(FANGKONG_VAR_DIR=str(var), FANGKONG_SCAN_RATE_PER_MINUTE="0", FANGKONG_LOGIN_RATE_PER_MINUTE="0")
    fangkong(env, "demo", "--no-serve", "--people", "400", "--townships", "2", "--villages", "4", "--grids", "6",
             "--checkin-days", "0")
    accounts = {a["username"]: a for a in json.loads((var / "demo-accounts.json").read_text())}
    return env, shell(env, SETUP), accounts, var


def api_auth(server, accounts) -> dict:
    _, token = post(f"{server.url}/api/v1/auth/token",
                    {"username": "admin", "password": accounts["admin"]["password"]})
    return {"Authorization": f"Bearer {token['token']}"}


def test_kill_9_mid_batch_loses_no_acknowledged_scan_and_no_half_batch(county):
    env, data, accounts, var = county
    server = Server(env, free_port())
    try:
        acknowledged, rows, outcome, auth = scan_then_kill_mid_batch(server, data, accounts, var / "fangkong.sqlite3")
    finally:
        if server.process.poll() is None:
            server.kill9()
    check_after_kill(env, acknowledged, rows, outcome, auth)


def test_two_gateways_pushing_the_same_rows_at_once_store_each_row_once(county):
    # Two gunicorn workers take the two pushes at once: on SQLite one waits for the other's write lock, then
    # finds every key stored (its first chunk fails) and goes the careful way.
    env, data, accounts, _var = county
    now = timezone.now()
    rows = [{"key": f"twin-{i}", "venue": data["venues"][i % 5], "person": data["numbers"][i % 300],
             "scanned_at": (now - timedelta(minutes=2 + i % 5_000)).isoformat()} for i in range(20_000)]
    server = Server(env, free_port())
    answers = []
    try:
        auth = api_auth(server, accounts)
        start = threading.Barrier(2)

        def push():
            start.wait()
            answers.append(post(f"{server.url}/api/v1/checkins/batch?only_problems=true", rows, auth, timeout=120))

        gateways = [threading.Thread(target=push) for _ in range(2)]
        for gateway in gateways:
            gateway.start()
        for gateway in gateways:
            gateway.join(150)
    finally:
        server.kill9()
    assert [status for status, _body in answers] == [200, 200]
    assert sorted(body["accepted"] for _status, body in answers) == [0, 20_000]
    assert all(body["accepted"] + body["duplicate"] == 20_000 and body["rejected"] == 0 for _s, body in answers)
    counts = shell(env, "import json; from fangkong.venues.models import CheckIn; "
                        "rows = CheckIn.objects.filter(idem_key__startswith='twin-'); "
                        "print(json.dumps([rows.count(), rows.values('idem_key').distinct().count()]))")
    assert counts == [20_000, 20_000]


def wait_for_batch_write(database, seconds=60) -> bool:
    """True once a server process has held the write lock for 50 ms: the batch's transaction is open.

    A probe takes the lock and gives it back at once while nobody writes; a
    short write (a token's last use) holds it for a millisecond or two.
    """
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    held_since = None
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                held_since = None
            except sqlite3.OperationalError:  # locked: a server process is writing
                held_since = held_since or time.monotonic()
                if time.monotonic() - held_since >= 0.05:
                    return True
            time.sleep(0.005)
        return False
    finally:
        probe.close()


def scan_then_kill_mid_batch(server, data, accounts, database):
    auth = api_auth(server, accounts)

    acknowledged = 0
    for index, (personal, device) in enumerate(data["scanners"]):
        status, body = post(f"{server.url}/api/v1/scan",
                            {"code": data["codes"][index % 5], "token": personal, "device": device})
        assert status == 200 and not body["duplicate"]
        acknowledged += 1

    now = timezone.now()
    rows = [{"key": f"gate-{i}", "venue": data["venues"][i % 5], "person": data["numbers"][i % 300],
             "scanned_at": (now - timedelta(minutes=2 + i % 10_000)).isoformat()} for i in range(50_000)]
    outcome = {}

    def send():
        try:
            outcome["answer"] = post(f"{server.url}/api/v1/checkins/batch", rows, auth, timeout=120)
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            outcome["error"] = exc

    sender = threading.Thread(target=send)
    sender.start()
    writing = wait_for_batch_write(database)
    server.kill9()
    sender.join(30)
    assert writing and "answer" not in outcome, "the batch was not killed while it was being written"
    return acknowledged, rows, outcome, auth


def check_after_kill(env, acknowledged, rows, outcome, auth):
    counts = shell(env, COUNTS)
    print("after kill -9:", counts, f"not answered: {outcome.get('error')}")
    assert counts["scan"] == acknowledged  # every answered scan was committed before its answer
    assert counts["batch"] in (0, 50_000)  # never half a batch (all of it if the kill came after the commit)

    server = Server(env, free_port())
    try:
        status, body = post(f"{server.url}/api/v1/checkins/batch", rows, auth, timeout=120)
        assert status == 200
        assert body["accepted"] + body["duplicate"] == 50_000 and body["rejected"] == 0
    finally:
        server.kill9()
    counts = shell(env, COUNTS)
    assert counts == {"scan": acknowledged, "batch": 50_000}
