"""A big SQLite write commits without the WAL checkpoint, and a thread checkpoints after it.

The test database is in memory (no WAL), so this runs in a child process on a
database file of its own: the main file stays small while the pages are only
in the log, and grows once they are checkpointed into it.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

from fangkong.core import walcheckpoint

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, os, threading
import django
django.setup()
from django.db import connection, transaction
from fangkong.core import walcheckpoint

DB = os.environ["FK_TEST_DB"]

def autocheckpoint():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return cursor.fetchone()[0]

def write(rows):
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO t (v) VALUES (%s)", [("x" * 500,)] * rows)

def join_checkpoint():
    for thread in threading.enumerate():
        if thread.name == "fangkong-wal-checkpoint":
            thread.join(30)

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (id integer primary key, v text)")
seen = {}
walcheckpoint._running.acquire()  # hold the thread back: what did the commit itself do?
with walcheckpoint.deferred_checkpoint(), transaction.atomic():
    seen["inside"] = autocheckpoint()
    write(20000)  # about 10 MB: some 2,500 pages, past the 1,000 of an automatic checkpoint
seen["after"] = autocheckpoint()
seen["file_after_commit"] = os.path.getsize(DB)
walcheckpoint._running.release()
with walcheckpoint.deferred_checkpoint(), transaction.atomic():
    write(10)
join_checkpoint()
seen["file_after_thread"] = os.path.getsize(DB)
try:
    with walcheckpoint.deferred_checkpoint(), transaction.atomic():
        raise RuntimeError
except RuntimeError:
    pass
seen["after_error"] = autocheckpoint()
with transaction.atomic(), walcheckpoint.deferred_checkpoint():
    seen["in_outer_transaction"] = autocheckpoint()
print(json.dumps(seen))
"""


# A log grown past the limit (a big write whose checkpoint waits) is cut back once a checkpoint has copied it
# and the next write restarts it.
LIMIT_SCRIPT = """
import json, os
import django
django.setup()
from django.conf import settings
from django.db import connection, transaction
from fangkong.core import walcheckpoint

WAL = os.environ["FK_TEST_DB"] + "-wal"
seen = {"setting": settings.SQLITE_WAL_LIMIT}
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_size_limit")
    seen["limit"] = cursor.fetchone()[0]
    cursor.execute("CREATE TABLE t (id integer primary key, v text)")
walcheckpoint._running.acquire()  # no checkpoint thread: the log keeps the whole write
with walcheckpoint.deferred_checkpoint(), transaction.atomic(), connection.cursor() as cursor:
    cursor.executemany("INSERT INTO t (v) VALUES (%s)", [("x" * 1000,)] * 80000)
seen["grown"] = os.path.getsize(WAL)
with connection.cursor() as cursor:
    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    cursor.execute("INSERT INTO t (v) VALUES ('y')")
seen["restarted"] = os.path.getsize(WAL)
print(json.dumps(seen))
"""


def run_child(test, script: str) -> dict:
    """Run SCRIPT in a child process with the project's settings on a database file of its own."""
    db = Path(test.enterContext(tempfile.TemporaryDirectory())) / "wal.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fangkong.settings", "DATABASE_URL": f"sqlite:///{db}",
           "FK_TEST_DB": str(db), "FANGKONG_VAR_DIR": str(db.parent)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    test.assertEqual(result.returncode, 0, result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


class DeferredCheckpointTests(SimpleTestCase):
    def test_the_commit_leaves_the_checkpoint_to_a_thread(self):
        seen = run_child(self, SCRIPT)
        self.assertEqual(seen["inside"], 0)
        self.assertEqual(seen["after"], walcheckpoint.AUTOCHECKPOINT_PAGES)
        self.assertLess(seen["file_after_commit"], 1_000_000)  # the 10 MB are still only in the log
        self.assertGreater(seen["file_after_thread"], 10_000_000)  # the thread copied them into the file
        self.assertEqual(seen["after_error"], walcheckpoint.AUTOCHECKPOINT_PAGES)
        self.assertEqual(seen["in_outer_transaction"], walcheckpoint.AUTOCHECKPOINT_PAGES)

    def test_a_grown_log_is_cut_back_when_it_restarts(self):
        seen = run_child(self, LIMIT_SCRIPT)
        self.assertEqual(seen["limit"], seen["setting"])
        self.assertGreater(seen["grown"], seen["setting"] + 10_000_000)  # about 90 MB
        self.assertLessEqual(seen["restarted"], seen["setting"])
