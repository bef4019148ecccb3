from datetime import timedelta

from django.utils import timezone

from fangkong.core.choices import JobStatus
from fangkong.core.jobs import reap_stale_jobs, start_job
from fangkong.core.models import Job
from fangkong.tasks.models import Task
from tests.base import WorldTestCase


class JobLifecycleTests(WorldTestCase):
    def test_finished_job_lands_in_its_starters_inbox(self):
        with self.captureOnCommitCallbacks(execute=True):
            job = start_job(self.w.grid_a_worker, "people.export", "导出人员名单",
                            "fangkong.people.jobs.export_people_job", query="")
        job.refresh_from_db()
        self.assertEqual(job.status, JobStatus.SUCCEEDED)
        task = Task.objects.get(subject_id=str(job.pk))
        self.assertEqual(task.assignee, self.w.grid_a_worker)
        self.assertIn("已完成", task.title)

    def test_a_job_whose_worker_died_is_reaped_as_failed(self):
        job = Job.objects.create(kind="x", title="导入", created_by=self.w.hq, status=JobStatus.RUNNING,
                                 started_at=timezone.now() - timedelta(hours=1),
                                 heartbeat_at=timezone.now() - timedelta(hours=1))
        alive = Job.objects.create(kind="x", title="导入2", created_by=self.w.hq, status=JobStatus.RUNNING,
                                   started_at=timezone.now(), heartbeat_at=timezone.now())
        self.assertTrue(job.is_stale)
        self.assertEqual(reap_stale_jobs(), 1)
        job.refresh_from_db()
        alive.refresh_from_db()
        self.assertEqual(job.status, JobStatus.FAILED)
        self.assertIn("中断", job.error)
        self.assertEqual(alive.status, JobStatus.RUNNING)
        self.assertTrue(Task.objects.filter(subject_id=str(job.pk), title__contains="失败").exists())


class JobNoticeTests(WorldTestCase):
    def test_opening_the_result_closes_the_inbox_notice(self):
        with self.captureOnCommitCallbacks(execute=True):
            job = start_job(self.w.grid_a_worker, "people.export", "导出人员名单",
                            "fangkong.people.jobs.export_people_job", query="")
        task = Task.objects.get(subject_id=str(job.pk))
        self.client.force_login(self.w.hq)  # someone else looking does not close it
        self.client.get(f"/jobs/{job.pk}/")
        task.refresh_from_db()
        self.assertEqual(task.status, "open")
        self.client.force_login(self.w.grid_a_worker)
        self.client.get(f"/jobs/{job.pk}/")
        task.refresh_from_db()
        self.assertEqual(task.status, "done")
