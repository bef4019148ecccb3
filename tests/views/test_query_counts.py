"""Query counts of the list pages are pinned: more rows must not mean more queries."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.base import WorldTestCase
from tests.factories import make_household, make_person

PAGES = [
    ("people:list", {}),
    ("areas:detail", {"code": "370923000000"}),
    ("areas:detail", {"code": "370923001001001"}),
    ("tasks:inbox", {}),
    ("audit:list", {}),
]
# Session, user, then the page's own reads (counts, the page of rows, nav).
PINNED = {
    ("people:list", ""): 6,
    ("areas:detail", "370923000000"): 6,
    ("areas:detail", "370923001001001"): 9,
    ("tasks:inbox", ""): 4,
    ("audit:list", ""): 5,
}


class QueryCountTests(WorldTestCase):
    def counts(self):
        self.client.force_login(self.w.hq)
        result = {}
        for name, kwargs in PAGES:
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(reverse(name, kwargs=kwargs))
            self.assertEqual(response.status_code, 200)
            result[(name, kwargs.get("code", ""))] = len(queries)
        return result

    def test_list_pages_do_not_grow_with_rows(self):
        before = self.counts()
        for i in range(10):
            make_person(self.w.hq, self.w.grid_a, f"王{i}", household=make_household(self.w.grid_a, f"{i + 2}号楼"))
        self.assertEqual(self.counts(), before)

    def test_pinned_counts(self):
        self.assertEqual(self.counts(), PINNED)


class NewListPagesTests(WorldTestCase):
    """Declarations, risk areas, packs, venues and compliance: the same number of queries for 1 or 11 rows."""

    PAGES = ["declarations:list", "policy:risk_areas", "policy:packs", "venues:list", "compliance:index"]

    def add_rows(self, n):
        from fangkong.declarations.services import submit_declaration
        from tests.factories import declaration_data, make_risk_area, make_venue

        for i in range(n):
            submit_declaration(declaration_data(self.w.grid_a))
            make_risk_area("110101", "medium", township=f"街道{i}")
            make_venue(self.w.grid_a, name=f"超市{i}")

    def counts(self):
        self.client.force_login(self.w.hq)
        result = {}
        for name in self.PAGES:
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(reverse(name))
            self.assertEqual(response.status_code, 200, name)
            result[name] = len(queries)
        return result

    def test_do_not_grow_with_rows(self):
        self.add_rows(1)
        before = self.counts()
        self.add_rows(10)
        self.assertEqual(self.counts(), before)


class TracingListPagesTests(WorldTestCase):
    """Cases, one case's contacts, zones, clusters and the board: the same number of queries for 1 or 11 rows.

    A row is a case in its own cluster (with its own building), a contact of the one case whose list is read,
    and a published building zone with a case and a testing round. Besides the rows, a grid zone and a
    township zone at the pack's lowest level (its criterion counts the published zones) are always listed.
    """

    PAGES = ["tracing:cases", "tracing:contacts", "tracing:zones", "tracing:clusters", "tracing:board"]

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        from fangkong.policy.services import active_pack
        from fangkong.tracing.models import Case, Contact, ControlZone

        w = cls.w
        cls.now = timezone.now()
        cls.pack = active_pack()
        cls.case = Case.objects.create(number="BLQC-000", person=w.person_a, area=w.grid_a,
                                       classification="confirmed", onset_date=timezone.localdate(),
                                       result_at=cls.now - timedelta(hours=3))
        # The close contact the secondary contacts of the rows were reached through.
        cls.via = Contact.objects.create(case=cls.case, person=w.person_b, area=w.grid_b, kind="close",
                                         found_kind="close", status="confirmed", summary="同住",
                                         evidence=[{"rule": "household"}])
        levels = zones_of_pack(cls.pack)
        for name, area, level in [("甲村二网格", w.grid_a2, levels[0]), ("甲镇", w.township_a, levels[-1])]:
            zone = ControlZone.objects.create(name=name, area=area, level=level, status="published",
                                              published_at=cls.now, pack=cls.pack, last_case_at=cls.now)
            zone.cases.add(cls.case)

    def add_rows(self, n):
        from fangkong.tracing.models import Case, Cluster, Contact, ControlZone, TestingRound

        w = self.w
        start = Case.objects.count()
        level = zones_of_pack(self.pack)[0]
        for i in range(start, start + n):
            household = make_household(w.grid_a, f"{i + 2}号楼")
            person = make_person(w.hq, w.grid_a, f"病例{i}", household=household)
            cluster = Cluster.objects.create(code=f"JJ-{i:03d}", name=f"聚集{i}", area=w.grid_a)
            case = Case.objects.create(number=f"BLQC-{i:03d}", person=person, area=w.grid_a, cluster=cluster,
                                       classification="confirmed", onset_date=timezone.localdate(),
                                       result_at=self.now - timedelta(hours=i % 4))
            Contact.objects.create(case=self.case, person=make_person(w.hq, w.grid_a2, f"密接{i}"), area=w.grid_a2,
                                   kind="secondary", found_kind="secondary", status="proposed", via=self.via,
                                   summary="经密接", evidence=[{"rule": "household", "via": w.person_b.pk},
                                                             {"rule": "interview", "text": "同车"}],
                                   found_at=self.now - timedelta(hours=6))
            zone = ControlZone.objects.create(name=f"{i + 2}号楼", area=w.grid_a, building=household.building,
                                              level=level, status="published", published_at=self.now,
                                              pack=self.pack, last_case_at=case.clock_start)
            zone.cases.add(case)
            TestingRound.objects.create(zone=zone, day=timezone.localdate(), tested=10, positives=i % 2)

    def counts(self):
        self.client.force_login(self.w.hq)
        result = {}
        for name in self.PAGES:
            kwargs = {"pk": self.case.pk} if name == "tracing:contacts" else {}
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(reverse(name, kwargs=kwargs))
            self.assertEqual(response.status_code, 200, name)
            result[name] = len(queries)
        return result

    def test_do_not_grow_with_rows(self):
        self.add_rows(1)
        before = self.counts()
        self.add_rows(10)
        self.assertEqual(self.counts(), before)


def zones_of_pack(pack):
    from fangkong.tracing.zones import levels_of

    return levels_of(pack)
