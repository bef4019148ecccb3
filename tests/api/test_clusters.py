"""GET /api/v1/clusters/{id}/graph: two cases linked by the contact evidence."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.tracing import chains
from fangkong.tracing.models import Case, Contact
from tests.factories import make_user

from .base import API, ApiTestCase


class ClusterGraphTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        cls.epi_b = make_user("epi_b", Role.EPIDEMIOLOGIST, w.township_b)
        today = timezone.localdate()
        cls.a = Case.objects.create(number="BL-A", person=w.person_a, area=w.grid_a, classification="confirmed",
                                    onset_date=today - timedelta(days=5))
        cls.b = Case.objects.create(number="BL-B", person=w.person_b, area=w.grid_b, classification="asymptomatic",
                                    sampled_at=timezone.now() - timedelta(days=1))
        Contact.objects.create(case=cls.a, person=w.person_b, kind="close", found_kind="close", area=w.grid_b,
                               summary="与病例同时段在某超市", evidence=[], is_case=True)
        assert chains.link_found_cases(cls.a) == 1
        cls.b.refresh_from_db()
        cls.cluster = cls.b.cluster

    def test_graph_of_two_linked_cases(self):
        response = self.get(self.epi, f"/clusters/{self.cluster.pk}/graph")
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual(body["cluster"], {"id": self.cluster.pk, "code": self.cluster.code,
                                           "name": self.cluster.name})
        nodes = {n["number"]: n for n in body["nodes"]}
        self.assertEqual(set(nodes), {"BL-A", "BL-B"})
        self.assertEqual(nodes["BL-A"]["generation"], 0)
        self.assertEqual(nodes["BL-B"]["generation"], 1)
        self.assertEqual(nodes["BL-B"]["source"], self.a.pk)
        self.assertEqual(nodes["BL-A"]["name"], "张*")
        self.assertEqual(nodes["BL-A"]["date"], self.a.anchor_date.isoformat())
        self.assertEqual(nodes["BL-B"]["url"], f"/tracing/cases/{self.b.pk}/")
        self.assertEqual(body["edges"], [{"source": self.a.pk, "target": self.b.pk, "kind": "close",
                                          "kind_label": "密切接触者", "summary": "与病例同时段在某超市"}])
        self.assertNotIn("李四", response.content.decode())
        self.assertTrue(AuditEvent.objects.filter(action="view", object_type="tracing.cluster",
                                                  object_id=str(self.cluster.pk), user=self.epi).exists())

    def test_root_filter(self):
        body = self.get(self.epi, f"/clusters/{self.cluster.pk}/graph", root=self.b.pk).json()
        self.assertEqual([n["id"] for n in body["nodes"]], [self.b.pk])
        self.assertEqual(body["edges"], [])
        body = self.get(self.w.hq, f"/clusters/{self.cluster.pk}/graph", root=self.a.pk).json()
        self.assertEqual(len(body["nodes"]), 2)

    def test_root_outside_the_cluster_is_404(self):
        other = Case.objects.create(number="BL-C", person=self.w.person_a, area=self.w.grid_a,
                                    classification="suspected", status="excluded")
        response = self.get(self.epi, f"/clusters/{self.cluster.pk}/graph", root=other.pk)
        self.assertError(response, 404, "not_found", "没有这个病例")
        response = self.get(self.epi, f"/clusters/{self.cluster.pk}/graph", root="x")
        self.assertError(response, 422, "invalid")

    def test_out_of_scope_and_forbidden_are_404(self):
        for user in (self.w.grid_a_worker, self.epi_b, self.w.township_a_officer):
            response = self.get(user, f"/clusters/{self.cluster.pk}/graph")
            self.assertError(response, 404, "not_found", "聚集性疫情")
        self.assertError(self.get(self.epi, "/clusters/999999/graph"), 404, "not_found")

    def test_login_required(self):
        response = self.client.get(f"{API}/clusters/{self.cluster.pk}/graph")
        self.assertError(response, 401, "unauthorized")

