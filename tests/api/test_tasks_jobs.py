from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.core.choices import JobStatus
from fangkong.core.models import Job
from fangkong.tasks.services import create_task

from .base import ApiTestCase


class TasksTest(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.task = create_task(
            kind="visit",
            title="入户走访张三",
            area=cls.w.grid_a,
            role=Role.GRID_WORKER,
            deadline=timezone.now() + timedelta(days=1),
            subject=cls.w.person_a,
            created_by=cls.w.hq,
        )

    def test_inbox_lists_my_tasks_only(self):
        body = self.get(self.w.grid_a_worker, "/tasks").json()
        self.assertEqual(body["count"], 1)
        item = body["items"][0]
        self.assertEqual(item["title"], "入户走访张三")
        self.assertEqual(item["status"], "open")
        self.assertEqual(item["status_label"], "待办")
        self.assertEqual(item["subject_type"], "people.person")
        self.assertEqual(item["subject_id"], str(self.w.person_a.pk))
        self.assertEqual(self.get(self.w.grid_b_worker, "/tasks").json()["count"], 0)

    def test_status_filter(self):
        self.assertEqual(self.get(self.w.grid_a_worker, "/tasks", status="done").json()["count"], 0)
        self.assertEqual(self.get(self.w.grid_a_worker, "/tasks", status="open").json()["count"], 1)
        self.assertError(
            self.get(self.w.grid_a_worker, "/tasks", status="nonsense"), 400, "invalid"
        )

    def test_start_and_complete(self):
        started = self.post(self.w.grid_a_worker, f"/tasks/{self.task.pk}/start")
        self.assertEqual(started.status_code, 200, started.content)
        self.assertEqual(started.json()["status"], "in_progress")
        self.assertEqual(started.json()["assignee_id"], self.w.grid_a_worker.pk)
        done = self.post(
            self.w.grid_a_worker, f"/tasks/{self.task.pk}/complete", {"note": "已走访，无异常"}
        )
        self.assertEqual(done.status_code, 200, done.content)
        self.assertEqual(done.json()["status"], "done")
        self.assertEqual(done.json()["result_note"], "已走访，无异常")

    def test_complete_without_note_is_400_in_chinese(self):
        response = self.post(self.w.grid_a_worker, f"/tasks/{self.task.pk}/complete", {})
        self.assertError(response, 400, "invalid", "办理结果")

    def test_other_grid_task_is_404(self):
        response = self.post(self.w.grid_b_worker, f"/tasks/{self.task.pk}/start")
        self.assertError(response, 404, "not_found", "未找到该任务或无权查看")

    def test_someone_elses_task_in_scope_is_403(self):
        response = self.post(
            self.w.village_a_officer, f"/tasks/{self.task.pk}/complete", {"note": "代办"}
        )
        self.assertError(response, 403, "forbidden")


class JobsTest(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.own_job = Job.objects.create(
            kind="export",
            title="导出人员",
            created_by=cls.w.grid_a_worker,
            status=JobStatus.RUNNING,
            processed=25,
            total=100,
        )
        cls.area_job = Job.objects.create(
            kind="import",
            title="导入人员",
            created_by=cls.w.hq,
            area_code=cls.w.grid_a.code,
            status=JobStatus.SUCCEEDED,
            result={"file": "/files/x.xlsx"},
        )

    def test_creator_sees_their_job_with_progress(self):
        body = self.get(self.w.grid_a_worker, f"/jobs/{self.own_job.pk}").json()
        self.assertEqual(body["id"], str(self.own_job.pk))
        self.assertEqual(body["status"], "running")
        self.assertEqual(body["status_label"], "进行中")
        self.assertEqual(body["progress"], 25.0)
        self.assertEqual((body["processed"], body["total"]), (25, 100))

    def test_job_in_my_area_is_visible(self):
        body = self.get(self.w.grid_a_worker, f"/jobs/{self.area_job.pk}").json()
        self.assertEqual(body["progress"], 100.0)
        self.assertEqual(body["result"], {"file": "/files/x.xlsx"})

    def test_other_peoples_jobs_are_404(self):
        self.assertError(
            self.get(self.w.grid_b_worker, f"/jobs/{self.own_job.pk}"), 404, "not_found"
        )
        self.assertError(
            self.get(self.w.grid_b_worker, f"/jobs/{self.area_job.pk}"), 404, "not_found"
        )

    def test_malformed_job_id_is_404(self):
        self.assertError(self.get(self.w.hq, "/jobs/not-a-uuid"), 404, "not_found")
