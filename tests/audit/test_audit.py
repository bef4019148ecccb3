from django.contrib.auth import authenticate
from django.test import Client, RequestFactory

from fangkong.audit.choices import AuditAction
from fangkong.audit.models import AuditEvent
from fangkong.audit.services import diff, record_event
from tests.base import WorldTestCase
from tests.factories import PASSWORD, make_user


class LoginAuditTest(WorldTestCase):
    def test_login_writes_an_audit_row(self):
        Client().force_login(self.w.grid_a_worker)
        event = AuditEvent.objects.get(action=AuditAction.LOGIN)
        self.assertEqual((event.user, event.username), (self.w.grid_a_worker, "grid_a"))
        self.assertEqual(event.area_code, self.w.grid_a.code)

    def test_logout_writes_an_audit_row(self):
        client = Client()
        client.force_login(self.w.grid_a_worker)
        client.logout()
        self.assertTrue(AuditEvent.objects.filter(action=AuditAction.LOGOUT, user=self.w.grid_a_worker).exists())

    def test_failed_login_writes_an_audit_row_without_the_password(self):
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="10.1.2.3")
        authenticate(request=request, username="grid_a", password="wrong-Password-1")
        event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
        self.assertIsNone(event.user)
        self.assertEqual((event.object_repr, event.ip), ("grid_a", "10.1.2.3"))
        self.assertNotIn("wrong-Password-1", str(event.changes) + event.reason + event.object_repr)

    def test_successful_authentication_alone_writes_no_failure(self):
        authenticate(request=None, username="grid_a", password=PASSWORD)
        self.assertFalse(AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).exists())


class AuditVisibilityTest(WorldTestCase):
    def test_auditor_sees_the_trail(self):
        self.assertEqual(AuditEvent.objects.restrict(self.w.auditor).count(),
                         AuditEvent.objects.exclude(area_code="").count())
        self.assertTrue(AuditEvent.objects.restrict(self.w.auditor).exists())

    def test_grid_worker_does_not_see_the_trail(self):
        self.assertFalse(AuditEvent.objects.restrict(self.w.grid_a_worker).exists())

    def test_township_officer_does_not_see_the_trail(self):
        self.assertFalse(AuditEvent.objects.restrict(self.w.township_a_officer).exists())

    def test_auditor_of_a_township_sees_only_that_township(self):
        auditor_a = make_user("auditor_a", "auditor", self.w.township_a)
        codes = set(AuditEvent.objects.restrict(auditor_a).values_list("area_code", flat=True))
        self.assertEqual(codes, {self.w.grid_a.code})


class RecordEventTest(WorldTestCase):
    def test_record_event_takes_type_id_masked_repr_and_area_from_the_object(self):
        event = record_event(self.w.hq, AuditAction.VIEW, self.w.person_a, reason="抽查")
        self.assertEqual(event.object_type, "people.person")
        self.assertEqual(event.object_id, str(self.w.person_a.pk))
        self.assertEqual(event.object_repr, f"张三 {self.w.person_a.doc_masked}")
        self.assertEqual(event.area_code, self.w.grid_a.code)

    def test_record_event_without_object_uses_the_users_area(self):
        event = record_event(self.w.township_a_officer, AuditAction.EXPORT, object_type="people.person")
        self.assertEqual(event.area_code, self.w.township_a.code)

    def test_record_event_keeps_the_client_ip(self):
        request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7")
        self.assertEqual(record_event(self.w.hq, AuditAction.VIEW, request=request).ip, "192.0.2.7")

    def test_diff_lists_changed_fields_only(self):
        self.assertEqual(diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}), {"b": [2, 3], "c": [None, 4]})


class FailedLoginVisibilityTest(WorldTestCase):
    # audit.signals.audit_login_failed writes area_code="" so only a superuser
    # without an area can read failed logins; it should take the area of the
    # account whose name was tried.
    def test_county_auditor_sees_failed_logins_of_county_users(self):
        authenticate(request=None, username="grid_a", password="wrong-Password-1")
        self.assertTrue(AuditEvent.objects.restrict(self.w.auditor).filter(action=AuditAction.LOGIN_FAILED).exists())
