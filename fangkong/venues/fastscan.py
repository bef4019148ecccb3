"""The scan's fast path: a green check-in answered below Django's request handling.

At a county's rush hour the scan endpoint takes thousands of requests a
second; most are people with no measure checking in once. This WSGI layer
answers exactly that case with four short SQL statements (venue, person and
stored colour, the one-minute duplicate window, the insert) and the same
JSON as ``POST /api/v1/scan`` (on PostgreSQL one round trip: a data-modifying
CTE, prepared once per connection and executed through libpq). Anything else (a bad or revoked code, a bad
token, a yellow or red person, a venue that asks for a recent test at the door,
a duplicate, a stale colour, any error) is
handed unchanged to the full API, which answers, logs and raises signals.
"""

import json
import logging
import weakref
from io import BytesIO

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import (
    get_supported_language_variant,
    parse_accept_lang_header,
)
from psycopg import pq

from fangkong.core.ratelimit import over_limit
from fangkong.people.identity import mask_name
from fangkong.policy.services import venue_test_rule

from . import tokens
from .services import DUPLICATE_WINDOW

PATH = "/api/v1/scan"
MAX_BODY = 4096
log = logging.getLogger(__name__)

HEADERS = [
    ("Content-Type", "application/json; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
]


class _Client:
    """What the rate limiter reads of a request."""

    def __init__(self, environ):
        self.META = environ


def _language(environ) -> str:
    for code, _quality in parse_accept_lang_header(environ.get("HTTP_ACCEPT_LANGUAGE", "")):
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _fields(body: bytes) -> tuple[str, str, str] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    values = tuple(data.get(key) for key in ("code", "token", "device"))
    return values if all(isinstance(v, str) and v for v in values) else None


# PostgreSQL: the whole check in one round trip. The insert happens only when the venue's code is
# current, its type asks for no recent test at the door, the person is green with a fresh colour and has
# no check-in there in the last minute. Prepared once per connection: planning this statement cost
# PostgreSQL more than running it (Django's psycopg connections prepare nothing by themselves).
# $1 venue, $2 code version, $3 person, $4 now, $5 start of the duplicate window, $6 venue types with a
# door rule.
PREPARE = """
PREPARE fangkong_green_scan (bigint, integer, bigint, timestamptz, timestamptz, text[]) AS
WITH v AS (SELECT v.name FROM venues_venue v JOIN venues_venuetype t ON t.id = v.type_id
           WHERE v.id = $1 AND v.code_version = $2 AND v.is_active AND NOT (t.code = ANY($6))),
     p AS (SELECT p.name, COALESCE(s.colour, 'green') AS colour, COALESCE(s.valid_until <= $4, false) AS stale
           FROM people_person p LEFT JOIN policy_personstatus s ON s.person_id = p.id WHERE p.id = $3),
     d AS (SELECT 1 FROM venues_checkin WHERE person_id = $3 AND venue_id = $1
           AND scanned_at >= $5 AND scanned_at <= $4 LIMIT 1),
     ins AS (INSERT INTO venues_checkin (person_id, venue_id, scanned_at, status_shown, source, idem_key)
             SELECT $3, $1, $4, 'green', 'scan', ''
             WHERE EXISTS (SELECT 1 FROM v) AND EXISTS (SELECT 1 FROM p WHERE colour = 'green' AND NOT stale)
               AND NOT EXISTS (SELECT 1 FROM d)
             RETURNING 1)
SELECT (SELECT name FROM v), (SELECT name FROM p), (SELECT count(*) FROM ins)
"""
STATEMENT = b"fangkong_green_scan"
_prepared = weakref.WeakSet()  # the psycopg connections that hold the statement


def _text_array(values: list[str]) -> bytes:
    """VALUES as a PostgreSQL array literal (text[] in text format)."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return ("{" + ",".join(quoted) + "}").encode()


def _execute(pgconn, params: list[bytes]):
    """Run the prepared statement through libpq itself: the result, or None when it is not prepared here."""
    result = pgconn.exec_prepared(STATEMENT, params)
    if result.status == pq.ExecStatus.TUPLES_OK:
        return result
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    if sqlstate == b"26000":  # invalid_sql_statement_name: the session lost it (DISCARD ALL, a pooler)
        return None
    message = (result.error_message or pgconn.error_message).decode("utf-8", "replace")
    raise (psycopg.errors.lookup(sqlstate.decode()) if sqlstate else psycopg.OperationalError)(message)


def _one_round_trip(venue_id: int, version: int, person_id: int, now, since, tested: list[str]) -> tuple:
    """(venue name, person name, whether checked in) from one execution of the prepared statement.

    Executed by psycopg's libpq binding with the parameters as text: going
    through a psycopg cursor (client-side binding, as Django opens it) cost
    the web worker's CPU about twice as much (115-181 against 67-75 µs a
    scan). Errors still reach Django as its own, and mark the connection for
    ``close_if_unusable_or_obsolete``.
    """
    connection.ensure_connection()
    raw = connection.connection
    params = [b"%d" % venue_id, b"%d" % version, b"%d" % person_id, now.isoformat().encode(),
              since.isoformat().encode(), _text_array(tested)]
    with connection.wrap_database_errors:
        result = _execute(raw.pgconn, params) if raw in _prepared else None
        if result is None:  # a new connection, or one whose session lost the statement: prepare, run again
            with raw.cursor() as cursor:
                cursor.execute(PREPARE)
            _prepared.add(raw)
            result = _execute(raw.pgconn, params)
            if result is None:
                raise psycopg.OperationalError("the scan's statement is missing right after PREPARE")
    venue, person, inserted = (result.get_value(0, n) for n in range(3))
    encoding = raw.info.encoding
    return (venue and venue.decode(encoding), person and person.decode(encoding), inserted == b"1")


def green_checkin(code: str, token: str, device: str, now=None) -> dict | None:
    """Check a green person in and return the API's answer, or None when the full path must answer."""
    parsed = tokens.parse_place_code(code)
    person_id = tokens.parse_personal_token(token, device)
    if parsed is None or person_id is None:
        return None
    venue_id, version = parsed
    tested = list(venue_test_rule()["hours"])  # venue types with a door rule: the full path checks the test
    if "default" in tested:
        return None
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        venue_name, person_name, inserted = _one_round_trip(
            venue_id, version, person_id, now, now - DUPLICATE_WINDOW, tested)
        if not inserted:
            return None
        return _answer(venue_name, person_name, now)
    at = connection.ops.adapt_datetimefield_value(now)
    since = connection.ops.adapt_datetimefield_value(now - DUPLICATE_WINDOW)
    with connection.cursor() as cursor:
        cursor.execute("SELECT v.name, t.code FROM venues_venue v JOIN venues_venuetype t ON t.id = v.type_id "
                       "WHERE v.id = %s AND v.code_version = %s AND v.is_active = %s", [venue_id, version, True])
        venue = cursor.fetchone()
        if venue is None or venue[1] in tested:
            return None
        cursor.execute(
            "SELECT p.name, s.colour, CASE WHEN s.valid_until IS NOT NULL AND s.valid_until <= %s THEN 1 ELSE 0 END "
            "FROM people_person p LEFT JOIN policy_personstatus s ON s.person_id = p.id WHERE p.id = %s",
            [at, person_id])
        person = cursor.fetchone()
        if person is None or (person[1] or "green") != "green" or person[2]:
            return None
        cursor.execute(
            "SELECT 1 FROM venues_checkin WHERE person_id = %s AND scanned_at >= %s AND scanned_at <= %s "
            "AND venue_id = %s LIMIT 1", [person_id, since, at, venue_id])
        if cursor.fetchone() is not None:
            return None
        cursor.execute(
            "INSERT INTO venues_checkin (person_id, venue_id, scanned_at, status_shown, source, idem_key) "
            "VALUES (%s, %s, %s, 'green', 'scan', '')", [person_id, venue_id, at])
    return _answer(venue[0], person[0], now)


