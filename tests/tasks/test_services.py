from datetime import timedelta
from io import StringIO

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.tasks import services
from fangkong.tasks.choices import TaskKind, TaskStatus
from fangkong.tasks.models import Task
from tests.base import WorldTestCase
from tests.factories import make_user


def make_task(area, role=Role.GRID_WORKER, hours=24, created_by=None, **kwargs):
    return services.create_task(kind=TaskKind.VISIT, title="入户核实返乡人员", area=area, role=role,
                                deadline=timezone.now() + timedelta(hours=hours), created_by=created_by, **kwargs)


class CreateTaskTest(WorldTestCase):
    def test_create_task_links_the_subject_and_audits(self):
        task = make_task(self.w.grid_a, subject=self.w.person_a, created_by=self.w.village_a_officer)
        self.assertEqual(task.subject, self.w.person_a)
        self.assertEqual(task.status, TaskStatus.OPEN)
        event = AuditEvent.objects.get(object_type="tasks.task", object_id=str(task.pk))
        self.assertEqual((event.user, event.area_code), (self.w.village_a_officer, self.w.grid_a.code))

    def test_task_needs_a_deadline(self):
        with self.assertRaises(ValidationError):
            services.create_task(kind=TaskKind.VISIT, title="x", area=self.w.grid_a, role=Role.GRID_WORKER,
                                 deadline=None)


class InboxTest(WorldTestCase):
    def test_grid_worker_sees_own_grid_tasks_for_the_role(self):
        task = make_task(self.w.grid_a)
        make_task(self.w.grid_a, role=Role.VILLAGE_OFFICER)
        self.assertEqual(list(services.inbox(self.w.grid_a_worker)), [task])

    def test_grid_worker_cannot_see_other_grids_tasks(self):
        make_task(self.w.grid_a)
        self.assertEqual(list(services.inbox(self.w.grid_b_worker)), [])
        self.assertFalse(Task.objects.restrict(self.w.grid_b_worker).exists())

    def test_task_named_to_a_user_is_theirs_only(self):
        colleague = make_user("grid_a_2", Role.GRID_WORKER, self.w.grid_a)
        task = make_task(self.w.grid_a, assignee=colleague)
        self.assertEqual(list(services.inbox(colleague)), [task])
        self.assertEqual(list(services.inbox(self.w.grid_a_worker)), [])

    def test_inbox_is_ordered_by_deadline_and_hides_finished_work(self):
        later = make_task(self.w.grid_a, hours=48)
        sooner = make_task(self.w.grid_a, hours=2)
        done = make_task(self.w.grid_a, hours=1)
        services.complete_task(self.w.grid_a_worker, done, "已走访")
        self.assertEqual(list(services.inbox(self.w.grid_a_worker)), [sooner, later])
        self.assertEqual(list(services.inbox(self.w.grid_a_worker, [TaskStatus.DONE])), [done])


class WorkTaskTest(WorldTestCase):
    def test_start_then_complete_with_a_note(self):
        task = make_task(self.w.grid_a)
        services.start_task(self.w.grid_a_worker, task)
        task.refresh_from_db()
        self.assertEqual((task.status, task.assignee), (TaskStatus.IN_PROGRESS, self.w.grid_a_worker))
        services.complete_task(self.w.grid_a_worker, task, "已入户核实，居家健康监测")
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.DONE)
        self.assertEqual(task.completed_by, self.w.grid_a_worker)
        self.assertIsNotNone(task.completed_at)
        statuses = [e.changes["status"] for e in AuditEvent.objects.filter(object_type="tasks.task").order_by("id")]
        self.assertEqual(statuses, [["open", "in_progress"], ["in_progress", "done"]])

    def test_complete_needs_a_note(self):
        task = make_task(self.w.grid_a)
        with self.assertRaises(ValidationError):
            services.complete_task(self.w.grid_a_worker, task, "  ")
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.OPEN)

    def test_finished_task_cannot_be_completed_or_started_again(self):
        task = make_task(self.w.grid_a)
        services.complete_task(self.w.grid_a_worker, task, "完成")
        with self.assertRaises(ValidationError):
            services.complete_task(self.w.grid_a_worker, task, "再次完成")
        with self.assertRaises(ValidationError):
            services.start_task(self.w.grid_a_worker, task)

    def test_grid_worker_cannot_work_other_grids_task(self):
        task = make_task(self.w.grid_a)
        with self.assertRaises(PermissionDenied):
            services.start_task(self.w.grid_b_worker, task)
        with self.assertRaises(PermissionDenied):
            services.complete_task(self.w.grid_b_worker, task, "完成")

    def test_headquarters_can_work_any_task(self):
        task = make_task(self.w.grid_b)
        services.complete_task(self.w.hq, task, "指挥部代办")
        self.assertEqual(Task.objects.get(pk=task.pk).status, TaskStatus.DONE)

    def test_starting_a_late_task_keeps_it_overdue(self):
        task = make_task(self.w.grid_a, hours=-1)
        services.start_task(self.w.grid_a_worker, task)
        self.assertEqual(Task.objects.get(pk=task.pk).status, TaskStatus.OVERDUE)


