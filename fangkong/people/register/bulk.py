"""Writing a register import's new rows straight into the tables.

Django's bulk_create builds a model instance and prepares every field of
every row; for a county's register that costs more than the database does.
Here a row is built once from the planned record. The column lists must name
every column of their table: tests/people/test_register_bulk.py fails when a
field is added to Person or Household and not here.

A county's first load (at least as many new rows as the table holds) is
written with the table's secondary indexes dropped, then rebuilt from the
definitions the database itself reports: building an index once is far
cheaper than a million random insertions into it. All of it happens inside
the commit's transaction, so a rollback or a kill -9 puts the indexes back
with the data. The price on PostgreSQL: the table is locked (even reads wait)
until the commit ends; if it is busy, the load waits at most LOCK_WAIT for it
and otherwise goes the ordinary way. PostgreSQL checks foreign keys row by row
(about 7 µs each), here as the rows arrive. A key to a table others use (the
areas) stays: dropping it would lock that table for every request until the
commit ends. The key from people to households, both tables locked by then,
is dropped and added back, which checks it once over the whole table.
"""

from contextlib import contextmanager

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from fangkong.areas.models import Household

from ..models import Person
from .plan import (
    ADDRESS,
    ALONE,
    BIRTH,
    DOC_INDEX,
    DOC_LAST4,
    DOC_MASKED,
    DOC_SEALED,
    DOC_TYPE,
    FLOATING,
    GRID,
    INITIALS,
    NAME,
    PHONE_INDEX,
    PHONE_MASKED,
    PHONE_SEALED,
    PINYIN,
    RELATION,
    RENTAL,
    SEX,
    VULNERABLE,
    WORKPLACE,
)

COLUMNS = [
    "created_at", "updated_at", "created_by_id", "updated_by_id", "name", "name_pinyin", "name_initials", "sex",
    "birth_date", "doc_type", "doc_sealed", "doc_index", "doc_masked", "doc_last4", "phone_sealed", "phone_index",
    "phone_masked", "area_id", "household_id", "relation", "address", "is_floating", "is_rental_tenant",
    "vulnerable_group", "lives_alone_elderly", "merged_into_id", "workplace",
]
HOUSEHOLD_COLUMNS = ["created_at", "updated_at", "created_by_id", "updated_by_id", "area_id", "building_id", "unit",
                     "door", "address", "is_rental"]
# Below this many new rows (or fewer new rows than the table holds) the indexes stay.
BULK_LOAD_ROWS = 10_000
LOCK_WAIT = "10s"
SQLITE_CACHE_KIB = 262_144


def person_row(record: tuple, household_id, user_id, now) -> tuple:
    return (
        now, now, user_id, user_id, record[NAME], record[PINYIN], record[INITIALS], record[SEX] or "U",
        record[BIRTH], record[DOC_TYPE], record[DOC_SEALED], record[DOC_INDEX], record[DOC_MASKED], record[DOC_LAST4],
        record[PHONE_SEALED], record[PHONE_INDEX], record[PHONE_MASKED], record[GRID], household_id,
        record[RELATION], record[ADDRESS], bool(record[FLOATING]), bool(record[RENTAL]), record[VULNERABLE] or "",
        bool(record[ALONE]), None, record[WORKPLACE],
    )


def insert_rows(model, columns: list[str], rows) -> None:
    """Insert ROWS (tuples in COLUMNS order): COPY on PostgreSQL, executemany on SQLite."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def insert_people(rows) -> None:
    insert_rows(Person, COLUMNS, rows)


def insert_households(rows) -> None:
    insert_rows(Household, HOUSEHOLD_COLUMNS, rows)


def now_value():
    return connection.ops.adapt_datetimefield_value(timezone.now())


def worth_rebuilding(model, new_rows: int) -> bool:
    """Whether loading NEW_ROWS into the model's table goes faster with its indexes rebuilt afterwards."""
    return new_rows >= BULK_LOAD_ROWS and new_rows >= model.objects.count()


@contextmanager
def loading(model, new_rows: int, *, with_locked=()):
    """Around a bulk insert of NEW_ROWS into the model's table: drop its indexes if worth it, rebuild them after.

    WITH_LOCKED: models whose tables are then locked too, so that the keys to
    them are checked once at the end (see _drop_locked_foreign_keys).
    Must run inside the caller's transaction (the rebuild is part of it).
    """
    assert connection.in_atomic_block, "a bulk load rebuilds indexes inside the commit's transaction"
    table = model._meta.db_table
    with _sqlite_pragmas(), _checked_as_sent():
        dropped = (_drop(table, [m._meta.db_table for m in with_locked]) if worth_rebuilding(model, new_rows)
                   else None)
        yield
        if dropped:
            _rebuild(dropped)


@contextmanager
def _checked_as_sent():
    """On PostgreSQL, check foreign keys row by row as COPY sends them, not all at the commit.

    The checks then run in the server while this process builds the next rows
    (two cores busy instead of one), and no queue of a million pending checks
    builds up.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield  # on an error the transaction is rolled back, and this setting with it
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@contextmanager
def _sqlite_pragmas():
    """For SQLite while loading: a bigger page cache (index insertions, then sorts), two threads to sort with."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache = cursor.fetchone()[0]
        cursor.execute("PRAGMA threads")
        threads = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA threads = 2")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache)}")
            cursor.execute(f"PRAGMA threads = {int(threads)}")


def _drop(table: str, also_locked: list[str]) -> list[str] | None:
    """Drop the table's secondary indexes (and, on PostgreSQL, see _drop_locked_foreign_keys); the statements
    that recreate them.

    None if the table is busy (PostgreSQL): the load then keeps them.
    """
    quoted = connection.ops.quote_name(table)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                for name in [table, *also_locked]:
                    cursor.execute(f"LOCK TABLE {connection.ops.quote_name(name)} IN ACCESS EXCLUSIVE MODE")
                cursor.execute("SET LOCAL lock_timeout = DEFAULT")
                # Not the indexes of constraints (the primary key, unique constraints).
                cursor.execute(
                    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)", [quoted])
            else:
                cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                               "AND sql IS NOT NULL", [table])
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
            keys = _drop_locked_foreign_keys(cursor, quoted) if connection.vendor == "postgresql" else []
    except OperationalError:
        if connection.vendor != "postgresql":
            raise
        return None  # lock_timeout: someone is using the table
    return [definition for _name, definition in indexes] + keys


def _drop_locked_foreign_keys(cursor, quoted: str) -> list[str]:
    """Drop the table's foreign keys to tables this transaction already holds locked; the statements that
    add them back.

    When the people are loaded just after their new households, both tables
    are locked anyway: the key from people to households is then checked once,
    over the whole table, when it is added back, instead of row by row (the
    same for households and their buildings, locked with them).
    A key to a table others are using (the areas) stays: dropping it would
    lock that table until the commit ends.
    """
    cursor.execute(
        "SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = %s::regclass "
        "AND k.contype = 'f' AND k.confrelid <> k.conrelid AND EXISTS (SELECT 1 FROM pg_locks l "
        "WHERE l.pid = pg_backend_pid() AND l.relation = k.confrelid AND l.mode = 'AccessExclusiveLock' "
        "AND l.granted)", [quoted])
    keys = cursor.fetchall()
    for name, _definition in keys:
        cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}")
    return [f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
            for name, definition in keys]


def _rebuild(statements: list[str]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # No foreign-key check is pending here (see _checked_as_sent): an index could not be built otherwise.
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for statement in statements:
            cursor.execute(statement)
