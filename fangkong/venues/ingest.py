"""Check-ins pushed in bulk by gateways (a province platform, turnstiles).

One call carries up to 50,000 rows, each with an idempotency key: a retried
batch stores nothing twice. Every row is checked on its own (a bad row is
rejected with its reason, the good rows are stored) and the whole call is
written in one transaction.

Built for throughput: rows stay plain tuples (no model instances); one pass
over the batch collects the venues and ID numbers it names (each distinct
number hashed once) and looks them up in one query each (a few on SQLite);
a second pass checks every row against them. Most batches are new, so the
write is optimistic, inside a savepoint, and overlaps the checks. The rows
are checked in the order they are best stored in (``_store_order``). On
PostgreSQL a binary COPY straight into the check-in table, fed by the
checking pass, so the server stores rows while the next are checked; on
SQLite the rows are stored by chunks, each
one ``INSERT ... SELECT`` from a JSON array that runs on a thread without
the GIL while the next chunk is checked (and the commit leaves the WAL
checkpoint to a thread). A key stored before makes the unique index refuse
the statement; the savepoint is rolled back and the batch goes the careful way:
COPY into a temporary table and ``INSERT ... ON CONFLICT DO NOTHING
RETURNING`` on PostgreSQL, the stored keys read first on SQLite (where the
transaction holds the write lock from its start, so that check is exact).
Either way the unique index on (idem_key, scanned_at) decides, so
concurrent pushes of the same rows still store each row once.
"""

import csv
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.walcheckpoint import deferred_checkpoint
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import Person, document_index

from . import tokens
from .choices import CheckInSource
from .models import CheckIn, Venue

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"
KEY_MAX_LENGTH = 64
FUTURE_SLACK = timedelta(minutes=5)
LOOKUP_CHUNK = 5000
SQLITE_LOOKUP_CHUNK = 10_000  # bound parameters per statement: SQLite allows 32,766
# Rows per INSERT on SQLite, stored while the next chunk is checked; the first chunk small, to start soon.
SQLITE_FIRST_CHUNK, SQLITE_WRITE_CHUNK = 2_000, 12_000
SQLITE_CACHE_KB = 64 * 1024  # page cache of the connection while it writes a batch
STATUSES = {"green", "yellow", "red", ""}
RESIDENT_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
TEMP_TABLE = "fk_checkin_batch"
MAX_ID = 2**63 - 1  # a larger id is no venue (and overflows the database integer)

# CSV headers, English or Chinese.
CSV_HEADERS = {
    "key": "key", "idem_key": "key", "幂等键": "key",
    "venue": "venue", "场所": "venue", "场所码": "venue", "场所编号": "venue",
    "person": "person", "document_number": "person", "身份证号": "person", "身份证号码": "person",
    "公民身份号码": "person",
    "name": "name", "姓名": "name",
    "scanned_at": "scanned_at", "扫码时间": "scanned_at",
    "status": "status", "status_shown": "status", "状态": "status", "显示状态": "status",
}


def retention_days() -> int:
    return int(getattr(settings, "FANGKONG_CHECKIN_RETENTION_DAYS", 28))


def max_rows() -> int:
    return int(getattr(settings, "FANGKONG_CHECKIN_BATCH_MAX_ROWS", 50_000))


@dataclass
class BatchResult:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    # (index, key, result, error)
    rows: list = field(default_factory=list)

    def as_dict(self, only_problems: bool = False) -> dict:
        rows = []
        for index, key, result, error in self.rows:
            if only_problems and result == ACCEPTED:
                continue
            row = {"index": index, "key": key, "result": result}
            if error:
                row["error"] = error
            rows.append(row)
        return {"accepted": self.accepted, "duplicate": self.duplicate, "rejected": self.rejected, "rows": rows}


