"""Bad input and security bars of the foundation, through the pages."""

import io
import re

from django.test import Client
from django.urls import reverse
from python_calamine import CalamineWorkbook

from fangkong.core.models import Job
from tests.base import WorldTestCase


class FormSecurityTests(WorldTestCase):
    def test_impossible_birth_date_is_refused_in_chinese(self):
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.post(reverse("people:create"), {
            "name": "赵六", "doc_type": "resident_id", "document_number": "370923199913320013",
            "area": self.w.grid_a.code,
        })
        self.assertContains(response, "出生日期")

    def test_every_form_needs_the_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.hq)
        posts = [
            (reverse("people:create"), {"name": "王五", "area": self.w.grid_a.code}),
            (reverse("people:reveal", args=[self.w.person_a.pk]), {"reason": "核实身份"}),
            (reverse("people:export"), {"query": ""}),
            (reverse("people:merge"), {"keep": 1, "duplicate": 2, "reason": "重复"}),
            (reverse("areas:import"), {}),
            (reverse("logout"), {}),
        ]
        for url, data in posts:
            self.assertEqual(client.post(url, data).status_code, 403, url)

    def test_login_form_needs_the_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post(reverse("login"), {"username": "hq", "password": "x"})
        self.assertEqual(response.status_code, 403)

    def test_export_holds_only_the_exporters_area(self):
        self.client.force_login(self.w.township_a_officer)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("people:export"), {"query": ""})
        job = Job.objects.get(pk=re.search(r"[0-9a-f-]{36}", response["Location"]).group())
        download = self.client.get(reverse("core:job_file", args=[job.pk]))
        data = b"".join(download.streaming_content)
        rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
        names = [row[0] for row in rows[1:]]
        self.assertEqual(names, ["张三"])
        self.assertNotIn(self.w.person_a.document_number, str(rows))

    def test_someone_elses_export_file_is_404(self):
        self.client.force_login(self.w.township_a_officer)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("people:export"), {"query": ""})
        job_id = re.search(r"[0-9a-f-]{36}", response["Location"]).group()
        self.client.force_login(self.w.grid_b_worker)
        self.assertEqual(self.client.get(reverse("core:job_file", args=[job_id])).status_code, 404)
        self.assertEqual(self.client.get(reverse("core:job", args=[job_id])).status_code, 404)
