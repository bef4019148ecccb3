"""The sites API: scoped list with occupancy, a new site (HQ, 422 on bad input), one site's rooms, check-in (409 for
a double-booked bed, 400 for other refusals), check-out and the occupancy board."""

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.policy.services import impose_measure
from fangkong.quarantine import sites
from fangkong.quarantine.models import QuarantineSite, Stay
from tests.factories import make_household, make_person, make_user

from .base import ApiTestCase

SPEC = {"floor_from": 3, "floor_to": 4, "rooms_per_floor": 2, "rooms": [{"number": "501", "floor": 5, "beds": 2}]}


class SiteApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        today = timezone.localdate()
        cls.staff = make_user("site1", Role.SITE_STAFF, w.county)
        cls.town_b = make_user("town_b", Role.TOWNSHIP_OFFICER, w.township_b)
        cls.site = sites.create_site(w.hq, {"name": "甲镇宾馆", "area": w.township_a}, SPEC)
        cls.other = sites.create_site(w.hq, {"name": "乙镇宾馆", "area": w.township_b},
                                      {"floor_from": 1, "floor_to": 1, "rooms_per_floor": 3})
        cls.wang = make_person(w.hq, w.grid_a, "王五", household=make_household(w.grid_a, door="102"))
        cls.zhao = make_person(w.hq, w.grid_a, "赵六")
        cls.order_a = impose_measure(w.person_a, "close_contact", "密接", today, user=w.hq)
        cls.order_wang = impose_measure(cls.wang, "close_contact", "密接", today, user=w.hq)
        cls.order_zhao = impose_measure(cls.zhao, "high_risk_arrival", "来人", today, user=w.hq)

    def check_in(self, user, order, room=None, **extra):
        return self.post(user, f"/sites/{self.site.pk}/check-in", {"order": order.pk, "room": room, **extra})

    def test_list_is_scoped_and_carries_occupancy(self):
        sites.check_in(self.staff, self.site, self.order_a, self.site.rooms.get(number="301"))
        body = self.get(self.w.hq, "/sites").json()
        self.assertEqual(body["count"], 2)
        row = next(item for item in body["items"] if item["id"] == self.site.pk)
        self.assertEqual((row["beds_total"], row["beds_occupied"], row["beds_free"]), (6, 1, 5))
        body = self.get(self.town_b, "/sites").json()
        self.assertEqual([item["name"] for item in body["items"]], ["乙镇宾馆"])
        self.assertEqual(self.get(self.w.hq, "/sites", area=self.w.township_a.code).json()["count"], 1)
        self.assertEqual(self.get(self.w.hq, "/sites", page_size=1).json()["items"][0]["name"], "乙镇宾馆")

    def test_site_detail_is_404_out_of_scope(self):
        self.assertError(self.get(self.town_b, f"/sites/{self.site.pk}"), 404, "not_found", "隔离点")
        body = self.get(self.w.township_a_officer, f"/sites/{self.site.pk}").json()
        self.assertEqual([r["number"] for r in body["room_list"]], ["301", "302", "401", "402", "501"])

    def test_detail_shows_masked_occupants(self):
        sites.check_in(self.staff, self.site, self.order_a, self.site.rooms.get(number="501"))
        body = self.get(self.staff, f"/sites/{self.site.pk}").json()
        room = next(r for r in body["room_list"] if r["number"] == "501")
        self.assertEqual(room["occupied"], 1)
        self.assertEqual(room["bed_list"][0]["name"], "张*")
        self.assertEqual(room["bed_list"][0]["day"], 1)
        self.assertIsNone(room["bed_list"][1]["stay_id"])

    def test_hq_creates_a_site_with_rooms(self):
        response = self.post(self.w.hq, "/sites", {
            "name": "县集中隔离点", "kind": "designated", "area": self.w.county.code,
            "rooms": {"floor_from": 2, "floor_to": 2, "rooms_per_floor": 12, "beds_per_room": 2}})
        self.assertEqual(response.status_code, 201, response.content.decode())
        body = response.json()
        self.assertEqual(len(body["room_list"]), 12)
        self.assertEqual(body["room_list"][-1]["number"], "212")
        self.assertEqual(body["beds_total"], 24)

    def test_bad_site_input_is_422_in_chinese(self):
        cases = [
            ({"name": "甲镇宾馆", "area": self.w.county.code, "rooms": {"floor_from": 1, "rooms_per_floor": 1}},
             "name", "已有同名的隔离点"),
            ({"name": "新点", "area": self.w.county.code, "rooms": {}}, "rooms", "请至少设置一个房间"),
            ({"name": "新点", "area": self.w.county.code,
              "rooms": {"floor_from": 4, "floor_to": 2, "rooms_per_floor": 1}}, "floor_to", "结束楼层"),
            ({"name": "新点", "area": "000000000000", "rooms": {"floor_from": 1, "rooms_per_floor": 1}},
             "area", "区划代码不存在"),
            ({"name": "新点", "area": self.w.county.code, "rooms": {"floor_from": "三", "rooms_per_floor": 1}},
             "floor_from", "应为整数"),
            ({"name": "新点", "area": self.w.county.code}, "rooms", "此项必填"),
        ]
        for payload, field, text in cases:
            with self.subTest(field=field):
                body = self.assertError(self.post(self.w.hq, "/sites", payload), 422, "invalid", text)
                self.assertIn(field, body["errors"])
        self.assertFalse(QuarantineSite.objects.filter(name="新点").exists())

    def test_only_hq_creates_sites(self):
        payload = {"name": "新点", "area": self.w.township_a.code, "rooms": {"floor_from": 1, "rooms_per_floor": 1}}
        self.assertError(self.post(self.w.township_a_officer, "/sites", payload), 403, "forbidden")
        self.assertError(self.post(self.staff, "/sites", payload), 403, "forbidden")

    def test_check_in_by_room_number(self):
        response = self.check_in(self.staff, self.order_a, "301")
        self.assertEqual(response.status_code, 201, response.content.decode())
        body = response.json()
        self.assertEqual((body["room_number"], body["bed"], body["category"]), ("301", 1, "close_contact"))
        response = self.post(self.staff, f"/sites/{self.site.pk}/check-in",
                             {"order": self.order_wang.pk, "room_id": self.site.rooms.get(number="302").pk})
        self.assertEqual(response.status_code, 201)

    def test_a_double_booked_bed_is_409_with_the_reason(self):
        self.assertEqual(self.check_in(self.staff, self.order_a, "301").status_code, 201)
        body = self.assertError(self.check_in(self.staff, self.order_wang, "301"), 409, "double_booked",
                                "不能重复安排")
        self.assertIn("301", body["message"])
        self.assertEqual(Stay.objects.filter(checked_out_at__isnull=True).count(), 1)

    def test_other_refusals_are_400_with_the_reason(self):
        self.check_in(self.staff, self.order_a, "301")
        self.assertError(self.check_in(self.staff, self.order_zhao, "302"), 400, "invalid", "分楼层")
        self.assertError(self.check_in(self.staff, self.order_a, "401"), 400, "invalid", "请先办理离开")
        self.check_in(self.staff, self.order_wang, "501")
        self.assertError(self.check_in(self.staff, self.order_zhao, "501"),
                         400, "invalid")
        self.assertError(self.check_in(self.staff, self.order_zhao), 400, "invalid", "房号")
        self.assertError(self.check_in(self.staff, self.order_zhao, "999"), 404, "not_found", "房间")
        self.assertError(self.post(self.staff, f"/sites/{self.site.pk}/check-in", {"room": "301"}), 422, "invalid")

    def test_grid_worker_cannot_check_in_and_out_of_scope_is_404(self):
        self.assertError(self.check_in(self.w.grid_a_worker, self.order_a, "301"), 403, "forbidden")
        self.assertError(self.post(self.town_b, f"/sites/{self.site.pk}/check-in",
                                   {"order": self.order_a.pk, "room": "301"}), 403, "forbidden")
        staff_b = make_user("site_b", Role.SITE_STAFF, self.w.township_b)
        self.assertError(self.post(staff_b, f"/sites/{self.site.pk}/check-in",
                                   {"order": self.order_a.pk, "room": "301"}), 404, "not_found")
        self.assertFalse(Stay.objects.exists())

    def test_check_out_frees_the_bed(self):
        stay_id = self.check_in(self.staff, self.order_a, "301").json()["id"]
        response = self.post(self.staff, f"/stays/{stay_id}/check-out", {"left_to": "home",
                                                                         "room_sample": "negative"})
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json()["room_sample"], "negative")
        self.assertEqual(self.check_in(self.staff, self.order_wang, "301").status_code, 201)
        self.assertError(self.post(self.staff, f"/stays/{stay_id}/check-out", {"left_to": "home"}), 400, "invalid")

    def test_occupancy_board(self):
        self.check_in(self.staff, self.order_a, "301")
        body = self.get(self.w.hq, "/occupancy").json()
        self.assertEqual(body["totals"]["sites"], 2)
        self.assertEqual(body["totals"]["beds_total"], 9)
        self.assertEqual(body["totals"]["beds_occupied"], 1)
        self.assertEqual(self.get(self.town_b, "/occupancy").json()["totals"]["beds_total"], 3)
        self.assertError(self.get(self.w.outsider, "/occupancy"), 403, "forbidden")