def _answer(venue_name: str, person_name: str, now) -> dict:
    return {"colour": "green", "label": _("通行"), "venue": venue_name,
            "time": timezone.localtime(now).isoformat(), "reasons": [], "duplicate": False,
            "person": mask_name(person_name)}


def wrap(django_app):
    """The WSGI application: the fast path for POST /api/v1/scan, Django for everything else."""

    def application(environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return django_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return django_app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = BytesIO(body)  # the full path reads it again
        fields = _fields(body)
        if fields is None:
            return django_app(environ, start_response)
        # Counted here once; the full path reads the verdict (fangkong.scan_limited) instead of counting again.
        limited = over_limit("scan", _Client(environ), getattr(settings, "FANGKONG_SCAN_RATE_PER_MINUTE", 120), 60)
        environ["fangkong.scan_limited"] = limited
        if limited:
            return django_app(environ, start_response)
        try:
            with translation.override(_language(environ)):
                answer = green_checkin(*fields)
        except Exception:  # any trouble: the full path answers (and reconnects if the connection broke)
            log.exception("scan fast path failed; answered by the full API")
            connection.close_if_unusable_or_obsolete()
            answer = None
        if answer is None:
            return django_app(environ, start_response)
        payload = json.dumps(answer, ensure_ascii=False).encode()
        start_response("200 OK", [*HEADERS, ("Content-Length", str(len(payload)))])
        return [payload]

    return application