# Parsing the body --------------------------------------------------------------------------------
def parse_json(raw: bytes) -> list:
    """The rows of a JSON body: a list of objects, or {"rows": [...]}."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(_("请求内容不是有效的 JSON：%(detail)s") % {"detail": exc}, code="invalid") from exc
    if isinstance(data, dict):
        data = data.get("rows")
    if not isinstance(data, list):
        raise ValidationError(_('JSON 应为行的列表，或 {"rows": [...]}。'), code="invalid")
    return data


def parse_csv(raw: bytes) -> list:
    """The rows of a CSV body (UTF-8, first line the headers: key,venue,person,name,scanned_at,status)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(_("CSV 应为 UTF-8 编码。"), code="invalid") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ValidationError(_("CSV 缺少表头行。"), code="invalid")
    names = [CSV_HEADERS.get(h.strip().lower(), CSV_HEADERS.get(h.strip())) for h in header]
    missing = {"key", "venue", "person", "scanned_at"} - set(names)
    if missing:
        raise ValidationError(_("CSV 缺少列：%(columns)s") % {"columns": ", ".join(sorted(missing))}, code="invalid")
    columns = [(i, n) for i, n in enumerate(names) if n]
    return [{n: line[i] for i, n in columns if i < len(line)} for line in reader if line]


# Checking rows -----------------------------------------------------------------------------------
def _messages() -> dict:
    return {
        "row": _("行格式不正确，应为对象。"),
        "key": _("缺少幂等键 key。"),
        "key_long": _("幂等键 key 超过 64 个字符。"),
        "key_nul": _("幂等键 key 含有空字符（\\u0000）。"),
        "key_text": _("幂等键 key 含有无法保存的字符（单独的代理码位）。"),
        "venue": _("场所编号或场所码无效。"),
        "venue_unknown": _("场所不存在或不在管辖范围内。"),
        "person": _("身份证号码格式不正确。"),
        "person_unknown": _("人员未登记。"),
        "name": _("姓名与身份证号不符。"),
        "time": _("扫码时间格式应为 ISO 8601，如 2022-05-01T08:00:00+08:00。"),
        "future": _("扫码时间晚于当前时间。"),
        "ancient": _("扫码时间早于保存期限（%(days)d 天）。") % {"days": retention_days()},
        "status": _("状态应为 green、yellow、red 之一或留空。"),
        "batch_dup": _("与本批前面的行幂等键重复。"),
    }


def _parse_time(value, tz) -> datetime | None:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    return at


def _venue_id(value) -> int | None:
    """The venue id a row names (an id, or a place code whose MAC is right); None if it names none."""
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit():
            value = int(value)
        else:
            parsed = tokens.parse_place_code(value)
            return parsed[0] if parsed else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def _resident_index(number) -> str | None:
    """The blind index of a resident ID number as sent, or None when it is not one."""
    normal = identity.normalize_document(number)
    if not RESIDENT_ID_RE.fullmatch(normal):
        return None
    return document_index(DocumentType.RESIDENT_ID, normal)


@dataclass
class _Registers:
    """The venues and people a batch names, looked up once before any row is checked.

    ``venue_of`` and ``index_of`` map what rows send as text (a venue id or
    place code, an ID number) to a venue id or blind index (None: malformed),
    so each distinct value is parsed and hashed once; ``venues`` are the ids
    that exist and the user may see, ``people`` maps a blind index to
    (person id, name).
    """

    venue_of: dict
    index_of: dict
    venues: set
    people: dict

    @classmethod
    def of(cls, user, rows: list) -> "_Registers":
        venue_of: dict[str, int | None] = {}
        index_of: dict[str, str | None] = {}
        venue_ids: set[int] = set()
        indexes: set[str] = set()
        for row in rows:
            if type(row) is not dict:
                continue
            venue = row.get("venue")
            if type(venue) is str:
                if venue not in venue_of:
                    venue_id = venue_of[venue] = _venue_id(venue)
                    venue_ids.add(venue_id)
            elif type(venue) is int:
                venue_ids.add(venue)
            else:
                venue_ids.add(_venue_id(venue))
            number = row.get("person")
            if type(number) is str:
                if number not in index_of:
                    index = index_of[number] = _resident_index(number)
                    indexes.add(index)
            else:
                indexes.add(_resident_index(number))
        venue_ids = {v for v in venue_ids if v is not None and 0 < v <= MAX_ID}
        indexes.discard(None)
        return cls(venue_of, index_of, _known_venues(user, venue_ids), _people_by_index(list(indexes)))


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _key_of(row: dict) -> str:
    key = row.get("key")
    return key.strip() if type(key) is str else ("" if key is None else str(key).strip())