class CancelTaskTest(WorldTestCase):
    def test_creator_can_cancel(self):
        task = make_task(self.w.grid_a, created_by=self.w.village_a_officer)
        services.cancel_task(self.w.village_a_officer, task, "重复派发")
        task.refresh_from_db()
        self.assertEqual((task.status, task.result_note), (TaskStatus.CANCELLED, "重复派发"))
        self.assertEqual(list(services.inbox(self.w.grid_a_worker)), [])

    def test_headquarters_can_cancel(self):
        task = make_task(self.w.grid_a, created_by=self.w.village_a_officer)
        services.cancel_task(self.w.hq, task, "政策调整")
        self.assertEqual(Task.objects.get(pk=task.pk).status, TaskStatus.CANCELLED)

    def test_assigned_worker_cannot_cancel(self):
        task = make_task(self.w.grid_a, created_by=self.w.village_a_officer)
        with self.assertRaises(PermissionDenied):
            services.cancel_task(self.w.grid_a_worker, task, "不想做")

    def test_cancelled_task_cannot_be_cancelled_again(self):
        task = make_task(self.w.grid_a, created_by=self.w.hq)
        services.cancel_task(self.w.hq, task, "取消")
        with self.assertRaises(ValidationError):
            services.cancel_task(self.w.hq, task, "再取消")


@override_settings(FANGKONG_ESCALATION_REPEAT_HOURS=24)
class EscalationTest(WorldTestCase):
    def setUp(self):
        self.now = timezone.now()

    def late_task(self, area=None, role=Role.GRID_WORKER):
        return make_task(area or self.w.grid_a, role=role, hours=-1)

    def test_task_not_yet_due_stays(self):
        task = make_task(self.w.grid_a, hours=1)
        self.assertEqual(services.escalate_overdue_tasks(self.now), 0)
        self.assertEqual(Task.objects.get(pk=task.pk).status, TaskStatus.OPEN)

    def test_overdue_grid_task_moves_to_the_village(self):
        task = self.late_task()
        self.assertEqual(services.escalate_overdue_tasks(self.now), 1)
        task.refresh_from_db()
        self.assertEqual((task.status, task.escalated_to, task.escalation_level),
                         (TaskStatus.OVERDUE, self.w.village_a, 1))
        self.assertIn(task, services.inbox(self.w.village_a_officer))
        # It stays in the grid worker's inbox too, now overdue.
        self.assertIn(task, services.inbox(self.w.grid_a_worker))
        self.assertNotIn(task, services.inbox(self.w.township_a_officer))
        event = AuditEvent.objects.filter(object_type="tasks.task", object_id=str(task.pk)).latest("id")
        self.assertEqual(event.changes["escalated_to"], [self.w.grid_a.code, self.w.village_a.code])

    def test_escalated_task_is_not_moved_again_before_the_repeat_period(self):
        task = self.late_task()
        services.escalate_overdue_tasks(self.now)
        self.assertEqual(services.escalate_overdue_tasks(self.now + timedelta(hours=23)), 0)
        task.refresh_from_db()
        self.assertEqual(task.escalated_to, self.w.village_a)

    def test_escalated_task_climbs_to_the_township_after_the_repeat_period(self):
        task = self.late_task()
        services.escalate_overdue_tasks(self.now)
        self.assertEqual(services.escalate_overdue_tasks(self.now + timedelta(hours=25)), 1)
        task.refresh_from_db()
        self.assertEqual((task.escalated_to, task.escalation_level), (self.w.township_a, 2))
        self.assertIn(task, services.inbox(self.w.township_a_officer))
        services.escalate_overdue_tasks(self.now + timedelta(hours=50))
        task.refresh_from_db()
        self.assertEqual((task.escalated_to, task.escalation_level), (self.w.county, 3))
        self.assertIn(task, services.inbox(self.w.hq))

    def test_county_task_just_turns_overdue(self):
        task = self.late_task(self.w.county, Role.HQ_STAFF)
        self.assertEqual(services.escalate_overdue_tasks(self.now), 0)
        task.refresh_from_db()
        self.assertEqual((task.status, task.escalated_to, task.escalation_level), (TaskStatus.OVERDUE, None, 0))

    def test_finished_task_is_not_escalated(self):
        task = self.late_task()
        services.complete_task(self.w.grid_a_worker, task, "完成")
        self.assertEqual(services.escalate_overdue_tasks(self.now), 0)

    def test_village_officer_can_complete_an_escalated_task(self):
        task = self.late_task()
        services.escalate_overdue_tasks(self.now)
        services.complete_task(self.w.village_a_officer, Task.objects.get(pk=task.pk), "村里已督办")
        self.assertEqual(Task.objects.get(pk=task.pk).status, TaskStatus.DONE)

    def test_escalate_tasks_command(self):
        self.late_task()
        out = StringIO()
        call_command("escalate_tasks", stdout=out)
        self.assertIn("escalated 1", out.getvalue())
