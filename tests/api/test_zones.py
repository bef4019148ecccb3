"""Control zones over the API: list with facts, drawing, proposing, publishing, lifting; no case numbers for field staff."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.tracing import zones
from fangkong.tracing.choices import ZoneStatus
from fangkong.tracing.models import Case, ControlZone
from fangkong.venues.models import CheckIn
from tests.factories import make_user, make_venue

from .base import ApiTestCase

NUMBER = "BL20261120-911"


class ZoneApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        today = timezone.localdate()
        cls.case = Case.objects.create(number=NUMBER, person=w.person_a, area=w.person_a.area,
                                       classification="confirmed", onset_date=today - timedelta(days=1))
        venue = make_venue(w.grid_b, "乙村超市")
        CheckIn.objects.create(person=w.person_a, venue=venue,
                               scanned_at=timezone.make_aware(datetime.combine(today - timedelta(days=1), time(9))))
        cls.building = w.person_a.household.building

    def test_propose_then_list_with_filters_and_facts(self):
        response = self.post(self.epi, "/control-zones", {"propose": True})
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual((body["cases"], body["created"], body["updated"]), (1, 4, 0))
        self.assertEqual({item["level"] for item in body["items"]}, {"sealed", "controlled", "precaution"})
        again = self.post(self.epi, "/control-zones", {"propose": True}).json()
        self.assertEqual((again["created"], again["updated"]), (0, 0))

        listed = self.get(self.w.hq, "/control-zones").json()
        self.assertEqual(listed["count"], 4)
        sealed = next(item for item in listed["items"] if item["level"] == "sealed")
        self.assertEqual(sealed["building"], self.building.pk)
        self.assertEqual(sealed["area_code"], self.w.grid_a.code)
        self.assertEqual(sealed["reason"], f"病例 {NUMBER} 住所")
        self.assertEqual(sealed["facts"]["population"], 1)
        self.assertEqual(sealed["facts"]["days_since_last_case"], 0)
        self.assertFalse(sealed["facts"]["can_lift"])
        self.assertEqual(self.get(self.w.hq, "/control-zones", level="precaution").json()["count"], 2)
        self.assertEqual(self.get(self.w.hq, "/control-zones", status="published").json()["count"], 0)
        self.assertEqual(self.get(self.w.hq, "/control-zones", level="nonsense").status_code, 422)

    def test_create_by_hand(self):
        w = self.w
        response = self.post(self.epi, "/control-zones", {
            "level": "controlled", "area": w.grid_a2.code, "reason": "人员聚集场所"})
        self.assertEqual(response.status_code, 201, response.content.decode())
        body = response.json()
        self.assertEqual((body["level"], body["status"], body["name"]), ("controlled", "proposed", "甲镇甲村甲村二网格"))
        response = self.post(self.epi, "/control-zones", {"level": "sealed", "building": self.building.pk})
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["area_code"], w.grid_a.code)
        self.assertError(self.post(self.epi, "/control-zones", {"level": "high", "area": w.grid_a2.code}),
                         400, "invalid")
        self.assertError(self.post(self.epi, "/control-zones", {"level": "sealed", "area": "999999999999"}),
                         400, "invalid")
        self.assertError(self.post(w.grid_a_worker, "/control-zones", {"level": "sealed", "area": w.grid_a.code}),
                         403, "forbidden")

    def test_publish_needs_hq_and_lift_needs_criteria_or_force(self):
        zones.propose_zones(self.w.hq)
        zone = ControlZone.objects.get(level="sealed")
        self.assertError(self.post(self.epi, f"/control-zones/{zone.pk}/publish"), 403, "forbidden")
        response = self.post(self.w.hq, f"/control-zones/{zone.pk}/publish")
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual(body["status"], "published")
        self.assertEqual([c["met"] for c in body["facts"]["criteria"]], [False, False])
        self.assertEqual(body["facts"]["days_left"], 14)
        self.assertEqual(body["cases"], [{"id": self.case.pk, "number": NUMBER}])
        self.assertError(self.post(self.w.hq, f"/control-zones/{zone.pk}/publish"), 400, "invalid")

        self.assertError(self.post(self.w.hq, f"/control-zones/{zone.pk}/lift"), 400, "invalid", "尚未达到解除条件")
        self.assertError(self.post(self.w.hq, f"/control-zones/{zone.pk}/lift", {"force": True}), 400, "invalid")
        self.assertError(self.post(self.epi, f"/control-zones/{zone.pk}/lift", {"force": True, "reason": "研判"}),
                         403, "forbidden")
        response = self.post(self.w.hq, f"/control-zones/{zone.pk}/lift", {"force": True, "reason": "指挥部研判解除"})
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json()["status"], ZoneStatus.LIFTED)

    def test_rounds(self):
        zone = zones.create_zone(self.w.hq, {"level": "sealed", "area": self.w.grid_a2})
        today = timezone.localdate().isoformat()
        response = self.post(self.epi, f"/control-zones/{zone.pk}/rounds", {"day": today, "tested": 50})
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json()["rounds"], [{"day": today, "tested": 50, "positives": 0}])
        self.assertEqual(response.json()["facts"]["rounds"], 1)
        self.assertError(self.post(self.epi, f"/control-zones/{zone.pk}/rounds",
                                   {"day": today, "tested": 5, "positives": 6}), 400, "invalid")

    def test_grid_worker_sees_published_zone_without_case_numbers(self):
        w = self.w
        zones.propose_zones(w.hq)
        zone = ControlZone.objects.get(level="sealed")
        self.assertError(self.get(w.grid_a_worker, f"/control-zones/{zone.pk}"), 404, "not_found")
        zones.publish_zone(w.hq, zone)
        response = self.get(w.grid_a_worker, f"/control-zones/{zone.pk}")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["cases"], [])
        self.assertEqual(body["reason"], "病例 住所")
        self.assertNotIn(NUMBER, response.content.decode())
        listed = self.get(w.grid_a_worker, "/control-zones")
        self.assertEqual([item["id"] for item in listed.json()["items"]], [zone.pk])
        self.assertNotIn(NUMBER, listed.content.decode())
        self.assertError(self.post(w.grid_a_worker, f"/control-zones/{zone.pk}/lift", {"force": True, "reason": "x"}),
                         403, "forbidden")
        self.assertError(self.get(w.grid_b_worker, f"/control-zones/{zone.pk}"), 404, "not_found")
        self.assertEqual(self.get(w.grid_b_worker, "/control-zones").json()["count"], 0)
        self.assertEqual(self.get(w.outsider, "/control-zones").json()["count"], 0)
