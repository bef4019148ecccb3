"""GET /control-orders (scoped, filtered), one order, POST advance and release, GET /census."""

from datetime import timedelta

from django.utils import timezone

from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder
from fangkong.policy.services import impose_measure
from tests.factories import make_person, make_resident_id
from tests.quarantine.test_orders import swab, swab_test_days

from .base import ApiTestCase


def days_ago(n):
    return timezone.localdate() - timedelta(days=n)


class ControlOrderApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.due = impose_measure(w.person_a, "close_contact", "密接：病例 BL1 同住", days_ago(30), user=w.hq)
        cls.number = make_resident_id()
        person = make_person(w.hq, w.grid_a2, "王小明", document_number=cls.number)
        cls.fresh = impose_measure(person, "medium_risk_arrival", "来自中风险地区", days_ago(2), user=w.hq)
        cls.other = impose_measure(w.person_b, "close_contact", "密接：病例 BL2 同事", days_ago(3), user=w.hq)

    def ids(self, user, **params):
        response = self.get(user, "/control-orders", **params)
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual(body["count"], len(body["items"]))
        return {item["id"] for item in body["items"]}

    def test_list_is_scoped_and_masked(self):
        self.assertEqual(self.ids(self.w.township_a_officer), {self.due.pk, self.fresh.pk})
        self.assertEqual(self.ids(self.w.hq), {self.due.pk, self.fresh.pk, self.other.pk})
        self.assertEqual(self.ids(self.w.outsider), set())
        item = next(i for i in self.get(self.w.hq, "/control-orders").json()["items"] if i["id"] == self.due.pk)
        self.assertEqual(item["person_name"], "张*")
        self.assertEqual((item["label"], item["current_stage"], item["stage_days"]), ("14+7", "centralized", 14))
        self.assertEqual(item["stage_day"], 31)

    def test_filters(self):
        hq = self.w.hq
        self.assertEqual(self.ids(hq, stage="home_isolation"), {self.fresh.pk})
        self.assertEqual(self.ids(hq, reason="close_contact"), {self.due.pk, self.other.pk})
        self.assertEqual(self.ids(hq, area=self.w.township_b.code), {self.other.pk})
        self.assertEqual(self.ids(hq, area=self.w.grid_a2.code), {self.fresh.pk})
        self.assertEqual(self.ids(hq, q=self.number), {self.fresh.pk})
        ControlOrder.objects.filter(pk=self.other.pk).update(stage_end=timezone.localdate())
        self.assertEqual(self.ids(hq, ending="today"), {self.other.pk})
        self.assertEqual(self.ids(hq, ending="3d"), {self.other.pk})
        ControlOrder.objects.filter(pk=self.fresh.pk).update(hold_reason="缺少检测")
        self.assertEqual(self.ids(hq, ending="held"), {self.fresh.pk})
        self.assertEqual(self.ids(hq, status="released"), set())

    def test_bad_filter_values_are_422(self):
        self.assertError(self.get(self.w.hq, "/control-orders", stage="hotel"), 422, "invalid")
        self.assertError(self.get(self.w.hq, "/control-orders", ending="soon"), 422, "invalid")

    def test_pagination(self):
        body = self.get(self.w.hq, "/control-orders", page_size=2).json()
        self.assertEqual((body["count"], len(body["items"])), (3, 2))
        body = self.get(self.w.hq, "/control-orders", page_size=2, page=2).json()
        self.assertEqual(len(body["items"]), 1)

    def test_detail_with_stages_history_and_conditions(self):
        response = self.get(self.w.township_a_officer, f"/control-orders/{self.due.pk}")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual([s["stage"] for s in body["stages"]], ["centralized", "home_monitoring"])
        self.assertEqual(len(body["stages"][0]["test_dates"]), 4)
        self.assertEqual(body["history"][0]["kind"], "imposed")
        self.assertTrue(any("缺少" in text for text in body["conditions"]))

    def test_out_of_scope_is_404(self):
        user = self.w.township_a_officer
        self.assertError(self.get(user, f"/control-orders/{self.other.pk}"), 404, "not_found")
        self.assertError(self.post(user, f"/control-orders/{self.other.pk}/advance"), 404, "not_found")
        self.assertError(self.post(user, f"/control-orders/{self.other.pk}/release"), 404, "not_found")

    def test_readers_cannot_advance(self):
        from fangkong.accounts.choices import Role
        from tests.factories import make_user

        supervisor = make_user("sup_api", Role.SUPERVISOR, self.w.county)
        self.assertEqual(self.get(supervisor, f"/control-orders/{self.due.pk}").status_code, 200)
        self.assertError(self.post(supervisor, f"/control-orders/{self.due.pk}/advance"), 404, "not_found")

    def test_advance_refused_before_the_date_then_works_after_with_negative_tests(self):
        user = self.w.township_a_officer
        body = self.assertError(self.post(user, f"/control-orders/{self.fresh.pk}/advance"), 409, "refused",
                                "未到转段时间")
        self.assertTrue(body["errors"]["__all__"])
        self.assertError(self.post(user, f"/control-orders/{self.due.pk}/advance"), 409, "refused", "缺少")
        swab_test_days(self.due, up_to=self.due.start_date + timedelta(days=13))
        response = self.post(user, f"/control-orders/{self.due.pk}/advance")
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json()["current_stage"], Stage.HOME_MONITORING)

    def test_release_refused_before_conditions_then_allowed(self):
        user = self.w.township_a_officer
        self.assertError(self.post(user, f"/control-orders/{self.fresh.pk}/release"), 409, "refused",
                         "未到解除时间")
        self.assertError(self.post(user, f"/control-orders/{self.due.pk}/release"), 409, "refused",
                         "尚未进入最后一个管控阶段")
        swab_test_days(self.due, up_to=self.due.start_date + timedelta(days=13))
        self.post(user, f"/control-orders/{self.due.pk}/advance")
        self.assertError(self.post(user, f"/control-orders/{self.due.pk}/release"), 409, "refused", "缺少")
        swab(self.w.person_a, self.due.start_date + timedelta(days=20), result="")
        self.assertError(self.post(user, f"/control-orders/{self.due.pk}/release"), 409, "refused", "结果未出")
        swab(self.w.person_a, self.due.start_date + timedelta(days=20))
        response = self.post(user, f"/control-orders/{self.due.pk}/release")
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json()["status"], OrderStatus.RELEASED)
        self.assertError(self.post(user, f"/control-orders/{self.due.pk}/release"), 409, "refused", "已解除")

    def test_census(self):
        response = self.get(self.w.hq, "/census")
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual(body["totals"]["centralized"], 2)
        self.assertEqual(body["totals"]["home_isolation"], 1)
        self.assertEqual(body["columns"]["centralized"], "集中隔离")
        self.assertEqual([r["code"] for r in self.get(self.w.township_a_officer, "/census").json()["rows"]],
                         [self.w.township_a.code])
        self.assertError(self.get(self.w.grid_a_worker, "/census"), 403, "forbidden")
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        self.assertError(self.get(self.w.hq, "/census", day=tomorrow), 400, "invalid")


