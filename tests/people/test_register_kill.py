"""A kill -9 of the worker in the middle of a commit: nothing is half-written, the job is failed and re-runs.

Runs the real thing: a demo county in a temporary var directory, the
database job backend and `fangkong db_worker` in a subprocess.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def fangkong(env, *args, timeout=300):
    result = subprocess.run([sys.executable, "-m", "fangkong.cli", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def shell(env, code: str):
    """Run CODE in `fangkong shell`; it prints one JSON line, returned parsed."""
    out = fangkong(env, "shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


SETUP = """
import json, sys
sys.path.insert(0, "benchmarks")
from pathlib import Path
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from fangkong.areas.models import Area
from fangkong.people.models import Person
from fangkong.people.register import services
from register_import import write_register
user = get_user_model().objects.select_related("area").get(username="admin")
grids = list(Area.objects.filter(level="grid").values_list("code", flat=True))
path = Path("{path}")
write_register(path, 40000, grids, 5)
batch = services.upload_register(user, SimpleUploadedFile(path.name, path.read_bytes()), user.area)
services.save_mapping(user, batch, batch.mapping)
services.run_dry_run(batch, user)
job = services.start_commit(user, batch)
print(json.dumps({{"batch": batch.pk, "job": str(job.pk), "people": Person.objects.count()}}))
"""

STATE = """
import json
from django.db import connection
from fangkong.core.models import Job
from fangkong.people.models import Person, RegisterImport
from fangkong.people.register.services import effective_status
job = Job.objects.get(pk="{job}")
batch = RegisterImport.objects.select_related("commit_job").get(pk={batch})
with connection.cursor() as cursor:
    indexes = sorted(connection.introspection.get_constraints(cursor, Person._meta.db_table))
print(json.dumps({{"job": job.status, "processed": job.processed, "people": Person.objects.count(),
                   "batch": effective_status(batch), "indexes": indexes}}))
"""

RESTART = """
import json
from django.contrib.auth import get_user_model
from fangkong.people.models import RegisterImport
from fangkong.people.register import services
user = get_user_model().objects.get(username="admin")
batch = RegisterImport.objects.select_related("commit_job").get(pk={batch})
job = services.start_commit(user, batch)
print(json.dumps({{"job": str(job.pk)}}))
"""


def test_kill_9_mid_commit_writes_nothing_and_the_commit_can_be_rerun(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FANGKONG_DATA_KEY")}
    env.update(FANGKONG_VAR_DIR=str(tmp_path / "var"), FANGKONG_JOB_STALE_SECONDS="1")
    fangkong(env, "demo", "--no-serve", "--people", "300", "--seed", "3")
    started = shell(env, SETUP.format(path=tmp_path / "register.xlsx"))
    state = STATE.format(job=started["job"], batch=started["batch"])
    indexes = shell(env, state)["indexes"]

    worker = subprocess.Popen([sys.executable, "-m", "fangkong.cli", "db_worker", "--interval", "0.1",
                               "--no-startup-delay", "--no-reload"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The commit reports progress from inside its transaction through a side file: wait
    # until it is well into the work (`fangkong shell` would be too slow to poll).
    live = tmp_path / "var" / "files" / "jobs" / f"{started['job']}.progress.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (live.exists() and json.loads(live.read_text())["processed"] > 0):
        assert worker.poll() is None
        time.sleep(0.05)
    assert live.exists(), "the commit never reported progress"
    time.sleep(0.3)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()

    time.sleep(1.5)  # older than FANGKONG_JOB_STALE_SECONDS
    after_kill = shell(env, state)
    assert after_kill["people"] == started["people"], "a killed commit must leave nothing behind"
    # 40,000 new rows into a register of 300: the commit loads them with the indexes dropped.
    assert after_kill["indexes"] == indexes, "the indexes dropped for the bulk load are back"
    fangkong(env, "reap_jobs")
    reaped = shell(env, state)
    assert (reaped["job"], reaped["batch"]) == ("failed", "failed")

    again = shell(env, RESTART.format(batch=started["batch"]))
    fangkong(env, "db_worker", "--batch", "--no-startup-delay", "--no-reload", timeout=600)
    done = shell(env, STATE.format(job=again["job"], batch=started["batch"]))
    assert done["job"] == "succeeded", done
    assert done["batch"] == "committed"
    assert done["people"] == started["people"] + 40000
