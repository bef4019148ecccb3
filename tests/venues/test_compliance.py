"""The compliance page: flags, inspection tasks, export, and the purge command."""

import io
from datetime import datetime, time, timedelta

from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from fangkong.accounts.choices import Role
from fangkong.accounts.models import Organization
from fangkong.audit.models import AuditEvent
from fangkong.tasks.models import Task
from fangkong.venues import compliance
from fangkong.venues.models import CheckIn, Venue
from tests.base import WorldTestCase
from tests.factories import make_venue


def at(day, hour=10):
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


class ComplianceTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.day = timezone.localdate() - timedelta(days=1)
        cls.org = Organization.objects.create(name="县市场监管局", kind="market_regulation", area=w.county)
        cls.steady = make_venue(w.grid_a, name="稳定超市", expected_daily_visitors=20)
        cls.stopped = make_venue(w.grid_a, name="停扫饭店", type_code="restaurant", supervisor=cls.org)
        cls.red = make_venue(w.grid_b, name="放行红码网吧")
        Venue.objects.update(created_at=timezone.now() - timedelta(days=30))
        rows = []
        for back in range(8):
            d = cls.day - timedelta(days=back)
            for n in range(20):
                rows.append(CheckIn(person=w.person_a, venue=cls.steady, scanned_at=at(d, 8) + timedelta(minutes=n),
                                    status_shown="green"))
                if back >= 4:  # the restaurant stopped scanning four days ago
                    rows.append(CheckIn(person=w.person_b, venue=cls.stopped, scanned_at=at(d) + timedelta(minutes=n)))
            rows.append(CheckIn(person=w.person_b, venue=cls.red, scanned_at=at(d), status_shown="green"))
        rows.append(CheckIn(person=w.person_b, venue=cls.red, scanned_at=at(cls.day, 20), status_shown="red"))
        CheckIn.objects.bulk_create(rows)

    def flags(self, user=None):
        return {item.venue.name: item.flags for item in compliance.compute(compliance.compliance_venues(user), self.day)}

    def test_flags(self):
        flags = self.flags()
        self.assertEqual(flags["稳定超市"], [])
        self.assertEqual(flags["停扫饭店"], ["silent", "drop"])
        self.assertEqual(flags["放行红码网吧"], ["nongreen"])

    def test_rolled_up_days_give_the_same_page(self):
        def figures():
            return [(i.venue.name, i.days, i.nongreen, i.red, i.flags)
                    for i in compliance.compute(Venue.objects.all(), self.day)]

        live = figures()
        self.assertEqual(compliance.roll_up_recent(), 8)
        self.assertEqual(figures(), live)
        # A late batch for a rolled-up day is counted when the nightly run rolls the days up again.
        CheckIn.objects.create(person=self.w.person_a, venue=self.stopped, scanned_at=at(self.day, 21))
        compliance.roll_up_recent()
        item = next(i for i in compliance.compute(Venue.objects.all(), self.day) if i.venue == self.stopped)
        self.assertEqual(item.scans, 1)

    def test_figures(self):
        item = next(i for i in compliance.compute(Venue.objects.all(), self.day) if i.venue == self.red)
        self.assertEqual((item.scans, item.nongreen, item.red), (2, 1, 1))
        self.assertEqual(item.nongreen_share, 0.5)
        stopped = next(i for i in compliance.compute(Venue.objects.all(), self.day) if i.venue == self.stopped)
        self.assertEqual((stopped.silent_days, stopped.zero_days), (4, 4))

    def test_township_officer_sees_own_township_only(self):
        self.assertEqual(set(self.flags(self.w.township_a_officer)), {"稳定超市", "停扫饭店"})
        self.assertEqual(self.flags(self.w.grid_a_worker), {})

    def test_flag_venues_creates_one_task_per_venue_and_day(self):
        created = compliance.flag_venues(self.day)
        self.assertEqual(len(created), 2)
        self.assertEqual(compliance.flag_venues(self.day), [])
        call_command("flag_venues", "--date", self.day.isoformat(), stdout=io.StringIO())
        tasks = Task.objects.filter(kind="venue_inspection")
        self.assertEqual(tasks.count(), 2)
        stopped = tasks.get(subject_id=str(self.stopped.pk))
        self.assertEqual((stopped.area_id, stopped.role), (self.w.grid_a.code, Role.DEPT_OFFICER))
        self.assertEqual(tasks.get(subject_id=str(self.red.pk)).role, Role.TOWNSHIP_OFFICER)

    @override_settings(FANGKONG_COMPLIANCE_SILENT_DAYS=5)
    def test_silent_days_setting(self):
        self.assertEqual(self.flags()["停扫饭店"], ["drop"])

    def test_page_and_filters(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("compliance:index"), {"flagged": "on", "type": "restaurant"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "停扫饭店")
        self.assertNotContains(response, "稳定超市")
        self.assertNotContains(response, "放行红码网吧")

    def test_the_date_box_holds_the_day_shown_and_a_bad_date_keeps_the_other_filters(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("compliance:index"))
        self.assertContains(response, f'name="date" value="{self.day.isoformat()}"')
        self.assertContains(response, "甲村一网格")
        self.assertNotContains(response, "甲村甲村")  # a grid named after its village is not named twice
        response = self.client.get(reverse("compliance:index"), {"date": "2026-13-40", "type": "restaurant"})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["form"].errors["date"])
        self.assertContains(response, "停扫饭店")
        self.assertNotContains(response, "稳定超市")

    def test_grid_worker_is_refused(self):
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.get(reverse("compliance:index")).status_code, 403)

    def test_export_xlsx(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("compliance:export"), {"date": self.day.isoformat()})
        self.assertEqual(response.status_code, 200)
        rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
        self.assertEqual(rows[0][1], "场所名称")
        self.assertEqual({r[1] for r in rows[1:]}, {"稳定超市", "停扫饭店", "放行红码网吧"})
        self.assertTrue(AuditEvent.objects.filter(action="export", object_type="venues.venue").exists())

    def test_flag_button(self):
        self.client.force_login(self.w.hq)
        response = self.client.post(reverse("compliance:flag"), {"date": self.day.isoformat()})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Task.objects.filter(kind="venue_inspection").count(), 2)


