"""The staff pages of arrivals: list, detail and follow-up, export, the checkpoint page, checkpoint management."""

import io
from datetime import timedelta

from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.declarations import services
from fangkong.declarations.choices import DeclarationStatus, Source
from fangkong.declarations.forms import extract_receipt
from fangkong.declarations.models import Checkpoint, CheckpointPassage, Declaration
from fangkong.tasks.models import Task
from tests.base import WorldTestCase
from tests.factories import declaration_data, make_risk_area, make_user


class DeclarationViewTestCase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.data_a = declaration_data(w.grid_a, name="赵甲", phone="13912341234")
        cls.decl_a, _ = services.submit_declaration(cls.data_a)
        cls.decl_b, _ = services.submit_declaration(declaration_data(w.grid_b, name="钱乙", phone="13955556666"))
        cls.checkpoint = Checkpoint.objects.create(name="高速口卡点", area=w.township_a, location="甲镇收费站")
        cls.officer = make_user("kd", Role.CHECKPOINT_OFFICER, w.township_a)

    def fresh(self, declaration):
        return Declaration.objects.get(pk=declaration.pk)


class ListTests(DeclarationViewTestCase):
    def test_grid_worker_sees_own_grid_only(self):
        self.client.force_login(self.w.grid_a_worker)
        body = self.client.get(reverse("declarations:list")).content.decode()
        self.assertIn(self.decl_a.receipt, body)
        self.assertNotIn(self.decl_b.receipt, body)

    def test_county_sees_all_with_counts_by_status(self):
        services.confirm_arrival(self.w.hq, self.decl_b)
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("declarations:list"))
        tabs = {value: count for value, _label, count in response.context["tabs"]}
        self.assertEqual(tabs[""], 2)
        self.assertEqual(tabs[DeclarationStatus.SUBMITTED], 1)
        self.assertEqual(tabs[DeclarationStatus.ARRIVED], 1)
        # The tabs count under the other filters while the status filter narrows the rows.
        response = self.client.get(reverse("declarations:list"), {"status": "arrived"})
        self.assertEqual([d.pk for d in response.context["page_obj"]], [self.decl_b.pk])
        self.assertEqual({v: c for v, _l, c in response.context["tabs"]}[""], 2)

    def test_filters_search_area_and_risk_level(self):
        make_risk_area("110101", "medium")
        risky, _ = services.submit_declaration(declaration_data(self.w.grid_a2, name="孙丙"))
        self.client.force_login(self.w.hq)
        url = reverse("declarations:list")

        def pks(**params):
            return {d.pk for d in self.client.get(url, params).context["page_obj"]}

        self.assertEqual(pks(q="1234"), {self.decl_a.pk})
        self.assertEqual(pks(q="钱"), {self.decl_b.pk})
        self.assertEqual(pks(q=self.decl_b.receipt.lower()), {self.decl_b.pk})
        self.assertEqual(pks(area=self.w.township_b.code), {self.decl_b.pk})
        self.assertEqual(pks(risk_level="medium"), {risky.pk})
        self.assertEqual(pks(risk_level="none"), {self.decl_a.pk, self.decl_b.pk})
        tomorrow = timezone.localdate() + timedelta(days=1)
        self.assertEqual(len(pks(arrival_from=tomorrow.isoformat(), arrival_to=tomorrow.isoformat())), 3)
        self.assertEqual(pks(arrival_to=timezone.localdate().isoformat()), set())

    def test_area_filter_cannot_leave_the_scope(self):
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.get(reverse("declarations:list"), {"area": self.w.county.code})
        self.assertEqual({d.pk for d in response.context["page_obj"]}, {self.decl_a.pk})
        response = self.client.get(reverse("declarations:list"), {"area": self.w.grid_b.code})
        self.assertEqual(list(response.context["page_obj"]), [])

    def test_roles_without_the_permission_are_refused(self):
        self.client.force_login(self.w.outsider)
        self.assertEqual(self.client.get(reverse("declarations:list")).status_code, 403)


