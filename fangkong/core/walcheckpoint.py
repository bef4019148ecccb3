"""Keep SQLite's WAL checkpoint out of a big write's answer.

In WAL mode SQLite copies the log back into the database file in the commit
that takes the log past 1,000 pages. After a 50,000-row batch that commit
carries the whole copy (a quarter of the write once the check-in table
holds a million rows) while the other core idles. ``deferred_checkpoint``
lets one transaction commit without it and then checkpoints in a thread of
its own: PASSIVE, so it never waits for or blocks a writer, and any other
connection's commit would still checkpoint as before. Elsewhere (PostgreSQL,
an in-memory database, inside an outer transaction such as a test case's) it
changes nothing.
"""

import logging
import threading
from contextlib import contextmanager

from django.db import connection

log = logging.getLogger(__name__)
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default
_running = threading.Lock()  # one checkpoint at a time per process


def _applies() -> bool:
    return connection.vendor == "sqlite" and not connection.in_atomic_block and not connection.is_in_memory_db()


@contextmanager
def deferred_checkpoint():
    """Run the block (one transaction) with no checkpoint in its commit; checkpoint in a thread after it."""
    if not _applies():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint = 0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    if _running.acquire(blocking=False):
        threading.Thread(target=_checkpoint, name="fangkong-wal-checkpoint", daemon=True).start()


def _checkpoint() -> None:
    try:
        with connection.cursor() as cursor:  # this thread's own connection
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception:  # the next commit anywhere checkpoints instead
        log.exception("background WAL checkpoint failed")
    finally:
        connection.close()
        _running.release()
