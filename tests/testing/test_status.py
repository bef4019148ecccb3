"""What a scan shows for testing: red while a positive pool awaits its re-test, yellow when a key-group test is overdue."""

from datetime import timedelta

from django.utils import timezone

from fangkong.people.models import KeyGroup
from fangkong.policy.services import compute_status
from fangkong.testing.models import PoolFollowup, RosterEntry, SamplingPoint, SamplingSession, Tube
from tests.base import WorldTestCase


class TestingStatusTests(WorldTestCase):
    def test_pool_retest_is_red_until_resolved(self):
        w = self.w
        point = SamplingPoint.objects.create(name="甲村采样点", area=w.grid_a)
        session = SamplingSession.objects.create(point=point, area=w.grid_a, operator=w.hq, pool_size=10)
        tube = Tube.objects.create(barcode="T-STATUS-1", session=session, area=w.grid_a, capacity=10,
                                   result="positive")
        followup = PoolFollowup.objects.create(tube=tube, person=w.person_a, area=w.grid_a,
                                               deadline=timezone.now() + timedelta(hours=6))
        colour, reasons, _until = compute_status(w.person_a)
        self.assertEqual(colour, "red")
        self.assertEqual(reasons[0]["stage"], "pool_retest")
        followup.status = "negative"
        followup.save()
        self.assertEqual(compute_status(w.person_a)[0], "green")

    def test_overdue_key_group_test_is_yellow_and_due_date_bounds_the_colour(self):
        w = self.w
        group = KeyGroup.objects.get(code="courier")
        today = timezone.localdate()
        entry = RosterEntry.objects.create(group=group, person=w.person_a, area=w.grid_a, next_due=today)
        colour, reasons, until = compute_status(w.person_a)
        self.assertEqual((colour, reasons), ("green", []))
        self.assertEqual(timezone.localdate(until), today + timedelta(days=1))
        entry.next_due = today - timedelta(days=1)
        entry.save()
        colour, reasons, _until = compute_status(w.person_a)
        self.assertEqual(colour, "yellow")
        self.assertIn(group.name, reasons[0]["label"])
        entry.is_active = False
        entry.save()
        self.assertEqual(compute_status(w.person_a)[0], "green")