def _store_order(rows: list, registers: _Registers) -> list[int]:
    """The indexes of ROWS in the order they are best stored in: rows that repeat a key first, then the rest.

    On SQLite, by the people the rows name: the batch then goes into the
    (person, time) index in one sweep instead of all over its b-tree. On
    PostgreSQL, by day and venue: COPY then fills one day's partition after
    another, keeping a few pages of each index at hand, instead of moving
    between partitions from row to row. The day is the first ten characters
    of the time as sent, so grouping costs no parsing (a row sent with an
    offset other than the partitions' may land with the day beside it).
    Rows whose key comes more than once in the batch go first, in their own
    order, so that the first of them to pass the checks is still the one
    stored; so do rows naming no one or nothing known (they will be rejected).
    """
    by_person = connection.vendor != "postgresql"
    if not by_person and _sent_before(rows):
        return list(range(len(rows)))
    index_of, people, venue_of = registers.index_of, registers.people, registers.venue_of
    first: list[int] = []
    places: defaultdict = defaultdict(list)  # place -> indexes of its rows, in their order
    keys: list = []
    for i, row in enumerate(rows):
        where = key = None
        if type(row) is dict:
            key = _key_of(row)
            if by_person:
                number = row.get("person")
                person = people.get(index_of.get(number) if type(number) is str else _resident_index(number))
                where = None if person is None else person[0]
            else:
                at, venue = row.get("scanned_at"), row.get("venue")
                venue_id = venue if type(venue) is int else venue_of.get(venue) if type(venue) is str else None
                if type(at) is str and venue_id is not None:
                    where = (at[:10], venue_id)
        keys.append(key)
        if where is None:
            first.append(i)
        else:
            places[where].append(i)
    if len(set(keys)) < len(keys):
        counts = Counter(keys)
        repeated = {i for i, key in enumerate(keys) if counts[key] > 1}
        first = sorted(repeated.union(first))
        places = {where: [i for i in found if i not in repeated] for where, found in places.items()}
    for where in sorted(places):
        first.extend(places[where])
    return first


def _sent_before(rows: list) -> bool:
    """Whether the first row of ROWS is stored already: then the batch is most likely sent again.

    Its rows are then best checked as they came: the COPY stops at that row,
    the checks are left to do, and they run faster through the rows in order.
    """
    row = rows[0] if rows else None
    if type(row) is not dict:
        return False
    key = _key_of(row)
    if not key or len(key) > KEY_MAX_LENGTH or "\x00" in key or not _encodable(key):
        return False
    at = _parse_time(row.get("scanned_at"), timezone.get_current_timezone())
    try:
        return at is not None and CheckIn.objects.filter(idem_key=key, scanned_at=at).exists()
    except (ValueError, OverflowError):  # a time the driver cannot send: the checks will say so
        return False


