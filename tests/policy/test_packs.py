"""Policy packs: the shipped editions, previewing and activating a switch, editing a copy."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.declarations import services as declarations
from fangkong.policy import matching, planning, services
from fangkong.policy.models import PolicyPack
from tests.base import WorldTestCase
from tests.factories import declaration_data, make_risk_area


class PlanningTests(WorldTestCase):
    def test_stages_count_from_day_one(self):
        plan = planning.plan_stages([{"stage": "centralized", "days": 14, "test_days": [1, 4, 7, 14]},
                                     {"stage": "home_monitoring", "days": 7, "test_days": [2, 7]}], date(2022, 1, 1))
        self.assertEqual(plan[0]["end"], "2022-01-14")
        self.assertEqual(plan[0]["test_dates"], ["2022-01-01", "2022-01-04", "2022-01-07", "2022-01-14"])
        self.assertEqual(plan[1]["start"], "2022-01-15")
        self.assertEqual(plan[1]["test_dates"], ["2022-01-16", "2022-01-21"])
        self.assertEqual(planning.describe([{"days": 14}, {"days": 7}]), "14+7")

    def test_township_area_matches_a_stop_naming_no_township_as_assumed(self):
        area = matching.Area(1, "110101", "township", "东华门街道", "high", date(2022, 1, 1), None)
        stop = matching.Stop("110101", date(2022, 1, 3), date(2022, 1, 4))
        result = matching.match([stop], [area])
        self.assertEqual(result.severity, 3)
        self.assertTrue(result.matches[0].assumed)
        other = matching.Stop("110101", date(2022, 1, 3), date(2022, 1, 4), "景山街道")
        self.assertEqual(matching.match([other], [area]).severity, 0)


class SwitchTests(WorldTestCase):
    def test_three_packs_shipped_and_14_7_active(self):
        self.assertEqual(PolicyPack.objects.count(), 3)
        self.assertEqual(services.active_pack().code, "ed8-14-7")

    def test_switch_to_7_3_previews_then_moves_the_end_date(self):
        make_risk_area("110101", "medium")
        declaration, _ = declarations.submit_declaration(declaration_data(self.w.grid_a))
        order = declaration.control_order
        old_end = order.planned_end
        ed9 = PolicyPack.objects.get(code="ed9-7-3")
        preview = services.preview_pack(self.w.hq, ed9)
        self.assertEqual(preview["orders"], 1)
        self.assertEqual(preview["earlier"], 1)
        self.assertEqual(preview["samples"][0]["new_end"], (old_end - timedelta(days=7)).isoformat())
        order.refresh_from_db()
        self.assertEqual(order.planned_end, old_end)  # a preview changes nothing
        services.activate_pack(self.w.hq, ed9)
        order.refresh_from_db()
        self.assertEqual(order.planned_end, old_end - timedelta(days=7))
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(ed9.pk)).exists())
        self.assertEqual(services.active_pack(), ed9)

    def test_grid_worker_cannot_activate(self):
        from django.core.exceptions import PermissionDenied

        with self.assertRaises(PermissionDenied):
            services.activate_pack(self.w.grid_a_worker, PolicyPack.objects.get(code="ed9-7-3"))

    def test_active_pack_is_frozen_a_copy_is_editable(self):
        active = services.active_pack()
        rule = active.rules.get(category="medium_risk_arrival")
        with self.assertRaises(ValidationError):
            services.update_rule(self.w.hq, rule, {"followup_hours": 6})
        copy = services.copy_pack(self.w.hq, active, name="本省版", code="local-1")
        rule = copy.rules.get(category="medium_risk_arrival")
        services.update_rule(self.w.hq, rule, {"stages": [{"stage": "home_isolation", "days": 10, "test_days": [1, 10]}]})
        rule.refresh_from_db()
        self.assertEqual(rule.stages[0]["days"], 10)
        with self.assertRaises(ValidationError):
            services.update_rule(self.w.hq, rule, {"stages": [{"stage": "home_monitoring", "days": 3},
                                                              {"stage": "centralized", "days": 7}]})

    def test_risk_area_validation_and_history(self):
        with self.assertRaises(ValidationError) as raised:
            services.save_risk_area(self.w.hq, {"place_code": "999999", "level": "high",
                                                "effective_from": timezone.localdate()})
        self.assertIn("place_code", raised.exception.message_dict)
        area = services.save_risk_area(self.w.hq, {"place_code": "370102", "level": "high",
                                                   "effective_from": timezone.localdate()})
        self.assertEqual(area.prefix, "370102")
        services.lift_risk_area(self.w.hq, area, timezone.localdate())
        self.assertEqual(services.risk_area_history(area).count(), 2)


class ImportWordsTests(WorldTestCase):
    def test_traditional_headers_and_level_words_are_read(self):
        from fangkong.policy import imports

        fields = {imports.HEADER_MAP.field(h) for h in ("地區編碼", "風險等級", "鄉鎮（街道）", "備註")}
        self.assertEqual(fields, {"place_code", "level", "township", "note"})
        self.assertEqual(imports.level_of("封控區"), "sealed")
        self.assertEqual(imports.level_of("高風險"), "high")
