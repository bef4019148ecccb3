"""The check-in API: bulk push (JSON and CSV), reading check-ins, the compliance figures."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.venues.models import CheckIn
from tests.factories import make_person, make_resident_id, make_user, make_venue

from .base import API, ApiTestCase


class CheckInApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.venue = make_venue(w.grid_a)
        cls.number = make_resident_id()
        cls.person = make_person(w.hq, w.grid_a, "赵六", document_number=cls.number)
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)

    def rows(self, count=200):
        now = timezone.now()
        return [{"key": f"api-{i}", "venue": self.venue.pk, "person": self.number,
                 "scanned_at": (now - timedelta(minutes=i)).isoformat()} for i in range(count)]

    def test_batch_json_twice_stores_once(self):
        rows = self.rows()
        first = self.post(self.w.hq, "/checkins/batch", rows)
        self.assertEqual(first.status_code, 200, first.content)
        self.assertEqual(first.json()["accepted"], 200)
        second = self.post(self.w.hq, "/checkins/batch", {"rows": rows})
        body = second.json()
        self.assertEqual((body["accepted"], body["duplicate"], body["rejected"]), (0, 200, 0))
        self.assertEqual(body["rows"][0], {"index": 0, "key": "api-0", "result": "duplicate"})
        self.assertEqual(CheckIn.objects.count(), 200)

    def test_batch_csv_lists_bad_rows(self):
        at = timezone.now().isoformat()
        csv = (f"key,venue,person,scanned_at\nc1,{self.venue.pk},{self.number},{at}\n"
               f"c2,{self.venue.pk},{make_resident_id()},{at}\nc3,{self.venue.pk},{self.number},2000-01-01T00:00\n")
        response = self.client.post(API + "/checkins/batch?only_problems=true", csv, content_type="text/csv",
                                    **self.auth(self.w.hq))
        body = response.json()
        self.assertEqual((body["accepted"], body["rejected"]), (1, 2))
        self.assertEqual([r["key"] for r in body["rows"]], ["c2", "c3"])
        self.assertEqual(body["rows"][0]["error"], "人员未登记。")

    def test_batch_body_not_json_is_400(self):
        response = self.client.post(API + "/checkins/batch", "{oops", content_type="application/json",
                                    **self.auth(self.w.hq))
        self.assertError(response, 400, "invalid")

    def test_grid_worker_cannot_push_or_read(self):
        self.assertError(self.post(self.w.grid_a_worker, "/checkins/batch", self.rows(1)), 403, "forbidden")
        self.assertError(self.get(self.w.grid_a_worker, "/checkins", person=self.person.pk), 403, "forbidden")

    def test_epidemiologist_reads_a_persons_checkins(self):
        self.post(self.w.hq, "/checkins/batch", self.rows(30))
        response = self.get(self.epi, "/checkins", person=self.person.pk, page_size=10)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["count"], 30)
        self.assertEqual(len(body["items"]), 10)
        item = body["items"][0]
        self.assertEqual((item["person_name"], item["venue_id"], item["venue_name"]), ("赵*", self.venue.pk, "甲村超市"))
        self.assertGreaterEqual(item["scanned_at"], body["items"][1]["scanned_at"])

    def test_venue_window_query(self):
        self.post(self.w.hq, "/checkins/batch", self.rows(30))
        start = (timezone.now() - timedelta(minutes=9, seconds=30)).isoformat()
        response = self.client.get(API + "/checkins", {"venue": self.venue.pk, "from": start},
                                   **self.auth(self.w.hq))
        self.assertEqual(response.json()["count"], 10)

    def test_person_or_venue_required_and_unknown_is_404(self):
        self.assertError(self.get(self.epi, "/checkins"), 400, "invalid")
        self.assertError(self.get(self.epi, "/checkins", person=999999), 404, "not_found")

    def test_compliance_endpoint(self):
        self.post(self.w.hq, "/checkins/batch", self.rows(5))
        today = timezone.localdate().isoformat()
        response = self.get(self.w.township_a_officer, "/venues/compliance", date=today)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["count"], 1)
        self.assertEqual(body["items"][0]["venue_id"], self.venue.pk)
        self.assertEqual(body["items"][0]["days"][-1], CheckIn.objects.filter(
            scanned_at__gte=timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)).count())
        self.assertError(self.get(self.w.grid_a_worker, "/venues/compliance"), 403, "forbidden")