def _checked(rows: list, registers: _Registers, now: datetime, msg: dict, outcome: list, order: list[int]):
    """Yield the rows to store as (index, key, person id, venue id, time, status); set OUTCOME of the others.

    One pass, in ORDER (indexes of ROWS, see ``_store_order``): first the
    form of the row, then the registers, then the keys earlier in the pass.
    This loop runs 50,000 times a call, so the common case (string key, integer venue, a time with
    its offset, a known colour) takes the fewest steps. A generator, so that
    on PostgreSQL the server stores one chunk while the next is checked.
    """
    # As POSIX seconds: comparing datetimes of different offsets costs twice as much as reading each one's.
    latest, earliest = (now + FUTURE_SLACK).timestamp(), (now - timedelta(days=retention_days())).timestamp()
    tz = timezone.get_current_timezone()
    fromisoformat = datetime.fromisoformat
    venue_of, index_of, venues, people = registers.venue_of, registers.index_of, registers.venues, registers.people
    seen: set[str] = set()
    for i in order:
        row = rows[i]
        if type(row) is not dict:
            outcome[i] = ("", REJECTED, msg["row"])
            continue
        key = row.get("key")  # _key_of, inline
        key = key.strip() if type(key) is str else ("" if key is None else str(key).strip())
        if not key:
            outcome[i] = ("", REJECTED, msg["key"])
            continue
        if len(key) > KEY_MAX_LENGTH:
            outcome[i] = (key[:KEY_MAX_LENGTH], REJECTED, msg["key_long"])
            continue
        if "\x00" in key:  # PostgreSQL text cannot hold it
            outcome[i] = (key, REJECTED, msg["key_nul"])
            continue
        if not key.isascii() and not _encodable(key):  # a lone surrogate from a JSON escape
            outcome[i] = (key, REJECTED, msg["key_text"])
            continue
        venue = row.get("venue")
        if type(venue) is int and 0 < venue <= MAX_ID:
            venue_id = venue
        else:
            venue_id = venue_of[venue] if type(venue) is str else _venue_id(venue)
        if venue_id is None:
            outcome[i] = (key, REJECTED, msg["venue"])
            continue
        number = row.get("person")
        doc = index_of[number] if type(number) is str else _resident_index(number)
        if doc is None:
            outcome[i] = (key, REJECTED, msg["person"])
            continue
        raw_at = row.get("scanned_at")
        if type(raw_at) is str:
            try:
                at = fromisoformat(raw_at)
            except ValueError:
                at = None
            else:
                if at.tzinfo is None:
                    at = at.replace(tzinfo=tz)
        else:
            at = _parse_time(raw_at, tz)
        if at is None:
            outcome[i] = (key, REJECTED, msg["time"])
            continue
        moment = at.timestamp()
        if moment > latest:
            outcome[i] = (key, REJECTED, msg["future"])
            continue
        if moment < earliest:
            outcome[i] = (key, REJECTED, msg["ancient"])
            continue
        status = row.get("status")
        if type(status) is not str or status not in STATUSES:
            status = "" if status is None else str(status).strip().lower()
            if status not in STATUSES:
                outcome[i] = (key, REJECTED, msg["status"])
                continue
        if venue_id not in venues:
            outcome[i] = (key, REJECTED, msg["venue_unknown"])
            continue
        person = people.get(doc)
        if person is None:
            outcome[i] = (key, REJECTED, msg["person_unknown"])
            continue
        name = row.get("name")
        name = str(name).strip() if name else ""
        if name and name != person[1]:
            outcome[i] = (key, REJECTED, msg["name"])
            continue
        if key in seen:
            outcome[i] = (key, DUPLICATE, msg["batch_dup"])
            continue
        seen.add(key)
        yield i, key, person[0], venue_id, at, status


