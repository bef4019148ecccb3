"""Every page renders for the people who use it, in Chinese, with masked identity."""

from django.test import override_settings
from django.urls import reverse

from fangkong.audit.models import AuditEvent
from fangkong.tasks.models import Task
from fangkong.tasks.services import create_task
from tests.base import WorldTestCase


class PageTests(WorldTestCase):
    def test_login_page_is_public_and_chinese(self):
        response = self.client.get(reverse("login"))
        self.assertContains(response, "登录")

    def test_anonymous_is_sent_to_login(self):
        response = self.client.get(reverse("people:list"))
        self.assertRedirects(response, reverse("login") + "?next=" + reverse("people:list"))

    def test_home_shows_population_and_inbox(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("home"))
        self.assertContains(response, "工作台")
        self.assertContains(response, "甲镇")

    def test_area_pages_walk_down_to_household(self):
        self.client.force_login(self.w.hq)
        self.assertContains(self.client.get(reverse("areas:detail", args=[self.w.county.code])), "甲镇")
        response = self.client.get(reverse("areas:detail", args=[self.w.grid_a.code]))
        self.assertContains(response, "1号楼")
        household = self.w.person_a.household
        response = self.client.get(reverse("areas:building", args=[household.building_id]))
        self.assertContains(response, "101")
        response = self.client.get(reverse("areas:household", args=[household.pk]))
        self.assertContains(response, "张三")
        self.assertContains(response, self.w.person_a.doc_masked)
        self.assertNotContains(response, self.w.person_a.document_number)

    def test_people_list_masks_and_searches_by_initials(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("people:list"), {"q": "zs"})
        self.assertContains(response, "张三")
        self.assertNotContains(response, "李四")
        self.assertNotContains(response, self.w.person_a.document_number)

    def test_person_page_view_is_audited_and_reveal_needs_reason(self):
        self.client.force_login(self.w.grid_a_worker)
        url = reverse("people:detail", args=[self.w.person_a.pk])
        self.assertContains(self.client.get(url), self.w.person_a.doc_masked)
        self.assertTrue(AuditEvent.objects.filter(action="view", object_id=str(self.w.person_a.pk)).exists())
        reveal = reverse("people:reveal", args=[self.w.person_a.pk])
        self.assertNotContains(self.client.post(reveal, {"reason": ""}), self.w.person_a.document_number)
        response = self.client.post(reveal, {"reason": "核实身份"})
        self.assertContains(response, self.w.person_a.document_number)
        self.assertTrue(AuditEvent.objects.filter(action="reveal", reason="核实身份").exists())

    def test_create_person_refuses_bad_checksum_in_chinese(self):
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.post(reverse("people:create"), {
            "name": "王五", "doc_type": "resident_id", "document_number": "370923198506150011",
            "area": self.w.grid_a.code,
        })
        self.assertContains(response, "校验位")

    def test_create_person_then_edit(self):
        from tests.factories import make_resident_id

        self.client.force_login(self.w.grid_a_worker)
        number = make_resident_id()
        response = self.client.post(reverse("people:create"), {
            "name": "王五", "doc_type": "resident_id", "document_number": number.lower(),
            "phone": "13862345678.0", "area": self.w.grid_a.code,
        })
        self.assertEqual(response.status_code, 302, response.content.decode()[:3000])
        response = self.client.get(response["Location"])
        self.assertContains(response, "王五")
        self.assertContains(response, "138****5678")

    def test_duplicate_id_refused_in_form(self):
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("people:create"), {
            "name": "张三", "doc_type": "resident_id", "document_number": self.w.person_a.document_number,
            "area": self.w.grid_a.code,
        })
        self.assertContains(response, "已登记")

    def test_small_export_downloads_at_once_and_is_audited(self):
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("people:export"), {"query": "q=zs"})
        self.assertRegex(response["Location"], r"^/jobs/[0-9a-f-]{36}/file/$")
        self.assertEqual(self.client.get(response["Location"]).status_code, 200)
        self.assertTrue(AuditEvent.objects.filter(action="export", object_type="people.person").exists())
        self.assertFalse(Task.objects.filter(kind="job_result").exists())

    @override_settings(FANGKONG_EXPORT_INLINE_MAX_ROWS=1)
    def test_large_export_runs_in_the_background_with_a_progress_page(self):
        self.client.force_login(self.w.hq)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("people:export"), {"query": ""})
        self.assertRegex(response["Location"], r"^/jobs/[0-9a-f-]{36}/$")
        self.assertContains(self.client.get(response["Location"]), "下载文件")
        self.assertEqual(self.client.get(response["Location"] + "file/").status_code, 200)
        self.assertTrue(Task.objects.filter(kind="job_result", assignee=self.w.hq).exists())

    def test_inbox_and_complete_task(self):
        from datetime import timedelta

        from django.utils import timezone

        task = create_task(kind="visit", title="走访独居老人", area=self.w.grid_a, role="grid_worker",
                           deadline=timezone.now() + timedelta(days=1), subject=self.w.person_a)
        self.client.force_login(self.w.grid_a_worker)
        self.assertContains(self.client.get(reverse("tasks:inbox")), "走访独居老人")
        response = self.client.post(reverse("tasks:complete", args=[task.pk]), {"note": "已走访"})
        self.assertEqual(response.status_code, 302)
        task.refresh_from_db()
        self.assertEqual(task.status, "done")
        self.client.force_login(self.w.grid_b_worker)
        self.assertNotContains(self.client.get(reverse("tasks:inbox") + "?status=done"), "走访独居老人")

    def test_audit_page_for_auditor_only(self):
        self.client.force_login(self.w.auditor)
        self.assertContains(self.client.get(reverse("audit:list")), "审计日志")
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.get(reverse("audit:list")).status_code, 403)

    def test_merge_candidates_page(self):
        self.client.force_login(self.w.hq)
        self.assertContains(self.client.get(reverse("people:merge_candidates")), "疑似重复")

    def test_area_import_runs_and_reports_bad_rows(self):
        from django.core.files.uploadedfile import SimpleUploadedFile

        self.client.force_login(self.w.hq)
        good = "区划代码,名称,上级代码,层级\n370923003000,丙镇,370923000000,镇\n370923003001,丙村,370923003000,村\n"
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("areas:import"), {
                "file": SimpleUploadedFile("areas.csv", good.encode("gb18030"))})
        self.assertEqual(response.status_code, 302)
        self.assertContains(self.client.get(response["Location"]), "已完成")
        self.assertContains(self.client.get(reverse("areas:detail", args=["370923000000"])), "丙镇")
        bad = "区划代码,名称,上级代码,层级\n370923004000,丁镇,370923999000,镇\n"
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("areas:import"), {
                "file": SimpleUploadedFile("bad.csv", bad.encode("utf-8-sig"))})
        self.assertContains(self.client.get(response["Location"]), "不存在")


class HouseholdPickerTests(WorldTestCase):
    def test_household_options_are_those_of_the_grid_in_scope(self):
        url = reverse("people:household_options")
        self.client.force_login(self.w.grid_a_worker)
        self.assertContains(self.client.get(url, {"area": self.w.grid_a.code}), "1号楼1单元101")
        self.client.force_login(self.w.grid_b_worker)
        self.assertNotContains(self.client.get(url, {"area": self.w.grid_a.code}), "1号楼")

    def test_a_household_of_another_grid_is_refused(self):
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("people:create"), {
            "name": "王五", "doc_type": "none", "area": self.w.grid_a.code,
            "household": self.w.person_b.household_id,
        })
        self.assertContains(response, "所选户不在所属网格内")
