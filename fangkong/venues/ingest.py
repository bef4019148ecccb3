"""Check-ins pushed in bulk by gateways (a province platform, turnstiles).

One call carries up to 50,000 rows, each with an idempotency key: a retried
batch stores nothing twice. Every row is checked on its own (a bad row is
rejected with its reason, the good rows are stored) and the whole call is
written in one transaction.

Built for throughput: rows stay plain tuples (no model instances), people
are resolved by their blind index in a few chunked queries, and the rows go
to the database in one statement stream: COPY into a temporary table and
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on PostgreSQL, ``executemany``
of ``INSERT ... ON CONFLICT DO NOTHING`` on SQLite (where the transaction
holds the write lock from its start, so the duplicate check before it is
exact).
"""

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
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
STATUSES = {"green", "yellow", "red", ""}
RESIDENT_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
TEMP_TABLE = "fk_checkin_batch"

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
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    parsed = tokens.parse_place_code(value)
    return parsed[0] if parsed else None


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
    """blind index -> (person id, name); a merged record resolves to the one it was merged into."""
    found = {}
    for chunk in _chunks(indexes):
        rows = (Person.objects.filter(doc_index__in=chunk).exclude(doc_index="")
                .values_list("doc_index", "pk", "name", "merged_into_id"))
        for index, pk, name, merged_into in rows:
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
    now = now or timezone.now()
    latest, earliest = now + FUTURE_SLACK, now - timedelta(days=retention_days())
    tz = timezone.get_current_timezone()
    msg = {
        "row": _("行格式不正确，应为对象。"),
        "key": _("缺少幂等键 key。"),
        "key_long": _("幂等键 key 超过 64 个字符。"),
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
    result = BatchResult()
    outcome: list = [None] * len(rows)  # index -> (key, result, error)
    candidates = []  # (index, key, venue id, index of ID number, name, time, status)
    index_of: dict[str, str] = {}
    venue_ids: set[int] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            outcome[i] = ("", REJECTED, msg["row"])
            continue
        key = row.get("key")
        key = "" if key is None else str(key).strip()
        if not key:
            outcome[i] = ("", REJECTED, msg["key"])
            continue
        if len(key) > KEY_MAX_LENGTH:
            outcome[i] = (key[:KEY_MAX_LENGTH], REJECTED, msg["key_long"])
            continue
        venue_id = _venue_id(row.get("venue"))
        if venue_id is None:
            outcome[i] = (key, REJECTED, msg["venue"])
            continue
        number = row.get("person")
        doc = index_of.get(number) if isinstance(number, str) else None
        if doc is None:
            normal = identity.normalize_document(number)
            if not RESIDENT_ID_RE.fullmatch(normal):
                outcome[i] = (key, REJECTED, msg["person"])
                continue
            doc = document_index(DocumentType.RESIDENT_ID, normal)
            if isinstance(number, str):
                index_of[number] = doc
        raw_at = row.get("scanned_at")
        if type(raw_at) is str:  # the common case, inline: this loop runs 50,000 times a call
            try:
                at = datetime.fromisoformat(raw_at)
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
        if at > latest:
            outcome[i] = (key, REJECTED, msg["future"])
            continue
        if at < earliest:
            outcome[i] = (key, REJECTED, msg["ancient"])
            continue
        status = row.get("status")
        status = "" if status is None else str(status).strip().lower()
        if status not in STATUSES:
            outcome[i] = (key, REJECTED, msg["status"])
            continue
        name = row.get("name")
        name = str(name).strip() if name else ""
        venue_ids.add(venue_id)
        candidates.append((i, key, venue_id, doc, name, at, status))

    venues = _known_venues(user, venue_ids)
    people = _people_by_index(list({c[3] for c in candidates}))
    good = []  # (index, key, person id, venue id, time, status)
    seen: set[str] = set()
    for i, key, venue_id, doc, name, at, status in candidates:
        if venue_id not in venues:
            outcome[i] = (key, REJECTED, msg["venue_unknown"])
            continue
        person = people.get(doc)
        if person is None:
            outcome[i] = (key, REJECTED, msg["person_unknown"])
            continue
        if name and name != person[1]:
            outcome[i] = (key, REJECTED, msg["name"])
            continue
        if key in seen:
            outcome[i] = (key, DUPLICATE, msg["batch_dup"])
            continue
        seen.add(key)
        good.append((i, key, person[0], venue_id, at, status))

    with transaction.atomic():
        stored = _write(good)
        for i, key, *_rest in good:
            outcome[i] = (key, ACCEPTED, "") if key in stored else (key, DUPLICATE, "")
        counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
        for i, (key, res, error) in enumerate(outcome):
            counts[res] += 1
            result.rows.append((i, key, res, error))
        result.accepted, result.duplicate, result.rejected = counts[ACCEPTED], counts[DUPLICATE], counts[REJECTED]
        record_event(user, AuditAction.IMPORT, object_type="venues.checkin",
                     object_repr=_("批量推送扫码记录 %(n)d 条") % {"n": len(rows)},
                     changes={"rows": len(rows), **counts}, request=request)
    return result


# Writing -----------------------------------------------------------------------------------------
def _write(good: list) -> set[str]:
    """Insert the rows, skipping those already stored; the keys of the rows inserted now."""
    if not good:
        return set()
    if connection.vendor == "postgresql":
        return _write_postgresql(good)
    return _write_sqlite(good)


def _columns() -> tuple[str, str]:
    table = connection.ops.quote_name(CheckIn._meta.db_table)
    return table, "person_id, venue_id, scanned_at, status_shown, source, idem_key"


def _write_sqlite(good: list) -> set[str]:
    table, columns = _columns()
    # What Django stores for an aware datetime on SQLite (naive UTC as text), without its per-call overhead.
    values = [(key, str((at - at.utcoffset()).replace(tzinfo=None)), person_id, venue_id, status)
              for _i, key, person_id, venue_id, at, status in good]
    existing: set[tuple[str, str]] = set()
    with connection.cursor() as cursor:
        for chunk in _chunks([v[0] for v in values]):
            # "idem_key != ''" repeats the partial index's condition so that SQLite uses it.
            # The CAST keeps the stored text (no datetime conversion), to compare with the text written.
            cursor.execute(f"SELECT idem_key, CAST(scanned_at AS TEXT) FROM {table} WHERE idem_key != '' "
                           f"AND idem_key IN ({', '.join(['%s'] * len(chunk))})", chunk)
            existing.update(cursor.fetchall())
        new = [v for v in values if (v[0], v[1]) not in existing]
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, '{CheckInSource.BATCH.value}', %s) "
            "ON CONFLICT DO NOTHING",
            [(person_id, venue_id, at, status, key) for key, at, person_id, venue_id, status in new],
        )
    return {v[0] for v in new}


def _copy_text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _write_postgresql(good: list) -> set[str]:
    table, columns = _columns()
    lines = [f"{person_id}\t{venue_id}\t{at.isoformat()}\t{status}\t{_copy_text(key)}\n"
             for _i, key, person_id, venue_id, at, status in good]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {TEMP_TABLE} (person_id bigint, venue_id bigint, "
                       "scanned_at timestamptz, status_shown varchar(6), idem_key varchar(64)) ON COMMIT DROP")
        with cursor.cursor.copy(
            f"COPY {TEMP_TABLE} (person_id, venue_id, scanned_at, status_shown, idem_key) FROM STDIN"
        ) as copy:
            for start in range(0, len(lines), 10_000):
                copy.write("".join(lines[start:start + 10_000]))
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT person_id, venue_id, scanned_at, status_shown, "
            f"'{CheckInSource.BATCH.value}', idem_key FROM {TEMP_TABLE} ON CONFLICT DO NOTHING RETURNING idem_key"
        )
        stored = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {TEMP_TABLE}")
    return stored
