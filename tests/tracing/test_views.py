"""The case, trajectory and contact pages, driven by the test client as an epidemiologist would."""

import io
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.tasks.services import inbox
from fangkong.tracing import services
from fangkong.tracing.models import Case, Contact, TrajectoryEntry
from fangkong.venues.models import CheckIn
from tests.base import WorldTestCase
from tests.factories import make_person, make_user, make_venue


def local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


class Outbreak(WorldTestCase):
    """Case person A (grid A, with a roommate) ate at 甲村饭店 with 王五 (grid B); 甲村超市 has no coordinates."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        cls.epi_b = make_user("epi_b", Role.EPIDEMIOLOGIST, w.township_b)
        cls.restaurant = make_venue(w.grid_a, "甲村饭店", "restaurant", longitude=Decimal("116.400000"),
                                    latitude=Decimal("36.200000"))
        cls.market = make_venue(w.grid_a, "甲村超市", "supermarket")
        cls.case_person = w.person_a
        cls.roommate = make_person(w.hq, w.grid_a, "同住人", household=w.person_a.household)
        cls.diner = make_person(w.hq, w.grid_b, "王五")
        cls.shopper = make_person(w.hq, w.grid_a2, "赵六")
        now = timezone.now().replace(second=0, microsecond=0)
        cls.meal = now - timedelta(days=1)
        CheckIn.objects.create(person=cls.case_person, venue=cls.restaurant, scanned_at=cls.meal)
        CheckIn.objects.create(person=cls.diner, venue=cls.restaurant, scanned_at=cls.meal + timedelta(minutes=10))
        CheckIn.objects.create(person=cls.case_person, venue=cls.market, scanned_at=cls.meal + timedelta(hours=3))
        CheckIn.objects.create(person=cls.shopper, venue=cls.market, scanned_at=cls.meal + timedelta(hours=3, minutes=5))
        cls.onset = timezone.localdate() - timedelta(days=1)
        cls.result_at = now - timedelta(hours=1)

    def setUp(self):
        self.client.force_login(self.epi)

    def register(self, person=None, **data):
        data = {"classification": "confirmed", "onset_date": self.onset, "result_at": self.result_at, **data}
        return services.register_case(self.epi, person or self.case_person, data)

    def trace(self, case):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("tracing:trace", args=[case.pk]))
        self.assertEqual(response.status_code, 302)
        return case.contacts.select_related("person")


class FullFlowTests(Outbreak):
    def test_register_trace_review_dispatch(self):
        person = self.case_person
        # From the person page to a new case.
        page = self.client.get(reverse("people:detail", args=[person.pk]))
        self.assertContains(page, "登记为病例")
        new_url = reverse("tracing:case_new") + f"?person={person.pk}"
        self.assertContains(self.client.get(new_url), person.doc_masked)
        response = self.client.post(reverse("tracing:case_new"), {
            "person": person.pk, "classification": "confirmed", "onset_date": self.onset.isoformat(),
            "result_at": local(self.result_at), "residence": "county", "reporting_unit": "县人民医院",
        })
        case = Case.objects.get(person=person)
        self.assertRedirects(response, reverse("tracing:case", args=[case.pk]))
        self.assertEqual(case.reporting_unit, "县人民医院")

        # The case page: the clocks are running, nothing traced yet.
        page = self.client.get(reverse("tracing:case", args=[case.pk]))
        self.assertContains(page, case.number)
        self.assertContains(page, 'data-clock="due"')
        self.assertContains(page, "运行密接研判")
        self.assertContains(self.client.get(reverse("people:detail", args=[person.pk])), case.number)

        # The trajectory: both check-ins, the one without coordinates listed under the map.
        page = self.client.get(reverse("tracing:trajectory", args=[case.pk]))
        self.assertContains(page, "甲村饭店")
        self.assertContains(page, 'data-source="scan"', count=2)
        self.assertContains(page, "无坐标")
        self.assertEqual(page.context["map_data"]["points"][0]["value"], [116.4, 36.2])
        self.assertEqual(page.context["no_coords"], ["甲村超市"])
        self.assertContains(page, "vendor/echarts/echarts.min.js")

        # An interview entry, shown on the timeline.
        response = self.client.post(reverse("tracing:entry_new", args=[case.pk]), {
            "place": "县人民医院发热门诊", "start": local(self.result_at - timedelta(hours=5)),
            "end": local(self.result_at - timedelta(hours=4)), "activity": "就诊",
        })
        self.assertRedirects(response, reverse("tracing:trajectory", args=[case.pk]))
        self.assertContains(self.client.get(reverse("tracing:trajectory", args=[case.pk])), "县人民医院发热门诊")

        # Discovery, then the list with the evidence.
        contacts = self.trace(case)
        kinds = {c.person.name: c.kind for c in contacts}
        self.assertEqual(kinds, {"王五": "close", "同住人": "close", "赵六": "companion"})
        page = self.client.get(reverse("tracing:contacts", args=[case.pk]))
        self.assertContains(page, "甲村饭店")
        self.assertContains(page, "重叠50分钟")
        self.assertContains(page, "同住")
        self.assertContains(page, self.diner.doc_masked)

        # Review and dispatch.
        diner = contacts.get(person=self.diner)
        self.client.post(reverse("tracing:contact_review", args=[diner.pk]), {"action": "confirm"})
        diner.refresh_from_db()
        self.assertEqual(diner.status, "confirmed")
        response = self.client.post(reverse("tracing:dispatch", args=[case.pk]))
        self.assertEqual(response.status_code, 302)
        diner.refresh_from_db()
        self.assertEqual(diner.status, "dispatched")

        # The grid worker of the diner's grid has the task, without the case's identity.
        (task,) = inbox(self.w.grid_b_worker)
        self.assertEqual(task.pk, diner.task_id)
        for secret in (case.number, person.name):
            self.assertNotIn(secret, task.description)
            self.assertNotIn(secret, task.title)
        self.assertFalse(inbox(self.w.grid_a_worker).filter(pk=task.pk).exists())

        # Every look was audited.
        reasons = set(AuditEvent.objects.filter(action="view", object_type="tracing.case", object_id=str(case.pk))
                      .values_list("reason", flat=True))
        self.assertTrue({"查看病例", "查看轨迹", "查看密接名单"} <= reasons)

    def test_trace_shows_the_job_on_the_case_page(self):
        case = self.register()
        self.trace(case)
        page = self.client.get(reverse("tracing:case", args=[case.pk]))
        self.assertContains(page, 'id="job-status"')
        self.assertContains(page, 'data-status="succeeded"')
        self.assertContains(page, "最近一次研判")

    def test_contact_detail_shows_all_evidence(self):
        case = self.register()
        diner = self.trace(case).get(person=self.diner)
        page = self.client.get(reverse("tracing:contact", args=[diner.pk]))
        self.assertContains(page, "同场所同时段（近距离）")
        self.assertContains(page, "50分钟")
        self.assertContains(page, "与病例同时段在甲村饭店")


class CaseListTests(Outbreak):
    def test_list_shows_clock_counts_and_filters(self):
        late = self.register(result_at=timezone.now() - timedelta(hours=3))
        reported = self.register(self.diner, classification="asymptomatic", onset_date=None,
                                 sampled_at=timezone.now() - timedelta(hours=5),
                                 result_at=timezone.now() - timedelta(hours=4), reported_at=timezone.now())
        page = self.client.get(reverse("tracing:cases"))
        self.assertContains(page, late.number)
        self.assertContains(page, reported.number)
        self.assertContains(page, "已超时")
        self.assertContains(page, 'data-clock="done"')
        self.assertEqual(page.context["report_overdue"], 1)
        self.assertNotContains(page, self.case_person.document_number)
        only = self.client.get(reverse("tracing:cases") + "?classification=asymptomatic")
        self.assertEqual([c.pk for c in only.context["page_obj"]], [reported.pk])
        by_number = self.client.get(reverse("tracing:cases") + f"?q={late.number}")
        self.assertEqual([c.pk for c in by_number.context["page_obj"]], [late.pk])
        by_name = self.client.get(reverse("tracing:cases") + "?q=王五")
        self.assertEqual([c.pk for c in by_name.context["page_obj"]], [reported.pk])
        future = (timezone.localdate() + timedelta(days=1)).isoformat()
        self.assertEqual(len(self.client.get(reverse("tracing:cases") + f"?date_from={future}")
                             .context["page_obj"]), 0)

    def test_list_query_count_does_not_grow_with_rows(self):
        self.register()
        self.register(self.diner)
        with self.assertNumQueries(7):
            self.client.get(reverse("tracing:cases"))
        self.register(self.shopper)
        with self.assertNumQueries(7):
            self.client.get(reverse("tracing:cases"))

    def test_pick_a_person_by_search(self):
        page = self.client.get(reverse("tracing:case_new") + "?q=王五")
        self.assertContains(page, f"?person={self.diner.pk}")
        self.register(self.diner)
        self.assertContains(self.client.get(reverse("tracing:case_new") + "?q=王五"), "已是病例")


class ValidationTests(Outbreak):
    def post_case(self, **data):
        return self.client.post(reverse("tracing:case_new"), {
            "person": self.case_person.pk, "residence": "county", **data})

    def test_errors_are_shown_on_the_form(self):
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        page = self.post_case(classification="confirmed", onset_date=tomorrow)
        self.assertContains(page, "发病日期不能晚于今天")
        page = self.post_case(classification="")
        self.assertContains(page, "请选择病例分类")
        page = self.post_case(classification="confirmed", onset_date=self.onset.isoformat(),
                              sampled_at=local(self.result_at), result_at=local(self.result_at - timedelta(hours=2)))
        self.assertContains(page, "阳性结果时间不能早于采样时间")
        self.assertFalse(Case.objects.exists())

    def test_a_person_is_a_case_once(self):
        case = self.register()
        page = self.post_case(classification="confirmed", onset_date=self.onset.isoformat())
        self.assertContains(page, "该人员已登记为病例")
        self.assertEqual(Case.objects.get(), case)

    def test_edit_keeps_the_rules_and_audits_the_change(self):
        case = self.register()
        url = reverse("tracing:case_edit", args=[case.pk])
        self.assertContains(self.client.get(url), self.onset.isoformat())
        data = {"classification": "confirmed", "onset_date": self.onset.isoformat(), "residence": "county",
                "result_at": local(self.result_at), "reported_at": local(timezone.now())}
        self.assertRedirects(self.client.post(url, data), reverse("tracing:case", args=[case.pk]))
        case.refresh_from_db()
        self.assertIsNotNone(case.reported_at)
        event = AuditEvent.objects.filter(action="update", object_id=str(case.pk)).latest("id")
        self.assertIn("reported_at", event.changes)
        page = self.client.post(url, {**data, "isolated_at": local(timezone.now() + timedelta(days=1))})
        self.assertContains(page, "时间不能晚于当前时间")

    def test_interview_entry_needs_a_place_and_order(self):
        case = self.register()
        start = self.result_at - timedelta(hours=3)
        page = self.client.post(reverse("tracing:entry_new", args=[case.pk]), {
            "start": local(start), "end": local(start + timedelta(hours=1))})
        self.assertContains(page, "请选择场所或填写地点", status_code=400)
        page = self.client.post(reverse("tracing:entry_new", args=[case.pk]), {
            "place": "某处", "start": local(start), "end": local(start - timedelta(hours=1))})
        self.assertContains(page, "结束时间不能早于开始时间", status_code=400)
        self.assertFalse(TrajectoryEntry.objects.exists())

    def test_dismiss_needs_a_reason(self):
        case = self.register()
        shopper = self.trace(case).get(person=self.shopper)
        response = self.client.post(reverse("tracing:contact_review", args=[shopper.pk]),
                                    {"action": "dismiss", "reason": " "}, follow=True)
        self.assertContains(response, "排除须说明理由")
        shopper.refresh_from_db()
        self.assertEqual(shopper.status, "proposed")
        self.client.post(reverse("tracing:contact_review", args=[shopper.pk]),
                         {"action": "dismiss", "reason": "核实未到该超市"})
        shopper.refresh_from_db()
        self.assertEqual((shopper.status, shopper.review_note), ("dismissed", "核实未到该超市"))


class ContactWorkTests(Outbreak):
    def test_interview_entry_at_a_venue_and_delete(self):
        case = self.register()
        start = self.result_at - timedelta(hours=3)
        self.client.post(reverse("tracing:entry_new", args=[case.pk]), {
            "venue": self.market.pk, "start": local(start), "end": local(start + timedelta(minutes=30))})
        entry = TrajectoryEntry.objects.get()
        self.assertEqual(entry.venue, self.market)
        page = self.client.get(reverse("tracing:trajectory", args=[case.pk]))
        self.assertContains(page, 'data-source="interview"')
        self.client.post(reverse("tracing:entry_delete", args=[entry.pk]))
        self.assertFalse(TrajectoryEntry.objects.exists())

    def test_bulk_confirm_one_kind(self):
        case = self.register()
        self.trace(case)
        page = self.client.get(reverse("tracing:contacts", args=[case.pk]))
        self.assertContains(page, "全部确认")
        self.client.post(reverse("tracing:contacts", args=[case.pk]), {"kind": "close"})
        statuses = dict(case.contacts.values_list("person__name", "status"))
        self.assertEqual(statuses, {"王五": "confirmed", "同住人": "confirmed", "赵六": "proposed"})
        # One statement and one audit row on the case, however many contacts.
        self.assertEqual(AuditEvent.objects.filter(reason="批量确认密接", object_id=str(case.pk)).count(), 1)
        self.assertEqual(set(case.contacts.filter(status="confirmed").values_list("reviewed_by", flat=True)),
                         {self.epi.pk})

    def test_filters_and_counts(self):
        case = self.register()
        self.trace(case)
        url = reverse("tracing:contacts", args=[case.pk])
        page = self.client.get(url + "?kind=companion")
        self.assertEqual([c.person.name for c in page.context["page_obj"]], ["赵六"])
        self.assertIn(("close", "密切接触者", 2), page.context["kind_tabs"])
        self.assertEqual([c.person.name for c in self.client.get(url + "?q=王五").context["page_obj"]], ["王五"])
        self.assertEqual(len(self.client.get(url + "?status=confirmed").context["page_obj"]), 0)

    def test_downgrade_transfer_export_and_reopen(self):
        case = self.register()
        contacts = self.trace(case)
        diner, roommate = contacts.get(person=self.diner), contacts.get(person=self.roommate)
        self.client.post(reverse("tracing:contact_review", args=[roommate.pk]),
                         {"action": "downgrade", "kind": "companion"})
        roommate.refresh_from_db()
        self.assertEqual((roommate.kind, roommate.found_kind, roommate.status), ("companion", "close", "confirmed"))
        self.client.post(reverse("tracing:contact_review", args=[diner.pk]),
                         {"action": "transfer", "jurisdiction": "济南市历下区"})
        diner.refresh_from_db()
        self.assertEqual(diner.status, "transferred")

        response = self.client.get(reverse("tracing:transfers_export", args=[case.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertIn("spreadsheetml", response["Content-Type"])
        rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1][:4], ["王五", self.diner.doc_masked, self.diner.phone_masked, "济南市历下区"])
        self.assertNotIn(self.diner.document_number, str(rows))
        self.assertTrue(AuditEvent.objects.filter(action="export", object_type="tracing.contact",
                                                  object_id=str(case.pk)).exists())

        self.client.post(reverse("tracing:contact_review", args=[diner.pk]), {"action": "reopen"})
        diner.refresh_from_db()
        self.assertEqual((diner.status, diner.jurisdiction), ("proposed", ""))

    def test_named_contact_and_withdraw(self):
        case = self.register()
        other = make_person(self.w.hq, self.w.grid_b, "孙七")
        page = self.client.get(reverse("tracing:contact_add", args=[case.pk]) + "?q=孙七")
        self.assertContains(page, "添加为密接")
        response = self.client.post(reverse("tracing:contact_add", args=[case.pk]),
                                    {"person": other.pk, "note": "同车往返县城"})
        self.assertRedirects(response, reverse("tracing:contacts", args=[case.pk]))
        contact = Contact.objects.get(case=case, person=other)
        self.assertEqual((contact.kind, contact.manual), ("close", True))
        self.assertContains(self.client.get(reverse("tracing:contacts", args=[case.pk])), "访谈：同车往返县城")

        self.client.post(reverse("tracing:contact_review", args=[contact.pk]), {"action": "confirm"})
        self.client.post(reverse("tracing:dispatch", args=[case.pk]))
        contact.refresh_from_db()
        self.assertEqual(contact.status, "dispatched")
        self.assertContains(self.client.get(reverse("tracing:contact", args=[contact.pk])), "撤回管控")
        self.client.post(reverse("tracing:contact_withdraw", args=[contact.pk]), {"reason": ""})
        contact.refresh_from_db()
        self.assertEqual(contact.status, "dispatched")
        self.client.post(reverse("tracing:contact_withdraw", args=[contact.pk]), {"reason": "身份认错"})
        contact.refresh_from_db()
        self.assertEqual(contact.status, "dismissed")
        self.assertEqual(contact.task.status, "cancelled")

    def test_the_case_person_cannot_be_their_own_contact(self):
        case = self.register()
        response = self.client.post(reverse("tracing:contact_add", args=[case.pk]),
                                    {"person": self.case_person.pk}, follow=True)
        self.assertContains(response, "不能把病例本人添加为其密接")
        self.assertFalse(case.contacts.exists())


class PermissionTests(Outbreak):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        case = services.register_case(cls.epi, cls.case_person, {
            "classification": "confirmed", "onset_date": cls.onset, "result_at": cls.result_at})
        services.trace_case(case, user=cls.epi)
        cls.case = case
        cls.contact = case.contacts.get(person=cls.diner)
        cls.entry = services.add_entry(cls.epi, case, {
            "place": "某处", "start": cls.result_at - timedelta(hours=3), "end": cls.result_at - timedelta(hours=2)})

    def urls(self):
        case, contact = self.case.pk, self.contact.pk
        gets = [reverse("tracing:cases"), reverse("tracing:case_new"), reverse("tracing:case", args=[case]),
                reverse("tracing:case_edit", args=[case]), reverse("tracing:trajectory", args=[case]),
                reverse("tracing:contacts", args=[case]), reverse("tracing:contact_add", args=[case]),
                reverse("tracing:transfers_export", args=[case]), reverse("tracing:contact", args=[contact])]
        posts = [reverse("tracing:trace", args=[case]), reverse("tracing:dispatch", args=[case]),
                 reverse("tracing:entry_new", args=[case]), reverse("tracing:entry_delete", args=[self.entry.pk]),
                 reverse("tracing:contact_review", args=[contact]),
                 reverse("tracing:contact_withdraw", args=[contact]), reverse("tracing:contacts", args=[case])]
        return gets, posts

    def test_grid_workers_and_officers_see_nothing(self):
        gets, posts = self.urls()
        for user in (self.w.grid_a_worker, self.w.grid_b_worker, self.w.township_a_officer, self.w.outsider):
            self.client.force_login(user)
            for url in gets:
                self.assertIn(self.client.get(url).status_code, (403, 404), f"{user} GET {url}")
            for url in posts:
                self.assertIn(self.client.post(url, {"action": "confirm", "kind": "close"}).status_code,
                              (403, 404), f"{user} POST {url}")
        self.contact.refresh_from_db()
        self.assertEqual(self.contact.status, "proposed")
        self.assertTrue(TrajectoryEntry.objects.filter(pk=self.entry.pk).exists())

    def test_person_page_hides_cases_from_grid_workers(self):
        self.client.force_login(self.w.grid_a_worker)
        page = self.client.get(reverse("people:detail", args=[self.case_person.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, self.case.number)
        self.assertNotContains(page, "登记为病例")

    def test_epidemiologist_of_another_township_gets_404(self):
        self.client.force_login(self.epi_b)
        self.assertEqual(self.client.get(reverse("tracing:cases")).status_code, 200)
        self.assertNotContains(self.client.get(reverse("tracing:cases")), self.case.number)
        gets, posts = self.urls()
        for url in gets[2:]:
            self.assertEqual(self.client.get(url).status_code, 404, url)
        self.assertEqual(self.client.get(reverse("tracing:case_new") + f"?person={self.case_person.pk}").status_code,
                         404)

    def test_hq_sees_the_case(self):
        self.client.force_login(self.w.hq)
        self.assertContains(self.client.get(reverse("tracing:case", args=[self.case.pk])), self.case.number)
        self.assertContains(self.client.get(reverse("tracing:contacts", args=[self.case.pk])), "王五")

    def test_anonymous_is_sent_to_login(self):
        self.client.logout()
        gets, posts = self.urls()
        for url in gets + posts:
            response = self.client.get(url)
            self.assertEqual(response.status_code, 302, url)
            self.assertTrue(response["Location"].startswith(reverse("login")), url)



class LargeDispatchTests(WorldTestCase):
    """Above FANGKONG_DISPATCH_INLINE_MAX confirmed contacts the dispatch runs as a background job."""

    def test_many_contacts_go_to_a_job_with_progress(self):
        from django.test import override_settings
        from django.urls import reverse

        from fangkong.accounts.choices import Role
        from fangkong.core.models import Job
        from fangkong.tracing.models import Case, Contact
        from tests.factories import make_person, make_user

        epi = make_user("epi_big", Role.EPIDEMIOLOGIST, self.w.county)
        case = Case.objects.create(number="BL-BIG-1", person=self.w.person_a, area=self.w.grid_a,
                                   classification="confirmed", onset_date=timezone.localdate())
        for i in range(3):
            person = make_person(self.w.hq, self.w.grid_b, f"密接{i}")
            Contact.objects.create(case=case, person=person, area=self.w.grid_b, kind="close", found_kind="close",
                                   status="confirmed", summary="与病例同住", evidence=[],
                                   last_exposure=timezone.now())
        self.client.force_login(epi)
        with override_settings(FANGKONG_DISPATCH_INLINE_MAX=2), self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("tracing:dispatch", args=[case.pk]))
        job = Job.objects.get(kind="tracing.dispatch")
        self.assertRedirects(response, reverse("core:job", args=[job.pk]), fetch_redirect_response=False)
        self.assertEqual((job.status, job.result["dispatched"]), ("succeeded", 3))
        self.assertEqual(case.contacts.filter(status="dispatched").count(), 3)
        self.assertIn("查看结果", self.client.get(reverse("core:job", args=[job.pk])).content.decode())
