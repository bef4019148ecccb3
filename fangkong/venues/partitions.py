"""Daily partitions of the check-in table on PostgreSQL (a no-op elsewhere).

Migration venues.0003 makes ``venues_checkin`` a table partitioned by range
of ``scanned_at`` with a DEFAULT partition, so an insert never fails for want
of a partition. ``ensure_partitions`` creates one partition per local day
(moving any rows the default partition already holds for that day), and
``drop_partitions_before`` drops whole days past the retention period: a
purge of a day of millions of rows is one DROP TABLE.
"""

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

TABLE = "venues_checkin"
DEFAULT = f"{TABLE}_default"


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                       "WHERE c.relname = %s", [TABLE])
        return cursor.fetchone() is not None


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def existing_partitions() -> dict[str, date]:
    """Day partitions that exist now, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", [TABLE])
        names = [row[0] for row in cursor.fetchall()]
    days = {}
    for name in names:
        suffix = name.removeprefix(f"{TABLE}_p")
        if suffix != name and suffix.isdigit():
            days[name] = date(int(suffix[:4]), int(suffix[4:6]), int(suffix[6:8]))
    return days


def ensure_partitions(first: date, last: date) -> list[str]:
    """Create the day partitions from FIRST to LAST (local days) that are missing; returns their names."""
    if not is_partitioned():
        return []
    have = set(existing_partitions())
    made = []
    day = first
    while day <= last:
        name = partition_name(day)
        if name not in have:
            _create_day(day, name)
            made.append(name)
        day += timedelta(days=1)
    return made


def _create_day(day: date, name: str) -> None:
    start, end = _bounds(day)
    with transaction.atomic(), connection.cursor() as cursor:
        # Built apart, filled from the default partition, then attached: attaching checks that the
        # default partition holds no row of the new range, so the move and the attach are one step.
        cursor.execute(f'CREATE TABLE "{name}" (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        cursor.execute(f'INSERT INTO "{name}" SELECT * FROM {DEFAULT} WHERE scanned_at >= %s AND scanned_at < %s',
                       [start, end])
        cursor.execute(f"DELETE FROM {DEFAULT} WHERE scanned_at >= %s AND scanned_at < %s", [start, end])
        cursor.execute(f'ALTER TABLE {TABLE} ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [start, end])


def drop_partitions_before(cutoff: date, *, dry_run: bool = False) -> tuple[int, int]:
    """Drop the day partitions wholly before CUTOFF. Returns (partitions, rows) dropped (or that would be)."""
    if not is_partitioned():
        return 0, 0
    old = sorted((day, name) for name, day in existing_partitions().items() if day < cutoff)
    rows = 0
    with connection.cursor() as cursor:
        for _day, name in old:
            cursor.execute(f'SELECT count(*) FROM "{name}"')
            rows += cursor.fetchone()[0]
            if not dry_run:
                cursor.execute(f'DROP TABLE "{name}"')
    return len(old), rows
