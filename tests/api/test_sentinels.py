"""The sentinel API: /sentinels, /sentinel-reports, /drug-purchases."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.sentinels import services
from fangkong.sentinels.models import DrugPurchase, SentinelReport
from fangkong.tasks.services import inbox
from tests.factories import make_resident_id, make_user

from .base import ApiTestCase


class SentinelApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.reporter = make_user("clinic_a", Role.SENTINEL_REPORTER, w.village_a)
        reg = services.register_sentinel
        cls.pharmacy = reg(w.hq, {"kind": "pharmacy", "name": "甲村大药房", "area": w.village_a}, [cls.reporter])
        cls.clinic = reg(w.hq, {"kind": "village_clinic", "name": "甲村卫生室", "area": w.village_a}, [cls.reporter])
        cls.fever_clinic = reg(w.hq, {"kind": "fever_clinic", "name": "甲镇发热门诊", "area": w.township_a})
        cls.school = reg(w.hq, {"kind": "school", "name": "甲镇小学", "area": w.township_a})
        cls.pharmacy_b = reg(w.hq, {"kind": "pharmacy", "name": "乙村药店", "area": w.village_b})

    def sale(self, key, **overrides):
        body = {"sentinel": self.pharmacy.pk, "client_key": key, "buyer_name": "张三",
                "document_number": self.w.person_a.document_number, "phone": "13800001111",
                "symptoms": ["fever"], "items": [{"product": "paracetamol-tab", "quantity": 1}]}
        body.update(overrides)
        return body

    # /sentinels ---------------------------------------------------------------------------------
    def test_list_is_scoped(self):
        names = {i["name"] for i in self.get(self.w.township_a_officer, "/sentinels").json()["items"]}
        self.assertEqual(names, {"甲村大药房", "甲村卫生室", "甲镇发热门诊", "甲镇小学"})
        mine = {i["name"] for i in self.get(self.reporter, "/sentinels").json()["items"]}
        self.assertEqual(mine, {"甲村大药房", "甲村卫生室"})
        self.assertEqual(self.get(self.w.hq, "/sentinels", kind="school").json()["count"], 1)

    def test_missing_filter_and_reported_flag(self):
        services.record_zero_report(self.reporter, self.clinic)
        body = self.get(self.w.township_a_officer, "/sentinels", missing="true").json()
        self.assertNotIn("甲村卫生室", {i["name"] for i in body["items"]})
        clinic = self.get(self.w.hq, f"/sentinels/{self.clinic.pk}").json()
        self.assertTrue(clinic["reported_today"])

    def test_other_township_is_404(self):
        self.assertError(self.get(self.w.township_a_officer, f"/sentinels/{self.pharmacy_b.pk}"), 404, "not_found")

    def test_register(self):
        response = self.post(self.w.township_a_officer, "/sentinels", {
            "kind": "private_clinic", "name": "甲村诊所", "area": self.w.village_a.code, "reporters": ["clinic_a"]})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["reporters"], ["clinic_a"])
        self.assertError(self.post(self.w.township_a_officer, "/sentinels", {
            "kind": "private_clinic", "name": "乙村诊所", "area": self.w.village_b.code}), 422, "invalid")
        self.assertError(self.post(self.reporter, "/sentinels", {
            "kind": "private_clinic", "name": "x", "area": self.w.village_a.code}), 403, "forbidden")

    # /sentinel-reports --------------------------------------------------------------------------
    def test_reports_of_each_kind(self):
        today = timezone.localdate().isoformat()
        response = self.post(self.w.hq, "/sentinel-reports", {"sentinel": self.fever_clinic.pk, "kind": "daily_count",
                                                              "day": today, "visits": 12, "positives": 1})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["visits"], 12)
        response = self.post(self.w.hq, "/sentinel-reports", {"sentinel": self.school.pk, "kind": "absence",
                                                              "rows": [{"class_name": "一(1)班", "absent_ill": 3}]})
        self.assertEqual(response.status_code, 201, response.content)
        response = self.post(self.reporter, "/sentinel-reports", {
            "sentinel": self.clinic.pk, "kind": "fever_patient", "name": "张三",
            "document_number": self.w.person_a.document_number, "temperature": 38.4,
            "consulted_at": (timezone.now() - timedelta(minutes=20)).isoformat()})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(body["patient_name"], "张*")
        self.assertFalse(body["late"])
        response = self.post(self.reporter, "/sentinel-reports", {"sentinel": self.pharmacy.pk, "kind": "zero_report"})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(SentinelReport.objects.count(), 4)

    def test_future_day_is_422(self):
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        for body in ({"sentinel": self.clinic.pk, "kind": "zero_report", "day": tomorrow},
                     {"sentinel": self.fever_clinic.pk, "kind": "daily_count", "day": tomorrow, "visits": 3}):
            user = self.reporter if body["sentinel"] == self.clinic.pk else self.w.hq
            self.assertError(self.post(user, "/sentinel-reports", body), 422, "invalid", "不能晚于今天")
        self.assertFalse(SentinelReport.objects.exists())

    def test_reporter_cannot_report_for_another_sentinel(self):
        self.assertError(self.post(self.reporter, "/sentinel-reports",
                                   {"sentinel": self.school.pk, "kind": "zero_report"}), 404, "not_found")

    # /drug-purchases ----------------------------------------------------------------------------
    def test_sale_creates_the_buyers_test_task(self):
        response = self.post(self.reporter, "/drug-purchases", self.sale("api-1"))
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertFalse(body["duplicate"])
        self.assertTrue(body["buyer_verified"])
        self.assertEqual(body["area_code"], self.w.grid_a.code)
        self.assertEqual(body["task"]["kind"], "drug_buyer_test")
        self.assertEqual(body["task"]["role"], "grid_worker")
        self.assertIn(body["task"]["id"], [t.pk for t in inbox(self.w.grid_a_worker)])

    def test_duplicate_client_key_is_200_with_the_same_record(self):
        first = self.post(self.reporter, "/drug-purchases", self.sale("api-dup")).json()
        again = self.post(self.reporter, "/drug-purchases", self.sale("api-dup", buyer_name="别人"))
        self.assertEqual(again.status_code, 200)
        self.assertTrue(again.json()["duplicate"])
        self.assertEqual(again.json()["id"], first["id"])
        self.assertEqual(DrugPurchase.objects.count(), 1)

    def test_invalid_id_is_201_unverified_with_a_verify_task(self):
        valid = make_resident_id()
        bad = valid[:-1] + ("1" if valid[-1] != "1" else "2")
        response = self.post(self.reporter, "/drug-purchases", self.sale("api-bad", document_number=bad))
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertFalse(body["buyer_verified"])
        self.assertEqual(body["task"]["kind"], "drug_buyer_verify")
        self.assertEqual(body["area_code"], self.w.village_a.code)

    def test_bad_sale_is_422(self):
        self.assertError(self.post(self.reporter, "/drug-purchases", self.sale("api-x", items=[])), 422, "invalid")
        self.assertError(self.post(self.reporter, "/drug-purchases",
                                   self.sale("api-y", items=[{"product": "nope", "quantity": 1}])), 422, "invalid")

    def test_other_pharmacy_is_404(self):
        self.assertError(self.post(self.reporter, "/drug-purchases",
                                   self.sale("api-z", sentinel=self.pharmacy_b.pk)), 404, "not_found")

    def test_list_purchases(self):
        self.post(self.reporter, "/drug-purchases", self.sale("api-l1"))
        self.assertEqual(self.get(self.w.grid_a_worker, "/drug-purchases").json()["count"], 1)
        self.assertEqual(self.get(self.w.grid_b_worker, "/drug-purchases").json()["count"], 0)
        self.assertEqual(self.get(self.reporter, "/drug-purchases", status="untested").json()["count"], 1)