class ExportTests(DeclarationViewTestCase):
    def test_export_is_masked_and_audited(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("declarations:export"), {"query": "status=submitted"})
        self.assertEqual(response.status_code, 200)
        rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
        self.assertEqual(rows[0][0], "回执码")
        self.assertEqual([r[0] for r in rows[1:]], [self.decl_a.receipt])
        self.assertEqual(rows[1][2], self.decl_a.doc_masked)
        self.assertNotIn(self.data_a["document_number"], str(rows))
        self.assertNotIn(self.data_a["phone"], str(rows))
        event = AuditEvent.objects.get(action="export", object_type="declarations.declaration")
        self.assertEqual(event.changes["rows"], 1)
        self.assertEqual(event.user, self.w.township_a_officer)

    @override_settings(FANGKONG_EXPORT_INLINE_MAX_ROWS=1)
    def test_export_over_the_cap_is_refused_with_a_message(self):
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("declarations:export"), {"query": ""}, follow=True)
        self.assertContains(response, "超过单次导出上限")
        self.assertFalse(AuditEvent.objects.filter(action="export").exists())

    def test_grid_worker_may_not_export_and_get_is_not_allowed(self):
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.post(reverse("declarations:export"), {"query": ""}).status_code, 403)
        self.client.force_login(self.w.hq)
        self.assertEqual(self.client.get(reverse("declarations:export")).status_code, 405)


class DetailTests(DeclarationViewTestCase):
    def test_detail_is_masked_and_audited(self):
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.get(reverse("declarations:detail", args=[self.decl_a.pk]))
        self.assertContains(response, self.decl_a.doc_masked)
        self.assertNotContains(response, self.data_a["document_number"])
        self.assertNotContains(response, self.data_a["phone"])
        self.assertContains(response, "已到达")
        self.assertTrue(AuditEvent.objects.filter(action="view", object_type="declarations.declaration",
                                                  object_id=str(self.decl_a.pk)).exists())

    def test_other_grid_gets_404(self):
        self.client.force_login(self.w.grid_b_worker)
        self.assertEqual(self.client.get(reverse("declarations:detail", args=[self.decl_a.pk])).status_code, 404)
        response = self.client.post(reverse("declarations:arrive", args=[self.decl_a.pk]))
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.fresh(self.decl_a).status, DeclarationStatus.SUBMITTED)

    def test_measure_stages_and_evidence_are_shown(self):
        make_risk_area("110101", "medium")
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a))
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.get(reverse("declarations:detail", args=[declaration.pk]))
        order = declaration.control_order
        self.assertContains(response, "居家隔离")
        self.assertContains(response, order.stages[0]["start"])
        self.assertContains(response, order.stages[0]["test_dates"][0])
        self.assertContains(response, "中风险")
        self.assertContains(response, "入返人员落地跟进")

    def test_task_subject_links_to_the_declaration(self):
        self.assertEqual(self.decl_a.get_absolute_url(), reverse("declarations:detail", args=[self.decl_a.pk]))


