"""五包一 at home: care teams, health checks, fevers, missed checks, visits, random calls, the self-report link."""

from datetime import datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder, PolicyPack
from fangkong.policy.services import impose_measure
from fangkong.quarantine import care
from fangkong.quarantine.choices import CheckSource, QuarantineTask, VisitKind, VisitOutcome
from fangkong.quarantine.models import (
    CareMember,
    HealthCheck,
    HomeVisit,
    MissedCheck,
    QuarantineSite,
    Room,
    Stay,
)
from fangkong.tasks.choices import TaskStatus
from fangkong.tasks.models import Task
from fangkong.tasks.services import inbox
from fangkong.warning.choices import Severity, SignalKind
from fangkong.warning.models import Signal
from tests.base import WorldTestCase
from tests.factories import make_person, make_user


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


class CareWorld(WorldTestCase):
    """Grid A's person at home (7 days of home isolation, started two days ago) and the five kinds of helper."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.doctor = make_user("doctor_a", Role.COMMUNITY_DOCTOR, w.village_a, display_name="刘医生")
        cls.police = make_user("police_a", Role.POLICE_OFFICER, w.township_a, display_name="赵警官")
        cls.volunteer = make_user("vol_a", Role.VOLUNTEER, w.grid_a, display_name="钱志愿")
        cls.other_volunteer = make_user("vol_a2", Role.VOLUNTEER, w.grid_a, display_name="孙志愿")
        cls.supervisor = make_user("sup_a", Role.SUPERVISOR, w.township_a)
        cls.pack = PolicyPack.objects.get(code="ed9-7-3")
        cls.today = timezone.localdate()
        cls.start = cls.today - timedelta(days=2)

    def home_order(self, person=None, start=None):
        order = impose_measure(person or self.w.person_a, "medium_risk_arrival", "中风险地区来返", start or self.start,
                               user=self.w.hq, pack=self.pack)
        # As if imposed on its first day, before any check was due.
        ControlOrder.objects.filter(pk=order.pk).update(created_at=at(order.start_date, 0))
        order.refresh_from_db()
        return order


class CareTeamTests(CareWorld):
    def test_team_formed_with_five_roles_and_tasks_in_the_right_inboxes(self):
        order = self.home_order()
        self.assertEqual(order.current_stage, Stage.HOME_ISOLATION)
        members = care.form_team(order, self.w.hq)
        self.assertEqual([m.role for m in members], ["cadre", "grid", "doctor", "police", "volunteer"])
        expected = [self.w.village_a_officer, self.w.grid_a_worker, self.doctor, self.police, self.volunteer]
        self.assertEqual([m.user for m in members], expected)
        for member, user in zip(members, expected, strict=True):
            self.assertEqual(member.task.kind, QuarantineTask.CARE)
            self.assertEqual(member.task.title, "五包一：张三（居家隔离）")
            self.assertEqual(member.task.area, self.w.grid_a)
            self.assertEqual(member.task.role, user.role)
            self.assertEqual(timezone.localdate(member.task.deadline), order.planned_end)
            self.assertIn(member.task, list(inbox(user)), user)
        self.assertNotIn(members[4].task, list(inbox(self.other_volunteer)))
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.controlorder", object_id=str(order.pk),
                                                  changes__has_key="care_team").exists())
        # Idempotent.
        again = care.form_team(order, self.w.hq)
        self.assertEqual([m.pk for m in again], [m.pk for m in members])
        self.assertEqual(Task.objects.filter(kind=QuarantineTask.CARE).count(), 5)

    def test_a_place_without_an_account_is_left_for_a_cadre_to_name(self):
        self.police.is_active = False
        self.police.save()
        order = self.home_order()
        police = next(m for m in care.form_team(order) if m.role == "police")
        self.assertIsNone(police.user)
        self.assertEqual(police.name, "")
        self.assertIsNone(police.task)
        with self.assertRaises(PermissionDenied):
            care.set_member(self.w.grid_a_worker, order, "police", "周警官", "13800001111")
        with self.assertRaises(ValidationError) as refused:
            care.set_member(self.w.village_a_officer, order, "police", "", "12345")
        self.assertIn("name", refused.exception.message_dict)
        self.assertIn("phone", refused.exception.message_dict)
        member = care.set_member(self.w.village_a_officer, order, "police", "周警官", "13800001111")
        self.assertEqual((member.name, member.phone, member.user), ("周警官", "13800001111", None))

    def test_replacing_a_member_withdraws_the_old_task_and_gives_the_new_one(self):
        order = self.home_order()
        old = next(m for m in care.form_team(order) if m.role == "volunteer")
        member = care.set_member(self.w.village_a_officer, order, "volunteer", "", "", account=self.other_volunteer)
        old.task.refresh_from_db()
        self.assertEqual(old.task.status, TaskStatus.CANCELLED)
        self.assertEqual(member.user, self.other_volunteer)
        self.assertEqual(member.name, "孙志愿")
        self.assertIn(member.task, list(inbox(self.other_volunteer)))
        self.assertEqual(CareMember.objects.filter(order=order).count(), 5)


class HealthCheckTests(CareWorld):
    def setUp(self):
        self.order = self.home_order()
        care.form_team(self.order, self.w.hq)

    def test_a_normal_check_is_recorded_without_a_signal(self):
        check = care.record_check(self.volunteer, self.order, "36.5", [], note="早上")
        self.assertEqual((check.temperature, check.fever, check.source), (check.temperature, False, CheckSource.CARE))
        self.assertEqual(str(check.temperature), "36.5")
        self.assertFalse(Signal.objects.exists())

    def test_45_and_30_degrees_are_refused_as_implausible(self):
        for value in ("45", "30", "34.0-", "abc"):
            with self.assertRaises(ValidationError) as refused:
                care.record_check(self.doctor, self.order, value, [])
            self.assertIn("temperature", refused.exception.message_dict)
        with self.assertRaisesMessage(ValidationError, "体温数值不合理"):
            care.record_check(self.doctor, self.order, 45, [])
        with self.assertRaisesMessage(ValidationError, "体温数值不合理"):
            care.record_check(self.doctor, self.order, 30.0, [])
        self.assertFalse(HealthCheck.objects.exists())

    def test_unknown_symptom_is_refused(self):
        with self.assertRaises(ValidationError) as refused:
            care.record_check(self.doctor, self.order, "36.6", ["headache"])
        self.assertIn("symptoms", refused.exception.message_dict)

    def test_a_check_for_someone_not_under_an_order_is_refused(self):
        with self.assertRaisesMessage(ValidationError, "该人员不在管控中"):
            care.record_check(self.w.grid_b_worker, self.w.person_b, "36.5", [])
        care.record_check(self.w.grid_a_worker, self.w.person_a, "36.5", [])  # the person's active order
        self.order.status = OrderStatus.RELEASED
        self.order.save()
        with self.assertRaisesMessage(ValidationError, "该人员不在管控中"):
            care.record_check(self.w.grid_a_worker, self.order, "36.5", [])
        with self.assertRaisesMessage(ValidationError, "该人员不在管控中"):
            care.record_check(self.w.grid_a_worker, self.w.person_a, "36.5", [])

    def test_someone_outside_the_team_and_the_area_may_not_record(self):
        for user in (self.other_volunteer, self.w.grid_b_worker, self.w.auditor):
            with self.assertRaises(PermissionDenied):
                care.record_check(user, self.order, "36.5", [])

    def test_fever_raises_a_critical_signal_and_a_one_hour_task_for_the_doctor(self):
        check = care.record_check(self.volunteer, self.order, "38.2", ["cough"])
        self.assertTrue(check.fever)
        signal = Signal.objects.get(kind=SignalKind.FEVER_UNDER_ORDER)
        self.assertEqual((signal.severity, signal.person, signal.area), (Severity.CRITICAL, self.w.person_a,
                                                                          self.w.grid_a))
        self.assertNotIn("张三", signal.title)
        task = Task.objects.get(kind=QuarantineTask.FEVER)
        self.assertEqual(task.assignee, self.doctor)
        self.assertLessEqual(task.deadline, timezone.now() + timedelta(hours=1))
        self.assertIn(task, list(inbox(self.doctor)))

    def test_fever_symptom_alone_is_a_fever_and_without_a_doctor_the_village_officer_gets_it(self):
        CareMember.objects.filter(order=self.order, role="doctor").update(user=None)
        check = care.record_check(self.volunteer, self.order, "36.8", ["fever"])
        self.assertTrue(check.fever)
        task = Task.objects.get(kind=QuarantineTask.FEVER)
        self.assertEqual((task.area, task.role, task.assignee), (self.w.village_a, Role.VILLAGE_OFFICER, None))
        self.assertIn(task, list(inbox(self.w.village_a_officer)))


class MissedCheckTests(CareWorld):
    def test_missed_check_raises_once_with_signal_and_task(self):
        order = self.home_order(start=self.today - timedelta(days=1))
        care.form_team(order, self.w.hq)
        yesterday = self.today - timedelta(days=1)
        care.record_check(self.volunteer, order, "36.5", [], taken_at=at(yesterday, 8))
        now = at(self.today, 11)
        # Missed: yesterday before 18:00 and today before 10:00.
        self.assertEqual(care.detect_missed_checks(now), 2)
        misses = MissedCheck.objects.filter(order=order).order_by("day", "slot")
        self.assertEqual([(m.day, m.slot) for m in misses], [(yesterday, 2), (self.today, 1)])
        self.assertEqual(Signal.objects.filter(kind=SignalKind.CHECK_MISSED).count(), 2)
        task = misses[0].task
        self.assertEqual((task.kind, task.assignee), (QuarantineTask.CHECK_MISSED, self.w.village_a_officer))
        self.assertEqual(task.deadline, now + timedelta(hours=2))
        self.assertIn(task, list(inbox(self.w.village_a_officer)))
        # Exactly once.
        self.assertEqual(care.detect_missed_checks(now), 0)
        self.assertEqual(care.detect_missed_checks(now + timedelta(minutes=30)), 0)
        self.assertEqual(Signal.objects.filter(kind=SignalKind.CHECK_MISSED).count(), 2)
        self.assertEqual(Task.objects.filter(kind=QuarantineTask.CHECK_MISSED).count(), 2)

    def test_checks_on_time_raise_nothing_and_without_a_team_the_village_officer_is_asked(self):
        day = self.today - timedelta(days=1)  # a whole day in the past, whatever the time now
        order = self.home_order(start=day)
        care.record_check(self.w.grid_a_worker, order, "36.5", [], taken_at=at(day, 0, 30))
        self.assertEqual(care.detect_missed_checks(at(day, 10, 30)), 0)
        self.assertEqual(care.detect_missed_checks(at(day, 18, 30)), 1)
        task = Task.objects.get(kind=QuarantineTask.CHECK_MISSED)
        self.assertEqual((task.area, task.role, task.assignee), (self.w.village_a, Role.VILLAGE_OFFICER, None))

    def test_released_orders_and_people_not_yet_at_a_site_are_not_chased(self):
        released = self.home_order()
        released.status = OrderStatus.RELEASED
        released.save()
        waiting = impose_measure(self.w.person_b, "close_contact", "密接", self.start, user=self.w.hq, pack=self.pack)
        self.assertEqual(waiting.current_stage, Stage.CENTRALIZED)
        self.assertEqual(care.detect_missed_checks(at(self.today, 19)), 0)

    def test_a_missed_check_at_a_site_goes_to_the_site_staff(self):
        order = impose_measure(self.w.person_b, "close_contact", "密接", self.today, user=self.w.hq, pack=self.pack)
        site = QuarantineSite.objects.create(name="乙镇宾馆", area=self.w.township_b)
        room = Room.objects.create(site=site, floor=3, number="301")
        Stay.objects.create(order=order, person=self.w.person_b, site=site, room=room, area=site.area,
                            category=order.category, checked_in_at=at(self.today, 7))
        self.assertEqual(care.detect_missed_checks(at(self.today, 19)), 2)
        task = Task.objects.filter(kind=QuarantineTask.CHECK_MISSED).first()
        self.assertEqual((task.area, task.role), (self.w.township_b, Role.SITE_STAFF))

    def test_many_orders_in_a_few_queries(self):
        people = [make_person(self.w.hq, self.w.grid_a, f"居民{i:02d}") for i in range(30)]
        for person in people:
            self.home_order(person, start=self.today)
        ContentType.objects.get_for_model(ControlOrder)  # cached per process: warm it so the count is stable
        # The orders, packs, stays, one per check window (2 today), the misses raised, the teams, one per tree
        # level (4), then the inserts (tasks, signals, misses, audit) in a savepoint (2): whatever the number of orders.
        # Then the alert rules once for the township (10: the rules, the open alert, the new alert with its
        # signals, the audit row, in one savepoint). SQLite splits one bulk insert in two (its variable limit).
        from fangkong.warning.alerts import clear_rule_cache

        clear_rule_cache()  # the rules are cached per process: read them inside the count
        with self.assertNumQueries(28 if connection.vendor == "sqlite" else 27):
            self.assertEqual(care.detect_missed_checks(at(self.today, 19)), 60)


class VisitAndCallTests(CareWorld):
    def setUp(self):
        self.order = self.home_order()
        care.form_team(self.order, self.w.hq)

    def test_a_violation_raises_a_signal_and_a_task_for_the_village_officer(self):
        with self.assertRaises(ValidationError):
            care.record_visit(self.police, self.order, VisitKind.VIOLATION, VisitOutcome.NOT_HOME, "")
        visit = care.record_visit(self.police, self.order, VisitKind.VIOLATION, VisitOutcome.NOT_HOME,
                                  "下午外出购物，已劝返")
        self.assertEqual(visit.area, self.w.grid_a)
        signal = Signal.objects.get(kind=SignalKind.HOME_VIOLATION)
        self.assertEqual(signal.subject_id, str(visit.pk))
        task = Task.objects.get(kind=QuarantineTask.VIOLATION)
        self.assertEqual((task.area, task.role), (self.w.village_a, Role.VILLAGE_OFFICER))
        self.order.refresh_from_db()
        self.assertEqual(self.order.history[-1]["kind"], "violation")

    def test_a_door_check_raises_nothing(self):
        care.record_visit(self.volunteer, self.order, VisitKind.DOOR_CHECK, VisitOutcome.OK, "")
        self.assertFalse(Signal.objects.exists())
        self.assertEqual(HomeVisit.objects.count(), 1)
        with self.assertRaises(PermissionDenied):
            care.record_visit(self.other_volunteer, self.order, VisitKind.DOOR_CHECK, VisitOutcome.OK, "")

    def test_random_call_sample_stays_within_scope(self):
        other = self.home_order(self.w.person_b)
        mine = [self.order] + [self.home_order(make_person(self.w.hq, self.w.grid_a2, f"邻居{i}")) for i in range(4)]
        sample = care.sample_for_calls(self.supervisor, size=3, seed=7)
        self.assertEqual(len(sample), 3)
        self.assertTrue({o.pk for o in sample} <= {o.pk for o in mine})
        self.assertEqual([o.pk for o in care.sample_for_calls(self.supervisor, size=3, seed=7)],
                         [o.pk for o in sample])
        everyone = care.sample_for_calls(self.supervisor, size=50)
        self.assertEqual({o.pk for o in everyone}, {o.pk for o in mine})
        self.assertNotIn(other.pk, {o.pk for o in care.sample_for_calls(self.supervisor, size=50)})
        with self.assertRaises(PermissionDenied):
            care.sample_for_calls(self.w.auditor)


class SelfReportTests(CareWorld):
    def setUp(self):
        self.order = self.home_order()
        care.form_team(self.order, self.w.hq)
        self.token = care.self_check_token(self.order)
        self.url = reverse("quarantine_self_check", args=[self.token])

    def test_the_link_works_and_stops_after_release(self):
        self.assertEqual(care.order_from_token(self.token), self.order)
        page = self.client.get(self.url)
        self.assertContains(page, "张*")
        self.assertNotContains(page, "张三")
        self.assertContains(page, 'data-testid="self-check-form"')
        response = self.client.post(self.url, {"temperature": "36.4", "symptoms": ["cough"]})
        self.assertEqual(response.status_code, 302)
        check = HealthCheck.objects.get()
        self.assertEqual((check.source, check.symptoms, check.recorded_by), (CheckSource.SELF, ["cough"], None))
        self.assertContains(self.client.get(self.url), "36.4")
        self.order.status = OrderStatus.RELEASED
        self.order.save()
        self.assertIsNone(care.order_from_token(self.token))
        self.assertEqual(self.client.get(self.url).status_code, 404)
        self.assertEqual(self.client.post(self.url, {"temperature": "36.4"}).status_code, 404)

    def test_forged_tokens_and_implausible_temperatures_are_refused(self):
        self.assertIsNone(care.order_from_token(self.token + "x"))
        self.assertEqual(self.client.get(reverse("quarantine_self_check", args=["abc"])).status_code, 404)
        response = self.client.post(self.url, {"temperature": "45"})
        self.assertContains(response, "体温数值不合理", status_code=400)
        self.assertFalse(HealthCheck.objects.exists())

    def test_the_form_is_csrf_protected(self):
        from django.test import Client

        strict = Client(enforce_csrf_checks=True)
        self.assertEqual(strict.post(self.url, {"temperature": "36.4"}).status_code, 403)
        self.assertFalse(HealthCheck.objects.exists())

    def test_too_many_posts_are_throttled(self):
        from django.core.cache import cache
        from django.test import override_settings

        cache.clear()
        with override_settings(FANGKONG_SELF_CHECK_RATE_PER_MINUTE=2):
            codes = [self.client.post(self.url, {"temperature": "36.4"}).status_code for _ in range(3)]
        cache.clear()
        self.assertEqual(codes, [302, 302, 429])


class CarePageTests(CareWorld):
    def setUp(self):
        self.order = self.home_order()
        care.form_team(self.order, self.w.hq)
        self.url = reverse("quarantine:care", args=[self.order.pk])

    def test_a_volunteer_on_the_team_sees_the_person_and_one_not_on_it_gets_404(self):
        self.client.force_login(self.volunteer)
        page = self.client.get(self.url)
        self.assertContains(page, "张三")
        self.assertContains(page, 'data-testid="care-team"')
        self.assertContains(page, "刘医生")
        self.assertContains(page, 'data-testid="check-form"')
        self.assertContains(page, 'data-testid="visit-form"')
        self.assertContains(page, "/q/check/")
        listing = self.client.get(reverse("quarantine:care_list"))
        self.assertContains(listing, 'data-testid="care-list"')
        self.assertContains(listing, "张三")
        self.client.force_login(self.other_volunteer)
        self.assertEqual(self.client.get(self.url).status_code, 404)
        self.assertNotContains(self.client.get(reverse("quarantine:care_list")), "张三")
        self.client.force_login(self.w.grid_b_worker)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_outsiders_get_nothing_and_anonymous_users_the_login(self):
        urls = [reverse(f"quarantine:{name}", args=[self.order.pk])
                for name in ("care", "care_check", "care_visit", "care_member")]
        for user in (self.w.grid_b_worker, self.w.outsider, self.w.auditor, self.other_volunteer):
            self.client.force_login(user)
            for url in urls:
                for method in ("get", "post"):
                    response = getattr(self.client, method)(url)
                    self.assertIn(response.status_code, (403, 404, 405), f"{user} {method} {url}")
            for name in ("care_list", "calls"):
                response = self.client.get(reverse(f"quarantine:{name}"))
                self.assertNotContains(response, "张", status_code=response.status_code)
        self.client.logout()
        for url in [*urls, reverse("quarantine:care_list"), reverse("quarantine:calls")]:
            self.assertRedirects(self.client.get(url), f"{reverse('login')}?next={url}", fetch_redirect_response=False)
        self.assertFalse(HealthCheck.objects.exists() or HomeVisit.objects.exists())

    def test_a_check_and_a_visit_from_the_care_page(self):
        self.client.force_login(self.doctor)
        response = self.client.post(reverse("quarantine:care_check", args=[self.order.pk]),
                                    {"temperature": "37.8", "symptoms": ["cough"], "note": ""})
        self.assertRedirects(response, self.url)
        self.assertTrue(HealthCheck.objects.get().fever)
        refused = self.client.post(reverse("quarantine:care_check", args=[self.order.pk]), {"temperature": "45"})
        self.assertContains(refused, "体温数值不合理", status_code=400)
        response = self.client.post(reverse("quarantine:care_visit", args=[self.order.pk]),
                                    {"kind": VisitKind.DOOR_CHECK, "outcome": VisitOutcome.OK, "note": "在家"})
        self.assertRedirects(response, self.url)
        self.assertContains(self.client.get(self.url), 'data-testid="checks-table"')
        self.assertContains(self.client.get(self.url), "37.8")

    def test_a_village_officer_names_a_member_and_a_volunteer_may_not(self):
        url = reverse("quarantine:care_member", args=[self.order.pk])
        self.client.force_login(self.volunteer)
        self.assertEqual(self.client.post(url, {"role": "police", "name": "周警官"}).status_code, 403)
        self.client.force_login(self.w.village_a_officer)
        response = self.client.post(url, {"role": "police", "name": "周警官", "phone": "13800001111"})
        self.assertRedirects(response, self.url)
        member = CareMember.objects.get(order=self.order, role="police")
        self.assertEqual((member.name, member.user), ("周警官", None))

    def test_the_list_searches_and_shows_fevers(self):
        care.record_check(self.doctor, self.order, "38.0", [])
        self.client.force_login(self.w.grid_a_worker)
        listing = self.client.get(reverse("quarantine:care_list"))
        self.assertContains(listing, 'data-testid="fever-flag"')
        self.assertContains(self.client.get(reverse("quarantine:care_list"), {"q": "张"}), "张三")
        self.assertNotContains(self.client.get(reverse("quarantine:care_list"), {"q": "王"}), "张三")

    def test_the_supervisor_calls_a_sample_and_records_the_outcome(self):
        self.client.force_login(self.supervisor)
        page = self.client.get(reverse("quarantine:calls"))
        self.assertContains(page, 'data-testid="calls-list"')
        self.assertContains(page, "张*")
        response = self.client.post(reverse("quarantine:care_visit", args=[self.order.pk]),
                                    {"kind": VisitKind.CALL, "outcome": VisitOutcome.OK, "note": "在家",
                                     "next": reverse("quarantine:calls")})
        self.assertRedirects(response, reverse("quarantine:calls"))
        self.assertEqual(HomeVisit.objects.get().kind, VisitKind.CALL)
