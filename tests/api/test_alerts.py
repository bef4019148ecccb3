"""The early-warning API: signals (scoped, masked), alerts and their lifecycle, detectors, series."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.warning import alerts
from fangkong.warning.models import Alert, DetectorConfig
from fangkong.warning.services import raise_signal
from tests.factories import make_user

from .base import ApiTestCase


class AlertApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        raise_signal("positive_result", title=f"核酸检测阳性：{w.person_a.name}（管码 T1）", area=w.grid_a,
                     person=w.person_a, severity=3)
        raise_signal("positive_result", title=f"核酸检测阳性：{w.person_b.name}（管码 T2）", area=w.grid_b,
                     person=w.person_b, severity=3)
        cls.alert_a = Alert.objects.get(area=w.township_a)
        cls.alert_b = Alert.objects.get(area=w.township_b)

    def setUp(self):
        alerts.clear_rule_cache()
        self.addCleanup(alerts.clear_rule_cache)

    def test_signals_are_scoped_and_masked(self):
        w = self.w
        body = self.get(w.township_a_officer, "/signals").json()
        self.assertEqual(body["count"], 1)
        item = body["items"][0]
        self.assertEqual((item["person_name"], item["details"]), ("张*", None))
        self.assertNotIn("张三", item["title"])
        body = self.get(self.epi, "/signals").json()
        self.assertEqual(body["count"], 2)
        self.assertIn("张三", {i["person_name"] for i in body["items"]})
        self.assertEqual(self.get(self.epi, "/signals", area=w.township_b.code).json()["count"], 1)
        self.assertEqual(self.get(self.epi, "/signals", kind="scan_red").json()["count"], 0)
        since = (timezone.now() + timedelta(hours=1)).isoformat()
        self.assertEqual(self.get(self.epi, "/signals", since=since).json()["count"], 0)
        self.assertError(self.get(w.grid_a_worker, "/signals"), 403, "forbidden")

    def test_alerts_list_filters_and_scope(self):
        w = self.w
        body = self.get(w.township_a_officer, "/alerts").json()
        self.assertEqual([a["id"] for a in body["items"]], [self.alert_a.pk])
        self.assertEqual(self.get(self.epi, "/alerts", status="new", grade="red", source="rule").json()["count"], 2)
        self.assertEqual(self.get(self.epi, "/alerts", status="closed").json()["count"], 0)
        self.assertError(self.get(self.epi, "/alerts", grade="purple"), 422, "invalid")
        detail = self.get(w.township_a_officer, f"/alerts/{self.alert_a.pk}").json()
        self.assertEqual(detail["signals"][0]["person_name"], "张*")
        self.assertError(self.get(w.township_a_officer, f"/alerts/{self.alert_b.pk}"), 404, "not_found")
        self.assertError(self.post(w.township_a_officer, f"/alerts/{self.alert_b.pk}/verify", {"verdict": True}),
                         404, "not_found")

    def test_lifecycle_over_the_api(self):
        w = self.w
        path = f"/alerts/{self.alert_a.pk}"
        self.assertError(self.post(w.township_a_officer, f"{path}/verify", {"verdict": True}), 403, "forbidden")
        self.assertError(self.post(self.epi, f"{path}/respond", {"actions": [{"kind": "test_buyers"}]}), 400,
                         "invalid", "请先核实")
        self.assertError(self.post(self.epi, f"{path}/close", {}), 400, "invalid", "未核实的预警不能关闭")
        self.assertError(self.post(self.epi, f"{path}/verify", {"verdict": False}), 400, "invalid", "必须填写理由")
        body = self.post(self.epi, f"{path}/verify", {"verdict": True, "reason": "核实属实"}).json()
        self.assertEqual((body["status"], body["verdict"]), ("verified", True))
        response = self.post(w.township_a_officer, f"{path}/respond", {
            "actions": [{"kind": "test_buyers", "area": w.village_a.code}, {"kind": "visit_sentinel"}],
            "note": "立即处置"})
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual((body["status"], len(body["task_ids"])), ("responded", 2))
        tasks = self.get(w.village_a_officer, "/tasks").json()["items"]
        self.assertIn("组织购药人员核酸检测", " ".join(t["title"] for t in tasks))
        self.assertError(self.post(self.epi, f"{path}/respond", {"actions": [{"kind": "dance"}]}), 422, "invalid")
        body = self.post(self.epi, f"{path}/close", {"note": "处置完毕"}).json()
        self.assertEqual(body["status"], "closed")

    def test_detectors_get_and_put(self):
        w = self.w
        body = self.get(w.township_a_officer, "/detectors").json()
        self.assertEqual({d["signal_type"] for d in body}, {
            "fever_clinic_visits", "clinic_fever_patients", "drug_sales", "school_absences", "non_green_scans",
            "positive_results"})
        config = DetectorConfig.objects.get(signal_type="drug_sales")
        path = f"/detectors/{config.pk}"
        payload = {"method": "farrington", "params": {}, "baseline_days": 3000}
        self.assertError(self.client.put("/api/v1" + path, payload, content_type="application/json",
                                         **self.auth(self.epi)), 403, "forbidden")

        def put(data):
            return self.client.put("/api/v1" + path, data, content_type="application/json", **self.auth(w.hq))

        self.assertError(put({**payload, "method": "magic"}), 400, "invalid", "不认识的检测方法")
        self.assertError(put({**payload, "params": {"alpha": 5}}), 400, "invalid")
        self.assertError(put({**payload, "baseline_days": 2}), 400, "invalid", "基线天数")
        self.assertError(put({"method": "cusum"}), 422, "invalid")
        response = put(payload)  # longer than any history: stored; the series says it falls back
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual((response.json()["method"], response.json()["baseline_days"]), ("farrington", 3000))
        config.refresh_from_db()
        self.assertEqual((config.method, config.baseline_days, config.updated_by), ("farrington", 3000, w.hq))
        self.assertError(put({**payload, "params": {"threshold_method": 3}}), 400, "invalid", "应为文本")
        self.assertError(put({**payload, "params": {"limit54": [5]}}), 400, "invalid", "列表")
        self.assertError(put({**payload, "params": {"percentile": 80}}), 400, "invalid", "没有参数")
        body = put({**payload, "params": {"threshold_method": "muan", "alpha": 0.05, "limit54": [5, 4]}}).json()
        self.assertEqual(body["params"]["threshold_method"], "muan")
        self.assertEqual(body["min_history_days"], (52 * 8 + 3 + 1) * 7)  # b = 8 years of weeks
        self.assertError(self.client.put("/api/v1/detectors/99999", payload, content_type="application/json",
                                         **self.auth(w.hq)), 404, "not_found")

    def test_series_validation_and_scope(self):
        w = self.w
        self.assertError(self.get(w.township_a_officer, "/series", township=w.township_b.code,
                                  signal="non_green_scans"), 404, "not_found")
        self.assertError(self.get(w.hq, "/series", township=w.grid_a.code, signal="non_green_scans"), 400,
                         "invalid", "乡镇")
        self.assertError(self.get(w.hq, "/series", township=w.township_a.code, signal="rainfall"), 400, "invalid")

    def test_series_all_zeros(self):
        body = self.get(self.w.hq, "/series", township=self.w.township_a.code, signal="non_green_scans",
                        days=30).json()
        self.assertEqual(len(body["days"]), 30)
        self.assertEqual((sum(body["counts"]), any(body["alarm"])), (0, False))
        self.assertEqual(len(body["upper"]), 30)


class SeriesDetectorTests(ApiTestCase):
    """Counts + thresholds + alarms from the configured detector (helper E's module)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        today = timezone.localdate()
        noon = timezone.make_aware(timezone.datetime.combine(today, timezone.datetime.min.time())) + timedelta(hours=12)
        # Four weeks of 1–3 yellow scans a day in township A, then 25 today.
        for back in range(28, 0, -1):
            for _ in range(1 + back % 3):
                raise_signal("scan_yellow", title="黄码人员扫码", area=w.grid_a, occurred_at=noon - timedelta(days=back))
        for _ in range(25):
            raise_signal("scan_yellow", title="黄码人员扫码", area=w.grid_a, occurred_at=noon)
        DetectorConfig.objects.filter(signal_type="non_green_scans").update(method="ears_c1", baseline_days=7,
                                                                            params={})

    def test_series_returns_counts_thresholds_and_alarms(self):
        body = self.get(self.w.township_a_officer, "/series", township=self.w.township_a.code,
                        signal="non_green_scans", days=14).json()
        self.assertEqual(body["method"], "ears_c1")
        self.assertEqual(body["counts"][-1], 25)
        self.assertTrue(body["alarm"][-1])
        self.assertIsNotNone(body["upper"][-1])
        self.assertLess(body["upper"][-1], 25)
        self.assertFalse(any(body["alarm"][:-1]))

    def test_baseline_longer_than_history_falls_back_and_says_so(self):
        DetectorConfig.objects.filter(signal_type="non_green_scans").update(method="farrington", baseline_days=1826)
        body = self.get(self.w.hq, "/series", township=self.w.township_a.code, signal="non_green_scans",
                        days=14).json()
        self.assertEqual((body["configured_method"], body["method"]), ("farrington", "ears_c2"))
        self.assertEqual(len(body["upper"]), 14)
        self.assertIn("改用短历史方法", body["note"])

    def test_daily_detection_raises_one_alert(self):
        from fangkong.warning.services import detect_day

        raised = detect_day()
        self.assertEqual([(a.area, a.signal_type) for a in raised], [(self.w.township_a, "non_green_scans")])
        self.assertEqual(detect_day(), [])  # idempotent
        alert = raised[0]
        self.assertEqual((alert.source, alert.size, alert.day), ("detector", 25, timezone.localdate()))
        body = self.post(self.epi, f"/alerts/{alert.pk}/verify", {"verdict": True}).json()
        self.assertEqual(body["status"], "verified")
        self.client.force_login(self.epi)
        response = self.client.get(f"/warning/alerts/{alert.pk}/")
        self.assertContains(response, 'data-testid="alert-series"')
        self.assertContains(response, 'data-testid="respond-form"')
