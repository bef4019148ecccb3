"""Running orders through their stages: advancement, holds, release on the right day, restarts, merges."""

import itertools
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from fangkong.policy import planning
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder, PolicyPack
from fangkong.policy.services import activate_pack, impose_measure
from fangkong.quarantine import orders
from fangkong.quarantine.models import QuarantineSite, Room, Stay
from fangkong.testing.models import Sample, SamplingPoint, SamplingSession, Tube
from tests.base import WorldTestCase
from tests.factories import make_person

_barcodes = itertools.count(1)
User = get_user_model()


def swab(person, day, result="negative", capacity=1):
    """A sample of PERSON taken at 9:00 on DAY, in a tube with RESULT ('' = not back yet)."""
    point, _ = SamplingPoint.objects.get_or_create(name="隔离点采样", defaults={"area": person.area})
    operator = User.objects.filter(role="hq_admin").first()
    session = SamplingSession.objects.create(point=point, area=person.area, pool_size=capacity, operator=operator)
    number = next(_barcodes)
    tube = Tube.objects.create(barcode=f"Q{number:06d}", session=session, area=person.area, capacity=capacity,
                               result=result)
    return Sample.objects.create(tube=tube, person=person, area=person.area, client_key=f"q-{number}",
                                 sampled_at=timezone.make_aware(datetime.combine(day, time(9))))


def swab_test_days(order, up_to=None):
    for stage in order.stages:
        for day in stage["test_dates"]:
            day = datetime.fromisoformat(day).date()
            if up_to is None or day <= up_to:
                swab(order.person, day)


def use_pack(code, user):
    activate_pack(user, PolicyPack.objects.get(code=code))


class StageRunTests(WorldTestCase):
    def order_for(self, person, start, category="close_contact"):
        return impose_measure(person, category, "密接：病例 BL1 同住", start, user=self.w.hq)

    def test_14_plus_7_advances_on_day_15_and_releases_on_day_22(self):
        start = timezone.localdate()
        order = self.order_for(self.w.person_a, start)
        self.assertEqual(order.label, "14+7")
        self.assertEqual(order.current_stage, Stage.CENTRALIZED)
        self.assertEqual(order.stage_end, start + timedelta(days=13))
        swab_test_days(order)
        day = lambda n: start + timedelta(days=n - 1)  # noqa: E731
        self.assertEqual(orders.advance_due_orders(day(14))["due"], 0)
        counts = orders.advance_due_orders(day(15))
        self.assertEqual((counts["advanced"], counts["to_home"]), (1, 1))
        order.refresh_from_db()
        self.assertEqual((order.current_stage, order.stage_since), (Stage.HOME_MONITORING, day(15)))
        self.assertEqual(order.care_members.count(), 5)
        self.assertEqual(orders.advance_due_orders(day(21))["due"], 0)
        self.assertEqual(orders.advance_due_orders(day(22))["released"], 1)
        order.refresh_from_db()
        self.assertEqual(order.status, OrderStatus.RELEASED)
        self.assertEqual([h["kind"] for h in order.history], ["imposed", "advanced", "released"])

    def test_7_plus_3_releases_on_day_11(self):
        use_pack("ed9-7-3", self.w.hq)
        start = timezone.localdate()
        order = self.order_for(self.w.person_a, start)
        self.assertEqual(order.label, "7+3")
        swab_test_days(order)
        self.assertEqual(orders.advance_due_orders(start + timedelta(days=7))["advanced"], 1)
        self.assertEqual(orders.advance_due_orders(start + timedelta(days=9))["released"], 0)
        self.assertEqual(orders.advance_due_orders(start + timedelta(days=10))["released"], 1)

    def test_missing_or_pending_test_holds_the_stage_with_the_reason(self):
        start = timezone.localdate()
        order = self.order_for(self.w.person_a, start)
        swab_test_days(order, up_to=start + timedelta(days=7))  # day 14's test never taken
        counts = orders.advance_due_orders(start + timedelta(days=14))
        self.assertEqual(counts["held"], 1)
        order.refresh_from_db()
        self.assertEqual(order.current_stage, Stage.CENTRALIZED)
        self.assertIn("第 14 天", order.hold_reason)
        with self.assertRaisesMessage(ValidationError, "第 14 天"):
            orders.advance_order(self.w.hq, order, today=start + timedelta(days=14))
        sample = swab(self.w.person_a, start + timedelta(days=13), result="")
        self.assertIn("结果未出", orders.conditions(order, start + timedelta(days=14))[0])
        sample.tube.result = "negative"
        sample.tube.save()
        order = orders.advance_order(self.w.hq, order, today=start + timedelta(days=14))
        self.assertEqual((order.current_stage, order.hold_reason), (Stage.HOME_MONITORING, ""))

    def test_advance_and_release_refused_before_their_dates(self):
        start = timezone.localdate()
        order = self.order_for(self.w.person_a, start)
        with self.assertRaisesMessage(ValidationError, "未到转段时间"):
            orders.advance_order(self.w.hq, order)
        with self.assertRaisesMessage(ValidationError, "未到解除时间"):
            orders.release_order(self.w.hq, order)

    def test_a_positive_holds_release(self):
        start = timezone.localdate()
        order = self.order_for(self.w.person_a, start)
        swab_test_days(order)
        swab(self.w.person_a, start + timedelta(days=5), result="positive")
        orders.advance_due_orders(start + timedelta(days=14))
        order.refresh_from_db()
        self.assertIn("阳性", order.hold_reason)

    def test_a_positive_pool_says_nothing_about_one_member(self):
        start = timezone.localdate()
        order = self.order_for(self.w.person_a, start)
        swab_test_days(order)
        swab(self.w.person_a, start + timedelta(days=5), result="positive", capacity=10)
        self.assertEqual(orders.conditions(order, start + timedelta(days=14)), [])

    def test_room_sample_required_under_the_8th_edition(self):
        start = timezone.localdate()
        order = self.order_for(self.w.person_a, start)
        swab_test_days(order)
        site = QuarantineSite.objects.create(name="县宾馆", area=self.w.county)
        room = Room.objects.create(site=site, floor=3, number="301")
        stay = Stay.objects.create(order=order, person=order.person, site=site, room=room, area=site.area,
                                   category=order.category)
        self.assertIn("房间环境采样未出阴性结果", orders.conditions(order, start + timedelta(days=14)))
        stay.room_sample = "negative"
        stay.save()
        self.assertEqual(orders.conditions(order, start + timedelta(days=14)), [])


