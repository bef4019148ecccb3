"""/api/v1/cases and /api/v1/contacts: register, read, trajectory, discovery job, review, dispatch; scope and errors."""

from datetime import datetime, timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.areas.choices import AreaLevel
from fangkong.audit.models import AuditEvent
from fangkong.people.models import Person
from fangkong.tasks.models import Task
from fangkong.tracing import services
from fangkong.tracing.choices import ContactKind, ContactStatus, Rule
from fangkong.tracing.models import Case, Contact, TrajectoryEntry
from fangkong.venues.models import CheckIn
from tests.factories import make_area, make_person, make_resident_id, make_user, make_venue

from .base import API, ApiTestCase

ONSET = timezone.localdate() - timedelta(days=1)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A local time relative to the onset day."""
    return timezone.make_aware(datetime.combine(ONSET + timedelta(days=day_offset), datetime.min.time())
                               + timedelta(hours=hour, minutes=minute))


class TracingApiTestCase(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        cls.epi_b = make_user("epi_b", Role.EPIDEMIOLOGIST, w.township_b)
        other_county = make_area("370924000000", "邻县", AreaLevel.COUNTY)
        cls.epi_other = make_user("epi_other", Role.EPIDEMIOLOGIST, other_county)

        cls.restaurant = make_venue(w.grid_a, "甲村饭店", "restaurant", longitude="117.123456", latitude="36.654321")
        cls.supermarket = make_venue(w.grid_a, "甲村超市", "supermarket")
        cls.diner = make_person(w.hq, w.grid_a, "王食客")  # 50 minutes with the case at the restaurant: close
        cls.shopper = make_person(w.hq, w.grid_b, "赵顾客")  # the supermarket: companion
        cls.roommate = make_person(w.hq, w.grid_a, "同住人", household=w.person_a.household)  # household: close
        scan = CheckIn.objects.create
        cls.case_person = w.person_a
        scan(person=cls.case_person, venue=cls.restaurant, scanned_at=at(-1, 12))
        scan(person=cls.case_person, venue=cls.supermarket, scanned_at=at(-1, 18))
        scan(person=cls.case_person, venue=cls.supermarket, scanned_at=at(-5, 10))  # before the window
        scan(person=cls.diner, venue=cls.restaurant, scanned_at=at(-1, 12, 10))
        scan(person=cls.shopper, venue=cls.supermarket, scanned_at=at(-1, 18, 20))

    def register(self, person=None, **data):
        """A case registered without the automatic discovery (the tests start it themselves)."""
        data = {"classification": "confirmed", "onset_date": ONSET, "result_at": at(0, 2), **data}
        return services.register_case(self.epi, person or self.case_person, data, trace=False)

    def traced(self):
        case = self.register()
        services.trace_case(case, user=self.epi)
        return case

    def contact_of(self, case, person) -> Contact:
        return case.contacts.get(person=person)


class RegisterTests(TracingApiTestCase):
    def test_register_by_person_id(self):
        result_at = at(0, 2)
        response = self.post(self.epi, "/cases", {
            "person_id": self.case_person.pk, "classification": "confirmed", "onset_date": ONSET.isoformat(),
            "result_at": result_at.isoformat(), "reporting_unit": "县人民医院", "severity": "mild"})
        self.assertEqual(response.status_code, 201, response.content.decode())
        body = response.json()
        case = Case.objects.get(pk=body["id"])
        self.assertEqual(case.person, self.case_person)
        self.assertTrue(body["number"].startswith("BL"))
        self.assertEqual((body["classification"], body["classification_label"]), ("confirmed", "确诊病例"))
        self.assertEqual(body["reporting_unit"], "县人民医院")
        self.assertEqual(body["person"]["area_code"], self.w.grid_a.code)
        self.assertIn("*", body["person"]["doc_masked"])
        self.assertNotIn(self.case_person.document_number, response.content.decode())
        self.assertEqual(datetime.fromisoformat(body["report_deadline"]), result_at + timedelta(hours=2))
        self.assertEqual(datetime.fromisoformat(body["full_report_deadline"]), result_at + timedelta(hours=24))
        self.assertIsNone(body["reported_at"])
        self.assertEqual(datetime.fromisoformat(body["window"]["start"]), at(-2, 0))
        self.assertEqual(body["window"]["days_before"], 2)
        self.assertTrue(AuditEvent.objects.filter(action="create", object_type="tracing.case",
                                                  object_id=str(case.pk)).exists())

    def test_register_by_identity_registers_a_new_person(self):
        number = make_resident_id()
        response = self.post(self.epi, "/cases", {
            "name": "新病例", "doc_type": "resident_id", "document_number": number, "phone": "13700001111",
            "area": self.w.grid_a2.code, "address": "甲村5组", "classification": "asymptomatic",
            "sampled_at": at(0, 9).replace(tzinfo=None).isoformat()})  # naive: local time
        self.assertEqual(response.status_code, 201, response.content.decode())
        self.assertEqual(datetime.fromisoformat(response.json()["sampled_at"]), at(0, 9))
        person = Person.objects.get(name="新病例")
        self.assertEqual((person.area, person.document_number), (self.w.grid_a2, number))
        self.assertEqual(response.json()["person"]["id"], person.pk)
        self.assertEqual(response.json()["classification"], "asymptomatic")

    def test_register_by_identity_finds_the_registered_person(self):
        before = Person.objects.count()
        response = self.post(self.epi, "/cases", {
            "name": "李四", "document_number": self.w.person_b.document_number,
            "classification": "suspected"})
        self.assertEqual(response.status_code, 201, response.content.decode())
        self.assertEqual(response.json()["person"]["id"], self.w.person_b.pk)
        self.assertEqual(Person.objects.count(), before)

    def test_identity_errors(self):
        response = self.post(self.epi, "/cases", {
            "name": "别人", "document_number": self.w.person_b.document_number, "classification": "suspected"})
        body = self.assertError(response, 400, "invalid", "姓名与证件号码不符")
        self.assertIn("name", body["errors"])
        response = self.post(self.epi, "/cases", {"name": "新人", "document_number": "123",
                                                  "classification": "suspected"})
        self.assertIn("document_number", self.assertError(response, 400, "invalid")["errors"])
        response = self.post(self.epi, "/cases", {"name": "新人", "document_number": make_resident_id(),
                                                  "classification": "suspected"})
        body = self.assertError(response, 400, "invalid")
        self.assertEqual(set(body["errors"]), {"area", "phone"})
        response = self.post(self.epi, "/cases", {"classification": "suspected"})
        self.assertEqual(set(self.assertError(response, 400, "invalid")["errors"]), {"name", "document_number"})
        # Out of the user's scope: the area and the person are refused alike.
        response = self.post(self.epi_b, "/cases", {
            "name": "新人", "document_number": make_resident_id(), "phone": "13700002222",
            "area": self.w.grid_a.code, "classification": "suspected"})
        self.assertIn("area", self.assertError(response, 400, "invalid")["errors"])
        response = self.post(self.epi_b, "/cases", {"person_id": self.case_person.pk, "classification": "suspected"})
        self.assertIn("person_id", self.assertError(response, 400, "invalid")["errors"])
        response = self.post(self.epi_b, "/cases", {
            "name": "张三", "document_number": self.case_person.document_number, "classification": "suspected"})
        self.assertIn("document_number", self.assertError(response, 400, "invalid", "不在您的管辖范围内")["errors"])
        self.assertFalse(Case.objects.exists())

    def test_validation_errors_are_json_and_register_nobody(self):
        tomorrow = timezone.localdate() + timedelta(days=1)
        number = make_resident_id()
        people = Person.objects.count()
        response = self.post(self.epi, "/cases", {
            "name": "新病例", "document_number": number, "phone": "13700001111", "area": self.w.grid_a.code,
            "classification": "confirmed", "onset_date": tomorrow.isoformat()})
        body = self.assertError(response, 400, "invalid", "发病日期不能晚于今天")
        self.assertEqual(list(body["errors"]), ["onset_date"])
        self.assertEqual(Person.objects.count(), people)

        def errors_for(**data):
            response = self.post(self.epi, "/cases", {"person_id": self.case_person.pk, **data})
            return self.assertError(response, 400, "invalid")["errors"]

        self.assertIn("onset_date", errors_for(classification="confirmed"))
        self.assertIn("classification", errors_for(classification="maybe", onset_date=ONSET.isoformat()))
        self.assertIn("result_at", errors_for(classification="asymptomatic", sampled_at=at(0, 10).isoformat(),
                                              result_at=at(0, 9).isoformat()))
        self.assertIn("isolated_at", errors_for(classification="asymptomatic",
                                                isolated_at=(timezone.now() + timedelta(hours=1)).isoformat()))
        self.assertIn("severity", errors_for(classification="suspected", severity="very"))
        # Malformed input is a 422 naming the field.
        response = self.post(self.epi, "/cases", {"person_id": self.case_person.pk})
        self.assertIn("classification", self.assertError(response, 422, "invalid", "classification")["errors"])
        response = self.post(self.epi, "/cases", {"person_id": self.case_person.pk, "classification": "confirmed",
                                                  "onset_date": "2022-13-45"})
        self.assertIn("onset_date", self.assertError(response, 422, "invalid")["errors"])
        self.assertFalse(Case.objects.exists())

    def test_a_person_is_a_case_once(self):
        self.register()
        response = self.post(self.epi, "/cases", {"person_id": self.case_person.pk, "classification": "suspected"})
        self.assertError(response, 400, "invalid", "已登记为病例")

    def test_only_epidemiologists_and_hq_register(self):
        response = self.post(self.w.grid_a_worker, "/cases",
                             {"person_id": self.case_person.pk, "classification": "suspected"})
        self.assertError(response, 403, "forbidden")
        response = self.post(self.w.grid_a_worker, "/cases", {
            "name": "新人", "document_number": make_resident_id(), "phone": "13700002222",
            "area": self.w.grid_a.code, "classification": "suspected"})
        self.assertError(response, 403, "forbidden")
        self.assertFalse(Person.objects.filter(name="新人").exists())
        response = self.post(self.w.hq, "/cases", {"person_id": self.case_person.pk, "classification": "suspected"})
        self.assertEqual(response.status_code, 201, response.content.decode())


class ReadTests(TracingApiTestCase):
    def ids(self, user, **params):
        response = self.get(user, "/cases", **params)
        self.assertEqual(response.status_code, 200, response.content.decode())
        return [item["id"] for item in response.json()["items"]]

    def test_list_filters_and_scope(self):
        a = self.register()
        b = self.register(self.w.person_b, classification="asymptomatic", onset_date=None, sampled_at=at(0, 8),
                          result_at=at(0, 10))
        self.assertEqual(self.ids(self.epi), [b.pk, a.pk])
        self.assertEqual(self.ids(self.epi, classification="asymptomatic"), [b.pk])
        self.assertEqual(self.ids(self.epi, status="open"), [b.pk, a.pk])
        self.assertEqual(self.ids(self.epi, status="closed"), [])
        self.assertEqual(self.ids(self.epi, q="李"), [b.pk])
        self.assertEqual(self.ids(self.epi, q=a.number), [a.pk])
        self.assertEqual(self.ids(self.epi, q="zs"), [a.pk])
        self.assertEqual(self.ids(self.epi, q=a.number[2:].lower()), [a.pk])
        self.assertEqual(self.ids(self.epi, area=self.w.township_b.code), [b.pk])
        self.assertEqual(self.ids(self.epi, area="370924000000"), [])
        today = timezone.localdate()
        self.assertEqual(self.ids(self.epi, date_from=today.isoformat(), date_to=today.isoformat()), [b.pk, a.pk])
        self.assertEqual(self.ids(self.epi, date_to=(today - timedelta(days=1)).isoformat()), [])
        self.assertError(self.get(self.epi, "/cases", date_from="yesterday"), 422, "invalid")
        self.assertEqual(self.ids(self.epi_b), [b.pk])
        self.assertEqual(self.ids(self.epi_other), [])
        self.assertEqual(self.get(self.epi, "/cases", page_size=1).json()["count"], 2)
        self.assertError(self.get(self.epi, "/cases", classification="maybe"), 422, "invalid")
        self.assertError(self.get(self.w.grid_a_worker, "/cases"), 403, "forbidden")

    def test_case_detail_with_clocks_window_chain_and_counts(self):
        source = self.traced()
        later = self.register(self.diner, onset_date=ONSET + timedelta(days=1), result_at=timezone.now())
        response = self.get(self.epi, f"/cases/{later.pk}")
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual(body["number"], later.number)
        self.assertEqual(body["infected_by"], {"id": source.pk, "number": source.number})
        later.refresh_from_db()
        self.assertEqual(body["cluster"]["id"], later.cluster_id)
        self.assertFalse(body["report_overdue"])
        for clock in ("clock_start", "report_deadline", "core_info_deadline", "full_report_deadline"):
            self.assertIsNotNone(body[clock], clock)

        body = self.get(self.epi, f"/cases/{source.pk}").json()
        self.assertEqual(body["contact_counts"]["found"], 3)
        self.assertEqual(body["contact_counts"]["proposed"], 3)
        self.assertTrue(body["report_overdue"])  # the result came in yesterday, never reported
        self.assertTrue(AuditEvent.objects.filter(action="view", object_type="tracing.case",
                                                  object_id=str(source.pk), user=self.epi).exists())

    def test_missing_and_out_of_scope_are_404(self):
        case = self.register()
        for user in (self.epi_b, self.epi_other, self.w.grid_a_worker, self.w.township_a_officer):
            for path in ("", "/trajectory", "/contacts"):
                self.assertError(self.get(user, f"/cases/{case.pk}{path}"), 404, "not_found")
        self.assertError(self.get(self.epi, "/cases/999999"), 404, "not_found", "未找到该病例")


class TrajectoryTests(TracingApiTestCase):
    def test_checkins_and_interview_entries_in_the_window(self):
        case = self.register()
        TrajectoryEntry.objects.create(case=case, place="甲村菜市场", start=at(-1, 8), end=at(-1, 9),
                                       activity="买菜", companions="其妻")
        response = self.get(self.epi, f"/cases/{case.pk}/trajectory")
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual(datetime.fromisoformat(body["window"]["start"]), at(-2, 0))
        items = body["items"]
        self.assertEqual([(i["source"], i["place"]) for i in items],
                         [("interview", "甲村菜市场"), ("scan", "甲村饭店"), ("scan", "甲村超市")])
        entry, restaurant, supermarket = items
        self.assertEqual((entry["activity"], entry["companions"], entry["venue_id"]), ("买菜", "其妻", None))
        self.assertEqual(restaurant["venue_id"], self.restaurant.pk)
        self.assertEqual(restaurant["venue_type"], "restaurant")
        self.assertEqual(datetime.fromisoformat(restaurant["start"]), at(-1, 12))
        self.assertEqual(datetime.fromisoformat(restaurant["end"]), at(-1, 12) + timedelta(minutes=self.restaurant.dwell))
        self.assertEqual((restaurant["longitude"], restaurant["latitude"]), (117.123456, 36.654321))
        self.assertIsNone(supermarket["longitude"])
        self.assertTrue(AuditEvent.objects.filter(action="view", object_id=str(case.pk), reason="活动轨迹").exists())


class TraceJobTests(TracingApiTestCase):
    def test_registering_a_case_starts_discovery(self):
        with self.captureOnCommitCallbacks(execute=True):
            case = services.register_case(self.epi, self.case_person, {
                "classification": "confirmed", "onset_date": ONSET, "result_at": at(0, 2)})
        case.refresh_from_db()
        self.assertIsNotNone(case.trace_job_id)
        self.assertEqual(case.trace_job.status, "succeeded")
        self.assertIsNotNone(case.traced_at)

    def test_trace_runs_as_a_job_with_progress(self):
        case = self.register()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.post(self.epi, f"/cases/{case.pk}/trace")
        self.assertEqual(response.status_code, 202, response.content.decode())
        body = response.json()
        self.assertEqual(body["status_url"], f"/api/v1/jobs/{body['job_id']}")
        job = self.client.get(body["status_url"], **self.auth(self.epi)).json()
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual(job["progress"], 100)
        result = job["result"]
        self.assertEqual((result["created"], result["close"], result["companion"], result["secondary"]), (3, 2, 1, 0))
        self.assertEqual(result["url"], f"/tracing/cases/{case.pk}/#contacts")
        self.assertEqual(case.contacts.count(), 3)
        case.refresh_from_db()
        self.assertEqual(str(case.trace_job_id), body["job_id"])
        self.assertIsNotNone(case.traced_at)

    def test_a_running_discovery_is_answered_again(self):
        case = self.register()
        first = self.post(self.epi, f"/cases/{case.pk}/trace").json()  # queued: the commit never comes
        again = self.post(self.w.hq, f"/cases/{case.pk}/trace")
        self.assertEqual(again.status_code, 202)
        self.assertEqual(again.json()["job_id"], first["job_id"])

    def test_only_in_scope_epidemiologists_start_it(self):
        case = self.register()
        for user in (self.w.grid_a_worker, self.epi_b, self.epi_other):
            self.assertError(self.post(user, f"/cases/{case.pk}/trace"), 404, "not_found")
        self.assertIsNone(Case.objects.get(pk=case.pk).trace_job_id)


class ContactTests(TracingApiTestCase):
    def contacts(self, case, **params):
        response = self.get(self.epi, f"/cases/{case.pk}/contacts", **params)
        self.assertEqual(response.status_code, 200, response.content.decode())
        return response.json()

    def test_contacts_with_evidence_and_filters(self):
        case = self.traced()
        body = self.contacts(case)
        self.assertEqual(body["count"], 3)
        by_person = {item["person"]["id"]: item for item in body["items"]}
        self.assertEqual(set(by_person), {self.diner.pk, self.shopper.pk, self.roommate.pk})
        diner = by_person[self.diner.pk]
        self.assertEqual((diner["kind"], diner["found_kind"], diner["status"]), ("close", "close", "proposed"))
        self.assertEqual(diner["kind_label"], "密切接触者")
        (evidence,) = diner["evidence"]
        self.assertEqual((evidence["rule"], evidence["venue_id"], evidence["overlap_minutes"]),
                         (Rule.VENUE_CLOSE, self.restaurant.pk, 50))
        self.assertEqual(diner["summary"], "与病例同时段在甲村饭店")
        self.assertEqual(datetime.fromisoformat(diner["first_exposure"]), at(-1, 12, 10))
        self.assertEqual(diner["person"]["name"], "王食客")
        self.assertIn("*", diner["person"]["doc_masked"])
        self.assertNotIn(self.diner.document_number, str(body))
        self.assertIsNone(diner["task_id"])
        self.assertFalse(diner["is_case"])
        self.assertEqual(by_person[self.roommate.pk]["evidence"][0]["rule"], Rule.HOUSEHOLD)
        self.assertEqual(by_person[self.shopper.pk]["person"]["area_code"], self.w.grid_b.code)

        companions = self.contacts(case, kind="companion")["items"]
        self.assertEqual([c["person"]["id"] for c in companions], [self.shopper.pk])
        self.contact_of(case, self.roommate).delete()
        services.review_contact(self.epi, self.contact_of(case, self.diner), "confirm")
        self.assertEqual([c["person"]["id"] for c in self.contacts(case, status="confirmed")["items"]],
                         [self.diner.pk])
        self.assertEqual(self.contacts(case, status="proposed", kind="close")["count"], 0)
        self.assertEqual([c["person"]["id"] for c in self.contacts(case, q="赵")["items"]], [self.shopper.pk])
        self.assertEqual(self.contacts(case, page_size=1)["count"], 2)
        self.assertError(self.get(self.epi, f"/cases/{case.pk}/contacts", kind="cousin"), 422, "invalid")
        self.assertTrue(AuditEvent.objects.filter(action="view", object_id=str(case.pk), reason="密接名单").exists())

    def test_confirm_dismiss_downgrade_transfer(self):
        case = self.traced()
        diner, shopper, roommate = (self.contact_of(case, p) for p in (self.diner, self.shopper, self.roommate))
        # The body is optional: none at all, or a note.
        response = self.client.post(f"{API}/contacts/{diner.pk}/confirm", "", content_type="application/json",
                                    **self.auth(self.epi))
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual((response.json()["status"], response.json()["status_label"]), ("confirmed", "已确认"))
        response = self.post(self.epi, f"/contacts/{diner.pk}/confirm", {"reason": "同桌用餐"})
        self.assertEqual(response.json()["review_note"], "同桌用餐")

        body = self.assertError(self.post(self.epi, f"/contacts/{shopper.pk}/dismiss"), 400, "invalid",
                                "排除须说明理由")
        self.assertIn("reason", body["errors"])
        self.assertError(self.post(self.epi, f"/contacts/{shopper.pk}/dismiss", {"reason": "  "}), 400, "invalid")
        response = self.post(self.epi, f"/contacts/{shopper.pk}/dismiss", {"reason": "扫码后未进店"})
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual((response.json()["status"], response.json()["review_note"]), ("dismissed", "扫码后未进店"))

        self.assertError(self.post(self.epi, f"/contacts/{roommate.pk}/downgrade", {"kind": "close"}),
                         400, "invalid", "只能降为更低的类别")
        self.assertError(self.post(self.epi, f"/contacts/{roommate.pk}/downgrade", {}), 422, "invalid")
        response = self.post(self.epi, f"/contacts/{roommate.pk}/downgrade", {"kind": "companion", "reason": "分居"})
        self.assertEqual(response.status_code, 200, response.content.decode())
        body = response.json()
        self.assertEqual((body["kind"], body["found_kind"], body["status"]), ("companion", "close", "confirmed"))

        self.assertError(self.post(self.epi, f"/contacts/{roommate.pk}/transfer", {"jurisdiction": ""}),
                         400, "invalid")
        response = self.post(self.epi, f"/contacts/{roommate.pk}/transfer", {"jurisdiction": "邻县卫健局"})
        self.assertEqual((response.json()["status"], response.json()["jurisdiction"]), ("transferred", "邻县卫健局"))
        self.assertError(self.post(self.epi, f"/contacts/{roommate.pk}/confirm"), 400, "invalid")
        response = self.post(self.epi, f"/contacts/{roommate.pk}/reopen")
        self.assertEqual((response.json()["status"], response.json()["jurisdiction"]), ("proposed", ""))

    def test_review_is_for_in_scope_epidemiologists(self):
        case = self.traced()
        diner = self.contact_of(case, self.diner)  # lives in grid A
        for user in (self.w.grid_a_worker, self.epi_b, self.epi_other):
            self.assertError(self.post(user, f"/contacts/{diner.pk}/confirm"), 404, "not_found")
            self.assertError(self.post(user, f"/contacts/{diner.pk}/dismiss", {"reason": "x"}), 404, "not_found")
        self.assertError(self.post(self.epi, "/contacts/999999/confirm"), 404, "not_found", "未找到该密接人员")
        self.assertEqual(Contact.objects.get(pk=diner.pk).status, ContactStatus.PROPOSED)


class DispatchTests(TracingApiTestCase):
    def test_dispatch_gives_measures_and_tasks(self):
        case = self.traced()
        diner, shopper = self.contact_of(case, self.diner), self.contact_of(case, self.shopper)
        self.post(self.epi, f"/contacts/{diner.pk}/confirm")
        self.post(self.epi, f"/contacts/{shopper.pk}/confirm")
        response = self.post(self.epi, f"/cases/{case.pk}/dispatch")
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.json(), {"dispatched": 2, "skipped_cases": 0})

        items = {c["person"]["id"]: c for c in self.get(self.epi, f"/cases/{case.pk}/contacts",
                                                         status="dispatched").json()["items"]}
        self.assertEqual(set(items), {self.diner.pk, self.shopper.pk})
        item = items[self.diner.pk]
        self.assertIsNotNone(item["order_id"])
        self.assertIsNotNone(item["deadline"])
        task = Task.objects.get(pk=item["task_id"])
        self.assertEqual((task.area, task.role), (self.w.grid_a, Role.GRID_WORKER))
        self.assertNotIn(self.case_person.name, task.description)
        self.assertEqual(Task.objects.get(pk=items[self.shopper.pk]["task_id"]).area, self.w.grid_b)
        self.assertEqual(self.contact_of(case, self.roommate).status, ContactStatus.PROPOSED)
        # The dispatched contact's review is final over the API.
        self.assertError(self.post(self.epi, f"/contacts/{diner.pk}/dismiss", {"reason": "错了"}), 400, "invalid")
        body = self.get(self.epi, f"/cases/{case.pk}").json()
        self.assertEqual(body["contact_counts"]["dispatched"], 2)
        # Nothing confirmed left: a second dispatch sends nothing.
        self.assertEqual(self.post(self.epi, f"/cases/{case.pk}/dispatch").json(),
                         {"dispatched": 0, "skipped_cases": 0})

    def test_a_contact_who_is_a_case_is_skipped(self):
        case = self.traced()
        self.register(self.diner, onset_date=ONSET)
        services.review_contact(self.epi, self.contact_of(case, self.diner), "confirm")
        self.assertEqual(self.post(self.epi, f"/cases/{case.pk}/dispatch").json(),
                         {"dispatched": 0, "skipped_cases": 1})
        self.assertEqual(self.contact_of(case, self.diner).kind, ContactKind.CLOSE)

    def test_grid_worker_and_out_of_scope_cannot_dispatch(self):
        case = self.traced()
        services.review_contact(self.epi, self.contact_of(case, self.diner), "confirm")
        for user in (self.w.grid_a_worker, self.epi_b, self.epi_other):
            self.assertError(self.post(user, f"/cases/{case.pk}/dispatch"), 404, "not_found")
        self.assertFalse(Task.objects.filter(kind=services.TASK_KIND).exists())
