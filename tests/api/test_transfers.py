"""The transfer API: list (scoped), create, one transfer, depart, arrive, acknowledge; 404 out of scope, 409 twice."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.policy.services import impose_measure
from fangkong.quarantine import transfers
from fangkong.quarantine.models import QuarantineSite, Transfer
from tests.factories import make_person, make_user

from .base import ApiTestCase


class TransferApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.site = QuarantineSite.objects.create(name="乙镇隔离酒店", area=w.village_b)
        cls.site_staff = make_user("site_b", Role.SITE_STAFF, w.village_b)
        cls.order_a = impose_measure(w.person_a, "close_contact", "密接", timezone.localdate(), user=w.hq)
        cls.person_a2 = make_person(w.hq, w.grid_a, "王小明")

    def payload(self, **overrides):
        data = {"kind": "to_site", "from_place": "甲村3组12号", "to_site": self.site.pk, "vehicle": "鲁J12345",
                "driver": "赵师傅", "driver_phone": "13900001111", "escort": "钱医生",
                "planned_at": (timezone.now() + timedelta(hours=1)).isoformat(), "people": [self.w.person_a.pk]}
        data.update(overrides)
        return data

    def create(self, **overrides):
        response = self.post(self.w.township_a_officer, "/transfers", self.payload(**overrides))
        self.assertEqual(response.status_code, 201, response.content.decode())
        return response.json()

    def test_create_then_list_and_get(self):
        body = self.create()
        self.assertEqual((body["status"], body["area_code"], body["to_place"]), ("planned", self.w.village_b.code,
                                                                                 "乙镇隔离酒店"))
        self.assertEqual(body["passengers"][0]["name"], "张*")
        self.assertEqual(body["passengers"][0]["order_id"], self.order_a.pk)
        listed = self.get(self.w.township_a_officer, "/transfers").json()
        self.assertEqual([t["id"] for t in listed["items"]], [body["id"]])
        self.assertEqual(self.get(self.site_staff, "/transfers", status="planned", kind="to_site").json()["count"], 1)
        self.assertEqual(self.get(self.site_staff, "/transfers", status="arrived").json()["count"], 0)
        self.assertEqual(self.get(self.w.grid_b_worker, "/transfers").json()["count"], 0)
        self.assertEqual(self.get(self.site_staff, f"/transfers/{body['id']}").json()["id"], body["id"])
        self.assertError(self.get(self.w.outsider, "/transfers"), 403, "forbidden")

    def test_create_refusals_in_chinese(self):
        self.assertError(self.post(self.w.township_a_officer, "/transfers", self.payload(vehicle="")), 400,
                         "invalid", "请填写车辆号牌")
        self.assertError(self.post(self.w.township_a_officer, "/transfers", self.payload(people=[])), 400,
                         "invalid", "至少添加一名")
        past = (timezone.now() - timedelta(days=2)).isoformat()
        self.assertError(self.post(self.w.township_a_officer, "/transfers", self.payload(planned_at=past)), 400,
                         "invalid", "不能早于一天前")
        self.assertError(self.post(self.w.township_a_officer, "/transfers", self.payload(people=[self.w.person_b.pk])),
                         400, "invalid", "不在您的管辖范围内")
        self.assertError(self.post(self.w.township_a_officer, "/transfers", self.payload(to_site=None)), 400,
                         "invalid", "须选择目的隔离点")
        self.create()
        self.assertError(self.post(self.w.township_a_officer, "/transfers", self.payload()), 400, "invalid",
                         "未完成的转运")
        self.assertError(self.post(self.w.grid_a_worker, "/transfers", self.payload()), 403, "forbidden")
        self.assertEqual(Transfer.objects.count(), 1)

    def test_depart_arrive_acknowledge(self):
        body = self.create()
        path = f"/transfers/{body['id']}"
        self.assertError(self.post(self.w.township_a_officer, f"{path}/arrive"), 409, "conflict", "尚未出发")
        self.assertEqual(self.post(self.w.township_a_officer, f"{path}/depart").json()["status"], "departed")
        arrived = self.post(self.w.township_a_officer, f"{path}/arrive").json()
        self.assertEqual(arrived["status"], "arrived")
        self.assertIsNotNone(arrived["ack_deadline"])
        self.assertError(self.post(self.w.grid_b_worker, f"{path}/acknowledge"), 404, "not_found")
        self.assertError(self.post(self.w.township_a_officer, f"{path}/acknowledge"), 403, "forbidden")
        response = self.post(self.site_staff, f"{path}/acknowledge", {"note": "已接收，待入住"})
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual((response.json()["status"], response.json()["acknowledged_by"]), ("acknowledged", "site_b"))
        self.assertError(self.post(self.site_staff, f"{path}/acknowledge"), 409, "conflict", "不能重复确认")

    def test_cancelled_cannot_be_acknowledged(self):
        body = self.create()
        path = f"/transfers/{body['id']}"
        self.assertError(self.post(self.w.township_a_officer, f"{path}/cancel", {"reason": ""}), 400, "invalid",
                         "取消原因")
        self.assertEqual(self.post(self.w.township_a_officer, f"{path}/cancel", {"reason": "车辆故障"}).json()["status"],
                         "cancelled")
        self.assertError(self.post(self.site_staff, f"{path}/acknowledge"), 409, "conflict", "已取消")

    def test_out_of_scope_is_404(self):
        body = self.create()
        for path in ("", "/depart", "/arrive", "/acknowledge"):
            response = (self.get(self.w.grid_b_worker, f"/transfers/{body['id']}") if not path
                        else self.post(self.w.grid_b_worker, f"/transfers/{body['id']}{path}"))
            self.assertError(response, 404, "not_found")
        self.assertError(self.get(self.w.hq, "/transfers/999999"), 404, "not_found")

    def test_overdue_shows_in_the_list(self):
        transfer = transfers.plan_transfer(self.w.township_a_officer, {
            "kind": "to_home", "from_place": "乙镇隔离酒店", "to_place": "甲村", "vehicle": "鲁J54321", "driver": "孙",
            "planned_at": timezone.now() - timedelta(hours=3)}, [self.person_a2])
        transfers.depart(self.w.township_a_officer, transfer, now=timezone.now() - timedelta(hours=3))
        transfers.arrive(self.w.township_a_officer, transfer, now=timezone.now() - timedelta(hours=2))
        item = self.get(self.w.township_a_officer, f"/transfers/{transfer.pk}").json()
        self.assertTrue(item["overdue"])
        self.assertEqual(item["area_code"], self.w.township_a.code)
