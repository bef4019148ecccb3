"""The risk-area list and the policy packs over the API."""

from datetime import timedelta

from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.declarations import services as declarations
from fangkong.policy.models import PolicyPack, RiskArea
from tests.factories import declaration_data, make_risk_area

from .base import API, ApiTestCase


class RiskAreaApiTests(ApiTestCase):
    def test_list_filters_by_level_date_and_text(self):
        today = timezone.localdate()
        make_risk_area("110101", "high")
        make_risk_area("370102", "medium", township="某街道")
        make_risk_area("110102", "high", days_ago=30, until=today - timedelta(days=10))
        body = self.get(self.w.grid_a_worker, "/risk-areas").json()
        self.assertEqual(body["count"], 3)
        self.assertEqual({"id", "place_code", "level", "level_label", "effective_from", "effective_to", "name"}
                         - set(body["items"][0]), set())
        self.assertEqual(self.get(self.w.grid_a_worker, "/risk-areas", active_on=today.isoformat()).json()["count"], 2)
        self.assertEqual(self.get(self.w.grid_a_worker, "/risk-areas", level="high").json()["count"], 2)
        found = self.get(self.w.grid_a_worker, "/risk-areas", q="东城").json()
        self.assertEqual([i["place_code"] for i in found["items"]], ["110101"])
        self.assertEqual(self.get(self.w.grid_a_worker, "/risk-areas", q="3701").json()["count"], 1)
        page = self.get(self.w.grid_a_worker, "/risk-areas", page=2, page_size=2).json()
        self.assertEqual((page["count"], len(page["items"])), (3, 1))
        self.assertError(self.get(self.w.grid_a_worker, "/risk-areas", level="extreme"), 400, "invalid")

    def test_hq_creates_a_risk_area_audited(self):
        response = self.post(self.w.hq, "/risk-areas", {
            "place_code": "110101", "township": "东华门街道", "level": "sealed",
            "effective_from": timezone.localdate().isoformat()})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["granularity"], body["level_label"]), ("township", "封控区"))
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.riskarea", object_id=str(body["id"]),
                                                  action="create").exists())
        self.assertEqual(self.get(self.w.grid_a_worker, f"/risk-areas/{body['id']}").json()["name"],
                         "北京市 东城区 东华门街道")

    def test_invalid_risk_area_names_the_fields(self):
        body = self.assertError(self.post(self.w.hq, "/risk-areas", {
            "place_code": "999999", "level": "extreme", "effective_from": "2022-05-02",
            "effective_to": "2022-05-01"}), 400, "invalid")
        self.assertEqual(set(body["errors"]), {"place_code", "level", "effective_to"})
        body = self.assertError(self.post(self.w.hq, "/risk-areas", {"place_code": "110101", "level": "high"}),
                                422, "invalid")
        self.assertIn("effective_from", body["errors"])
        self.assertFalse(RiskArea.objects.exists())

    def test_only_hq_creates_risk_areas(self):
        data = {"place_code": "110101", "level": "high", "effective_from": "2022-05-01"}
        self.assertError(self.post(self.w.grid_a_worker, "/risk-areas", data), 403, "forbidden")
        self.assertError(self.post(self.w.township_a_officer, "/risk-areas", data), 403, "forbidden")
        response = self.client.post(API + "/risk-areas", data, content_type="application/json")
        self.assertError(response, 401, "unauthorized")
        self.assertFalse(RiskArea.objects.exists())


class PolicyPackApiTests(ApiTestCase):
    def test_list_packs_with_their_rules(self):
        body = self.get(self.w.grid_a_worker, "/policy-packs").json()
        self.assertEqual(body["count"], 3)
        active = [p for p in body["items"] if p["is_active"]]
        self.assertEqual([p["code"] for p in active], ["ed8-14-7"])
        self.assertFalse(active[0]["editable"])
        close = next(r for r in active[0]["rules"] if r["category"] == "close_contact")
        self.assertEqual(close["label"], "14+7")
        self.assertEqual(close["stages"][0], {"stage": "centralized", "days": 14, "test_days": [1, 4, 7, 14]})
        self.assertTrue(close["pickup_required"])
        self.assertEqual(close["measure"], "centralized")

    def test_preview_and_activate_move_an_open_order(self):
        make_risk_area("110101", "medium")
        declaration, _ = declarations.submit_declaration(declaration_data(self.w.grid_a))
        order = declaration.control_order
        old_end = order.planned_end
        ed9 = PolicyPack.objects.get(code="ed9-7-3")
        preview = self.post(self.w.hq, f"/policy-packs/{ed9.pk}/preview").json()
        self.assertEqual((preview["orders"], preview["earlier"], preview["later"]), (1, 1, 0))
        self.assertEqual(preview["by_category"][0]["category"], "medium_risk_arrival")
        self.assertEqual(preview["samples"][0]["new_end"], (old_end - timedelta(days=7)).isoformat())
        order.refresh_from_db()
        self.assertEqual(order.planned_end, old_end)
        self.assertError(self.post(self.w.hq, f"/policy-packs/{ed9.pk}/activate", {"reason": " "}), 400, "invalid")
        response = self.post(self.w.hq, f"/policy-packs/{ed9.pk}/activate", {"reason": "执行第九版"})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual((response.json()["earlier"], response.json()["replanned"]), (1, 1))
        order.refresh_from_db()
        self.assertEqual(order.planned_end, old_end - timedelta(days=7))
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(ed9.pk),
                                                  reason="执行第九版").exists())
        self.assertError(self.post(self.w.hq, f"/policy-packs/{ed9.pk}/activate", {"reason": "再来一次"}),
                         400, "invalid", "已是当前启用")

    def test_non_hq_cannot_preview_or_activate(self):
        ed9 = PolicyPack.objects.get(code="ed9-7-3")
        for user in (self.w.grid_a_worker, self.w.township_a_officer, self.w.auditor):
            self.assertError(self.post(user, f"/policy-packs/{ed9.pk}/preview"), 403, "forbidden")
            self.assertError(self.post(user, f"/policy-packs/{ed9.pk}/activate", {"reason": "试试看"}),
                             403, "forbidden")
        self.assertFalse(PolicyPack.objects.get(pk=ed9.pk).is_active)
        self.assertError(self.post(self.w.hq, "/policy-packs/99999/activate", {"reason": "试试看"}), 404, "not_found")
