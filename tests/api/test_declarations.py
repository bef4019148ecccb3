"""GET /api/v1/declarations (scoped, filtered, paginated) and POST /api/v1/declarations/{id}/arrive."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.declarations import services
from fangkong.declarations.choices import DeclarationStatus
from fangkong.declarations.models import Declaration
from tests.factories import declaration_data, make_risk_area, make_user

from .base import ApiTestCase


class DeclarationsApiTestCase(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.data_a = declaration_data(w.grid_a, name="赵甲", phone="13912341234")
        cls.decl_a, _ = services.submit_declaration(cls.data_a)
        cls.decl_b, _ = services.submit_declaration(declaration_data(w.grid_b, name="钱乙"))
        make_risk_area("110101", "medium")
        cls.decl_a2, _ = services.submit_declaration(declaration_data(w.grid_a2, name="孙丙"))
        cls.officer = make_user("kd", Role.CHECKPOINT_OFFICER, w.township_a)


class ListTests(DeclarationsApiTestCase):
    def ids(self, user, **params):
        response = self.get(user, "/declarations", **params)
        self.assertEqual(response.status_code, 200, response.content.decode())
        return {item["id"] for item in response.json()["items"]}

    def test_list_is_scoped(self):
        self.assertEqual(self.ids(self.w.grid_a_worker), {self.decl_a.pk})
        self.assertEqual(self.ids(self.w.township_a_officer), {self.decl_a.pk, self.decl_a2.pk})
        self.assertEqual(self.ids(self.w.hq), {self.decl_a.pk, self.decl_b.pk, self.decl_a2.pk})

    def test_items_are_masked_and_carry_the_measure(self):
        items = self.get(self.w.hq, "/declarations", q="孙").json()["items"]
        self.assertEqual(len(items), 1)
        item = items[0]
        self.assertEqual(item["receipt"], self.decl_a2.receipt)
        self.assertEqual(item["risk_level"], "medium")
        self.assertEqual(item["measure"], "home_isolation")
        self.assertEqual(item["stages"][0]["stage"], "home_isolation")
        self.assertIn("*", item["document_number"])
        body = self.get(self.w.hq, "/declarations").content.decode()
        self.assertNotIn(self.data_a["document_number"], body)
        self.assertNotIn(self.data_a["phone"], body)

    def test_filters(self):
        services.confirm_arrival(self.w.hq, self.decl_b)
        hq = self.w.hq
        self.assertEqual(self.ids(hq, status="arrived"), {self.decl_b.pk})
        self.assertEqual(self.ids(hq, risk_level="medium"), {self.decl_a2.pk})
        self.assertEqual(self.ids(hq, risk_level="none"), {self.decl_a.pk, self.decl_b.pk})
        self.assertEqual(self.ids(hq, area=self.w.village_a.code), {self.decl_a.pk, self.decl_a2.pk})
        self.assertEqual(self.ids(hq, q="1234"), {self.decl_a.pk})
        tomorrow = timezone.localdate() + timedelta(days=1)
        self.assertEqual(len(self.ids(hq, arrival_from=tomorrow.isoformat(), arrival_to=tomorrow.isoformat())), 3)
        self.assertEqual(self.ids(hq, arrival_to=timezone.localdate().isoformat()), set())

    def test_area_filter_stays_in_scope(self):
        self.assertEqual(self.ids(self.w.grid_a_worker, area=self.w.county.code), {self.decl_a.pk})
        self.assertEqual(self.ids(self.w.grid_a_worker, area=self.w.grid_b.code), set())

    def test_pagination(self):
        body = self.get(self.w.hq, "/declarations", page_size=2).json()
        self.assertEqual((body["count"], len(body["items"])), (3, 2))
        body = self.get(self.w.hq, "/declarations", page_size=2, page=2).json()
        self.assertEqual(len(body["items"]), 1)

    def test_bad_filters_are_explained(self):
        self.assertError(self.get(self.w.hq, "/declarations", risk_level="bogus"), 400, "invalid")
        self.assertError(self.get(self.w.hq, "/declarations", status="bogus"), 422, "invalid")
        self.assertError(self.get(self.w.hq, "/declarations", arrival_from="tomorrow"), 422, "invalid")

    def test_roles_without_permission_see_nothing(self):
        self.assertEqual(self.ids(self.w.outsider), set())

    def test_needs_login(self):
        response = self.client.get("/api/v1/declarations")
        self.assertEqual(response.status_code, 401)


class ArriveTests(DeclarationsApiTestCase):
    def test_own_grid_confirms(self):
        response = self.post(self.w.grid_a_worker, f"/declarations/{self.decl_a.pk}/arrive", {"note": "已上门"})
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json()["status"], "arrived")
        declaration = Declaration.objects.get(pk=self.decl_a.pk)
        self.assertEqual(declaration.status, DeclarationStatus.ARRIVED)
        self.assertEqual(declaration.arrival_confirmed_by, self.w.grid_a_worker)

    def test_naive_time_is_local_and_future_is_refused(self):
        earlier = (timezone.localtime() - timedelta(hours=2)).replace(tzinfo=None, microsecond=0)
        response = self.post(self.w.grid_a_worker, f"/declarations/{self.decl_a.pk}/arrive",
                             {"arrived_at": earlier.isoformat()})
        self.assertEqual(response.status_code, 200, response.content.decode())
        later = (timezone.now() + timedelta(days=1)).isoformat()
        response = self.post(self.w.grid_a_worker, f"/declarations/{self.decl_a.pk}/arrive", {"arrived_at": later})
        self.assertError(response, 400, "invalid", "到达时间不能晚于现在")

    def test_other_grid_gets_404(self):
        response = self.post(self.w.grid_b_worker, f"/declarations/{self.decl_a.pk}/arrive")
        self.assertError(response, 404, "not_found")
        self.assertEqual(Declaration.objects.get(pk=self.decl_a.pk).status, DeclarationStatus.SUBMITTED)

    def test_roles_that_may_only_read_get_403(self):
        for user in (self.w.auditor, self.officer):
            response = self.post(user, f"/declarations/{self.decl_a.pk}/arrive")
            self.assertError(response, 403, "forbidden")

    def test_roles_without_view_get_404(self):
        self.assertError(self.post(self.w.outsider, f"/declarations/{self.decl_a.pk}/arrive"), 404, "not_found")
        self.assertError(self.post(self.w.hq, "/declarations/999999/arrive"), 404, "not_found")
