"""HQ keeps the fixed-threshold alert rules: the list, editing and adding a rule (pages and API), audited."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from fangkong.audit.models import AuditEvent
from fangkong.warning import alerts
from fangkong.warning.forms import match_details_text, parse_match_details
from fangkong.warning.models import Alert, AlertRule
from fangkong.warning.services import raise_signal
from tests.api.base import ApiTestCase
from tests.base import WorldTestCase


def form_data(rule: AlertRule, **changes) -> dict:
    data = {"name": rule.name, "signal_kinds": list(rule.signal_kinds),
            "match_details": match_details_text(rule.match_details), "threshold": rule.threshold,
            "window_minutes": rule.window_minutes, "grade": rule.grade, "escalate_size": rule.escalate_size,
            "description": rule.description, "is_active": "on" if rule.is_active else ""}
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


class RuleServiceTests(WorldTestCase):
    def setUp(self):
        alerts.clear_rule_cache()
        self.addCleanup(alerts.clear_rule_cache)
        self.rule = AlertRule.objects.get(code="home_violation")

    def test_update_is_audited_with_before_and_after_and_takes_effect_at_once(self):
        alerts.active_rules()  # cached before the change
        alerts.update_rule(self.w.hq, self.rule, {"threshold": 2, "window_minutes": 120})
        self.rule.refresh_from_db()
        self.assertEqual((self.rule.threshold, self.rule.window_minutes, self.rule.updated_by),
                         (2, 120, self.w.hq))
        event = AuditEvent.objects.get(object_type="warning.alertrule", object_id=str(self.rule.pk))
        self.assertEqual(event.changes, {"threshold": [1, 2], "window_minutes": [1440, 120]})
        raise_signal("home_violation", title="居家人员违规外出", area=self.w.grid_a)
        self.assertFalse(Alert.objects.exists())
        raise_signal("home_violation", title="居家人员违规外出", area=self.w.grid_a)
        self.assertEqual(Alert.objects.get().size, 2)

    def test_only_hq_changes_rules(self):
        for user in (self.w.township_a_officer, self.w.grid_a_worker, self.w.outsider):
            with self.subTest(user=user), self.assertRaises(PermissionDenied):
                alerts.update_rule(user, self.rule, {"threshold": 2})
        with self.assertRaises(PermissionDenied):
            alerts.create_rule(self.w.township_a_officer, {"code": "x", "name": "x", "signal_kinds": ["scan_red"]})

    def test_bad_settings_are_refused_by_field(self):
        cases = [
            ({"threshold": 0}, "threshold"), ({"threshold": alerts.MAX_RULE_MEMBERS + 1}, "threshold"),
            ({"threshold": True}, "threshold"), ({"window_minutes": 0}, "window_minutes"),
            ({"window_minutes": 10081}, "window_minutes"), ({"grade": "purple"}, "grade"),
            ({"escalate_size": -1}, "escalate_size"), ({"signal_kinds": []}, "signal_kinds"),
            ({"signal_kinds": ["rainfall"]}, "signal_kinds"), ({"name": "  "}, "name"),
            ({"match_details": ["from_risk_area"]}, "match_details"),
            ({"match_details": {"bad key": 1}}, "match_details"),
            ({"match_details": {"kinds": [1, 2]}}, "match_details"), ({"is_active": "yes"}, "is_active"),
        ]
        for data, field in cases:
            with self.subTest(data=data), self.assertRaises(ValidationError) as caught:
                alerts.update_rule(self.w.hq, self.rule, data)
            self.assertIn(field, caught.exception.message_dict)
        self.rule.refresh_from_db()
        self.assertEqual(self.rule.threshold, 1)
        self.assertFalse(AuditEvent.objects.filter(object_type="warning.alertrule").exists())

    def test_a_kind_outside_the_list_that_the_rule_already_names_is_kept(self):
        AlertRule.objects.filter(pk=self.rule.pk).update(signal_kinds=["home_violation", "curfew_breach"])
        self.rule.refresh_from_db()
        alerts.update_rule(self.w.hq, self.rule, {"threshold": 3})
        self.rule.refresh_from_db()
        self.assertEqual(self.rule.signal_kinds, ["home_violation", "curfew_breach"])

    def test_new_rule_applies_to_new_signals(self):
        rule = alerts.create_rule(self.w.hq, {"code": "scan_red_cluster", "name": "红码扫码聚集",
                                              "signal_kinds": ["scan_red"], "threshold": 2, "window_minutes": 60,
                                              "grade": "red"})
        self.assertEqual((rule.escalate_size, rule.is_active, rule.updated_by), (0, True, self.w.hq))
        self.assertTrue(AuditEvent.objects.filter(object_type="warning.alertrule", action="create",
                                                  object_id=str(rule.pk)).exists())
        raise_signal("scan_red", title="红码扫码", area=self.w.grid_a)
        raise_signal("scan_red", title="红码扫码", area=self.w.grid_a)
        self.assertTrue(Alert.objects.filter(rule=rule, grade="red", size=2).exists())
        with self.assertRaises(ValidationError) as caught:
            alerts.create_rule(self.w.hq, {"code": "scan_red_cluster", "name": "重复", "signal_kinds": ["scan_red"]})
        self.assertIn("code", caught.exception.message_dict)
        with self.assertRaises(ValidationError) as caught:
            alerts.create_rule(self.w.hq, {"code": "Bad Code", "name": "x", "signal_kinds": []})
        self.assertEqual(set(caught.exception.message_dict), {"code", "signal_kinds"})


class MatchDetailsTextTests(WorldTestCase):
    def test_lines_and_json_read_alike(self):
        self.assertEqual(parse_match_details("from_risk_area=true\nsentinel_kind = village_clinic\n\n"),
                         {"from_risk_area": True, "sentinel_kind": "village_clinic"})
        self.assertEqual(parse_match_details('{"from_risk_area": true}'), {"from_risk_area": True})
        self.assertEqual(parse_match_details(""), {})
        for bad in ("from_risk_area", "=1", "{not json", "[1]"):
            with self.subTest(bad=bad), self.assertRaises(ValidationError):
                parse_match_details(bad)

    def test_text_round_trips(self):
        details = {"from_risk_area": True, "count": 3, "code": "3", "kind": "village_clinic"}
        self.assertEqual(parse_match_details(match_details_text(details)), details)


class RulePageTests(WorldTestCase):
    def setUp(self):
        alerts.clear_rule_cache()
        self.addCleanup(alerts.clear_rule_cache)
        self.rule = AlertRule.objects.get(code="fever_patient_risk")

    def test_list_shows_kinds_by_label_and_the_settings(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("warning:rules"))
        self.assertContains(response, 'data-testid="rules-table"')
        self.assertContains(response, 'data-testid="rule-fever_patient_risk"')
        self.assertContains(response, "基层哨点发热病人")  # the label, not the code
        self.assertContains(response, "from_risk_area=true")
        self.assertContains(response, "24 小时内 3 条")  # fever_patient_cluster
        self.assertContains(response, "1 小时内 5 条")  # scan_yellow
        self.assertContains(response, "每 3 条升一级")
        self.assertNotContains(response, 'data-testid="edit-fever_patient_risk"')  # township officers only read
        self.assertNotContains(response, 'data-testid="rule-new"')
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("warning:rules"))
        self.assertContains(response, 'data-testid="edit-fever_patient_risk"')
        self.assertContains(response, 'data-testid="rule-new"')

    def test_links_from_the_warning_index_and_the_detectors_page(self):
        self.client.force_login(self.w.township_a_officer)
        for name in ("warning:index", "warning:detectors"):
            self.assertContains(self.client.get(reverse(name)), reverse("warning:rules"))

    def test_who_may_open_the_pages(self):
        edit = reverse("warning:rule_edit", args=[self.rule.pk])
        for user in (self.w.grid_a_worker, self.w.outsider, self.w.auditor):
            self.client.force_login(user)
            self.assertEqual(self.client.get(reverse("warning:rules")).status_code, 403, user)
        for user in (self.w.township_a_officer, self.w.grid_a_worker):
            self.client.force_login(user)
            for url in (edit, reverse("warning:rule_new")):
                self.assertEqual(self.client.get(url).status_code, 403, (user, url))
                self.assertEqual(self.client.post(url, form_data(self.rule, threshold=9)).status_code, 403)
        self.rule.refresh_from_db()
        self.assertEqual(self.rule.threshold, 1)
        self.client.force_login(self.w.hq)
        self.assertEqual(self.client.get(reverse("warning:rule_edit", args=[99999])).status_code, 404)

    def test_hq_edits_a_rule(self):
        self.client.force_login(self.w.hq)
        url = reverse("warning:rule_edit", args=[self.rule.pk])
        response = self.client.get(url)
        self.assertContains(response, 'data-testid="rule-form"')
        self.assertContains(response, "from_risk_area=true")
        self.assertEqual(response.context["form"]["signal_kinds"].value(), ["fever_patient"])
        self.assertNotContains(response, 'name="code"')
        response = self.client.post(url, form_data(self.rule, signal_kinds=["fever_patient", "high_risk_arrival"],
                                                   match_details="from_risk_area=true\nlate=true", threshold=2,
                                                   window_minutes=720, grade="red", escalate_size=0, is_active=""))
        self.assertRedirects(response, reverse("warning:rules"))
        self.rule.refresh_from_db()
        self.assertEqual(
            (self.rule.signal_kinds, self.rule.match_details, self.rule.threshold, self.rule.window_minutes,
             self.rule.grade, self.rule.escalate_size, self.rule.is_active, self.rule.updated_by),
            (["fever_patient", "high_risk_arrival"], {"from_risk_area": True, "late": True}, 2, 720, "red", 0, False,
             self.w.hq))
        event = AuditEvent.objects.get(object_type="warning.alertrule", object_id=str(self.rule.pk))
        self.assertEqual(event.changes["is_active"], [True, False])
        self.assertEqual(event.user, self.w.hq)

    def test_form_errors_are_shown_and_nothing_is_saved(self):
        self.client.force_login(self.w.hq)
        url = reverse("warning:rule_edit", args=[self.rule.pk])
        cases = [({"threshold": 0}, "threshold"), ({"window_minutes": 10081}, "window_minutes"),
                 ({"match_details": "from_risk_area"}, "键=值"), ({"match_details": "{oops"}, "JSON"),
                 ({"match_details": "bad key=1"}, "英文字母"), ({"signal_kinds": []}, "请至少选择一种信号类型")]
        for change, text in cases:
            with self.subTest(change=change):
                response = self.client.post(url, form_data(self.rule, **change))
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, text, status_code=400)
        self.rule.refresh_from_db()
        self.assertEqual((self.rule.threshold, self.rule.window_minutes), (1, 1440))

    def test_hq_adds_a_rule(self):
        self.client.force_login(self.w.hq)
        url = reverse("warning:rule_new")
        response = self.client.get(url)
        self.assertContains(response, 'name="code"')
        data = {"code": "school_fever", "name": "学校发热聚集", "signal_kinds": ["fever_patient"],
                "match_details": "sentinel_kind=school", "threshold": 5, "window_minutes": 1440, "grade": "orange",
                "escalate_size": 5, "is_active": "on"}
        self.assertRedirects(self.client.post(url, data), reverse("warning:rules"))
        rule = AlertRule.objects.get(code="school_fever")
        self.assertEqual((rule.match_details, rule.threshold, rule.updated_by), ({"sentinel_kind": "school"}, 5,
                                                                                  self.w.hq))
        response = self.client.post(url, {**data, "name": "另一条"})
        self.assertContains(response, "已有代码", status_code=400)


class RuleApiTests(ApiTestCase):
    def setUp(self):
        alerts.clear_rule_cache()
        self.addCleanup(alerts.clear_rule_cache)

    def put(self, user, rule_id, data):
        return self.client.put(f"/api/v1/alert-rules/{rule_id}", data, content_type="application/json",
                               **self.auth(user))

    def test_list_rules(self):
        body = self.get(self.w.township_a_officer, "/alert-rules").json()
        self.assertEqual(len(body), AlertRule.objects.count())
        risk = next(r for r in body if r["code"] == "fever_patient_risk")
        self.assertEqual((risk["signal_kind_labels"], risk["match_details"], risk["grade_label"]),
                         (["基层哨点发热病人"], {"from_risk_area": True}, "橙色"))
        self.assertError(self.get(self.w.grid_a_worker, "/alert-rules"), 403, "forbidden")

    def test_put_validates_like_the_page_and_keeps_what_is_not_sent(self):
        rule = AlertRule.objects.get(code="scan_yellow")
        payload = {"name": rule.name, "signal_kinds": ["scan_yellow"], "threshold": 8, "window_minutes": 90,
                   "grade": "orange"}
        self.assertError(self.put(self.w.township_a_officer, rule.pk, payload), 403, "forbidden")
        self.assertError(self.put(self.w.hq, rule.pk, {**payload, "threshold": 0}), 400, "invalid", "阈值")
        self.assertError(self.put(self.w.hq, rule.pk, {**payload, "window_minutes": 20000}), 400, "invalid")
        self.assertError(self.put(self.w.hq, rule.pk, {**payload, "signal_kinds": ["rainfall"]}), 400, "invalid")
        self.assertError(self.put(self.w.hq, rule.pk, {**payload, "match_details": {"a": [1]}}), 400, "invalid")
        self.assertError(self.put(self.w.hq, rule.pk, {**payload, "grade": "purple"}), 422, "invalid")
        self.assertError(self.put(self.w.hq, 99999, payload), 404, "not_found")
        response = self.put(self.w.hq, rule.pk, payload)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual((body["threshold"], body["window_minutes"], body["grade"], body["escalate_size"],
                          body["description"], body["updated_by"]),
                         (8, 90, "orange", 10, rule.description, "hq"))
        self.assertTrue(AuditEvent.objects.filter(object_type="warning.alertrule", object_id=str(rule.pk)).exists())

    def test_post_adds_a_rule(self):
        payload = {"code": "coldchain_cluster", "name": "冷链阳性聚集", "signal_kinds": ["coldchain_positive"],
                   "threshold": 2, "window_minutes": 4320, "grade": "red"}
        self.assertError(self.post(self.w.township_a_officer, "/alert-rules", payload), 403, "forbidden")
        response = self.post(self.w.hq, "/alert-rules", payload)
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["code"], "coldchain_cluster")
        self.assertError(self.post(self.w.hq, "/alert-rules", payload), 400, "invalid", "已有代码")
