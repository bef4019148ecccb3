from datetime import timedelta

from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.people.services import record_person_view, reveal_person

from .base import ApiTestCase


class AuditApiTest(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        reveal_person(cls.w.grid_a_worker, cls.w.person_a, "核实身份")
        record_person_view(cls.w.grid_b_worker, cls.w.person_b)

    def test_auditor_reads_the_trail(self):
        response = self.get(self.w.auditor, "/audit", action="reveal")
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["count"], 1)
        event = body["items"][0]
        self.assertEqual(event["username"], "grid_a")
        self.assertEqual(event["reason"], "核实身份")
        self.assertEqual(event["object_type"], "people.person")
        self.assertEqual(event["action_label"], "查看明文")
        self.assertNotIn(self.w.person_a.document_number, response.content.decode())

    def test_county_admin_reads_the_trail(self):
        body = self.get(self.w.hq, "/audit", user="grid_b").json()
        self.assertEqual([e["action"] for e in body["items"]], ["view"])

    def test_filters_by_object_and_time(self):
        person = self.w.person_a
        body = self.get(
            self.w.auditor, "/audit", object_type="people.person", object_id=str(person.pk)
        ).json()
        self.assertEqual({e["object_id"] for e in body["items"]}, {str(person.pk)})
        self.assertEqual(
            body["count"],
            AuditEvent.objects.filter(
                object_id=str(person.pk), object_type="people.person"
            ).count(),
        )
        later = (timezone.now() + timedelta(hours=1)).isoformat()
        self.assertEqual(self.get(self.w.auditor, "/audit", since=later).json()["count"], 0)
        self.assertEqual(
            self.get(self.w.auditor, "/audit", until=later).json()["count"],
            AuditEvent.objects.count(),
        )

    def test_others_are_refused_with_json_403(self):
        for user in (self.w.grid_a_worker, self.w.township_a_officer, self.w.outsider):
            self.assertError(self.get(user, "/audit"), 403, "forbidden")

    def test_bad_time_is_invalid(self):
        body = self.assertError(
            self.get(self.w.auditor, "/audit", since="yesterday"), 422, "invalid"
        )
        self.assertIn("since", body["errors"])