def _chunks(items: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _known_venues(user, ids: set[int]) -> set[int]:
    venues = Venue.objects.restrict(user, "view") if user is not None else Venue.objects.all()
    found = set()
    for chunk in _chunks(sorted(ids)):
        found.update(venues.filter(pk__in=chunk).values_list("pk", flat=True))
    return found


def _people_by_index(indexes: list[str]) -> dict[str, tuple[int, str]]:
    """blind index -> (person id, name); a merged record resolves to the one it was merged into.

    Plain SQL on the unique index of ``doc_index``: one ``= ANY(array)`` on
    PostgreSQL, IN lists of 10,000 on SQLite (the ORM's per-value work was a
    third of the lookup).
    """
    table = connection.ops.quote_name(Person._meta.db_table)
    # The unique index on doc_index is partial (blank excluded): the query repeats its condition to use it.
    select = f"SELECT doc_index, id, name, merged_into_id FROM {table} WHERE NOT (doc_index = '') AND "
    found = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            statements = [(select + "doc_index = ANY(%s)", [indexes])] if indexes else []
        else:
            statements = [(select + f"doc_index IN ({', '.join(['%s'] * len(chunk))})", chunk)
                          for chunk in _chunks(indexes, SQLITE_LOOKUP_CHUNK)]
        for sql, params in statements:
            cursor.execute(sql, params)
            for index, pk, name, merged_into in cursor.fetchall():
                found[index] = (merged_into or pk, name)
    return found


def ingest_checkins(user, rows: list, *, now: datetime | None = None, request=None) -> BatchResult:
    """Check and store a batch of pushed check-ins; every row gets accepted, duplicate or rejected."""
    if user is not None and not user.has_perm("venues.add_checkin"):
        raise PermissionDenied
    limit = max_rows()
    if len(rows) > limit:
        raise ValidationError(_("单次最多推送 %(limit)d 行，本次 %(count)d 行，请分批推送。")
                              % {"limit": limit, "count": len(rows)}, code="too_many_rows")
    msg = _messages()
    outcome: list = [None] * len(rows)  # index -> (key, result, error)
    registers = _Registers.of(user, rows)
    good = _checked(rows, registers, now or timezone.now(), msg, outcome, _store_order(rows, registers))
    with deferred_checkpoint(), transaction.atomic():
        good, stored = _write(good)
        for i, key, *_rest in good:
            outcome[i] = (key, ACCEPTED, "") if key in stored else (key, DUPLICATE, "")
        result = BatchResult(rows=[(i, key, res, error) for i, (key, res, error) in enumerate(outcome)])
        counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
        for _i, _key, res, _error in result.rows:
            counts[res] += 1
        result.accepted, result.duplicate, result.rejected = counts[ACCEPTED], counts[DUPLICATE], counts[REJECTED]
        record_event(user, AuditAction.IMPORT, object_type="venues.checkin",
                     object_repr=_("批量推送扫码记录 %(n)d 条") % {"n": len(rows)},
                     changes={"rows": len(rows), **counts}, request=request)
    return result


# Writing -----------------------------------------------------------------------------------------
def _write(good: Iterable) -> tuple[list, set[str]]:
    """Insert the rows GOOD yields, skipping those already stored: (the rows, the keys inserted now)."""
    if connection.vendor == "postgresql":
        return _write_postgresql(good)
    return _write_sqlite(good)


def _columns() -> tuple[str, str]:
    table = connection.ops.quote_name(CheckIn._meta.db_table)
    return table, "person_id, venue_id, scanned_at, status_shown, source, idem_key"


def _sqlite_values(rows: Iterable) -> list[tuple]:
    """The rows as the INSERT binds them: the time as Django stores an aware datetime on SQLite (naive UTC
    as text), without its per-call overhead."""
    return [(person_id, venue_id, str((at - at.utcoffset()).replace(tzinfo=None)), status, key)
            for _i, key, person_id, venue_id, at, status in rows]


def _insert_overlapped(insert: str, payloads: Iterable[str]) -> None:
    """Run INSERT (one ``?``: a chunk of rows as a JSON array) for each of PAYLOADS, on a thread of its own.

    SQLite runs an INSERT ... SELECT in one step with the GIL released, so the
    next chunk is checked on the other core meanwhile. One insert at a time
    is in flight, and this thread waits for it before it sends the next: the
    two never use the connection at once, and an error (raised here, as
    Django's) stops the checks one chunk later.
    """
    cursor = connection.connection.cursor()
    try:
        with connection.wrap_database_errors, ThreadPoolExecutor(1, thread_name_prefix="fangkong-ingest") as pool:
            pending = None
            for payload in payloads:
                if pending is not None:
                    pending.result()
                pending = pool.submit(cursor.execute, insert, (payload,))
            if pending is not None:
                pending.result()
    finally:
        cursor.close()


def _write_sqlite(good: Iterable) -> tuple[list, set[str]]:
    table, columns = _columns()
    kept: list = []

    def payloads():
        rows = iter(good)
        size = SQLITE_FIRST_CHUNK
        while chunk := list(islice(rows, size)):
            size = SQLITE_WRITE_CHUNK
            kept.extend(chunk)
            yield json.dumps(_sqlite_values(chunk), ensure_ascii=False, separators=(",", ":"))

    picked = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(4))
    with connection.cursor() as cursor:
        # The person and venue indexes take rows all over their b-trees: with SQLite's default 2 MB page
        # cache the insert kept re-reading pages (64 MB took a third off it). A cache: durability unchanged.
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
        try:
            with transaction.atomic():  # a savepoint: a key stored before undoes this insert only
                _insert_overlapped(f"INSERT INTO {table} ({columns}) SELECT {picked}, "
                                   f"'{CheckInSource.BATCH.value}', json_extract(value, '$[4]') FROM json_each(?)",
                                   payloads())
            return kept, {row[1] for row in kept}
        except IntegrityError:
            kept.extend(good)  # the rows not yet checked when the insert failed
        values = _sqlite_values(kept)
        existing: set[tuple[str, str]] = set()
        for chunk in _chunks([v[4] for v in values], SQLITE_LOOKUP_CHUNK):
            # "idem_key != ''" repeats the partial index's condition so that SQLite uses it.
            # The CAST keeps the stored text (no datetime conversion), to compare with the text written.
            cursor.execute(f"SELECT idem_key, CAST(scanned_at AS TEXT) FROM {table} WHERE idem_key != '' "
                           f"AND idem_key IN ({', '.join(['%s'] * len(chunk))})", chunk)
            existing.update(cursor.fetchall())
        new = [v for v in values if (v[4], v[2]) not in existing]
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, "
                           f"'{CheckInSource.BATCH.value}', %s) ON CONFLICT DO NOTHING", new)
    return kept, {v[4] for v in new}


