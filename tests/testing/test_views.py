"""The testing pages, driven by the test client as a sampling operator and a lab would."""

import json
import uuid
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.testing import services
from fangkong.testing.choices import FollowupStatus, TubeStatus
from fangkong.testing.models import (
    LabResult,
    PoolFollowup,
    Sample,
    SamplingPoint,
    SamplingSession,
    Tube,
)
from tests.base import WorldTestCase
from tests.factories import make_person, make_resident_id, make_user


class SamplingPages(WorldTestCase):
    """A point in grid A; a sampling operator of township A; a county lab; twelve residents of grid A."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.site = make_user("site_a", Role.SITE_STAFF, w.township_a)
        cls.lab = make_user("lab", Role.LAB_OPERATOR, w.county)
        cls.point = SamplingPoint.objects.create(name="甲村文化广场采样点", area=w.grid_a, address="甲村村委会西侧")
        cls.ids = [make_resident_id() for _ in range(12)]
        cls.people = [make_person(w.hq, w.grid_a, f"居民{i:02d}", document_number=number)
                      for i, number in enumerate(cls.ids)]

    def setUp(self):
        self.client.force_login(self.site)

    # helpers
    def open_session(self, pool_size=10):
        response = self.client.post(reverse("testing:session_new"), {"point": self.point.pk, "pool_size": pool_size})
        session = SamplingSession.objects.latest("id")
        self.assertRedirects(response, reverse("testing:session", args=[session.pk]))
        return session

    def scan(self, session, barcode, person, client_key=None, sampled_at=None):
        body = {"barcode": barcode, "person": person, "client_key": client_key or str(uuid.uuid4()),
                "sampled_at": (sampled_at or timezone.now()).isoformat()}
        return self.client.post(reverse("testing:session_scan", args=[session.pk]), json.dumps(body),
                                content_type="application/json")

    # the sampling page
    def test_fill_a_ten_in_one_tube_then_the_next(self):
        session = self.open_session(10)
        page = self.client.get(reverse("testing:session", args=[session.pk]))
        self.assertContains(page, 'data-testid="barcode-input"')
        self.assertContains(page, "testing/sampling.js")
        for i in range(10):
            response = self.scan(session, "t-0001", self.ids[i])
            self.assertEqual(response.status_code, 200, response.content)
            data = response.json()
            self.assertTrue(data["ok"])
            self.assertEqual(data["tube"]["barcode"], "T-0001")
            self.assertEqual(data["tube"]["filled"], i + 1)
            self.assertEqual(data["tube"]["capacity"], 10)
        self.assertEqual(data["tube"]["status"], TubeStatus.CLOSED)
        self.assertFalse(data["tube"]["open"])
        self.assertEqual(data["person"], "居**9")
        # The 11th person: the full tube refuses, a new barcode takes them.
        refused = self.scan(session, "T-0001", self.ids[10])
        self.assertEqual(refused.status_code, 400)
        self.assertFalse(refused.json()["ok"])
        self.assertIn("已满", refused.json()["error"])
        second = self.scan(session, "T-0002", self.ids[10]).json()
        self.assertTrue(second["ok"])
        self.assertEqual((second["tube"]["filled"], second["tube"]["status"]), (1, TubeStatus.OPEN))
        self.assertEqual(second["session"], {"tubes": 2, "samples": 11})
        self.assertEqual([(t["barcode"], t["filled"], t["capacity"], t["status"], t["status_label"])
                          for t in second["tubes"]],
                         [("T-0002", 1, 10, "open", "采集中"), ("T-0001", 10, 10, "closed", "已封管")])
        self.assertEqual(second["tubes"][1]["url"], reverse("testing:tube", args=[Tube.objects.get(barcode="T-0001").pk]))
        self.assertEqual(Tube.objects.filter(session=session).count(), 2)
        self.assertEqual(Sample.objects.filter(tube__session=session).count(), 11)
        page = self.client.get(reverse("testing:session", args=[session.pk]))
        self.assertContains(page, 'value="T-0002"')
        self.assertContains(page, "1/10")
        self.assertContains(page, "居**0")  # masked member of the open tube

    def test_scan_answer_carries_the_session_totals(self):
        session = self.open_session(5)
        first = self.scan(session, "N1", self.ids[0]).json()
        self.assertEqual(first["session"], {"tubes": 1, "samples": 1})
        self.assertEqual(len(first["tubes"]), 1)
        self.assertEqual(set(first["tubes"][0]), {"barcode", "filled", "capacity", "status", "status_label",
                                                  "result", "result_label", "url"})
        # A refused scan still tells the totals; they do not move.
        refused = self.scan(session, "N1", self.ids[0])
        self.assertEqual(refused.status_code, 400)
        self.assertEqual(refused.json()["session"], {"tubes": 1, "samples": 1})
        # A couple of queries for the totals, however many tubes.
        for i in range(1, 4):
            self.scan(session, f"N{i + 1}", self.ids[i])
        with self.assertNumQueries(2):
            from fangkong.testing.views import _session_totals
            totals = _session_totals(session, self.site)
        self.assertEqual((totals["tubes"], totals["samples"]), (4, 4))
        page = self.client.get(reverse("testing:session", args=[session.pk]))
        self.assertContains(page, "已采 4 管 4 人")
        self.assertContains(page, 'id="sampling-totals"')

    def test_resending_a_queued_scan_makes_no_second_sample(self):
        session = self.open_session(5)
        key = str(uuid.uuid4())
        first = self.scan(session, "Q1", self.ids[0], client_key=key).json()
        again = self.scan(session, "Q1", self.ids[0], client_key=key).json()
        self.assertTrue(first["ok"] and first["created"])
        self.assertTrue(again["ok"])
        self.assertFalse(again["created"])
        self.assertEqual(again["tube"]["filled"], 1)
        self.assertEqual(Sample.objects.filter(client_key=key).count(), 1)

    def test_errors_in_chinese(self):
        session = self.open_session(10)
        self.scan(session, "E1", self.ids[0])
        twice = self.scan(session, "E1", self.ids[0]).json()
        self.assertFalse(twice["ok"])
        self.assertIn("已在此采样管中", twice["error"])
        unknown = self.scan(session, "E1", make_resident_id()).json()
        self.assertIn("查无此人", unknown["error"])
        missing = self.scan(session, "", self.ids[1]).json()
        self.assertIn("管码", missing["error"])
        self.assertEqual(Sample.objects.filter(tube__session=session).count(), 1)

    def test_form_fallback_without_script(self):
        session = self.open_session(10)
        url = reverse("testing:session_scan", args=[session.pk])
        response = self.client.post(url, {"barcode": "F1", "person": self.ids[0], "client_key": "k-form-1"})
        self.assertRedirects(response, reverse("testing:session", args=[session.pk]) + "?barcode=F1",
                             fetch_redirect_response=False)
        page = self.client.get(response["Location"])
        self.assertContains(page, "已采样：居**0")
        self.assertContains(page, "1/10")
        response = self.client.post(url, {"barcode": "F1", "person": "123"}, follow=True)
        self.assertContains(response, "查无此人")

    def test_seal_and_close(self):
        session = self.open_session(10)
        self.scan(session, "S1", self.ids[0])
        response = self.client.post(reverse("testing:session_seal", args=[session.pk]), {"barcode": "s1"})
        self.assertRedirects(response, reverse("testing:session", args=[session.pk]))
        self.assertEqual(Tube.objects.get(barcode="S1").status, TubeStatus.CLOSED)
        self.assertFalse(self.scan(session, "S1", self.ids[1]).json()["ok"])
        self.assertEqual(self.client.get(reverse("testing:session_seal", args=[session.pk])).status_code, 405)
        response = self.client.post(reverse("testing:session_close", args=[session.pk]))
        self.assertRedirects(response, reverse("testing:index"))
        session.refresh_from_db()
        self.assertIsNotNone(session.closed_at)
        self.assertContains(self.client.get(reverse("testing:session", args=[session.pk])), 'data-testid="session-closed"')
        self.assertIn("已结束", self.scan(session, "S2", self.ids[2]).json()["error"])

    # the overview
    def test_index_lists_points_sessions_and_counts(self):
        session = self.open_session(10)
        self.scan(session, "I1", self.ids[0])
        page = self.client.get(reverse("testing:index"))
        self.assertContains(page, "甲村文化广场采样点")
        self.assertContains(page, reverse("testing:session", args=[session.pk]))
        self.assertContains(page, 'data-testid="stat-tubes-today">1<')
        self.assertNotContains(page, 'data-testid="point-form"')  # site staff may not add points
        self.client.force_login(self.w.township_a_officer)
        page = self.client.get(reverse("testing:index"))
        self.assertContains(page, 'data-testid="point-form"')
        response = self.client.post(reverse("testing:point_new"), {"name": "甲镇卫生院采样点",
                                                                   "area": self.w.township_a.pk, "address": ""})
        self.assertRedirects(response, reverse("testing:index"))
        self.assertTrue(SamplingPoint.objects.filter(name="甲镇卫生院采样点", area=self.w.township_a).exists())
        outside = self.client.post(reverse("testing:point_new"), {"name": "乙镇点", "area": self.w.township_b.pk})
        self.assertContains(outside, "不在您的管辖范围内")
        self.assertFalse(SamplingPoint.objects.filter(name="乙镇点").exists())

    def test_empty_index(self):
        self.client.force_login(self.w.grid_b_worker)
        page = self.client.get(reverse("testing:index"))
        self.assertContains(page, "辖区内还没有采样点")
        self.assertContains(page, "目前没有进行中的采样")
        self.assertNotContains(page, "甲村文化广场采样点")

    # results
    def upload(self, text, name="结果.csv"):
        self.client.force_login(self.lab)
        return self.client.post(reverse("testing:results_upload"),
                                {"file": SimpleUploadedFile(name, text.encode("utf-8")), "lab": "县疾控中心实验室"})

    def test_upload_results_and_see_the_unmatched(self):
        session = self.open_session(10)
        sampled = timezone.now() - timedelta(hours=1)  # before the results, which are timed to the minute
        for i in range(3):
            self.scan(session, "R1", self.ids[i], sampled_at=sampled)
        self.client.post(reverse("testing:session_seal", args=[session.pk]), {"barcode": "R1"})
        tested = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        response = self.upload(f"管码,检测结果,检测时间\nR1,阴性,{tested}\nNOPE9,阴性,{tested}\nR1,what,{tested}\n")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'data-testid="summary-accepted">2<')
        self.assertContains(response, 'data-testid="summary-unmatched">1<')
        self.assertContains(response, "第 4 行")
        self.assertEqual(Tube.objects.get(barcode="R1").result, "negative")
        unmatched = self.client.get(reverse("testing:unmatched"))
        self.assertContains(unmatched, "NOPE9")
        self.assertNotContains(unmatched, ">R1<")
        again = self.upload(f"管码,检测结果,检测时间\nR1,阴性,{tested}\n")
        self.assertContains(again, 'data-testid="summary-duplicate">1<')
        bad = self.upload("a,b\n1,2\n")
        self.assertContains(bad, "找不到表头")
        wrong_type = self.upload("x", name="结果.pdf")
        self.assertContains(wrong_type, "只支持")
        # Site staff neither upload nor read the raw results.
        self.client.force_login(self.site)
        self.assertEqual(self.client.get(reverse("testing:results_upload")).status_code, 403)
        self.assertEqual(self.client.get(reverse("testing:unmatched")).status_code, 403)

    def test_positive_pool_tube_page_shows_followups(self):
        session = self.open_session(5)
        sampled = timezone.now() - timedelta(hours=1)
        for i in range(3):
            self.scan(session, "P5", self.ids[i], sampled_at=sampled)
        self.client.post(reverse("testing:session_seal", args=[session.pk]), {"barcode": "P5"})
        tested = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        response = self.upload(f"管码,检测结果,检测时间\nP5,阳性,{tested}\n")
        self.assertContains(response, 'data-testid="summary-positives">1<')
        tube = Tube.objects.get(barcode="P5")
        self.assertEqual(PoolFollowup.objects.filter(tube=tube).count(), 3)
        self.client.force_login(self.w.hq)
        page = self.client.get(reverse("testing:tube", args=[tube.pk]))
        self.assertContains(page, 'data-testid="followups"')
        self.assertContains(page, str(FollowupStatus.PENDING.label))
        self.assertContains(page, "居**0")
        self.assertNotContains(page, "居民00")
        self.assertNotContains(page, 'data-testid="case-link"')  # a pool is not a case
        task = PoolFollowup.objects.filter(tube=tube).first().task
        self.assertContains(page, reverse("tasks:detail", args=[task.pk]))
        # The person page carries the history.
        person = self.client.get(reverse("people:detail", args=[self.people[0].pk]))
        self.assertContains(person, 'data-testid="person-tests"')
        self.assertContains(person, "核酸检测记录")
        self.assertContains(person, "P5")
        self.assertContains(person, "阳性")

    def test_single_positive_offers_a_case(self):
        session = self.open_session(1)
        self.scan(session, "ONE1", self.ids[5], sampled_at=timezone.now() - timedelta(hours=1))
        tube = Tube.objects.get(barcode="ONE1")
        self.assertEqual(tube.status, TubeStatus.CLOSED)
        self.upload(f"管码,检测结果,检测时间\nONE1,阳性,{timezone.localtime():%Y-%m-%d %H:%M}\n")
        self.client.force_login(self.w.hq)
        page = self.client.get(reverse("testing:tube", args=[tube.pk]))
        self.assertContains(page, f"{reverse('tracing:case_new')}?person={self.people[5].pk}")
        self.client.force_login(self.site)  # may read the tube, may not register cases
        page = self.client.get(reverse("testing:tube", args=[tube.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'data-testid="case-link"')

    # who may
    def test_out_of_scope_and_anonymous(self):
        session = services.open_session(self.site, self.point, 10)
        services.add_sample(self.site, session, barcode="X1", person=self.people[0], client_key="x1")
        tube = Tube.objects.get(barcode="X1")
        self.client.force_login(self.w.grid_b_worker)
        self.assertEqual(self.client.get(reverse("testing:session", args=[session.pk])).status_code, 404)
        self.assertEqual(self.scan(session, "X1", self.ids[1]).status_code, 404)
        self.assertIn(self.client.get(reverse("testing:tube", args=[tube.pk])).status_code, (403, 404))
        self.assertIn(self.client.post(reverse("testing:session_close", args=[session.pk])).status_code, (403, 404))
        self.assertEqual(Sample.objects.filter(tube=tube).count(), 1)
        site_b = make_user("site_b", Role.SITE_STAFF, self.w.township_b)
        self.client.force_login(site_b)
        self.assertEqual(self.client.get(reverse("testing:tube", args=[tube.pk])).status_code, 404)
        self.client.force_login(self.w.outsider)
        self.assertEqual(self.client.get(reverse("testing:index")).status_code, 403)
        self.client.logout()
        for url in (reverse("testing:index"), reverse("testing:session", args=[session.pk]),
                    reverse("testing:tube", args=[tube.pk]), reverse("testing:results_upload")):
            response = self.client.get(url)
            self.assertEqual(response.status_code, 302, url)
            self.assertTrue(response["Location"].startswith(reverse("login")), url)

    def test_grid_worker_samples_in_own_session(self):
        self.client.force_login(self.w.grid_a_worker)
        session = self.open_session(10)
        self.assertTrue(self.scan(session, "G1", self.ids[0]).json()["ok"])
        page = self.client.get(reverse("testing:index"))
        self.assertContains(page, reverse("testing:session", args=[session.pk]))
        self.assertNotIn("testing.view_labresult", self.w.grid_a_worker.get_all_permissions())
        self.assertEqual(LabResult.objects.count(), 0)
