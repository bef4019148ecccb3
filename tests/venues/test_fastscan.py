"""The WSGI fast path of POST /api/v1/scan: green check-ins below Django, everything else handed on."""

import json
from io import BytesIO
from unittest import skipUnless
from wsgiref.util import setup_testing_defaults

import psycopg
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import TestCase, TransactionTestCase, override_settings

from fangkong.declarations import services as declarations
from fangkong.venues import fastscan, services, tokens
from fangkong.venues.models import CheckIn
from fangkong.wsgi import django_application as real_django_application
from tests.base import WorldTestCase
from tests.factories import World, declaration_data, make_risk_area, make_venue

DEVICE = "device-secret-0123456789abcdef"


def call(app, body: dict, remote="10.1.1.1"):
    raw = json.dumps(body).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": fastscan.PATH, "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(raw)), "wsgi.input": BytesIO(raw), "REMOTE_ADDR": remote}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    chunks = app(environ, start_response)
    content = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return answer["status"], answer["headers"], json.loads(content) if content else None


def django_application(environ, start_response):
    """Django's WSGI handler as the test client runs it: without closing the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = real_django_application(environ, start_response)
        content = b"".join(response)
        response.close()
        return [content]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def not_reached(environ, start_response):
    raise AssertionError("the full API was asked")


def scan_body(venue, person, device=DEVICE) -> dict:
    return {"code": services.code_of(venue), "token": tokens.personal_token(person.pk, device), "device": device}


class VenueTestCase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.venue = make_venue(cls.w.grid_a)

    def setUp(self):
        cache.clear()

    def body(self, person, device=DEVICE):
        return scan_body(self.venue, person, device)


class FastScanTests(VenueTestCase):

    def test_a_green_scan_is_answered_without_django(self):
        status, headers, answer = call(fastscan.wrap(not_reached), self.body(self.w.person_a))
        self.assertEqual(status, "200 OK")
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertEqual((answer["colour"], answer["label"], answer["duplicate"]), ("green", "通行", False))
        self.assertEqual(answer["person"], "张*")
        self.assertEqual(CheckIn.objects.get().person, self.w.person_a)

    def test_the_answer_matches_the_full_api(self):
        _status, _headers, fast = call(fastscan.wrap(not_reached), self.body(self.w.person_a))
        _status, _headers, full = call(django_application, self.body(self.w.person_b))
        self.assertEqual(set(fast), set(full))
        self.assertEqual({k: v for k, v in fast.items() if k not in ("time", "person")},
                         {k: v for k, v in full.items() if k not in ("time", "person")})

    def test_everything_else_goes_to_the_full_api(self):
        app = fastscan.wrap(django_application)
        call(app, self.body(self.w.person_a))
        status, _headers, answer = call(app, self.body(self.w.person_a))  # again within a minute
        self.assertEqual((status, answer["duplicate"]), ("200 OK", True))
        self.assertEqual(CheckIn.objects.count(), 1)
        status, _headers, answer = call(app, {**self.body(self.w.person_a), "device": "another-device-000000000"})
        self.assertEqual((status, answer["code"]), ("401 Unauthorized", "invalid_token"))
        forged = {**self.body(self.w.person_b), "code": f"{self.venue.pk}.1.AAAAAAAAAAAAAAAAAAAAAAAA"}
        status, _headers, answer = call(app, forged)
        self.assertEqual((status, answer["code"]), ("400 Bad Request", "invalid_code"))

    def test_red_is_answered_by_the_full_api_with_its_signal(self):
        make_risk_area("110101", "medium")
        declaration, _ = declarations.submit_declaration(declaration_data(self.w.grid_a))
        status, _headers, answer = call(fastscan.wrap(django_application), self.body(declaration.person))
        self.assertEqual((status, answer["colour"]), ("200 OK", "red"))
        self.assertTrue(declaration.person.signals.filter(kind="scan_red").exists())

    @override_settings(FANGKONG_SCAN_RATE_PER_MINUTE=2)
    def test_a_flood_is_counted_once_and_refused(self):
        app = fastscan.wrap(django_application)
        codes = [call(app, self.body(p), remote="10.9.9.9")[0] for p in (self.w.person_a, self.w.person_b)]
        self.assertEqual(codes, ["200 OK", "200 OK"])
        status, _headers, answer = call(app, self.body(self.w.person_a), remote="10.9.9.9")
        self.assertEqual((status, answer["code"]), ("429 Too Many Requests", "throttled"))


@skipUnless(connection.vendor == "postgresql", "the statement is prepared only on PostgreSQL")
class PreparedStatementTests(VenueTestCase):
    def scan(self, person):
        return call(fastscan.wrap(not_reached), self.body(person))[2]

    def executions(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT generic_plans + custom_plans FROM pg_prepared_statements "
                           "WHERE name = 'fangkong_green_scan'")
            return [row[0] for row in cursor.fetchall()]

    def test_the_scan_is_prepared_once_per_connection(self):
        before = (self.executions() or [0])[0]
        self.scan(self.w.person_a)
        self.scan(self.w.person_b)
        self.assertEqual(self.executions(), [before + 2])

    def test_a_connection_without_the_statement_prepares_it_again(self):
        self.scan(self.w.person_a)
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE fangkong_green_scan")  # what a new server session looks like
        fastscan._prepared.discard(connection.connection)
        self.assertEqual(self.scan(self.w.person_b)["colour"], "green")
        self.assertEqual(self.executions(), [1])


@skipUnless(connection.vendor == "postgresql", "the statement is prepared only on PostgreSQL")
class ConnectionTroubleTests(TransactionTestCase):
    """Outside a transaction, as the fast path runs."""

    serialized_rollback = True  # each test starts from the migrated database (venue types and the like)

    def setUp(self):
        cache.clear()
        self.w = World()
        self.venue = make_venue(self.w.grid_a)

    def test_a_discarded_session_prepares_the_statement_again(self):
        body = scan_body(self.venue, self.w.person_a)
        call(fastscan.wrap(not_reached), body)
        with connection.cursor() as cursor:
            cursor.execute("DISCARD ALL")  # what a pooler does between clients; the connection stays known
        self.assertIn(connection.connection, fastscan._prepared)
        body["token"] = tokens.personal_token(self.w.person_b.pk, DEVICE)
        status, _headers, answer = call(fastscan.wrap(not_reached), body)
        self.assertEqual((status, answer["colour"]), ("200 OK", "green"))
        self.assertEqual(CheckIn.objects.count(), 2)

    def test_a_broken_connection_is_replaced_and_the_full_api_answers(self):
        body = scan_body(self.venue, self.w.person_a)
        call(fastscan.wrap(not_reached), body)
        connection.close_at = None  # a persistent connection (CONN_MAX_AGE), as production runs
        with psycopg.connect(**connection.get_connection_params()) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
        body["token"] = tokens.personal_token(self.w.person_b.pk, DEVICE)
        with self.assertLogs("fangkong.venues.fastscan", "ERROR"):
            status, _headers, answer = call(fastscan.wrap(django_application), body)
        self.assertEqual((status, answer["colour"]), ("200 OK", "green"))
        self.assertEqual(CheckIn.objects.count(), 2)

    def test_a_failing_statement_hands_the_scan_to_the_full_api(self):
        body = scan_body(self.venue, self.w.person_a)
        call(fastscan.wrap(not_reached), body)
        with connection.cursor() as cursor:  # the same name, a statement that fails when run
            cursor.execute("DEALLOCATE fangkong_green_scan")
            cursor.execute("PREPARE fangkong_green_scan (bigint, integer, bigint, timestamptz, timestamptz, text[]) "
                           "AS SELECT 'x', 'y', 1 / 0")
        body["token"] = tokens.personal_token(self.w.person_b.pk, DEVICE)
        with self.assertLogs("fangkong.venues.fastscan", "ERROR") as logs:
            status, _headers, answer = call(fastscan.wrap(django_application), body)
        self.assertIn("DivisionByZero", "\n".join(logs.output))
        self.assertEqual((status, answer["colour"]), ("200 OK", "green"))
        self.assertEqual(CheckIn.objects.count(), 2)


@skipUnless(connection.vendor == "postgresql", "the statement is prepared only on PostgreSQL")
class TextArrayTests(TestCase):
    def test_venue_type_codes_reach_postgresql_as_they_are(self):
        codes = ["clinic", 'a"b', "c\\d", "e,f", "{g}", "h i", "NULL", "", "诊所"]
        connection.ensure_connection()
        result = connection.connection.pgconn.exec_params(b"SELECT unnest($1::text[])", [fastscan._text_array(codes)])
        got = [result.get_value(row, 0).decode() for row in range(result.ntuples)]
        self.assertEqual(got, codes)
