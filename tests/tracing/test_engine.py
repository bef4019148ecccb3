"""Contact discovery on a hand-built scenario with known answers: planted check-ins, nothing missing, nothing extra."""

from datetime import date, datetime, timedelta

from django.utils import timezone

from fangkong.tracing import services
from fangkong.tracing.choices import ContactKind, Rule
from fangkong.venues.models import CheckIn
from tests.base import WorldTestCase
from tests.factories import make_household, make_person, make_venue

ONSET = date(2026, 11, 20)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A local time relative to the onset day."""
    return timezone.make_aware(datetime.combine(ONSET + timedelta(days=day_offset), datetime.min.time())
                               + timedelta(hours=hour, minutes=minute))


class Scenario(WorldTestCase):
    maxDiff = None

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.restaurant = make_venue(w.grid_a, "甲村饭店", "restaurant")  # dwell 60, close after 15 min
        cls.supermarket = make_venue(w.grid_a, "甲村超市", "supermarket")  # dwell 40, companions only
        cls.night = make_venue(w.grid_a, "夜宵店", "restaurant")
        cls.edge = make_venue(w.grid_b, "乙村超市", "supermarket")
        cls.later = make_venue(w.grid_b, "乙村饭店", "restaurant")
        cls.teahouse = make_venue(w.grid_b, "乙村茶馆", "restaurant")
        cls.cafe = make_venue(w.grid_b, "乙村早餐店", "restaurant")
        cls.case_person = w.person_a  # has a household
        cls.people = {}

        def person(label, **data):
            p = make_person(w.hq, w.grid_b, f"人员{label}", **data)
            cls.people[label] = p
            return p

        def scan(p, venue, when):
            CheckIn.objects.create(person=p, venue=venue, scanned_at=when)

        case = cls.case_person
        # The case's check-ins: the window opens 2 days before onset (00:00) and closes at isolation.
        cls.isolated = at(1, 9)
        scan(case, cls.restaurant, at(-1, 12))          # [12:00, 13:00]
        scan(case, cls.supermarket, at(-1, 18))         # [18:00, 18:40]
        scan(case, cls.cafe, at(-1, 8))                 # [08:00, 09:00]
        scan(case, cls.teahouse, at(-1, 15))            # [15:00, 16:00]: the boundary probes
        scan(case, cls.night, at(-1, 23, 30))           # [23:30, 00:30] across midnight
        scan(case, cls.edge, at(-2, 0))                 # the window's first minute
        scan(case, cls.supermarket, at(-3, 10))         # before the window: ignored
        scan(case, cls.later, cls.isolated)             # the window's last minute
        scan(case, cls.later, cls.isolated + timedelta(minutes=1))  # after isolation: ignored

        scan(person("A"), cls.restaurant, at(-1, 12, 10))   # 50 min overlap: close
        scan(person("B"), cls.teahouse, at(-1, 15, 50))     # 10 min overlap: companion
        scan(person("C"), cls.teahouse, at(-1, 16))         # touching at 16:00: companion, 0 min
        scan(person("D"), cls.teahouse, at(-1, 16, 1))      # a minute apart: nothing
        scan(person("E"), cls.teahouse, at(-1, 14))         # touching at 15:00 from before: companion
        scan(person("F"), cls.teahouse, at(-1, 13, 59))     # nothing
        scan(person("Q"), cls.cafe, at(-1, 8, 45))        # exactly 15 min overlap: close
        scan(person("G"), cls.supermarket, at(-1, 18, 30))  # supermarket: companion however long
        scan(person("H"), cls.night, at(0, 0, 10))          # 20 min across midnight: close
        scan(person("I"), cls.restaurant, at(-1, 12, 30))   # close at the restaurant ...
        scan(cls.people["I"], cls.supermarket, at(-1, 18, 5))  # ... and companion at the supermarket
        scan(person("M"), cls.supermarket, at(-3, 10, 5))   # only near the ignored check-in: nothing
        scan(person("N"), cls.edge, at(-2, 0, 20))          # first minute of the window: companion
        scan(person("O"), cls.later, cls.isolated + timedelta(minutes=20))  # last minute: close (40 min)
        scan(person("P"), cls.later, cls.isolated + timedelta(minutes=81))  # after O and the case: nothing
        person("K", workplace="甲村小学三年级二班")
        case.workplace = "甲村小学三年级二班"
        case.save()
        cls.roommate = make_person(w.hq, w.grid_a, "同住人", household=case.household)

        # Secondary contacts through A (close, first exposed at 12:10 the day before onset).
        a = cls.people["A"]
        home = make_household(w.grid_b, "9号楼", "901")
        a.household = home
        a.save()
        cls.a_family = make_person(w.hq, w.grid_b, "A家属", household=home)
        scan(person("S1"), cls.later, at(0, 19, 20))        # with A at a restaurant 20 min: secondary
        scan(a, cls.later, at(0, 19))
        scan(person("S2"), cls.supermarket, at(0, 10, 5))   # with A at a supermarket: not secondary
        scan(a, cls.supermarket, at(0, 10))
        scan(person("S3"), cls.night, at(-1, 9))            # with A before A met the case: nothing
        scan(a, cls.night, at(-1, 9, 10))

    def setUp(self):
        from fangkong.tracing.models import Case

        self.case = Case.objects.create(number="BL-TEST-1", person=self.case_person, area=self.case_person.area,
                                        classification="confirmed", onset_date=ONSET,
                                        isolated_at=self.isolated)

    def found(self):
        return services.discover(self.case, now=self.isolated + timedelta(days=1))

    def test_exactly_the_planted_contacts(self):
        links = self.found()
        p = self.people
        expected = {
            p["A"].pk: ContactKind.CLOSE, p["B"].pk: ContactKind.COMPANION, p["C"].pk: ContactKind.COMPANION,
            p["E"].pk: ContactKind.COMPANION, p["G"].pk: ContactKind.COMPANION, p["H"].pk: ContactKind.CLOSE,
            p["I"].pk: ContactKind.CLOSE, p["N"].pk: ContactKind.COMPANION, p["O"].pk: ContactKind.CLOSE,
            p["K"].pk: ContactKind.CLOSE, p["Q"].pk: ContactKind.CLOSE, self.roommate.pk: ContactKind.CLOSE,
            self.a_family.pk: ContactKind.SECONDARY, p["S1"].pk: ContactKind.SECONDARY,
        }
        self.assertEqual({pid: link.kind for pid, link in links.items()}, expected)

    def test_touching_intervals_have_zero_overlap(self):
        links = self.found()
        (item,) = links[self.people["C"].pk].evidence
        self.assertEqual((item["rule"], item["overlap_minutes"]), (Rule.VENUE_COMPANION, 0))
        self.assertEqual(links[self.people["A"].pk].evidence[0]["overlap_minutes"], 50)

    def test_two_venues_one_person_all_evidence(self):
        link = self.found()[self.people["I"].pk]
        direct = [e for e in link.evidence if "via" not in e]
        self.assertEqual(sorted(e["venue"] for e in direct), ["甲村超市", "甲村饭店"])
        # Also met close contact A there: that path is kept as evidence too, the kind stays close.
        self.assertEqual({e["via"] for e in link.evidence if "via" in e}, {self.people["A"].pk})
        self.assertEqual(link.kind, ContactKind.CLOSE)
        self.assertEqual(link.first, at(-1, 12, 30))
        self.assertEqual(link.last, at(-1, 18, 40))

    def test_secondary_keeps_the_close_contact_it_came_through(self):
        link = self.found()[self.people["S1"].pk]
        self.assertEqual({e["via"] for e in link.evidence}, {self.people["A"].pk})

    def test_trace_case_stores_once_and_rerun_is_stable(self):
        first = services.trace_case(self.case, now=self.isolated + timedelta(days=1))
        self.assertEqual((first["close"], first["companion"], first["secondary"]), (7, 5, 2))
        contact = self.case.contacts.get(person=self.people["S1"])
        self.assertEqual(contact.via.person, self.people["A"])
        self.assertNotIn(self.case_person.name, contact.summary)
        again = services.trace_case(self.case, now=self.isolated + timedelta(days=1))
        self.assertEqual((again["created"], again["removed"]), (0, 0))
        self.assertEqual(self.case.contacts.count(), 14)

    def test_a_contact_who_is_a_case_is_marked_and_linked(self):
        from fangkong.tracing.models import Case

        later = Case.objects.create(number="BL-TEST-2", person=self.people["A"], area=self.people["A"].area,
                                    classification="confirmed", onset_date=ONSET + timedelta(days=3))
        services.trace_case(self.case, now=self.isolated + timedelta(days=1))
        self.assertTrue(self.case.contacts.get(person=self.people["A"]).is_case)
        later.refresh_from_db()
        self.assertEqual(later.infected_by, self.case)
        self.assertIsNotNone(later.cluster)
