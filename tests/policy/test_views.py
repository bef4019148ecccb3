"""Pages of the risk-area list and the policy packs: HQ edits, everyone else reads."""

import io
from datetime import timedelta

import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from fangkong.audit.models import AuditEvent
from fangkong.declarations import services as declarations
from fangkong.policy.models import PolicyPack, RiskArea
from tests.base import WorldTestCase
from tests.factories import declaration_data, make_risk_area

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_file(rows: list[list], name: str = "名单.xlsx") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("风险地区")
    for index, row in enumerate(rows):
        sheet.write_row(index, 0, row)
    workbook.close()
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/octet-stream")


def read_xlsx(content: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()


class RiskAreaPageTests(WorldTestCase):
    def setUp(self):
        self.today = timezone.localdate()

    def test_hq_creates_edits_lifts_and_the_history_shows_each_change(self):
        self.client.force_login(self.w.hq)
        self.assertContains(self.client.get(reverse("policy:risk_area_create")), 'id="place-picker"')
        response = self.client.post(reverse("policy:risk_area_create"), {
            "place_code": "110101", "township": "东华门街道", "level": "high",
            "effective_from": (self.today - timedelta(days=3)).isoformat(), "note": "通报第1号"})
        area = RiskArea.objects.get()
        self.assertRedirects(response, reverse("policy:risk_area_detail", kwargs={"pk": area.pk}))
        self.assertEqual(area.name, "北京市 东城区 东华门街道")
        self.assertEqual(area.granularity, "township")
        response = self.client.post(reverse("policy:risk_area_edit", kwargs={"pk": area.pk}), {
            "place_code": "110101", "township": "东华门街道", "level": "medium",
            "effective_from": (self.today - timedelta(days=3)).isoformat(), "note": "通报第2号"})
        self.assertEqual(response.status_code, 302)
        self.assertContains(self.client.get(reverse("policy:risk_area_edit", kwargs={"pk": area.pk})), 'value="110101"')
        response = self.client.post(reverse("policy:risk_area_lift", kwargs={"pk": area.pk}),
                                    {"effective_to": self.today.isoformat()})
        self.assertEqual(response.status_code, 302)
        area.refresh_from_db()
        self.assertEqual((area.level, area.effective_to), ("medium", self.today))
        self.assertEqual(AuditEvent.objects.filter(object_type="policy.riskarea", object_id=str(area.pk)).count(), 3)
        page = self.client.get(reverse("policy:risk_area_detail", kwargs={"pk": area.pk})).content.decode()
        self.assertIn("高风险 → 中风险", page)
        self.assertIn("通报第1号 → 通报第2号", page)
        self.assertIn(f"（空） → {self.today.isoformat()}", page)

    def test_invalid_input_is_shown_on_the_form(self):
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("policy:risk_area_create"), {
            "place_code": "999999", "level": "high", "effective_from": self.today.isoformat()})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "地区编码“999999”不存在")
        response = self.client.post(reverse("policy:risk_area_create"), {
            "place_code": "370900", "township": "某街道", "level": "high", "effective_from": self.today.isoformat()})
        self.assertContains(response, "地区须选到县（区）")
        self.assertFalse(RiskArea.objects.exists())

    def test_lift_before_start_is_refused(self):
        area = make_risk_area("110101", "high", days_ago=2)
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("policy:risk_area_lift", kwargs={"pk": area.pk}),
                                    {"effective_to": (self.today - timedelta(days=10)).isoformat()})
        self.assertContains(response, "解除日期不能早于生效日期", status_code=400)
        area.refresh_from_db()
        self.assertIsNone(area.effective_to)

    def test_list_shows_areas_in_force_today_with_counts_and_filters(self):
        make_risk_area("110101", "high")
        make_risk_area("370102", "medium")
        make_risk_area("370103", "medium", township="某街道")
        make_risk_area("110102", "high", days_ago=30, until=self.today - timedelta(days=10))
        self.client.force_login(self.w.grid_a_worker)
        url = reverse("policy:risk_areas")
        response = self.client.get(url)
        self.assertEqual(response.context["page_obj"].paginator.count, 3)
        self.assertEqual({c["level"]: c["count"] for c in response.context["level_counts"]},
                         {"high": 1, "medium": 2})
        self.assertNotContains(response, "西城区")
        self.assertEqual(self.client.get(url, {"active_on": ""}).context["page_obj"].paginator.count, 4)
        past = (self.today - timedelta(days=20)).isoformat()
        self.assertEqual(self.client.get(url, {"active_on": past}).context["page_obj"].paginator.count, 1)
        self.assertEqual(self.client.get(url, {"level": "medium"}).context["page_obj"].paginator.count, 2)
        self.assertEqual(self.client.get(url, {"q": "东城"}).context["page_obj"].paginator.count, 1)
        self.assertEqual(self.client.get(url, {"q": "3701"}).context["page_obj"].paginator.count, 2)
        self.assertNotContains(response, reverse("policy:risk_area_create"))

    def test_export_is_an_xlsx_that_imports_again(self):
        make_risk_area("110101", "high", township="东华门街道")
        make_risk_area("370102", "controlled")
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("policy:risk_area_export"))
        self.assertEqual(response["Content-Type"], XLSX_TYPE)
        rows = read_xlsx(response.content)
        self.assertEqual(rows[0][:6], ["地区编码", "省", "市", "县（区）", "乡镇（街道）", "风险等级"])
        self.assertEqual(sorted(r[0] for r in rows[1:]), ["110101", "370102"])
        self.assertIn(["110101", "北京市", "", "东城区", "东华门街道", "高风险"], [r[:6] for r in rows])
        # The same rows imported again add nothing: they are on the list already.
        response = self.client.post(reverse("policy:risk_area_import"),
                                    {"file": SimpleUploadedFile("导出.xlsx", response.content)})
        self.assertEqual(response.context["result"], {"created": 0, "skipped": 2})
        self.assertEqual(RiskArea.objects.count(), 2)

    def test_import_a_good_file(self):
        self.client.force_login(self.w.hq)
        upload = xlsx_file([
            ["风险地区名单（5月3日）"],
            ["地区编码", "省", "市", "县（区）", "乡镇（街道）", "风险等级", "生效日期", "解除日期", "备注"],
            ["110101", "", "", "", "东华门街道", "高", "2022-05-01", "", "通报"],
            ["", "山东省", "济南市", "历下区", "", "中风险", "2022/5/2", "2022-05-20", ""],
            ["", "北京", "", "西城", "", "管控区", "2022年5月3日", "", ""],
            [3709, "", "", "", "", "low", "20220504", "", ""],
        ])
        response = self.client.post(reverse("policy:risk_area_import"), {"file": upload})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "已导入 4 个风险地区")
        areas = {a.place_code: a for a in RiskArea.objects.all()}
        self.assertEqual(set(areas), {"110101", "370102", "110102", "370900"})
        self.assertEqual(areas["110101"].township, "东华门街道")
        self.assertEqual(areas["370102"].effective_to.isoformat(), "2022-05-20")
        self.assertEqual(areas["110102"].level, "controlled")
        self.assertEqual(areas["370900"].granularity, "city")
        self.assertTrue(AuditEvent.objects.filter(action="import", object_type="policy.riskarea").exists())
        self.assertEqual(AuditEvent.objects.filter(action="create", object_type="policy.riskarea").count(), 4)

    def test_a_bad_row_imports_nothing_and_is_named(self):
        self.client.force_login(self.w.hq)
        upload = xlsx_file([
            ["地区编码", "乡镇（街道）", "风险等级", "生效日期", "解除日期"],
            ["110101", "", "高风险", "2022-05-01", ""],
            ["999999", "", "极高", "2022-05-01", ""],
            ["370102", "", "中风险", "2022-05-09", "2022-05-01"],
        ])
        response = self.client.post(reverse("policy:risk_area_import"), {"file": upload})
        self.assertEqual(response.status_code, 400)
        errors = {e.row: e.messages for e in response.context["row_errors"]}
        self.assertEqual(set(errors), {3, 4})
        self.assertIn("地区编码“999999”不存在。", errors[3])
        self.assertTrue(any("极高" in m for m in errors[3]))
        self.assertIn("解除日期不能早于生效日期。", errors[4])
        self.assertContains(response, "第 3 行", status_code=400)
        self.assertFalse(RiskArea.objects.exists())

    def test_import_a_gbk_csv_and_refuse_a_file_without_header(self):
        self.client.force_login(self.w.hq)
        csv_text = "地区编码,风险等级,生效日期\r\n110105,中,2022-05-01\r\n"
        response = self.client.post(reverse("policy:risk_area_import"),
                                    {"file": SimpleUploadedFile("名单.csv", csv_text.encode("gbk"))})
        self.assertEqual(response.context["result"]["created"], 1)
        response = self.client.post(reverse("policy:risk_area_import"),
                                    {"file": SimpleUploadedFile("名单.csv", "姓名,电话\r\n张三,1\r\n".encode())})
        self.assertContains(response, "找不到表头", status_code=400)

    def test_template_has_the_columns(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("policy:risk_area_template"))
        self.assertEqual(response["Content-Type"], XLSX_TYPE)
        self.assertEqual(read_xlsx(response.content)[0][:3], ["地区编码", "省", "市"])

    def test_grid_worker_reads_but_cannot_write(self):
        area = make_risk_area("110101", "high")
        self.client.force_login(self.w.grid_a_worker)
        detail = self.client.get(reverse("policy:risk_area_detail", kwargs={"pk": area.pk}))
        self.assertEqual(detail.status_code, 200)
        self.assertNotContains(detail, reverse("policy:risk_area_edit", kwargs={"pk": area.pk}))
        self.assertNotContains(detail, reverse("policy:risk_area_lift", kwargs={"pk": area.pk}))
        data = {"place_code": "110102", "level": "high", "effective_from": timezone.localdate().isoformat()}
        for name, kwargs in [("policy:risk_area_create", {}), ("policy:risk_area_edit", {"pk": area.pk}),
                             ("policy:risk_area_lift", {"pk": area.pk}), ("policy:risk_area_import", {})]:
            self.assertEqual(self.client.post(reverse(name, kwargs=kwargs), data).status_code, 403, name)
        self.assertEqual(self.client.get(reverse("policy:risk_area_create")).status_code, 403)
        self.assertEqual(RiskArea.objects.count(), 1)

    def test_place_tree_feeds_the_picker(self):
        self.client.force_login(self.w.grid_a_worker)
        tree = self.client.get(reverse("policy:place_tree")).json()
        beijing = next(p for p in tree if p[0] == "110000")
        self.assertIn(["110101", "东城区"], beijing[2][0][2])


