"""The daily space-time scan across townships: a burst in one corner of the county is an alert; a calm county
is not."""

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from fangkong.areas.boundaries import demo_boundaries
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.warning.models import Alert, Signal
from fangkong.warning.services import scan_day
from tests.base import WorldTestCase
from tests.factories import make_area


class ScanDayTests(WorldTestCase):
    def setUp(self):
        for n in range(3, 9):
            make_area(f"370923{n:03d}000", f"第{n}镇", AreaLevel.TOWNSHIP, self.w.county)
        self.townships = list(Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code"))
        demo_boundaries(self.townships, columns=4)
        self.today = timezone.localdate()

    def scans(self, area, day, count):
        at = timezone.make_aware(datetime.combine(day, time(10)))
        Signal.objects.bulk_create([Signal(kind="scan_red", title="红码通行", area=area, occurred_at=at)
                                    for _ in range(count)])

    def background(self, rng):
        for offset in range(60):
            day = self.today - timedelta(days=offset)
            for area in self.townships:
                self.scans(area, day, rng.randint(0, 2))

    def test_a_burst_in_one_township_today_is_a_cluster_alert(self):
        self.background(random.Random(3))
        self.scans(self.townships[0], self.today, 25)
        raised = scan_day(self.today, replicates=199)
        self.assertTrue(raised)
        alert = raised[0]
        self.assertEqual(alert.details["used_method"], "scan")
        self.assertIn(self.townships[0].name, alert.details["zones"])
        self.assertLessEqual(alert.details["p_value"], 0.01)
        self.assertEqual(scan_day(self.today, replicates=199), [])  # idempotent: the same day again

    def test_a_calm_county_raises_nothing(self):
        self.background(random.Random(4))
        self.assertEqual(scan_day(self.today, replicates=199), [])
        self.assertFalse(Alert.objects.filter(details__used_method="scan").exists())

    def test_a_township_that_already_alarmed_today_gets_the_cluster_on_its_alert(self):
        from fangkong.warning import alerts
        from fangkong.warning.models import DetectorConfig

        self.background(random.Random(3))
        self.scans(self.townships[0], self.today, 25)
        config = DetectorConfig.objects.get(signal_type="non_green_scans")
        own, _created = alerts.raise_detector_alert(config, self.townships[0], self.today, 25, 6.0,
                                                    details={"used_method": "ears_c2"})
        self.assertEqual(scan_day(self.today, replicates=199), [])
        own.refresh_from_db()
        self.assertEqual(own.details["used_method"], "ears_c2")
        self.assertIn(self.townships[0].name, own.details["scan"]["zones"])
        self.assertLessEqual(own.details["scan"]["p_value"], 0.01)
        self.client.force_login(self.w.hq)
        page = self.client.get(f"/warning/alerts/{own.pk}/")
        self.assertContains(page, "时空聚集")
        self.assertContains(page, self.townships[0].name)