class RestartTests(WorldTestCase):
    def test_positive_restarts_same_floor_and_floors_above_and_below_only(self):
        w = self.w
        start = timezone.localdate() - timedelta(days=5)
        site = QuarantineSite.objects.create(name="县宾馆", area=w.county)
        people = {floor: make_person(w.hq, w.grid_a, f"隔离{floor}") for floor in (2, 3, 4, 5)}
        stays = {}
        for floor, person in people.items():
            order = impose_measure(person, "close_contact", "密接", start, user=w.hq)
            room = Room.objects.create(site=site, floor=floor, number=f"{floor}01")
            stays[floor] = Stay.objects.create(order=order, person=person, site=site, room=room, area=site.area,
                                               category=order.category)
        patient = make_person(w.hq, w.grid_a, "阳性者")
        order = impose_measure(patient, "close_contact", "密接", start, user=w.hq)
        room = Room.objects.create(site=site, floor=3, number="302")
        stay = Stay.objects.create(order=order, person=patient, site=site, room=room, area=site.area,
                                   category=order.category)
        today = timezone.localdate()
        restarted = orders.restart_floors(stay, today, w.hq)
        self.assertEqual(sorted(o.person.name for o in restarted), ["隔离2", "隔离3", "隔离4"])
        moved = ControlOrder.objects.get(pk=stays[3].order_id)
        self.assertEqual((moved.start_date, moved.planned_end), (today, today + timedelta(days=20)))
        self.assertEqual(moved.history[-1]["kind"], "restarted")
        untouched = ControlOrder.objects.get(pk=stays[5].order_id)
        self.assertEqual(untouched.start_date, start)

    def test_positive_single_result_at_a_site_triggers_the_restart(self):
        from fangkong.testing.signals import single_positive
        from fangkong.warning.models import Signal

        w = self.w
        start = timezone.localdate() - timedelta(days=3)
        site = QuarantineSite.objects.create(name="县宾馆", area=w.county)
        neighbour = make_person(w.hq, w.grid_a, "邻居")
        for person, number in ((w.person_a, "301"), (neighbour, "302")):
            order = impose_measure(person, "close_contact", "密接", start, user=w.hq)
            room = Room.objects.create(site=site, floor=3, number=number)
            Stay.objects.create(order=order, person=person, site=site, room=room, area=site.area,
                                category=order.category)
        single_positive.send(sender=Tube, person_ids=[w.person_a.pk], day=timezone.localdate(), user=w.hq)
        self.assertEqual(ControlOrder.objects.get(person=neighbour).start_date, timezone.localdate())
        self.assertTrue(Signal.objects.filter(kind="site_positive").exists())


class MergeTests(WorldTestCase):
    def test_merge_plans_keeps_the_stricter_stage_each_day(self):
        d = timezone.localdate()
        close = planning.plan_stages([{"stage": "centralized", "days": 14, "test_days": [1, 14]},
                                      {"stage": "home_monitoring", "days": 7, "test_days": [7]}], d)
        home = planning.plan_stages([{"stage": "home_isolation", "days": 30, "test_days": [30]}],
                                    d + timedelta(days=5))
        merged = planning.merge_plans(close, home)
        self.assertEqual([s["stage"] for s in merged], ["centralized", "home_isolation"])
        self.assertEqual(merged[0]["end"], (d + timedelta(days=13)).isoformat())
        self.assertEqual(merged[1]["end"], (d + timedelta(days=34)).isoformat())
        self.assertEqual(merged[1]["test_dates"], [(d + timedelta(days=34)).isoformat()])

    def test_second_measure_is_merged_into_the_stricter_with_history_and_comes_back_if_that_one_goes(self):
        w = self.w
        today = timezone.localdate()
        arrival = impose_measure(w.person_a, "medium_risk_arrival", "中风险地区来人", today, user=w.hq,
                                 subject=w.person_b)  # any object stands in for the declaration
        contact = impose_measure(w.person_a, "close_contact", "密接", today - timedelta(days=2), user=w.hq,
                                 subject=w.grid_a)
        self.assertEqual(ControlOrder.objects.filter(person=w.person_a, status=OrderStatus.ACTIVE).count(), 1)
        arrival.refresh_from_db()
        self.assertEqual((arrival.status, arrival.merged_into_id), (OrderStatus.MERGED, contact.pk))
        self.assertEqual(contact.category, "close_contact")
        self.assertEqual(contact.planned_end, max(today + timedelta(days=13), today + timedelta(days=18)))
        self.assertEqual(contact.history[-1]["kind"], "merged")
        self.assertEqual(arrival.history[-1]["kind"], "merged")
        from fangkong.policy.services import cancel_measures_from

        cancel_measures_from(w.grid_a, w.hq, "排除密接")
        arrival.refresh_from_db()
        self.assertEqual((arrival.status, arrival.merged_into_id), (OrderStatus.ACTIVE, None))
