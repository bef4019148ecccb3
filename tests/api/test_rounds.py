"""The mass-testing round API: list (scoped), start (HQ only), coverage per grid / building / village."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.policy.models import PolicyPack
from fangkong.testing import rounds, services
from fangkong.testing.models import SamplingPoint
from fangkong.testing.models import TestRound as Round
from fangkong.tracing.models import ControlZone
from tests.factories import make_person, make_user

from .base import ApiTestCase


class RoundApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.staff = make_user("sampler", Role.SITE_STAFF, w.county)
        cls.point = SamplingPoint.objects.create(name="甲村采样点", area=w.village_a)
        cls.others = [make_person(w.hq, w.grid_a, name) for name in ("赵一", "钱二")]
        cls.a2 = make_person(w.hq, w.grid_a2, "周五")
        start = timezone.now() - timedelta(hours=1)
        cls.village_round = rounds.start_round(w.hq, area=w.village_a, name="甲村第一轮", starts_at=start)
        cls.b_round = rounds.start_round(w.hq, area=w.grid_b, name="乙村一网格第一轮", starts_at=start)

    def test_list_is_scoped(self):
        body = self.get(self.w.hq, "/test-rounds").json()
        self.assertEqual(body["count"], 2)
        body = self.get(self.w.grid_a_worker, "/test-rounds").json()
        self.assertEqual([r["name"] for r in body["items"]], ["甲村第一轮"])  # the village round covers grid A
        body = self.get(self.w.grid_b_worker, "/test-rounds").json()
        self.assertEqual([r["name"] for r in body["items"]], ["乙村一网格第一轮"])
        self.assertError(self.get(self.w.outsider, "/test-rounds"), 403, "forbidden")
        body = self.get(self.w.hq, "/test-rounds", area=self.w.township_b.code).json()
        self.assertEqual(body["count"], 1)

    def test_hq_starts_by_area_or_zone(self):
        w = self.w
        response = self.post(w.hq, "/test-rounds", {"area": w.village_a.code, "name": "", "hours": 24})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual((response.json()["number"], response.json()["area_code"]), (2, w.village_a.code))
        zone = ControlZone.objects.create(name="甲村一网格", area=w.grid_a, level="high", status="published",
                                          pack=PolicyPack.objects.get(code="ed9-7-3"),
                                          building=w.person_a.household.building)
        response = self.post(w.hq, "/test-rounds", {"zone": zone.pk, "hours": 12})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual((response.json()["zone_id"], response.json()["building_id"]),
                         (zone.pk, w.person_a.household.building_id))
        self.assertError(self.post(w.hq, "/test-rounds", {"area": "999999"}), 400, "invalid")
        self.assertError(self.post(w.hq, "/test-rounds", {}), 400, "invalid")
        self.assertError(self.post(w.hq, "/test-rounds", {"area": w.grid_a.code, "hours": 0}), 400, "invalid")

    def test_only_hq_starts(self):
        for user in (self.w.township_a_officer, self.w.grid_a_worker):
            self.assertError(self.post(user, "/test-rounds", {"area": self.w.grid_a.code}), 403, "forbidden")
        self.assertEqual(Round.objects.count(), 2)

    def test_coverage(self):
        w = self.w
        session = services.open_session(self.staff, self.point, 10)
        for person in (w.person_a, self.a2, w.person_a):
            services.add_sample(self.staff, session, barcode=f"API{person.pk}-{session.tubes.count()}",
                                person=person, client_key=f"k{person.pk}-{session.tubes.count()}")
        rounds.exempt(w.grid_a_worker, self.village_round, self.others[0], "away")
        response = self.get(w.hq, f"/test-rounds/{self.village_round.pk}/coverage")
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        rows = {r["key"]: r for r in body["rows"]}
        self.assertEqual((rows[w.grid_a.code]["residents"], rows[w.grid_a.code]["sampled"],
                          rows[w.grid_a.code]["exempted"], rows[w.grid_a.code]["missing"]), (3, 1, 1, 1))
        self.assertEqual((rows[w.grid_a2.code]["sampled"], rows[w.grid_a2.code]["missing"]), (1, 0))
        self.assertEqual(body["totals"]["sampled"], 2)
        self.assertEqual(body["summary"]["people"], 2)
        body = self.get(w.hq, f"/test-rounds/{self.village_round.pk}/coverage", by="building").json()
        self.assertEqual(sum(r["residents"] for r in body["rows"]), 4)
        body = self.get(w.hq, f"/test-rounds/{self.village_round.pk}/coverage", by="village").json()
        self.assertEqual([(r["key"], r["residents"]) for r in body["rows"]], [(w.village_a.prefix, 4)])
        self.assertEqual(self.get(w.hq, f"/test-rounds/{self.village_round.pk}/coverage", by="x").status_code, 422)
        self.assertError(self.get(w.grid_b_worker, f"/test-rounds/{self.village_round.pk}/coverage"),
                         404, "not_found")
