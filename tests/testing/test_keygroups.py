"""Key-group schedules (testing/schedules.py) and their pages (testing/keygroup_views.py)."""

import io
from datetime import date, datetime, timedelta

import xlsxwriter
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import OrganizationKind, Role
from fangkong.accounts.models import Organization
from fangkong.audit.choices import AuditAction
from fangkong.audit.models import AuditEvent
from fangkong.people.models import KeyGroup
from fangkong.tasks.models import Task
from fangkong.testing import schedules, services
from fangkong.testing.models import RosterEntry, SamplingPoint
from tests.base import WorldTestCase
from tests.factories import make_person, make_resident_id, make_user

TODAY = date(2022, 5, 10)


def local(day: date, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"))


class KeyGroupBase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.market_dept = Organization.objects.create(name="县市场监管局", kind=OrganizationKind.MARKET_REGULATION,
                                                      area=w.county)
        cls.health_dept = Organization.objects.create(name="县卫健局", kind=OrganizationKind.HEALTH_BUREAU,
                                                      area=w.county)
        cls.dept_officer = make_user("market_officer", Role.DEPT_OFFICER, w.county, organization=cls.market_dept)
        cls.group = KeyGroup.objects.create(code="kg_market", name="测试商超人员", test_interval_days=3,
                                            department=cls.market_dept)
        cls.daily = KeyGroup.objects.create(code="kg_medical", name="测试医务人员", test_interval_days=1,
                                            department=cls.health_dept)
        cls.numbers = [make_resident_id(date(1980, 1, 1 + i)) for i in range(6)]
        names = ["赵一", "钱二", "孙三", "李四四", "周五", "吴六"]
        grids = [w.grid_a, w.grid_a, w.grid_a2, w.grid_b, w.grid_b, w.grid_a]
        cls.people = [make_person(w.hq, grid, name, document_number=number)
                      for name, number, grid in zip(names, cls.numbers, grids, strict=True)]

    def enrol(self, person, group=None, *, employer="", employer_area=None, department=None, last=None):
        group = group or self.group
        return RosterEntry.objects.create(
            group=group, person=person, area_id=person.area_id, employer=employer, employer_area=employer_area,
            department=department or group.department, last_sampled_at=last,
            next_due=schedules.next_due(last, group.test_interval_days) if last else TODAY)


class DueDateTests(KeyGroupBase):
    def test_next_due_adds_the_interval_to_the_local_day(self):
        # 23:30 in Beijing is 15:30 UTC: the local day counts.
        late = timezone.make_aware(datetime(2022, 5, 10, 23, 30))
        self.assertEqual(schedules.next_due(late, 3), date(2022, 5, 13))
        self.assertEqual(schedules.next_due(late, 1), date(2022, 5, 11))
        self.assertIsNone(schedules.next_due(late, None))
        self.assertIsNone(schedules.next_due(None, 3))

    def test_a_sample_moves_next_due(self):
        entry = self.enrol(self.people[0])
        other = self.enrol(self.people[0], self.daily)
        point = SamplingPoint.objects.create(name="甲村采样点", area=self.w.village_a)
        staff = make_user("sampler", Role.SITE_STAFF, self.w.township_a)
        session = services.open_session(staff, point, 1)
        at = timezone.now() - timedelta(hours=1)
        services.add_sample(staff, session, barcode="KG1", person=self.people[0], client_key="kg-1", sampled_at=at)
        entry.refresh_from_db()
        other.refresh_from_db()
        self.assertEqual(entry.last_sampled_at, at)
        self.assertEqual(entry.next_due, timezone.localtime(at).date() + timedelta(days=3))
        self.assertEqual(other.next_due, timezone.localtime(at).date() + timedelta(days=1))

    def test_record_samples_never_moves_back(self):
        entry = self.enrol(self.people[0], last=local(TODAY))
        schedules.record_samples([self.people[0].pk], local(TODAY - timedelta(days=2)))
        entry.refresh_from_db()
        self.assertEqual(entry.next_due, TODAY + timedelta(days=3))

    def test_refresh_all_recomputes_from_latest_sample(self):
        entry = self.enrol(self.people[0])
        never = self.enrol(self.people[1])
        point = SamplingPoint.objects.create(name="甲村采样点", area=self.w.village_a)
        staff = make_user("sampler", Role.SITE_STAFF, self.w.township_a)
        session = services.open_session(staff, point, 5)
        first = timezone.now() - timedelta(days=4)
        second = timezone.now() - timedelta(days=2)
        services.add_sample(staff, session, barcode="KG2", person=self.people[0], client_key="a", sampled_at=first)
        session2 = services.open_session(staff, point, 5)
        services.add_sample(staff, session2, barcode="KG3", person=self.people[0], client_key="b", sampled_at=second)
        RosterEntry.objects.update(last_sampled_at=None, next_due=None)
        schedules.refresh_all()
        entry.refresh_from_db()
        never.refresh_from_db()
        self.assertEqual(entry.last_sampled_at, second)
        self.assertEqual(entry.next_due, timezone.localtime(second).date() + timedelta(days=3))
        self.assertIsNone(never.last_sampled_at)
        self.assertEqual(never.next_due, timezone.localtime(never.added_at).date())

    def test_group_without_interval_schedules_nobody(self):
        loose = KeyGroup.objects.create(code="kg_loose", name="不定期人群")
        entry = self.enrol(self.people[0], loose)
        schedules.refresh_all()
        entry.refresh_from_db()
        self.assertIsNone(entry.next_due)


class CoverageTests(KeyGroupBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w, p = cls.w, cls.people
        tb = w.township_b
        cls.entries = [
            # on time: sampled yesterday, due in 2 days
            cls.enrol(cls, p[0], employer="甲超市", last=local(TODAY - timedelta(days=1))),
            # due today: sampled 3 days ago
            cls.enrol(cls, p[1], employer="甲超市", last=local(TODAY - timedelta(days=3))),
            # overdue: sampled 5 days ago
            cls.enrol(cls, p[2], employer="乙市场", employer_area=tb, last=local(TODAY - timedelta(days=5))),
            # overdue, in township B
            cls.enrol(cls, p[3], employer="乙市场", employer_area=tb, last=local(TODAY - timedelta(days=6))),
            # another department's group: daily, sampled today -> on time
            cls.enrol(cls, p[4], cls.daily, employer="县医院", last=local(TODAY)),
            # never sampled, listed before today -> overdue
            RosterEntry.objects.create(group=cls.daily, person=p[5], area_id=p[5].area_id, employer="县医院",
                                       department=cls.health_dept, next_due=TODAY - timedelta(days=1)),
        ]

    def rows(self, result):
        return {r["label"]: (r["members"], r["on_time"], r["due_today"], r["overdue"]) for r in result["rows"]}

    def test_by_department(self):
        result = schedules.coverage(self.w.hq, today=TODAY)
        self.assertEqual(self.rows(result), {"县市场监管局": (4, 1, 1, 2), "县卫健局": (2, 1, 0, 1)})
        self.assertEqual(result["totals"]["members"], 6)
        self.assertEqual(result["totals"]["overdue"], 3)

    def test_by_employer_for_one_group(self):
        result = schedules.coverage(self.w.hq, self.group, today=TODAY, by="employer")
        self.assertEqual(self.rows(result), {"甲超市": (2, 1, 1, 0), "乙市场": (2, 0, 0, 2)})
        self.assertEqual(result["totals"]["on_time_pct"], 25.0)

    def test_by_township_uses_employer_area_then_home(self):
        result = schedules.coverage(self.w.hq, self.group, today=TODAY, by="township")
        self.assertEqual(self.rows(result), {"甲镇": (2, 1, 1, 0), "乙镇": (2, 0, 0, 2)})

    def test_department_officer_sees_only_their_department(self):
        result = schedules.coverage(self.dept_officer, today=TODAY)
        self.assertEqual(self.rows(result), {"县市场监管局": (4, 1, 1, 2)})
        self.assertEqual(schedules.coverage(self.dept_officer, self.daily, today=TODAY)["totals"]["members"], 0)
        self.assertEqual(schedules.overdue(self.dept_officer, today=TODAY).count(), 2)

    def test_township_officer_sees_their_township_residents(self):
        result = schedules.coverage(self.w.township_a_officer, today=TODAY)
        self.assertEqual(result["totals"]["members"], 4)  # p0, p1, p2 and p5 live in township A

    def test_grid_worker_sees_nothing(self):
        self.assertEqual(schedules.coverage(self.w.grid_a_worker, today=TODAY)["rows"], [])

    def test_overdue_list_longest_first(self):
        people = [e.person_id for e in schedules.overdue(self.w.hq, self.group, today=TODAY)]
        self.assertEqual(people, [self.people[3].pk, self.people[2].pk])

    def test_overdue_tasks_per_area_idempotent(self):
        result = schedules.overdue_tasks(self.w.hq, today=TODAY)
        self.assertEqual(result, {"created": 2, "existing": 0, "members": 3})
        tasks = Task.objects.filter(kind=schedules.TASK_KIND)
        by_area = {t.area_id: t for t in tasks}
        # The two market members work in township B -> township officer there; the never-sampled
        # medical worker has no employer area -> their grid's worker.
        self.assertEqual(by_area[self.w.township_b.pk].role, Role.TOWNSHIP_OFFICER)
        self.assertIn("2", by_area[self.w.township_b.pk].title)
        self.assertIn("乙市场", by_area[self.w.township_b.pk].description)
        self.assertEqual(by_area[self.people[5].area_id].role, Role.GRID_WORKER)
        self.assertEqual(by_area[self.w.township_b.pk].subject_type, ContentType.objects.get_for_model(KeyGroup))
        again = schedules.overdue_tasks(self.w.hq, today=TODAY)
        self.assertEqual(again, {"created": 0, "existing": 2, "members": 3})
        self.assertEqual(Task.objects.filter(kind=schedules.TASK_KIND).count(), 2)

    def test_overdue_tasks_need_permission(self):
        with self.assertRaises(PermissionDenied):
            schedules.overdue_tasks(self.w.grid_a_worker, today=TODAY)


class ImportTests(KeyGroupBase):
    def test_import_csv_adds_people_and_is_idempotent(self):
        text = ("身份证号,姓名,工作单位,所在乡镇\n"
                f"{self.numbers[0]},赵一,甲超市,乙镇\n{self.numbers[1]},钱二,甲超市,\n"
                f"{self.numbers[1]},钱二,甲超市,\n")
        report = schedules.roster_import(self.w.hq, upload("名单.csv", text), self.group)
        self.assertEqual((report.ok, report.created, report.updated), (True, 2, 0))
        entry = RosterEntry.objects.get(group=self.group, person=self.people[0])
        self.assertEqual((entry.employer, entry.employer_area_id, entry.department_id, entry.area_id),
                         ("甲超市", self.w.township_b.pk, self.market_dept.pk, self.people[0].area_id))
        self.assertEqual(entry.next_due, timezone.localdate())  # never sampled: due from today
        again = schedules.roster_import(self.w.hq, upload("名单.csv", text), self.group)
        self.assertEqual((again.created, again.updated, again.unchanged), (0, 0, 2))
        self.assertEqual(RosterEntry.objects.filter(group=self.group).count(), 2)
        self.assertTrue(AuditEvent.objects.filter(action=AuditAction.IMPORT).exists())

    def test_import_xlsx_with_other_headers(self):
        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, ["商超从业人员名单"])
        sheet.write_row(1, 0, ["序号", "公民身份号码", "姓名", "单位"])
        sheet.write_row(2, 0, [1])
        sheet.write_string(2, 1, self.numbers[2])
        sheet.write_row(2, 2, ["孙三", "丙商场"])
        workbook.close()
        report = schedules.roster_import(self.dept_officer, SimpleUploadedFile("名单.xlsx", buffer.getvalue()),
                                         self.daily)
        self.assertTrue(report.ok, report.errors)
        entry = RosterEntry.objects.get(group=self.daily, person=self.people[2])
        self.assertEqual((entry.employer, entry.department_id), ("丙商场", self.market_dept.pk))

    def test_bad_rows_reject_the_whole_file(self):
        unknown = make_resident_id(date(1970, 3, 3))
        text = ("身份证号,姓名,工作单位\n"
                f"{self.numbers[0]},赵一,甲超市\n"
                "37092319850615001X,某人,甲超市\n"
                f"{unknown},无名,甲超市\n"
                f"{self.numbers[1]},错名,甲超市\n")
        report = schedules.roster_import(self.w.hq, upload("名单.csv", text), self.group)
        self.assertFalse(report.ok)
        problems = {e.row: " ".join(e.messages) for e in report.errors}
        self.assertEqual(set(problems), {3, 4, 5})
        self.assertIn("身份证号码有误", problems[3])
        self.assertIn("人员库中无此人，请先登记", problems[4])
        self.assertIn("姓名与人员库不符", problems[5])
        self.assertFalse(RosterEntry.objects.exists())

    def test_import_needs_permission(self):
        with self.assertRaises(PermissionDenied):
            schedules.roster_import(self.w.township_a_officer, upload("名单.csv", "身份证号,姓名\n"), self.group)


class KeyGroupPageTests(KeyGroupBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.late = RosterEntry.objects.create(group=cls.group, person=cls.people[0], area_id=cls.people[0].area_id,
                                              employer="甲超市", department=cls.market_dept,
                                              next_due=timezone.localdate() - timedelta(days=2))
        cls.fine = RosterEntry.objects.create(group=cls.group, person=cls.people[3], area_id=cls.people[3].area_id,
                                              employer="乙超市", department=cls.market_dept,
                                              next_due=timezone.localdate() + timedelta(days=2))

    def test_list_shows_groups_with_counts(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("testing:keygroups"))
        self.assertContains(response, "测试商超人员")
        self.assertContains(response, 'data-testid="keygroups"')
        self.assertContains(response, reverse("testing:keygroup", args=[self.group.pk]))

    def test_detail_tabs_and_overdue_list_masked(self):
        self.client.force_login(self.w.hq)
        url = reverse("testing:keygroup", args=[self.group.pk])
        for by in ("department", "employer", "township"):
            response = self.client.get(url, {"by": by})
            self.assertEqual(response.status_code, 200)
            self.assertContains(response, 'data-testid="coverage"')
        response = self.client.get(url)
        self.assertContains(response, "赵*")
        self.assertNotContains(response, "赵一")
        self.assertContains(response, "甲超市")

    def test_township_b_officer_does_not_see_grid_a_member(self):
        officer_b = make_user("town_b", Role.TOWNSHIP_OFFICER, self.w.township_b)
        self.client.force_login(officer_b)
        response = self.client.get(reverse("testing:keygroup", args=[self.group.pk]), {"by": "employer"})
        self.assertNotContains(response, "甲超市")
        self.assertContains(response, "乙超市")
        self.assertContains(response, '<div class="fk-stat" data-testid="total-members">1</div>', html=True)

    def test_export_is_audited(self):
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("testing:keygroup_overdue_export", args=[self.group.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertIn("spreadsheetml", response["Content-Type"])
        self.assertTrue(AuditEvent.objects.filter(action=AuditAction.EXPORT).exists())

    def test_tasks_button_is_post_only(self):
        self.client.force_login(self.w.hq)
        url = reverse("testing:keygroup_tasks", args=[self.group.pk])
        self.assertEqual(self.client.get(url).status_code, 405)
        self.client.post(url)
        self.client.post(url)
        self.assertEqual(Task.objects.filter(kind=schedules.TASK_KIND).count(), 1)

    def test_import_page(self):
        self.client.force_login(self.dept_officer)
        url = reverse("testing:keygroup_import", args=[self.group.pk])
        self.assertEqual(self.client.get(url).status_code, 200)
        bad = upload("名单.csv", f"身份证号,姓名\n{self.numbers[1]},错名\n")
        response = self.client.post(url, {"file": bad})
        self.assertContains(response, 'data-testid="row-errors"', status_code=400)
        good = upload("名单.csv", f"身份证号,姓名,单位\n{self.numbers[1]},钱二,丁超市\n")
        response = self.client.post(url, {"file": good})
        self.assertEqual(response.status_code, 302)
        self.assertTrue(RosterEntry.objects.filter(person=self.people[1], employer="丁超市").exists())

    def test_edit_is_hq_only(self):
        url = reverse("testing:keygroup_edit", args=[self.group.pk])
        self.client.force_login(self.dept_officer)
        self.assertEqual(self.client.get(url).status_code, 403)
        self.client.force_login(self.w.hq)
        self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.post(url, {"test_interval_days": "2", "department": self.health_dept.pk,
                                          "identified_by": "市场监管局名单"})
        self.assertEqual(response.status_code, 302)
        self.group.refresh_from_db()
        self.assertEqual((self.group.test_interval_days, self.group.department_id), (2, self.health_dept.pk))
