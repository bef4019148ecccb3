"""Signals → alerts: fixed-threshold rules in the raise_signal call, the lifecycle, the clock, detector alarms."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.tasks.services import inbox
from fangkong.warning import alerts
from fangkong.warning.choices import AlertGrade, AlertSource, AlertStatus
from fangkong.warning.models import Alert, AlertRule, DetectorConfig
from fangkong.warning.services import raise_signal
from tests.base import WorldTestCase
from tests.factories import make_user


def positive(w, person=None, area=None, **extra):
    person = person or w.person_a
    return raise_signal("positive_result", title=f"核酸检测阳性：{person.name}（管码 T1）", area=area or person.area,
                        person=person, severity=3, **extra)


class AlertTestCase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, cls.w.county)
        cls.epi_county_b = None

    def setUp(self):
        alerts.clear_rule_cache()
        self.addCleanup(alerts.clear_rule_cache)


class RuleTests(AlertTestCase):
    def test_single_positive_raises_red_alert_in_the_same_call(self):
        signal = positive(self.w)
        alert = Alert.objects.get()
        self.assertEqual((alert.source, alert.grade, alert.status, alert.size), ("rule", "red", "new", 1))
        self.assertEqual(alert.area, self.w.township_a)  # the township, not the grid
        self.assertEqual(list(alert.signals.all()), [signal])
        self.assertLess((alert.raised_at - signal.created_at).total_seconds(), 60)
        self.assertNotIn(self.w.person_a.name, alert.title)  # alert titles name no one

    def test_a_failing_rule_keeps_the_signal_and_the_callers_transaction(self):
        from unittest import mock

        from django.db import transaction

        from fangkong.warning.models import Signal

        positive(self.w)
        with transaction.atomic():  # a scan's transaction: the check-in, the signal, the rules
            with mock.patch.object(alerts, "rule_grade", side_effect=RuntimeError("broken rule")), \
                    self.assertLogs("fangkong.warning.services", "ERROR"):
                second = positive(self.w)
            self.assertEqual(Signal.objects.count(), 2)  # the transaction is still usable
        self.assertTrue(Signal.objects.filter(pk=second.pk).exists())
        alert = Alert.objects.get()
        self.assertEqual(alert.size, 1)  # the rule's half-done work was undone
        self.assertFalse(alert.signals.filter(pk=second.pk).exists())

    def test_second_signal_within_window_attaches(self):
        positive(self.w)
        second = positive(self.w, occurred_at=timezone.now() + timedelta(hours=2))
        alert = Alert.objects.get()
        self.assertEqual(alert.size, 2)
        self.assertIn(second, alert.signals.all())
        self.assertIn("2 条信号", alert.title)

    def test_other_township_or_outside_window_is_a_new_alert(self):
        positive(self.w)
        positive(self.w, person=self.w.person_b)
        positive(self.w, occurred_at=timezone.now() + timedelta(days=2))
        self.assertEqual(Alert.objects.count(), 3)
        self.assertEqual(Alert.objects.filter(area=self.w.township_b).count(), 1)

    def test_closed_alert_is_not_reopened(self):
        positive(self.w)
        alert = Alert.objects.get()
        alerts.verify_alert(self.epi, alert, False, "重复上报")
        alerts.close_alert(self.epi, alert)
        positive(self.w)
        self.assertEqual(Alert.objects.count(), 2)

    def test_threshold_rule_waits_for_enough_signals(self):
        for _ in range(4):
            raise_signal("scan_yellow", title="黄码人员扫码：甲村超市", area=self.w.grid_a)
        self.assertFalse(Alert.objects.exists())
        raise_signal("scan_yellow", title="黄码人员扫码：甲村超市", area=self.w.grid_a2)
        alert = Alert.objects.get()
        self.assertEqual((alert.size, alert.grade, alert.signals.count()), (5, "yellow", 5))

    def test_grade_rises_with_size(self):
        for _ in range(3):
            raise_signal("scan_red", title="红码人员扫码：甲村超市", area=self.w.grid_a, severity=3)
        alert = Alert.objects.get()
        self.assertEqual((alert.size, alert.grade), (3, AlertGrade.RED))  # orange, one step up at 3

    def test_match_details_narrows_the_rule(self):
        raise_signal("fever_patient", title="甲村卫生室报告发热病人 张*", area=self.w.grid_a,
                     details={"from_risk_area": False})
        self.assertFalse(Alert.objects.exists())
        raise_signal("fever_patient", title="甲村卫生室报告发热病人 李*", area=self.w.grid_a,
                     details={"from_risk_area": True})
        self.assertEqual(Alert.objects.get().rule.code, "fever_patient_risk")

    def test_inactive_rule_and_unknown_kind_raise_nothing(self):
        AlertRule.objects.filter(code="positive_result").update(is_active=False)
        alerts.clear_rule_cache()
        positive(self.w)
        raise_signal("something_else", title="其他", area=self.w.grid_a)
        self.assertFalse(Alert.objects.exists())

    def test_rule_edit_takes_effect_at_once(self):
        rule = AlertRule.objects.get(code="home_violation")
        alerts.active_rules()  # cached
        rule.threshold = 2
        rule.save()
        raise_signal("home_violation", title="居家人员违规外出", area=self.w.grid_a)
        self.assertFalse(Alert.objects.exists())


class LifecycleTests(AlertTestCase):
    def setUp(self):
        super().setUp()
        positive(self.w)
        self.alert = Alert.objects.get()

    def test_verify_respond_close(self):
        w = self.w
        alerts.verify_alert(self.epi, self.alert, True, "已电话核实")
        self.alert.refresh_from_db()
        self.assertEqual((self.alert.status, self.alert.verdict, self.alert.verified_by), ("verified", True, self.epi))
        tasks = alerts.respond_alert(self.epi, self.alert, [
            {"kind": "test_buyers"}, {"kind": "start_tracing", "note": "4 小时内完成核心信息"},
            {"kind": "visit_sentinel", "area": w.village_a.code}])
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, "responded")
        self.assertEqual(set(self.alert.tasks.all()), set(tasks))
        by_kind = {t.kind: t for t in tasks}
        test_task = by_kind["alert_test_buyers"]
        self.assertEqual((test_task.area, test_task.role), (w.township_a, Role.TOWNSHIP_OFFICER))
        self.assertIn(test_task, inbox(w.township_a_officer))
        tracing = by_kind["alert_start_tracing"]
        self.assertEqual((tracing.area, tracing.role), (w.county, Role.EPIDEMIOLOGIST))
        self.assertIn(tracing, inbox(self.epi))
        self.assertEqual(tracing.subject, self.alert)
        # More actions later keep the first response time.
        first = self.alert.responded_at
        alerts.respond_alert(w.township_a_officer, self.alert, [{"kind": "custom", "note": "环境消杀"}])
        self.alert.refresh_from_db()
        self.assertEqual((self.alert.responded_at, self.alert.tasks.count()), (first, 4))
        alerts.close_alert(self.epi, self.alert, "已处置完毕")
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, "closed")
        events = AuditEvent.objects.filter(object_type="warning.alert", object_id=str(self.alert.pk), user=self.epi)
        self.assertEqual(events.count(), 3)

    def test_refusals(self):
        with self.assertRaisesMessage(ValidationError, "请先核实"):
            alerts.respond_alert(self.epi, self.alert, [{"kind": "test_buyers"}])
        with self.assertRaisesMessage(ValidationError, "未核实的预警不能关闭"):
            alerts.close_alert(self.epi, self.alert)
        with self.assertRaisesMessage(ValidationError, "误报时必须填写理由"):
            alerts.verify_alert(self.epi, self.alert, False, "  ")
        alerts.verify_alert(self.epi, self.alert, True)
        with self.assertRaisesMessage(ValidationError, "不能重复核实"):
            alerts.verify_alert(self.epi, self.alert, False, "再看")
        with self.assertRaisesMessage(ValidationError, "须先处置"):
            alerts.close_alert(self.epi, self.alert)
        with self.assertRaisesMessage(ValidationError, "至少选择一项"):
            alerts.respond_alert(self.epi, self.alert, [])
        with self.assertRaisesMessage(ValidationError, "不认识的处置措施"):
            alerts.respond_alert(self.epi, self.alert, [{"kind": "pray"}])
        with self.assertRaisesMessage(ValidationError, "其他处置须写明内容"):
            alerts.respond_alert(self.epi, self.alert, [{"kind": "custom"}])
        with self.assertRaisesMessage(ValidationError, "不在您的管辖范围内"):
            alerts.respond_alert(self.w.township_a_officer, self.alert,
                                 [{"kind": "test_buyers", "area": self.w.village_b.code}])
        self.alert.refresh_from_db()
        self.assertEqual((self.alert.status, self.alert.tasks.count()), ("verified", 0))

    def test_false_alarm_cannot_be_responded_but_can_be_closed(self):
        alerts.verify_alert(self.epi, self.alert, False, "检测机构录入错误")
        self.alert.refresh_from_db()
        self.assertEqual((self.alert.status, self.alert.verify_reason), ("false_alarm", "检测机构录入错误"))
        with self.assertRaisesMessage(ValidationError, "误报，不能处置"):
            alerts.respond_alert(self.epi, self.alert, [{"kind": "test_buyers"}])
        alerts.close_alert(self.epi, self.alert)
        with self.assertRaisesMessage(ValidationError, "已关闭"):
            alerts.close_alert(self.epi, self.alert)

    def test_who_may_act(self):
        with self.assertRaises(PermissionDenied):
            alerts.verify_alert(self.w.township_a_officer, self.alert, True)
        officer_b = make_user("town_b", Role.TOWNSHIP_OFFICER, self.w.township_b)
        alerts.verify_alert(self.epi, self.alert, True)
        with self.assertRaises(PermissionDenied):
            alerts.respond_alert(officer_b, self.alert, [{"kind": "test_buyers"}])
        with self.assertRaises(PermissionDenied):
            alerts.close_alert(self.w.township_a_officer, self.alert)


class ClockTests(AlertTestCase):
    def test_medians_over_the_last_30_days(self):
        now = timezone.now()
        positive(self.w, occurred_at=now - timedelta(minutes=10))
        positive(self.w, person=self.w.person_b, occurred_at=now - timedelta(minutes=30))
        a, b = Alert.objects.order_by("area_id")
        Alert.objects.filter(pk=a.pk).update(raised_at=now - timedelta(minutes=9), verified_at=now,
                                             responded_at=now + timedelta(hours=1))
        Alert.objects.filter(pk=b.pk).update(raised_at=now - timedelta(minutes=29), verified_at=now + timedelta(hours=1))
        clock = alerts.response_clock(Alert.objects.all(), now=now + timedelta(hours=2))
        self.assertEqual(clock["signal_to_alert"], {"hours": 0.02, "n": 2})
        self.assertEqual(clock["alert_to_verification"]["n"], 2)
        self.assertAlmostEqual(clock["alert_to_verification"]["hours"], (9 / 60 + (60 + 29) / 60) / 2, places=2)
        self.assertEqual(clock["verification_to_response"], {"hours": 1.0, "n": 1})
        self.assertEqual(clock["cidars_hours"], 1.1)
        self.assertEqual(alerts.response_clock(Alert.objects.all(), now=now + timedelta(days=31))["alerts"], 0)


class DetectorAlertTests(AlertTestCase):
    def test_detector_alert_is_idempotent_per_township_and_day(self):
        config = DetectorConfig.objects.get(signal_type="fever_clinic_visits")
        day = timezone.localdate()
        alert, created = alerts.raise_detector_alert(config, self.w.township_a, day, 30, 12.5, {"expected": 6})
        again, created_again = alerts.raise_detector_alert(config, self.w.township_a, day, 31, 12.5)
        self.assertTrue(created)
        self.assertFalse(created_again)
        self.assertEqual(alert.pk, again.pk)
        self.assertEqual((alert.source, alert.grade, alert.size), (AlertSource.DETECTOR, AlertGrade.ORANGE, 30))
        self.assertEqual(alert.details["expected"], 6)
        other, created = alerts.raise_detector_alert(config, self.w.township_b, day, 13, 12.5)
        self.assertEqual((created, other.grade), (True, AlertGrade.YELLOW))

    def test_detector_validation(self):
        with self.assertRaises(ValidationError) as caught:
            alerts.clean_detector("magic", {}, 28)
        self.assertIn("method", caught.exception.message_dict)
        with self.assertRaises(ValidationError) as caught:
            alerts.clean_detector("ears_c2", {"alpha": 2}, 3)
        self.assertEqual(set(caught.exception.message_dict), {"params", "baseline_days"})
        self.assertEqual(alerts.clean_detector("farrington", {}, 3000), {})


class PageTests(AlertTestCase):
    def setUp(self):
        super().setUp()
        positive(self.w)
        positive(self.w, person=self.w.person_b)
        self.alert_a = Alert.objects.get(area=self.w.township_a)
        self.alert_b = Alert.objects.get(area=self.w.township_b)

    def test_queue_and_clock(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("warning:index"))
        self.assertContains(response, 'data-testid="alert-queue"')
        self.assertContains(response, 'data-testid="response-clock"')
        self.assertContains(response, "CIDARS 全国中位响应 1.1 小时")
        self.assertContains(response, self.alert_a.title)
        self.assertNotContains(response, self.alert_b.title)

    def test_alert_page_masks_names_for_area_officers(self):
        self.client.force_login(self.w.township_a_officer)
        url = reverse("warning:alert", args=[self.alert_a.pk])
        response = self.client.get(url)
        self.assertNotContains(response, "张三")
        self.assertContains(response, "张*")
        self.assertNotContains(response, 'data-testid="verify-form"')
        self.assertEqual(self.client.get(reverse("warning:alert", args=[self.alert_b.pk])).status_code, 404)
        self.client.force_login(self.epi)
        response = self.client.get(url)
        self.assertContains(response, "张三")
        self.assertContains(response, 'data-testid="verify-form"')

    def test_verify_respond_close_through_the_forms(self):
        self.client.force_login(self.epi)
        url = reverse("warning:alert", args=[self.alert_a.pk])
        response = self.client.post(reverse("warning:alert_verify", args=[self.alert_a.pk]), {"verdict": "false"})
        self.assertContains(response, "误报时必须填写理由", status_code=400)
        self.client.post(reverse("warning:alert_verify", args=[self.alert_a.pk]), {"verdict": "true"})
        response = self.client.get(url)
        self.assertContains(response, 'data-testid="respond-form"')
        self.client.post(reverse("warning:alert_respond", args=[self.alert_a.pk]),
                         {"actions": ["test_buyers", "start_tracing"], "area": self.w.village_a.code})
        self.alert_a.refresh_from_db()
        self.assertEqual((self.alert_a.status, self.alert_a.tasks.count()), (AlertStatus.RESPONDED, 2))
        response = self.client.get(url)
        self.assertContains(response, 'data-testid="close-form"')
        self.client.post(reverse("warning:alert_close", args=[self.alert_a.pk]), {"note": "结束"})
        self.alert_a.refresh_from_db()
        self.assertEqual(self.alert_a.status, AlertStatus.CLOSED)

    def test_detectors_page_explains_and_only_hq_edits(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("warning:detectors"))
        self.assertContains(response, 'data-testid="detectors-table"')
        self.assertContains(response, "Farrington")
        self.assertNotContains(response, 'data-testid="edit-drug_sales"')
        config = DetectorConfig.objects.get(signal_type="drug_sales")
        self.assertEqual(self.client.get(reverse("warning:detector_edit", args=[config.pk])).status_code, 403)
        self.client.force_login(self.w.hq)
        url = reverse("warning:detector_edit", args=[config.pk])
        response = self.client.post(url, {"method": "cusum", "params": "[1]", "baseline_days": 28})
        self.assertContains(response, "JSON 对象", status_code=400)
        response = self.client.post(url, {"method": "cusum", "params": "", "baseline_days": 28, "is_active": "on",
                                          "explanation": "改用 CUSUM"})
        self.assertRedirects(response, reverse("warning:detectors"))
        config.refresh_from_db()
        self.assertEqual((config.method, config.baseline_days, config.updated_by), ("cusum", 28, self.w.hq))

    def test_signal_list_masks_names(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("warning:signals"))
        self.assertContains(response, "核酸检测阳性：张*")
        self.assertNotContains(response, "李")
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.get(reverse("warning:signals")).status_code, 403)


class NoDetectorCase(TestCase):
    def test_methods_are_known_without_the_module(self):
        self.assertIn("farrington", alerts.detector_methods())


class SentinelClusterTests(AlertTestCase):
    """An injected cluster of fever-clinic visits in one township raises one statistical alert."""

    def test_fever_clinic_cluster_raises_a_detector_alert_and_a_new_sentinel_does_not(self):
        from fangkong.sentinels.models import Sentinel
        from fangkong.sentinels.services import record_daily_counts
        from fangkong.warning.services import detect_day, series

        w = self.w
        today = timezone.localdate()
        clinic_a = Sentinel.objects.create(kind="fever_clinic", name="甲镇卫生院发热门诊", area=w.village_a,
                                           joined_on=today - timedelta(days=30))
        clinic_b = Sentinel.objects.create(kind="fever_clinic", name="乙镇卫生院发热门诊", area=w.village_b,
                                           joined_on=today - timedelta(days=4))
        for back in range(30, 0, -1):
            record_daily_counts(w.hq, clinic_a, today - timedelta(days=back), 8 + back % 5)
        for back in range(4, 0, -1):
            record_daily_counts(w.hq, clinic_b, today - timedelta(days=back), 2)
        record_daily_counts(w.hq, clinic_a, today, 40)
        record_daily_counts(w.hq, clinic_b, today, 30)  # a step from a new sentinel: too little history to judge
        raised = detect_day(today)
        self.assertEqual([(a.area, a.signal_type, a.size) for a in raised],
                         [(w.township_a, "fever_clinic_visits", 40)])
        self.assertEqual(detect_day(today), [])
        body = series(w.township_b, "fever_clinic_visits", days=14)
        self.assertFalse(any(body["alarm"]))
        self.assertEqual(body["history_days"], 5)
        self.assertTrue(body["note"])


def test_a_baseline_under_two_years_never_asks_farrington_for_one_year():
    from fangkong.warning.alerts import method_params

    for method in ("farrington", "glm_cusum"):
        assert method_params(method, 400)["b"] == 2  # b = 1 leaves the reference window empty
        assert method_params(method, 5 * 365)["b"] == 5
        assert method_params(method, 400, {"b": 3})["b"] == 3  # an explicit choice stands
