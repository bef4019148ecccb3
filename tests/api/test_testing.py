"""The testing API: sampling sessions, samples, lab result batches (JSON and CSV), a tube's state."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.testing.models import LabResult, PoolFollowup, Sample, SamplingPoint, Tube
from tests.factories import make_person, make_resident_id, make_user

from .base import API, ApiTestCase


class TestingApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.staff = make_user("sampler", Role.SITE_STAFF, w.township_a)
        cls.lab = make_user("lab", Role.LAB_OPERATOR, w.county)
        cls.point = SamplingPoint.objects.create(name="甲村采样点", area=w.village_a)
        cls.numbers = [make_resident_id() for _ in range(5)]
        cls.people = [make_person(w.hq, w.grid_a, f"成员{i}号", document_number=n) for i, n in enumerate(cls.numbers)]

    def open_session(self, pool_size=5):
        response = self.post(self.staff, "/sampling-sessions", {"point": self.point.pk, "pool_size": pool_size})
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()["id"]

    def sample(self, session, barcode, number, key, sampled_at=None):
        body = {"session": session, "barcode": barcode, "person": number, "client_key": key}
        if sampled_at is not None:
            body["sampled_at"] = sampled_at.isoformat()
        return self.post(self.staff, "/samples", body)

    def test_open_session(self):
        response = self.post(self.staff, "/sampling-sessions", {"point": self.point.pk, "pool_size": 10})
        self.assertEqual(response.status_code, 201)
        self.assertEqual((response.json()["pool_size"], response.json()["area_code"]), (10, self.w.village_a.pk))
        self.assertError(self.post(self.staff, "/sampling-sessions", {"point": self.point.pk, "pool_size": 3}),
                         400, "invalid")
        self.assertError(self.post(self.lab, "/sampling-sessions", {"point": self.point.pk}), 403, "forbidden")
        self.assertError(self.post(self.w.grid_b_worker, "/sampling-sessions", {"point": self.point.pk}),
                         404, "not_found")

    def test_samples_fill_a_tube_and_resend_is_200(self):
        session = self.open_session(5)
        for i, number in enumerate(self.numbers):
            response = self.sample(session, "A0001", number, f"k{i}")
            self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["filled"], body["capacity"], body["tube_status"]), (5, 5, "closed"))
        self.assertEqual(body["person_name"], "成**号")
        again = self.sample(session, "A0001", self.numbers[0], "k0")
        self.assertEqual(again.status_code, 200)
        self.assertFalse(again.json()["created"])
        over = self.sample(session, "A0001", make_resident_id(), "k9")
        self.assertError(over, 400, "invalid", "未找到该人员")
        extra = make_person(self.w.hq, self.w.grid_a, "额外")
        self.assertError(self.sample(session, "A0001", extra.document_number, "k10"), 400, "invalid",
                         "采样管已满/已封管")
        self.assertEqual(Sample.objects.count(), 5)

    def test_batch_json_csv_and_tube(self):
        session = self.open_session(5)
        sampled = timezone.now() - timedelta(hours=2)  # before the results
        for i, number in enumerate(self.numbers):
            self.sample(session, "A0002", number, f"b{i}", sampled_at=sampled)
        at = (timezone.now() - timedelta(hours=1)).isoformat()
        rows = [{"barcode": "A0002", "result": "阳性", "tested_at": at, "ct_values": {"ORF1ab": 30}},
                {"barcode": "UNKNOWN1", "result": "阴性", "tested_at": at},
                {"barcode": "A0003", "result": "??", "tested_at": at}]
        response = self.post(self.lab, "/lab-results/batch?lab=县疾控", rows)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual((body["accepted"], body["unmatched"], body["positives"], body["followups"]), (2, 1, 1, 5))
        self.assertEqual(body["rejected"][0]["row"], 3)
        self.assertEqual(PoolFollowup.objects.count(), 5)
        again = self.post(self.lab, "/lab-results/batch", {"rows": rows[:2]}).json()
        self.assertEqual((again["accepted"], again["duplicate"]), (0, 2))
        csv = f"管码,检测结果,检测时间\nA0002,阴性,{timezone.localtime():%Y-%m-%d %H:%M}\nUNKNOWN2,阴性,2022年4月9日 10:00\n"
        response = self.client.post(API + "/lab-results/batch", csv.encode("gbk"), content_type="text/csv",
                                    **self.auth(self.lab))
        body = response.json()
        self.assertEqual((body["accepted"], body["conflicts"], body["unmatched"]), (2, 1, 1), body)
        self.assertEqual(LabResult.objects.filter(tube=None).count(), 2)

        tube = self.get(self.staff, "/tubes/a0002")
        self.assertEqual(tube.status_code, 200, tube.content)
        data = tube.json()
        self.assertEqual((data["result"], data["needs_review"], data["filled"]), ("positive", True, 5))
        self.assertEqual([r["conflicting"] for r in data["lab_results"]], [False, True])
        self.assertNotIn(self.people[0].name, tube.content.decode())
        self.assertTrue(Tube.objects.get(barcode="A0002").needs_review)

    def test_batch_errors(self):
        self.assertError(self.post(self.staff, "/lab-results/batch", []), 403, "forbidden")
        response = self.client.post(API + "/lab-results/batch", "{oops", content_type="application/json",
                                    **self.auth(self.lab))
        self.assertError(response, 400, "invalid")
        self.assertError(self.get(self.lab, "/tubes/NOPE"), 404, "not_found")