class PackPageTests(WorldTestCase):
    def test_list_marks_the_active_pack_and_summarises_rules(self):
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.get(reverse("policy:packs"))
        self.assertContains(response, "当前启用", count=1)
        self.assertContains(response, "14+7")
        self.assertContains(response, "第 1、4、7、14 天检测")
        pack = PolicyPack.objects.get(code="ed9-7-3")
        detail = self.client.get(reverse("policy:pack_detail", kwargs={"pk": pack.pk}))
        self.assertContains(detail, "密切接触者")
        self.assertNotContains(detail, reverse("policy:pack_copy", kwargs={"pk": pack.pk}))
        self.assertNotContains(detail, reverse("policy:pack_activate", kwargs={"pk": pack.pk}))

    def test_hq_copies_a_pack_and_edits_a_rule(self):
        self.client.force_login(self.w.hq)
        active = PolicyPack.objects.get(is_active=True)
        response = self.client.post(reverse("policy:pack_copy", kwargs={"pk": active.pk}),
                                    {"name": "本省版", "code": "local-1"})
        copy = PolicyPack.objects.get(code="local-1")
        self.assertRedirects(response, reverse("policy:pack_detail", kwargs={"pk": copy.pk}))
        again = self.client.post(reverse("policy:pack_copy", kwargs={"pk": active.pk}), {"name": "x", "code": "local-1"})
        self.assertContains(again, "代码已被使用")
        rule = copy.rules.get(category="close_contact")
        url = reverse("policy:rule_edit", kwargs={"pk": rule.pk})
        form = self.client.get(url)
        self.assertContains(form, 'value="1,4,7,14"')
        data = {"centralized_days": "10", "centralized_tests": "1，5、10", "home_isolation_days": "",
                "home_isolation_tests": "", "home_monitoring_days": "4", "home_monitoring_tests": "2 4",
                "arrival_test_days": "", "followup_hours": "8", "pickup_required": "on", "instructions": "请配合"}
        self.assertRedirects(self.client.post(url, data), reverse("policy:pack_detail", kwargs={"pk": copy.pk}))
        rule.refresh_from_db()
        self.assertEqual(rule.stages, [{"stage": "centralized", "days": 10, "test_days": [1, 5, 10]},
                                       {"stage": "home_monitoring", "days": 4, "test_days": [2, 4]}])
        self.assertEqual((rule.followup_hours, rule.pickup_required), (8, True))
        bad = self.client.post(url, {**data, "centralized_tests": "1,20"})
        self.assertContains(bad, "第1天到第10天之间")
        bad = self.client.post(url, {**data, "home_monitoring_tests": "a,b"})
        self.assertContains(bad, "以逗号分隔的整数")
        rule.refresh_from_db()
        self.assertEqual(rule.stages[0]["test_days"], [1, 5, 10])
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(copy.pk),
                                                  action="update").exists())

    def test_active_pack_rules_are_not_editable(self):
        self.client.force_login(self.w.hq)
        rule = PolicyPack.objects.get(is_active=True).rules.first()
        response = self.client.post(reverse("policy:rule_edit", kwargs={"pk": rule.pk}), {"followup_hours": "6"})
        self.assertRedirects(response, reverse("policy:pack_detail", kwargs={"pk": rule.pack_id}))
        rule.refresh_from_db()
        self.assertNotEqual(rule.followup_hours, 6)

    def test_preview_then_activate_moves_an_open_order(self):
        make_risk_area("110101", "medium")
        declaration, _ = declarations.submit_declaration(declaration_data(self.w.grid_a))
        order = declaration.control_order
        old_end = order.planned_end
        ed9 = PolicyPack.objects.get(code="ed9-7-3")
        url = reverse("policy:pack_activate", kwargs={"pk": ed9.pk})
        self.client.force_login(self.w.hq)
        response = self.client.get(url)
        self.assertContains(response, 'data-count="orders">1<')
        self.assertContains(response, 'data-count="earlier">1<')
        self.assertContains(response, "王*")
        self.assertContains(response, (old_end - timedelta(days=7)).isoformat())
        order.refresh_from_db()
        self.assertEqual(order.planned_end, old_end)
        self.assertContains(self.client.post(url, {"reason": ""}), 'data-field="reason"', status_code=400)
        self.assertFalse(PolicyPack.objects.get(pk=ed9.pk).is_active)
        response = self.client.post(url, {"reason": "按省指挥部通知执行第九版"}, follow=True)
        self.assertContains(response, "解除日期提前 1 项")
        order.refresh_from_db()
        self.assertEqual(order.planned_end, old_end - timedelta(days=7))
        self.assertTrue(PolicyPack.objects.get(pk=ed9.pk).is_active)
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(ed9.pk),
                                                  reason="按省指挥部通知执行第九版").exists())
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.controlorder", object_id=str(order.pk),
                                                  action="update").exists())
        # The pack now active has nothing left to activate.
        self.assertRedirects(self.client.get(url), reverse("policy:pack_detail", kwargs={"pk": ed9.pk}))

    def test_grid_worker_cannot_copy_edit_or_activate(self):
        copy_of = PolicyPack.objects.get(code="ed9-7-3")
        rule = copy_of.rules.first()
        self.client.force_login(self.w.grid_a_worker)
        for name, pk in [("policy:pack_copy", copy_of.pk), ("policy:pack_activate", copy_of.pk),
                         ("policy:rule_edit", rule.pk)]:
            url = reverse(name, kwargs={"pk": pk})
            self.assertEqual(self.client.get(url).status_code, 403, name)
            self.assertEqual(self.client.post(url, {"reason": "试试", "name": "x", "code": "x"}).status_code, 403)
        self.assertFalse(PolicyPack.objects.get(pk=copy_of.pk).is_active)
        self.assertEqual(PolicyPack.objects.count(), 3)
