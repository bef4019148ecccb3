"""Bulk check-ins from gateways: idempotent, row by row, in one transaction."""

from datetime import timedelta
from unittest import skipUnless
from unittest.mock import patch

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.venues import ingest
from fangkong.venues.models import CheckIn
from fangkong.venues.tokens import place_code
from tests.base import WorldTestCase
from tests.factories import make_person, make_resident_id, make_venue


class IngestTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.venue = make_venue(w.grid_a)
        cls.venue2 = make_venue(w.grid_b, name="乙村饭店", type_code="restaurant")
        cls.numbers = [make_resident_id() for _ in range(10)]
        cls.people = [make_person(w.hq, w.grid_a, f"人员{i}", document_number=n) for i, n in enumerate(cls.numbers)]

    def rows(self, count=300, prefix="k"):
        now = timezone.now()
        return [{"key": f"{prefix}{i}", "venue": self.venue.pk if i % 2 else self.venue2.pk,
                 "person": self.numbers[i % len(self.numbers)],
                 "scanned_at": (now - timedelta(minutes=i)).isoformat(), "status": "green"} for i in range(count)]

    def test_batch_posted_twice_stores_each_row_once(self):
        rows = self.rows()
        first = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual((first.accepted, first.duplicate, first.rejected), (300, 0, 0))
        second = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual((second.accepted, second.duplicate, second.rejected), (0, 300, 0))
        self.assertEqual(CheckIn.objects.filter(source="batch").count(), 300)
        self.assertEqual({r[2] for r in second.rows}, {"duplicate"})
        stored = CheckIn.objects.get(idem_key="k3")
        self.assertEqual((stored.venue_id, stored.person_id, stored.status_shown), (self.venue.pk, self.people[3].pk,
                                                                                    "green"))

    def test_partly_stored_batch_retried_adds_only_the_rest(self):
        rows = self.rows(50)
        ingest.ingest_checkins(self.w.hq, rows[:20])
        result = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual((result.accepted, result.duplicate), (30, 20))
        self.assertEqual(CheckIn.objects.count(), 50)

    def test_malformed_rows_are_listed_and_good_rows_stored(self):
        now = timezone.now()
        good = {"key": "ok", "venue": self.venue.pk, "person": self.numbers[0], "scanned_at": now.isoformat()}
        rows = [
            good,
            "not an object",
            {**good, "key": ""},
            {**good, "key": "x" * 65},
            {**good, "key": "bad-venue", "venue": "1.1.FORGED"},
            {**good, "key": "no-venue", "venue": 999999},
            {**good, "key": "bad-id", "person": "12345"},
            {**good, "key": "unknown", "person": make_resident_id()},
            {**good, "key": "bad-time", "scanned_at": "yesterday"},
            {**good, "key": "bad-status", "status": "purple"},
            {**good, "key": "wrong-name", "name": "王五"},
            {**good, "key": "ok"},
            {**good, "key": "by-code", "venue": place_code(self.venue.pk, self.venue.code_version),
             "name": "人员0", "scanned_at": timezone.localtime(now).replace(tzinfo=None).isoformat()},
        ]
        result = ingest.ingest_checkins(self.w.hq, rows)
        outcome = {index: (result, error) for index, _key, result, error in result.rows}
        self.assertEqual((result.accepted, result.duplicate, result.rejected), (2, 1, 10))
        self.assertEqual(outcome[0][0], "accepted")
        self.assertEqual(outcome[12][0], "accepted")
        self.assertEqual(outcome[11][0], "duplicate")
        self.assertIn("人员未登记", outcome[7][1])
        self.assertIn("格式", outcome[6][1])
        self.assertIn("ISO 8601", outcome[8][1])
        self.assertIn("场所", outcome[5][1])
        self.assertIn("姓名", outcome[10][1])
        self.assertEqual(CheckIn.objects.count(), 2)

    def test_values_the_database_cannot_hold_are_rejected_rows(self):
        now = timezone.now().isoformat()
        good = {"key": "ok", "venue": self.venue.pk, "person": self.numbers[0], "scanned_at": now}
        rows = [good, {**good, "key": "huge", "venue": 10**20}, {**good, "key": "huge-text", "venue": "9" * 25},
                {**good, "key": "nul\x00"}, {**good, "key": "lone\ud800surrogate"}]
        result = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual([r[2] for r in result.rows], ["accepted", "rejected", "rejected", "rejected", "rejected"])
        self.assertIn("场所", result.rows[1][3])
        self.assertIn("空字符", result.rows[3][3])
        self.assertIn("代理码位", result.rows[4][3])

    def test_a_first_row_the_database_cannot_hold_is_a_rejected_row(self):
        good = {"key": "ok", "venue": self.venue.pk, "person": self.numbers[0], "scanned_at": timezone.now().isoformat()}
        for n, first in enumerate(({**good, "key": "nul\x00"}, {**good, "key": "lone\ud800surrogate"},
                      {**good, "key": "y1", "scanned_at": "0001-01-01T00:00:00+14:00"},
                      {**good, "key": "y9999", "scanned_at": "9999-12-31T23:59:59-14:00"})):
            with self.subTest(first=first["key"]):
                result = ingest.ingest_checkins(self.w.hq, [first, {**good, "key": f"after-{n}"}])
                self.assertEqual([r[2] for r in result.rows], ["rejected", "accepted"])

    def test_keys_with_tabs_backslashes_and_newlines_are_stored_as_sent(self):
        now = timezone.now().isoformat()
        keys = ["tab\there", "back\\slash", "new\nline", "cr\rlf", "中文键"]
        rows = [{"key": key, "venue": self.venue.pk, "person": self.numbers[0], "scanned_at": now} for key in keys]
        self.assertEqual(ingest.ingest_checkins(self.w.hq, rows).accepted, len(keys))
        self.assertEqual(sorted(CheckIn.objects.values_list("idem_key", flat=True)), sorted(keys))
        again = ingest.ingest_checkins(self.w.hq, rows)  # the careful way: the keys are found again
        self.assertEqual((again.accepted, again.duplicate), (0, len(keys)))
        self.assertEqual(CheckIn.objects.count(), len(keys))

    def test_same_key_at_another_time_is_another_row(self):
        # The unique index is on (key, time), as the day partitions need; both ways of writing agree on it:
        # the optimistic one (no key of the batch stored) and the careful one (some stored).
        rows = self.rows(40)
        ingest.ingest_checkins(self.w.hq, [rows[25]])
        moved = {**rows[25], "scanned_at": rows[30]["scanned_at"]}
        first = ingest.ingest_checkins(self.w.hq, [*rows[:25], moved])
        self.assertEqual((first.accepted, first.duplicate, first.rejected), (26, 0, 0))
        second = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual((second.accepted, second.duplicate, second.rejected), (14, 26, 0))
        self.assertEqual([r[2] for r in second.rows[24:27]], ["duplicate", "duplicate", "accepted"])
        self.assertEqual(CheckIn.objects.filter(idem_key=rows[25]["key"]).count(), 2)
        self.assertEqual(CheckIn.objects.count(), 41)

    def test_a_repeated_key_keeps_its_first_good_row(self):
        # SQLite checks and stores a batch in the order of its people: the rows are named so that that order
        # differs from theirs (people[9] was registered last), and the first good row of a key still wins.
        at = (timezone.now() - timedelta(minutes=5)).isoformat()
        row = {"venue": self.venue.pk, "scanned_at": at}
        rows = [
            {**row, "key": "twice", "person": self.numbers[9]},
            {**row, "key": "twice", "person": self.numbers[0]},
            {**row, "key": "thrice", "person": self.numbers[5], "scanned_at": "yesterday"},
            {**row, "key": "thrice", "person": self.numbers[8]},
            {**row, "key": "thrice", "person": self.numbers[1]},
        ]
        result = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual([r[2] for r in result.rows], ["accepted", "duplicate", "rejected", "accepted", "duplicate"])
        self.assertEqual(CheckIn.objects.get(idem_key="twice").person_id, self.people[9].pk)
        self.assertEqual(CheckIn.objects.get(idem_key="thrice").person_id, self.people[8].pk)

    def test_a_key_stored_before_undoes_the_chunks_written(self):
        # On SQLite the batch goes in by chunks, in person order, while the next chunks are checked. The row
        # stored before is people[0]'s (registered first: in the first chunk; the rows after it are then
        # mostly not checked yet when the insert fails) or people[9]'s (last: the chunks before it are
        # written, then undone). Either way the batch then goes the careful way.
        for person in (0, 9):
            with self.subTest(person=person):
                rows = self.rows(300, prefix=f"p{person}-")
                ingest.ingest_checkins(self.w.hq, [rows[person]])
                with patch.object(ingest, "SQLITE_FIRST_CHUNK", 5), patch.object(ingest, "SQLITE_WRITE_CHUNK", 7):
                    result = ingest.ingest_checkins(self.w.hq, rows)
                self.assertEqual((result.accepted, result.duplicate, result.rejected), (299, 1, 0))
                self.assertEqual(result.rows[person][2], "duplicate")
                stored = CheckIn.objects.filter(idem_key__startswith=f"p{person}-")
                self.assertEqual((stored.count(), stored.values("idem_key").distinct().count()), (300, 300))

    @skipUnless(connection.vendor == "sqlite", "SQLite writes a batch in person order")
    def test_sqlite_writes_a_batch_in_person_order(self):
        with patch.object(ingest, "SQLITE_FIRST_CHUNK", 5), patch.object(ingest, "SQLITE_WRITE_CHUNK", 7):
            self.assertEqual(ingest.ingest_checkins(self.w.hq, self.rows(60)).accepted, 60)
        people = list(CheckIn.objects.order_by("id").values_list("person_id", flat=True))
        self.assertEqual(people, sorted(people))

    @skipUnless(connection.vendor == "postgresql", "PostgreSQL writes a batch by day and venue")
    def test_postgresql_writes_a_batch_by_day_and_venue(self):
        noon = timezone.now().replace(hour=12, minute=0) - timedelta(days=1)  # an hour of rows stays in its day
        rows = [{**row, "scanned_at": (noon - timedelta(days=i % 3, minutes=i)).isoformat()}
                for i, row in enumerate(self.rows(60))]
        self.assertEqual(ingest.ingest_checkins(self.w.hq, rows).accepted, 60)
        sent = {row["key"]: row["scanned_at"][:10] for row in rows}
        places = [(sent[key], venue) for key, venue in CheckIn.objects.order_by("id").values_list("idem_key", "venue")]
        self.assertEqual(places, sorted(places))
        self.assertEqual(len(set(places)), 6)

    @skipUnless(connection.vendor == "postgresql", "PostgreSQL writes a batch by day and venue")
    def test_a_batch_sent_again_is_written_as_it_came(self):
        now = timezone.now()
        rows = [{**row, "scanned_at": (now - timedelta(days=i % 3, minutes=i)).isoformat()}
                for i, row in enumerate(self.rows(60))]
        ingest.ingest_checkins(self.w.hq, rows[:1])
        self.assertEqual(ingest.ingest_checkins(self.w.hq, rows).accepted, 59)
        stored = list(CheckIn.objects.order_by("id").values_list("idem_key", flat=True))
        self.assertEqual(stored, [row["key"] for row in rows])

    def test_future_and_ancient_timestamps_are_rejected(self):
        now = timezone.now()
        base = {"venue": self.venue.pk, "person": self.numbers[0]}
        rows = [
            {**base, "key": "future", "scanned_at": (now + timedelta(minutes=6)).isoformat()},
            {**base, "key": "slack", "scanned_at": (now + timedelta(minutes=4)).isoformat()},
            {**base, "key": "ancient", "scanned_at": (now - timedelta(days=29)).isoformat()},
            {**base, "key": "old-ok", "scanned_at": (now - timedelta(days=27)).isoformat()},
        ]
        result = ingest.ingest_checkins(self.w.hq, rows, now=now)
        self.assertEqual([r[2] for r in result.rows], ["rejected", "accepted", "rejected", "accepted"])
        self.assertIn("晚于当前", result.rows[0][3])
        self.assertIn("保存期限", result.rows[2][3])
        with override_settings(FANGKONG_CHECKIN_RETENTION_DAYS=30):
            again = ingest.ingest_checkins(self.w.hq, rows, now=now)
        self.assertEqual([r[2] for r in again.rows], ["rejected", "duplicate", "accepted", "duplicate"])

    def test_only_hq_pushes(self):
        with self.assertRaises(PermissionDenied):
            ingest.ingest_checkins(self.w.grid_a_worker, self.rows(1))

    @override_settings(FANGKONG_CHECKIN_BATCH_MAX_ROWS=10)
    def test_too_many_rows_refused_whole(self):
        with self.assertRaises(ValidationError):
            ingest.ingest_checkins(self.w.hq, self.rows(11))
        self.assertEqual(CheckIn.objects.count(), 0)

    def test_csv_with_chinese_headers(self):
        at = timezone.localtime().replace(microsecond=0, tzinfo=None).isoformat()
        body = f"幂等键,场所,身份证号,姓名,扫码时间,状态\nc1,{self.venue.pk},{self.numbers[1]},人员1,{at},yellow\n"
        rows = ingest.parse_csv(body.encode("utf-8-sig"))
        result = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual(result.accepted, 1)
        self.assertEqual(CheckIn.objects.get(idem_key="c1").status_shown, "yellow")

    def test_batch_is_audited_once(self):
        ingest.ingest_checkins(self.w.hq, self.rows(30))
        event = AuditEvent.objects.get(object_type="venues.checkin", action="import")
        self.assertEqual(event.changes["accepted"], 30)


@pytest.mark.slow
class LargeBatchTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.venues = [make_venue(cls.w.grid_a, name=f"场所{i}") for i in range(20)]
        cls.numbers = [make_resident_id() for _ in range(50)]
        for i, number in enumerate(cls.numbers):
            make_person(cls.w.hq, cls.w.grid_a, f"人员{i}", document_number=number)

    def test_fifty_thousand_rows_twice(self):
        now = timezone.now()
        rows = [{"key": f"big-{i}", "venue": self.venues[i % 20].pk, "person": self.numbers[i % 50],
                 "scanned_at": (now - timedelta(seconds=i)).isoformat()} for i in range(50_000)]
        first = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual(first.accepted, 50_000)
        second = ingest.ingest_checkins(self.w.hq, rows)
        self.assertEqual(second.duplicate, 50_000)
        self.assertEqual(CheckIn.objects.count(), 50_000)