def _copy_rows(cursor, target: str, good: Iterable, source: str | None, kept: list | None = None) -> None:
    """COPY the rows into TARGET, adding each to KEPT if given. Binary, so that the server parses no
    timestamps; psycopg sends a buffer at a time, so the server stores rows while the next are checked.

    SOURCE is the value of the source column, or None when TARGET has none.
    """
    types = ["int8", "int8", "timestamptz", "varchar", *(["varchar"] if source is not None else []), "varchar"]
    with cursor.cursor.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        write_row = copy.write_row
        for row in good:
            if kept is not None:
                kept.append(row)
            _i, key, person_id, venue_id, at, status = row
            write_row((person_id, venue_id, at, status, source, key) if source is not None
                      else (person_id, venue_id, at, status, key))


def _write_postgresql(good: Iterable) -> tuple[list, set[str]]:
    table, columns = _columns()
    kept: list = []
    with connection.cursor() as cursor:
        try:
            with transaction.atomic(), connection.wrap_database_errors:  # a savepoint, psycopg errors as Django's
                _copy_rows(cursor, f"{table} ({columns})", good, CheckInSource.BATCH.value, kept)
            return kept, {row[1] for row in kept}
        except IntegrityError:
            kept.extend(good)  # the rows not yet checked when the server refused
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {TEMP_TABLE} (person_id bigint, venue_id bigint, "
                       "scanned_at timestamptz, status_shown varchar(6), idem_key varchar(64)) ON COMMIT DROP")
        _copy_rows(cursor, f"{TEMP_TABLE} (person_id, venue_id, scanned_at, status_shown, idem_key)", kept, None)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT person_id, venue_id, scanned_at, status_shown, "
            f"'{CheckInSource.BATCH.value}', idem_key FROM {TEMP_TABLE} ON CONFLICT DO NOTHING RETURNING idem_key"
        )
        stored = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {TEMP_TABLE}")
    return kept, stored
