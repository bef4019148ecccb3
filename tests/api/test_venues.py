"""/api/v1/venues: list, register, view, poster PDF, reissue; scope and the venue manager's own venues."""

from fangkong.accounts.choices import OrganizationKind, Role
from fangkong.accounts.models import Organization
from fangkong.audit.models import AuditEvent
from fangkong.venues.models import Venue

from ..factories import make_user, make_venue
from .base import ApiTestCase


class VenueApiTest(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.education = Organization.objects.create(name="示范县教体局", kind=OrganizationKind.EDUCATION, area=w.county)
        cls.venue_a = make_venue(w.grid_a, "甲村超市")
        cls.venue_b = make_venue(w.grid_b, "乙村超市")
        cls.restaurant_a = make_venue(w.grid_a, "甲村饭店", "restaurant")
        cls.manager = make_user("venue_a", Role.VENUE_MANAGER, w.grid_a)
        cls.venue_a.managers.add(cls.manager)

    def names(self, user, **params):
        response = self.get(user, "/venues", **params)
        self.assertEqual(response.status_code, 200, response.content)
        return [item["name"] for item in response.json()["items"]]

    def test_list_is_scoped(self):
        self.assertEqual(self.names(self.w.grid_b_worker), ["乙村超市"])
        self.assertEqual(len(self.names(self.w.hq)), 3)
        self.assertEqual(self.names(self.manager), ["甲村超市"])
        self.assertEqual(self.names(self.w.outsider), [])

    def test_filters_and_pagination(self):
        self.assertEqual(self.names(self.w.hq, type="restaurant"), ["甲村饭店"])
        self.assertEqual(self.names(self.w.hq, area=self.w.township_b.code), ["乙村超市"])
        self.assertEqual(self.names(self.w.hq, q="饭店"), ["甲村饭店"])
        body = self.get(self.w.hq, "/venues", page_size=1, page=2).json()
        self.assertEqual(body["count"], 3)
        self.assertEqual(len(body["items"]), 1)

    def test_item_fields(self):
        item = self.get(self.w.hq, f"/venues/{self.restaurant_a.pk}").json()
        self.assertEqual(item["type"], "restaurant")
        self.assertEqual(item["dwell_minutes"], 60)
        self.assertIsNone(item["dwell_minutes_custom"])
        self.assertEqual(item["area_code"], self.w.grid_a.code)
        self.assertEqual(item["code_version"], 1)

    def test_other_grid_gets_404(self):
        for path in (f"/venues/{self.venue_a.pk}", f"/venues/{self.venue_a.pk}/poster.pdf"):
            self.assertError(self.get(self.w.grid_b_worker, path), 404, "not_found")
        self.assertError(self.post(self.w.grid_b_worker, f"/venues/{self.venue_a.pk}/reissue"), 404, "not_found")

    def test_manager_gets_404_for_a_venue_they_do_not_manage(self):
        self.assertError(self.get(self.manager, f"/venues/{self.restaurant_a.pk}"), 404, "not_found")

    def test_create(self):
        response = self.post(self.w.village_a_officer, "/venues", {
            "name": "甲村小学", "type": "school", "area": self.w.village_a.code, "address": "甲村学府路1号",
            "manager_phone": "13800002222", "expected_daily_visitors": 600})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(body["supervisor_id"], self.education.pk)
        self.assertEqual(body["dwell_minutes"], 480)
        venue = Venue.objects.get(pk=body["id"])
        self.assertTrue(AuditEvent.objects.filter(action="create", object_id=str(venue.pk)).exists())

    def test_venue_manager_create_becomes_manager(self):
        response = self.post(self.manager, "/venues", {
            "name": "甲村药店", "type": "pharmacy", "area": self.w.grid_a.code, "address": "甲村7号"})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertIn("甲村药店", self.names(self.manager))

    def test_create_errors_name_the_fields(self):
        body = self.assertError(self.post(self.w.grid_a_worker, "/venues", {
            "name": "乙村网吧", "type": "nope", "area": self.w.grid_b.code, "address": "乙村1号",
            "manager_phone": "123"}), 400, "invalid")
        self.assertEqual(set(body["errors"]), {"type", "area", "manager_phone"})
        body = self.assertError(self.post(self.w.grid_a_worker, "/venues", {"name": "x"}), 422, "invalid")
        self.assertIn("type", body["errors"])
        self.assertError(self.post(self.w.outsider, "/venues", {
            "name": "乙村网吧", "type": "entertainment", "area": self.w.grid_b.code, "address": "乙村1号"}),
            403, "forbidden")

    def test_poster_pdf(self):
        response = self.get(self.manager, f"/venues/{self.venue_a.pk}/poster.pdf")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF"))

    def test_reissue(self):
        response = self.post(self.manager, f"/venues/{self.venue_a.pk}/reissue")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["code_version"], 2)

    def test_compliance_path_is_not_taken_for_a_venue_id(self):
        self.assertNotEqual(self.get(self.w.hq, "/venues/compliance").status_code, 422)
