"""The nightly testing job (`fangkong testing_day`) and the roster template workbook."""

import io
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from fangkong.policy.models import PersonStatus
from fangkong.policy.services import current_status
from fangkong.tasks.models import Task
from fangkong.testing import jobs, schedules
from fangkong.testing.models import (
    LabResult,
    RosterEntry,
    Sample,
    SamplingPoint,
    SamplingSession,
    Tube,
)

from .test_keygroups import KeyGroupBase, upload


class TestingDayTests(KeyGroupBase):
    def setUp(self):
        self.today = timezone.localdate()

    def test_members_who_fell_due_scan_yellow_get_tasks_and_nothing_repeats(self):
        late = self.enrol(self.people[0], employer="甲超市")
        self.enrol(self.people[1])
        RosterEntry.objects.filter(pk=late.pk).update(added_at=timezone.now() - timedelta(days=2))  # never tested
        # No colour stored yet: the scan (and its fast path) would read green.
        self.assertFalse(PersonStatus.objects.filter(person=self.people[0]).exists())
        summary = jobs.run_day(self.today)
        self.assertEqual((summary["overdue"], summary["tasks"]), (1, 1))
        self.assertEqual(PersonStatus.objects.get(person=self.people[0]).colour, "yellow")
        self.assertEqual(current_status(self.people[1].pk).colour, "green")  # due today: not yet overdue
        task = Task.objects.get(kind=schedules.TASK_KIND)
        self.assertIn("甲超市", task.description)
        again = jobs.run_day(self.today)
        self.assertEqual((again["tasks"], again["colours"]), (0, 0))
        self.assertEqual(Task.objects.filter(kind=schedules.TASK_KIND).count(), 1)

    def test_schedules_are_repaired_from_the_samples(self):
        entry = self.enrol(self.people[2])
        point = SamplingPoint.objects.create(name="测试采样点", area=self.w.grid_a)
        session = SamplingSession.objects.create(point=point, area=self.w.grid_a, operator=self.w.hq, pool_size=10)
        tube = Tube.objects.create(barcode="DAY-1", session=session, area=self.w.grid_a, capacity=10)
        sampled = timezone.now() - timedelta(days=1)
        Sample.objects.create(tube=tube, person=self.people[2], area=self.w.grid_a, sampled_at=sampled,
                              client_key="day-1")  # written without moving the schedule
        jobs.run_day(self.today)
        entry.refresh_from_db()
        self.assertEqual(entry.last_sampled_at, sampled)
        self.assertEqual(entry.next_due, timezone.localdate(sampled) + timedelta(days=3))

    def test_results_that_came_before_their_tube_are_matched(self):
        point = SamplingPoint.objects.create(name="测试采样点", area=self.w.grid_a)
        session = SamplingSession.objects.create(point=point, area=self.w.grid_a, operator=self.w.hq, pool_size=10)
        tube = Tube.objects.create(barcode="DAY-2", session=session, area=self.w.grid_a, capacity=10, status="closed",
                                   closed_at=timezone.now())
        Sample.objects.create(tube=tube, person=self.people[3], area=self.w.grid_b, client_key="day-2",
                              sampled_at=timezone.now() - timedelta(hours=3))
        LabResult.objects.create(barcode="DAY-2", result="negative", tested_at=timezone.now())
        self.assertEqual(jobs.run_day(self.today)["matched"], 1)
        tube.refresh_from_db()
        self.assertEqual(tube.result, "negative")

    def test_the_command_prints_its_summary_and_checks_the_date(self):
        out = StringIO()
        call_command("testing_day", "--date", self.today.isoformat(), stdout=out)
        self.assertIn("schedules=", out.getvalue())
        with self.assertRaises(CommandError):
            call_command("testing_day", "--date", "26/11/2026")


class RosterColourTests(KeyGroupBase):
    def test_an_imported_member_already_overdue_scans_yellow_at_once(self):
        self.group.test_interval_days = 1
        self.group.save()
        text = f"身份证号,姓名,工作单位,所在乡镇\n{self.numbers[4]},周五,乙超市,\n"
        schedules.roster_import(self.w.hq, upload("名单.csv", text), self.group)
        status = PersonStatus.objects.get(person=self.people[4])
        self.assertEqual(status.colour, "green")  # due today
        self.assertEqual(timezone.localdate(status.valid_until), timezone.localdate() + timedelta(days=1))
        tomorrow = timezone.now() + timedelta(days=1, hours=1)
        self.assertEqual(current_status(self.people[4].pk, now=tomorrow).colour, "yellow")


class TemplateTests(KeyGroupBase):
    def test_the_template_is_a_workbook_with_the_columns_and_notes(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("testing:keygroup_import_template"))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("application/vnd.openxmlformats"))
        self.assertTrue(response["Content-Disposition"].endswith(".xlsx"))
        book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
        self.assertEqual(book.sheet_names, ["重点人群名单", "填写说明"])
        self.assertEqual(book.get_sheet_by_index(0).to_python()[0], schedules.TEMPLATE_COLUMNS)
        self.assertIn("18 位", "".join(row[0] for row in book.get_sheet_by_index(1).to_python()))

    def test_the_filled_template_imports(self):
        import xlsxwriter

        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = workbook.add_worksheet("重点人群名单")
        for column, value in enumerate(schedules.TEMPLATE_COLUMNS):
            sheet.write_string(0, column, value)
        for column, value in enumerate([self.numbers[0], "赵一", "甲超市", "乙镇"]):
            sheet.write_string(1, column, value)
        workbook.close()
        file = upload("名单.xlsx", "")
        file.file = io.BytesIO(buffer.getvalue())
        file.size = len(buffer.getvalue())
        report = schedules.roster_import(self.w.hq, file, self.group)
        self.assertEqual((report.ok, report.created), (True, 1))

    def test_only_those_who_may_import_get_it(self):
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.get(reverse("testing:keygroup_import_template")).status_code, 403)
