"""Editing a sentinel (who may, within which area, audited) and the fever form's live report clock."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.sentinels import services
from fangkong.sentinels.models import Sentinel

from .base import SentinelTestCase


def edit_data(sentinel: Sentinel, **changes) -> dict:
    data = {"kind": sentinel.kind, "name": sentinel.name, "area": sentinel.area_id, "address": sentinel.address,
            "contact": sentinel.contact, "phone": sentinel.phone, "joined_on": sentinel.joined_on.isoformat(),
            "reporters": list(sentinel.reporters.values_list("pk", flat=True)),
            "is_active": "on" if sentinel.is_active else ""}
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


class UpdateSentinelServiceTests(SentinelTestCase):
    def test_update_is_audited_with_before_and_after(self):
        services.update_sentinel(self.w.township_a_officer, self.clinic, {"name": "甲村第一卫生室", "is_active": False},
                                 reporters=[])
        self.clinic.refresh_from_db()
        self.assertEqual((self.clinic.name, self.clinic.is_active, self.clinic.updated_by),
                         ("甲村第一卫生室", False, self.w.township_a_officer))
        self.assertFalse(self.clinic.reporters.exists())
        event = AuditEvent.objects.filter(object_type="sentinels.sentinel", object_id=str(self.clinic.pk),
                                          action="update").get()
        self.assertEqual(event.changes["name"], ["甲村卫生室", "甲村第一卫生室"])
        self.assertEqual(event.changes["is_active"], ["True", "False"])
        self.assertEqual(event.changes["reporters"], [["clinic_a"], []])

    def test_outside_the_area_or_without_the_grant_is_refused(self):
        for user in (self.w.grid_a_worker, self.reporter):
            with self.subTest(user=user), self.assertRaises(PermissionDenied):
                services.update_sentinel(user, self.clinic, {"name": "改名"})
        with self.assertRaises(PermissionDenied):
            services.update_sentinel(self.w.township_a_officer, self.pharmacy_b, {"name": "改名"})

    def test_area_kind_and_name_are_checked(self):
        officer = self.w.township_a_officer
        cases = [({"area": self.w.village_b}, "area"), ({"kind": "hospital"}, "kind"), ({"name": "  "}, "name"),
                 ({"name": "甲村大药房", "kind": "pharmacy"}, "name")]  # the pharmacy next door has that name
        for data, field in cases:
            with self.subTest(data=data), self.assertRaises(ValidationError) as caught:
                services.update_sentinel(officer, self.clinic, data)
            self.assertIn(field, caught.exception.message_dict)
        services.update_sentinel(officer, self.clinic, {"name": "甲村卫生室"})  # its own name is not a clash

    def test_joining_day_cannot_move_past_the_first_report(self):
        day = timezone.localdate() - timedelta(days=3)
        services.record_zero_report(self.reporter, self.clinic, day)
        with self.assertRaises(ValidationError) as caught:
            services.update_sentinel(self.w.hq, self.clinic, {"joined_on": day + timedelta(days=1)})
        self.assertIn("joined_on", caught.exception.message_dict)
        services.update_sentinel(self.w.hq, self.clinic, {"joined_on": day - timedelta(days=1)})
        self.clinic.refresh_from_db()
        self.assertEqual(self.clinic.joined_on, day - timedelta(days=1))


class SentinelEditPageTests(SentinelTestCase):
    def test_detail_links_to_the_edit_page_for_those_who_may_edit(self):
        url = reverse("sentinels:detail", args=[self.clinic.pk])
        self.client.force_login(self.w.township_a_officer)
        self.assertContains(self.client.get(url), reverse("sentinels:edit", args=[self.clinic.pk]))
        self.client.force_login(self.reporter)
        self.assertNotContains(self.client.get(url), 'data-testid="sentinel-edit"')

    def test_officer_edits_a_sentinel(self):
        self.client.force_login(self.w.township_a_officer)
        url = reverse("sentinels:edit", args=[self.clinic.pk])
        response = self.client.get(url)
        self.assertContains(response, 'data-testid="sentinel-edit-form"')
        self.assertEqual(response.context["form"]["name"].value(), "甲村卫生室")
        self.assertContains(response, f'value="{self.clinic.joined_on.isoformat()}"')  # as <input type="date"> reads it
        response = self.client.post(url, edit_data(self.clinic, name="甲村中心卫生室", contact="王医生",
                                                   phone="13800002222", reporters=[], is_active=""))
        self.assertRedirects(response, reverse("sentinels:detail", args=[self.clinic.pk]))
        self.clinic.refresh_from_db()
        self.assertEqual((self.clinic.name, self.clinic.contact, self.clinic.is_active),
                         ("甲村中心卫生室", "王医生", False))
        self.assertFalse(self.clinic.reporters.exists())
        detail = self.client.get(reverse("sentinels:detail", args=[self.clinic.pk]))
        self.assertContains(detail, 'data-testid="sentinel-inactive"')

    def test_errors_are_shown_and_nothing_is_saved(self):
        self.client.force_login(self.w.township_a_officer)
        url = reverse("sentinels:edit", args=[self.clinic.pk])
        response = self.client.post(url, edit_data(self.clinic, area=self.w.village_b.code))
        self.assertContains(response, "不在您的管辖范围内", status_code=400)
        response = self.client.post(url, edit_data(self.clinic, kind="pharmacy", name="甲村大药房"))
        self.assertContains(response, "同名同类型", status_code=400)
        self.clinic.refresh_from_db()
        self.assertEqual((self.clinic.kind, self.clinic.name), ("village_clinic", "甲村卫生室"))

    def test_who_may_open_the_edit_page(self):
        url = reverse("sentinels:edit", args=[self.clinic.pk])
        for user, status in ((self.reporter, 403), (self.w.grid_a_worker, 403), (self.w.outsider, 403),
                             (self.w.village_a_officer, 200), (self.w.hq, 200)):
            self.client.force_login(user)
            self.assertEqual(self.client.get(url).status_code, status, user)
        self.client.force_login(self.w.township_a_officer)
        url_b = reverse("sentinels:edit", args=[self.pharmacy_b.pk])
        self.assertEqual(self.client.get(url_b).status_code, 404)
        self.assertEqual(self.client.post(url_b, edit_data(self.pharmacy_b, name="改名")).status_code, 404)

    def test_a_current_reporter_outside_the_choices_is_kept(self):
        # The outsider (township B) reports for the township-B pharmacy; HQ edits it without losing them.
        self.client.force_login(self.w.hq)
        url = reverse("sentinels:edit", args=[self.pharmacy_b.pk])
        self.assertIn(self.w.outsider.pk, [u.pk for u in self.client.get(url).context["form"].fields[
            "reporters"].queryset])
        self.client.post(url, edit_data(self.pharmacy_b, address="乙村2组"))
        self.pharmacy_b.refresh_from_db()
        self.assertEqual(list(self.pharmacy_b.reporters.all()), [self.w.outsider])


class FeverClockTests(SentinelTestCase):
    def test_the_form_carries_the_live_clock(self):
        self.client.force_login(self.reporter)
        response = self.client.get(reverse("sentinels:fever", args=[self.clinic.pk]))
        self.assertContains(response, 'data-testid="report-countdown"')
        self.assertContains(response, 'data-field="id_consulted_at"')
        self.assertContains(response, 'data-limit-minutes="60"')
        self.assertContains(response, 'data-utc-offset="+0800"')
        self.assertContains(response, "距 1 小时报告时限还剩 %(time)s")
        self.assertContains(response, "已超过报告时限 %(minutes)s 分钟")
        self.assertContains(response, "sentinels/fever_clock.js")
        self.assertNotContains(response, "<script>")  # no inline script
        self.assertLess(abs(response.context["now"].timestamp() - timezone.now().timestamp()), 60)

    def test_consultation_time_defaults_to_now(self):
        self.client.force_login(self.reporter)
        response = self.client.get(reverse("sentinels:fever", args=[self.clinic.pk]))
        shown = response.context["form"]["consulted_at"].value()  # local time, as the input shows it
        self.assertLess(abs(shown - timezone.localtime().replace(tzinfo=None)), timedelta(minutes=1))
        self.assertContains(response, shown.strftime('value="%Y-%m-%dT%H:%M"'))

    def test_late_report_shows_its_delay_on_the_report_list(self):
        self.client.force_login(self.reporter)
        consulted = timezone.localtime() - timedelta(minutes=75)
        response = self.client.post(reverse("sentinels:fever", args=[self.clinic.pk]), {
            "name": "张三", "document_number": self.w.person_a.document_number,
            "consulted_at": consulted.strftime("%Y-%m-%dT%H:%M")})
        self.assertRedirects(response, reverse("sentinels:detail", args=[self.clinic.pk]))
        detail = self.client.get(reverse("sentinels:detail", args=[self.clinic.pk]))
        self.assertContains(detail, "首诊后 75 分钟报告")
        self.assertContains(detail, 'badge text-bg-danger" data-testid="report-clock"')