class ReleaseDayApiTests(ApiTestCase):
    """The release day through the API under both editions: the plan's last day, once its test is back."""

    def release_on(self, code, category, length):
        from fangkong.policy.models import PolicyPack
        from fangkong.policy.services import activate_pack

        w = self.w
        activate_pack(w.hq, PolicyPack.objects.get(code=code))
        early = impose_measure(make_person(w.hq, w.grid_a, "早一天"), category, "密接", days_ago(length - 2), user=w.hq)
        due = impose_measure(make_person(w.hq, w.grid_a, "当天"), category, "密接", days_ago(length - 1), user=w.hq)
        self.assertEqual(early.label, {"ed8-14-7": "14+7", "ed9-7-3": "7+3"}[code])
        user = self.w.township_a_officer
        for order in (early, due):  # found late: they start in the stage their plan has today, the last one
            self.assertEqual(order.current_stage, order.stages[-1]["stage"])
            swab_test_days(order, up_to=timezone.localdate())
        self.assertError(self.post(user, f"/control-orders/{early.pk}/release"), 409, "refused", "未到解除时间")
        response = self.post(user, f"/control-orders/{due.pk}/release")
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json()["status"], OrderStatus.RELEASED)
        self.assertEqual(due.planned_end, timezone.localdate())

    def test_14_plus_7_is_released_on_day_21(self):
        self.release_on("ed8-14-7", "close_contact", 21)

    def test_7_plus_3_is_released_on_day_10(self):
        self.release_on("ed9-7-3", "close_contact", 10)
