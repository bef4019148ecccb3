"""POST/GET /api/v1/health-checks: scoped, a person not under an order refused, implausible temperatures 422."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.policy.models import PolicyPack
from fangkong.policy.services import impose_measure
from fangkong.quarantine import care
from fangkong.quarantine.models import HealthCheck
from fangkong.warning.choices import SignalKind
from fangkong.warning.models import Signal
from tests.factories import make_user

from .base import ApiTestCase


class HealthCheckApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.doctor = make_user("doctor_a", Role.COMMUNITY_DOCTOR, w.village_a, display_name="刘医生")
        cls.volunteer = make_user("vol_a2", Role.VOLUNTEER, w.grid_a2)
        pack = PolicyPack.objects.get(code="ed9-7-3")
        cls.order = impose_measure(w.person_a, "medium_risk_arrival", "中风险地区来返",
                                   timezone.localdate() - timedelta(days=1), user=w.hq, pack=pack)
        care.form_team(cls.order, w.hq)

    def test_the_doctor_on_the_team_records_a_check_by_order(self):
        response = self.post(self.doctor, "/health-checks",
                             {"order": self.order.pk, "temperature": 36.6, "symptoms": ["cough"], "note": "晨检"})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["temperature"], body["fever"], body["source"]), (36.6, False, "care"))
        self.assertEqual(body["person_name"], "张*")
        self.assertEqual(body["symptom_labels"], ["咳嗽"])

    def test_by_person_and_a_fever_raises_a_signal(self):
        response = self.post(self.w.grid_a_worker, "/health-checks",
                             {"person": self.w.person_a.pk, "temperature": "38.1"})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertTrue(response.json()["fever"])
        self.assertTrue(Signal.objects.filter(kind=SignalKind.FEVER_UNDER_ORDER).exists())

    def test_a_person_not_under_an_order_is_refused(self):
        body = self.assertError(self.post(self.w.grid_b_worker, "/health-checks",
                                          {"person": self.w.person_b.pk, "temperature": 36.5}),
                                400, "invalid", "该人员不在管控中")
        self.assertIn("message", body)
        # Out of reach: 404, as if missing.
        self.assertError(self.post(self.w.grid_a_worker, "/health-checks",
                                   {"person": self.w.person_b.pk, "temperature": 36.5}), 404, "not_found")
        self.assertError(self.post(self.w.grid_b_worker, "/health-checks",
                                   {"order": self.order.pk, "temperature": 36.5}), 404, "not_found")
        self.assertError(self.post(self.volunteer, "/health-checks",
                                   {"order": self.order.pk, "temperature": 36.5}), 404, "not_found")
        self.assertFalse(HealthCheck.objects.exists())

    def test_45_and_30_degrees_are_422(self):
        for value in (45, 30, "29.9", 42.1):
            body = self.assertError(self.post(self.doctor, "/health-checks",
                                              {"order": self.order.pk, "temperature": value}), 422, "invalid")
            self.assertIn("体温数值不合理", body["message"])
            self.assertIn("temperature", body["errors"])
        self.assertError(self.post(self.doctor, "/health-checks",
                                   {"order": self.order.pk, "temperature": "abc"}), 422, "invalid")
        self.assertError(self.post(self.doctor, "/health-checks",
                                   {"order": self.order.pk, "temperature": 36.5, "symptoms": ["x"]}), 400, "invalid")
        self.assertError(self.post(self.doctor, "/health-checks", {"temperature": 36.5}), 400, "invalid")
        self.assertFalse(HealthCheck.objects.exists())

    def test_outsiders_may_not_record(self):
        self.assertError(self.post(self.w.auditor, "/health-checks",
                                   {"order": self.order.pk, "temperature": 36.5}), 403, "forbidden")

    def test_list_is_scoped(self):
        care.record_check(self.doctor, self.order, "36.5", [])
        listed = self.get(self.doctor, "/health-checks", order=self.order.pk)
        self.assertEqual(listed.status_code, 200, listed.content)
        self.assertEqual(listed.json()["count"], 1)
        self.assertEqual(self.get(self.w.grid_a_worker, "/health-checks").json()["count"], 1)
        self.assertEqual(self.get(self.w.grid_b_worker, "/health-checks").json()["count"], 0)
        self.assertEqual(self.get(self.volunteer, "/health-checks").json()["count"], 0)
        self.assertError(self.get(self.w.auditor, "/health-checks"), 403, "forbidden")