class FollowUpTests(DeclarationViewTestCase):
    def setUp(self):
        self.client.force_login(self.w.grid_a_worker)

    def test_confirm_arrival(self):
        response = self.client.post(reverse("declarations:arrive", args=[self.decl_a.pk]), {"note": "已上门"})
        self.assertRedirects(response, reverse("declarations:detail", args=[self.decl_a.pk]))
        declaration = self.fresh(self.decl_a)
        self.assertEqual(declaration.status, DeclarationStatus.ARRIVED)
        self.assertEqual(declaration.arrival_confirmed_by, self.w.grid_a_worker)
        self.assertEqual(Task.objects.get(kind=services.FOLLOWUP, subject_id=str(self.decl_a.pk)).status, "done")

    def test_future_arrival_time_is_refused_in_chinese(self):
        later = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        response = self.client.post(reverse("declarations:arrive", args=[self.decl_a.pk]), {"arrived_at": later})
        self.assertContains(response, "到达时间不能晚于现在。")
        self.assertEqual(self.fresh(self.decl_a).status, DeclarationStatus.SUBMITTED)

    def test_record_first_test(self):
        response = self.client.post(reverse("declarations:first_test", args=[self.decl_a.pk]),
                                    {"antigen": "negative", "pcr": "pending"})
        self.assertEqual(response.status_code, 302)
        declaration = self.fresh(self.decl_a)
        self.assertEqual((declaration.antigen_result, declaration.pcr_result), ("negative", "pending"))
        self.assertIsNotNone(declaration.first_test_at)
        self.assertEqual(declaration.status, DeclarationStatus.ARRIVED)

    def test_first_test_needs_a_result(self):
        response = self.client.post(reverse("declarations:first_test", args=[self.decl_a.pk]), {})
        self.assertContains(response, "请至少填写抗原或核酸结果")
        self.assertIsNone(self.fresh(self.decl_a).first_test_at)

    def test_positive_first_test_alerts_the_township(self):
        self.client.post(reverse("declarations:first_test", args=[self.decl_a.pk]), {"antigen": "positive"})
        alert = Task.objects.get(kind=services.CHECKPOINT_ALERT)
        self.assertEqual(alert.area, self.w.township_a)

    def test_no_show_needs_a_note_then_closes(self):
        url = reverse("declarations:not_arrived", args=[self.decl_a.pk])
        self.assertContains(self.client.post(url, {"note": ""}), "请填写情况说明。")
        self.client.post(url, {"note": "电话联系，暂不返回"})
        declaration = self.fresh(self.decl_a)
        self.assertEqual(declaration.status, DeclarationStatus.NO_SHOW)
        self.assertEqual(declaration.followup_note, "电话联系，暂不返回")

    def test_reschedule_moves_the_arrival(self):
        new = timezone.localtime() + timedelta(days=3)
        self.client.post(reverse("declarations:not_arrived", args=[self.decl_a.pk]),
                         {"note": "改期", "new_arrival": new.strftime("%Y-%m-%dT%H:%M")})
        declaration = self.fresh(self.decl_a)
        self.assertEqual(declaration.status, DeclarationStatus.SUBMITTED)
        self.assertEqual(timezone.localdate(declaration.planned_arrival), new.date())

    def test_auditor_may_read_but_not_act(self):
        self.client.force_login(self.w.auditor)
        response = self.client.get(reverse("declarations:detail", args=[self.decl_a.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, reverse("declarations:arrive", args=[self.decl_a.pk]))
        self.assertEqual(self.client.post(reverse("declarations:arrive", args=[self.decl_a.pk])).status_code, 403)

    def test_actions_need_post(self):
        self.assertEqual(self.client.get(reverse("declarations:arrive", args=[self.decl_a.pk])).status_code, 405)

    def test_csrf_is_enforced(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.grid_a_worker)
        response = client.post(reverse("declarations:arrive", args=[self.decl_a.pk]), {"note": "x"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.fresh(self.decl_a).status, DeclarationStatus.SUBMITTED)


class CheckpointPageTests(DeclarationViewTestCase):
    def setUp(self):
        self.client.force_login(self.officer)
        self.url = reverse("declarations:checkpoint")

    def check(self, **data):
        return self.client.post(self.url, {"checkpoint": self.checkpoint.pk, "mode": "receipt", "temperature": "36.5",
                                           "health_code": "green", **data})

    def test_the_only_checkpoint_is_chosen_for_the_officer(self):
        response = self.client.get(self.url)
        self.assertEqual(response.context["selected"], self.checkpoint)

    def test_scanned_url_with_the_receipt_registers_the_arrival(self):
        scanned = f"https://fk.example/declare/status/{self.decl_b.receipt}/?from=qr"
        response = self.check(receipt=scanned)
        passage = CheckpointPassage.objects.get()
        self.assertRedirects(response, f"{self.url}?checkpoint={self.checkpoint.pk}&passage={passage.pk}")
        self.assertEqual(passage.declaration, self.decl_b)
        self.assertEqual(passage.officer, self.officer)
        self.assertEqual(self.fresh(self.decl_b).status, DeclarationStatus.ARRIVED)
        page = self.client.get(response["Location"])
        self.assertContains(page, "查验完成，可以放行")
        self.assertContains(page, self.decl_b.receipt)
        self.assertEqual(len(page.context["today"]), 1)

    def test_fever_or_yellow_code_alerts_the_township(self):
        response = self.check(receipt=self.decl_a.receipt, temperature="38.2", health_code="yellow")
        page = self.client.get(response["Location"])
        self.assertContains(page, "异常：已推送乡镇（街道）处置")
        self.assertTrue(Task.objects.filter(kind=services.CHECKPOINT_ALERT, area=self.w.township_a).exists())

    def test_unknown_receipt_and_bad_temperature_are_explained(self):
        response = self.check(receipt="ZZZZZZZZZZ", temperature="30")
        self.assertContains(response, "体温应在34.0到43.0℃之间。")
        response = self.check(receipt="ZZZZZZZZZZ")
        self.assertContains(response, "回执码不存在，请核对或现场登记。")
        response = self.check(receipt="https://fk.example/declare/")
        self.assertContains(response, "未识别到10位回执码")
        self.assertFalse(CheckpointPassage.objects.exists())

    def test_arrival_without_declaration_registered_on_the_spot(self):
        data = declaration_data(self.w.grid_a2, name="周丁")
        response = self.client.post(self.url, {
            "checkpoint": self.checkpoint.pk, "mode": "onsite", "name": data["name"],
            "document_number": data["document_number"], "phone": data["phone"], "origin_province": "110000",
            "origin_city": "110101", "origin_county": "", "area": self.w.grid_a2.code, "address": "甲村5组",
            "transport": "car", "plate": "鲁A12345", "temperature": "36.4", "health_code": "green",
        })
        self.assertEqual(response.status_code, 302, response.content.decode()[-3000:])
        declaration = Declaration.objects.get(name="周丁")
        self.assertEqual(declaration.source, Source.CHECKPOINT)
        self.assertEqual(declaration.status, DeclarationStatus.ARRIVED)
        self.assertEqual(declaration.origin_code, "110101")
        self.assertEqual(declaration.passages.get().checkpoint, self.checkpoint)

    def test_on_the_spot_errors_name_the_fields(self):
        response = self.client.post(self.url, {"checkpoint": self.checkpoint.pk, "mode": "onsite",
                                               "temperature": "36.5", "health_code": "green"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "请填写姓名。")
        self.assertContains(response, "请从列表中选择出发地（省、市、县）。")
        self.assertContains(response, "请选择目的地所在的村（社区）。")
        self.assertFalse(Declaration.objects.filter(source=Source.CHECKPOINT).exists())

    def test_other_townships_checkpoint_is_not_offered(self):
        other = Checkpoint.objects.create(name="乙镇卡点", area=self.w.township_b)
        response = self.check(receipt=self.decl_a.receipt, checkpoint=other.pk)
        self.assertRedirects(response, self.url)
        self.assertFalse(CheckpointPassage.objects.exists())

    def test_grid_workers_have_no_checkpoint_page(self):
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.get(self.url).status_code, 403)

    def test_place_picker_lists_the_children(self):
        response = self.client.get(reverse("declarations:place_options"), {"origin_province": "370000"})
        self.assertContains(response, "济南市")

    def test_receipt_extraction(self):
        self.assertEqual(extract_receipt(" abcde-fgh23 "), "ABCDEFGH23")
        self.assertEqual(extract_receipt("http://x.cn/declare/status/?receipt=ABCDEFGH23"), "ABCDEFGH23")
        self.assertEqual(extract_receipt("http://fkplatform2/declare/status/?receipt=ABCDEFGH23&p=1"), "ABCDEFGH23")
        self.assertEqual(extract_receipt("http://x.cn/declare/"), "")


class CheckpointManagementTests(DeclarationViewTestCase):
    def test_township_officer_adds_edits_and_deactivates_in_scope(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("declarations:checkpoint_create"),
                                    {"name": "国道卡点", "area": self.w.township_a.code, "location": "G205",
                                     "is_active": "on"})
        self.assertRedirects(response, reverse("declarations:checkpoint_list"))
        created = Checkpoint.objects.get(name="国道卡点")
        self.assertTrue(AuditEvent.objects.filter(action="create", object_type="declarations.checkpoint").exists())
        self.client.post(reverse("declarations:checkpoint_toggle", args=[created.pk]))
        created.refresh_from_db()
        self.assertFalse(created.is_active)
        response = self.client.post(reverse("declarations:checkpoint_edit", args=[created.pk]),
                                    {"name": "国道检查站", "area": self.w.township_a.code, "is_active": "on"})
        created.refresh_from_db()
        self.assertEqual((created.name, created.is_active), ("国道检查站", True))

    def test_other_township_is_out_of_reach(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("declarations:checkpoint_create"),
                                    {"name": "越界卡点", "area": self.w.township_b.code})
        self.assertContains(response, "所选区划不在您的管辖范围内。")
        other = Checkpoint.objects.create(name="乙镇卡点", area=self.w.township_b)
        self.assertEqual(self.client.get(reverse("declarations:checkpoint_edit", args=[other.pk])).status_code, 404)
        self.assertEqual(self.client.post(reverse("declarations:checkpoint_toggle", args=[other.pk])).status_code, 404)

    def test_grid_worker_and_checkpoint_officer_cannot_manage(self):
        for user in (self.w.grid_a_worker, self.officer):
            self.client.force_login(user)
            self.assertEqual(self.client.get(reverse("declarations:checkpoint_list")).status_code, 403)


class PersonPageTests(DeclarationViewTestCase):
    def test_person_page_shows_declarations_and_open_orders(self):
        make_risk_area("110101", "medium")
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a))
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.get(reverse("people:detail", args=[declaration.person_id]))
        self.assertContains(response, declaration.receipt)
        self.assertContains(response, reverse("declarations:detail", args=[declaration.pk]))
        self.assertContains(response, "居家隔离")
        self.assertContains(response, declaration.control_order.stages[0]["end"])
