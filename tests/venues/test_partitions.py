"""PostgreSQL: the check-in table is partitioned by day; days are created ahead and dropped whole."""

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from fangkong.venues import partitions
from fangkong.venues.models import CheckIn
from tests.base import WorldTestCase
from tests.factories import make_venue

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only")


class PartitionTests(WorldTestCase):
    def test_rows_move_into_their_day_and_old_days_drop_whole(self):
        self.assertTrue(partitions.is_partitioned())
        venue = make_venue(self.w.grid_a)
        today = timezone.localdate()
        tz = timezone.get_current_timezone()
        old_day = today - timedelta(days=40)
        for day in (old_day, today):
            CheckIn.objects.create(person=self.w.person_a, venue=venue, status_shown="green",
                                   scanned_at=datetime.combine(day, time(12), tzinfo=tz))
        made = partitions.ensure_partitions(old_day, today + timedelta(days=2))
        self.assertIn(partitions.partition_name(today), made)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {partitions.DEFAULT}")
            self.assertEqual(cursor.fetchone()[0], 0)  # both rows moved into their day
            cursor.execute(f'SELECT count(*) FROM "{partitions.partition_name(today)}"')
            self.assertEqual(cursor.fetchone()[0], 1)
        self.assertEqual(partitions.drop_partitions_before(today - timedelta(days=28), dry_run=True)[1], 1)
        dropped, rows = partitions.drop_partitions_before(today - timedelta(days=28))
        self.assertEqual(rows, 1)
        self.assertGreaterEqual(dropped, 1)
        self.assertEqual(CheckIn.objects.count(), 1)

    def test_idempotency_keys_compare_byte_by_byte_in_every_partition(self):
        partitions.ensure_partitions(timezone.localdate(), timezone.localdate() + timedelta(days=1))
        tables = ["venues_checkin", partitions.DEFAULT, *partitions.existing_partitions()]
        self.assertGreaterEqual(len(tables), 4)
        with connection.cursor() as cursor:
            cursor.execute("SELECT c.relname, a.attcollation::regcollation::text FROM pg_attribute a "
                           "JOIN pg_class c ON c.oid = a.attrelid WHERE a.attname = 'idem_key' AND c.relname = ANY(%s)",
                           [tables])
            collations = dict(cursor.fetchall())
        self.assertEqual(collations, dict.fromkeys(tables, '"C"'))
