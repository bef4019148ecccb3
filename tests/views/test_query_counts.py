"""Query counts of the list pages are pinned: more rows must not mean more queries."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
