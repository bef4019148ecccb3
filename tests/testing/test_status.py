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


class StatusFollowsTestingTests(WorldTestCase):
    """The stored colour (what the scan fast path reads) follows pooled positives, re-tests and samples."""

    def test_pool_positive_turns_members_red_and_a_negative_retest_green(self):
        from fangkong.accounts.choices import Role
        from fangkong.policy.models import PersonStatus
        from fangkong.testing import services
        from tests.factories import make_person, make_user

        w = self.w
        site = make_user("site_status", Role.SITE_STAFF, w.county)
        lab = make_user("lab_status", Role.LAB_OPERATOR, w.county)
        point = SamplingPoint.objects.create(name="甲村采样点", area=w.grid_a)
        pooled = services.open_session(site, point, 5)
        people = [make_person(w.hq, w.grid_a, f"混采{i}") for i in range(2)]
        for i, person in enumerate(people):
            services.add_sample(site, pooled, barcode="P-STATUS", person=person, client_key=f"p{i}")
        services.seal_tube(site, Tube.objects.get(barcode="P-STATUS"))
        services.ingest_results(lab, [{"barcode": "P-STATUS", "result": "阳性", "tested_at": timezone.now()}])
        self.assertEqual(PersonStatus.objects.get(person=people[0]).colour, "red")
        single = services.open_session(site, point, 1)
        services.add_sample(site, single, barcode="S-STATUS", person=people[0], client_key="s0")
        services.ingest_results(lab, [{"barcode": "S-STATUS", "result": "阴性", "tested_at": timezone.now()}])
        self.assertEqual(PersonStatus.objects.get(person=people[0]).colour, "green")
        self.assertEqual(PersonStatus.objects.get(person=people[1]).colour, "red")