class PurgeTests(WorldTestCase):
    def test_dry_run_then_real(self):
        venue = make_venue(self.w.grid_a)
        now = timezone.now()
        CheckIn.objects.bulk_create([CheckIn(person=self.w.person_a, venue=venue, scanned_at=now - timedelta(days=d))
                                     for d in (1, 10, 27, 29, 40)])
        out = io.StringIO()
        call_command("purge-checkins", "--dry-run", stdout=out)
        self.assertIn("would delete 2", out.getvalue())
        self.assertEqual(CheckIn.objects.count(), 5)
        out = io.StringIO()
        call_command("purge-checkins", "--older-than", "9d", "--no-input", stdout=out)
        self.assertIn("deleted 4", out.getvalue())
        self.assertEqual(CheckIn.objects.count(), 1)
        self.assertEqual(AuditEvent.objects.filter(action="delete", object_type="venues.checkin").count(), 1)

    def test_at_a_terminal_the_purge_asks_first(self):
        from unittest import mock

        from django.core.management.base import CommandError

        venue = make_venue(self.w.grid_a)
        CheckIn.objects.create(person=self.w.person_a, venue=venue, scanned_at=timezone.now() - timedelta(days=40))
        out = io.StringIO()
        with mock.patch("sys.stdin.isatty", return_value=True), mock.patch("builtins.input", return_value="no"), \
                self.assertRaises(CommandError):
            call_command("purge-checkins", stdout=out)
        self.assertIn("would delete 1", out.getvalue())
        self.assertEqual(CheckIn.objects.count(), 1)
        with mock.patch("sys.stdin.isatty", return_value=True), mock.patch("builtins.input", return_value="yes"):
            call_command("purge-checkins", stdout=out)
        self.assertEqual(CheckIn.objects.count(), 0)
        CheckIn.objects.create(person=self.w.person_a, venue=venue, scanned_at=timezone.now() - timedelta(days=40))
        with mock.patch("sys.stdin.isatty", return_value=True), mock.patch("builtins.input") as asked:
            call_command("purge-checkins", "--no-input", stdout=out)
        asked.assert_not_called()
        self.assertEqual(CheckIn.objects.count(), 0)
