from django.core.files.uploadedfile import SimpleUploadedFile

from fangkong.core.models import Job
from fangkong.people.models import Person
from tests.factories import make_resident_id

from .base import API, ApiTestCase


class RegisterApiTests(ApiTestCase):
    def upload(self, user, content: str, **fields):
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post(f"{API}/imports/people", {
                "file": SimpleUploadedFile("r.csv", content.encode("gb18030")), **fields}, **self.auth(user))

    def test_dry_run_then_import_in_one_go(self):
        number = make_resident_id()
        csv = f"姓名,公民身份号码,联系电话\n周八,{number},13800008888\n吴九,3.70923E+17,\n"
        response = self.upload(self.w.grid_a_worker, csv)
        self.assertEqual(response.status_code, 202, response.content)
        job = self.get(self.w.grid_a_worker, f"/jobs/{response.json()['job']}").json()
        self.assertEqual(job["status"], "succeeded", job)
        self.assertEqual((job["result"]["accepted"], job["result"]["new"], job["result"]["rejected"]), (1, 1, 1))
        self.assertIn("/errors/", job["result"]["error_report_url"])
        self.assertFalse(Person.objects.filter(name="周八").exists())

        response = self.upload(self.w.grid_a_worker, csv, dry_run="false")
        job = Job.objects.get(pk=response.json()["job"])
        self.assertEqual(job.status, "succeeded", job.error)
        self.assertTrue(Person.objects.filter(name="周八", area=self.w.grid_a).exists())

    def test_area_out_of_scope_is_refused(self):
        response = self.upload(self.w.grid_a_worker, "姓名,公民身份号码\n周八,1\n", area=self.w.grid_b.code)
        self.assertError(response, 400, "invalid")

    def test_unreadable_file_is_a_chinese_400(self):
        response = self.upload(self.w.grid_a_worker, "姓名,公民身份号码\n")
        body = self.assertError(response, 400, "invalid")
        self.assertIn("只有表头", str(body))

    def test_export_masked_by_default_and_unmasked_needs_a_reason(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.post(self.w.township_a_officer, "/exports/people", {"q": "zs"})
        self.assertEqual(response.status_code, 202)
        job = self.get(self.w.township_a_officer, f"/jobs/{response.json()['job']}").json()
        self.assertEqual(job["result"]["rows"], 1)
        self.assertFalse(job["result"]["unmasked"])
        self.assertTrue(job["result"]["file_url"].endswith("/file/"))
        self.assertError(self.post(self.w.township_a_officer, "/exports/people", {"unmasked": True}), 400, "invalid")
        self.assertError(self.post(self.w.grid_a_worker, "/exports/people", {}), 403, "forbidden")
