"""Point-to-point transfers: planning and its refusals, the receiver's handover (首接负责), escalation, the pages."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.policy.services import impose_measure
from fangkong.quarantine import transfers
from fangkong.quarantine.choices import QuarantineTask, TransferStatus
from fangkong.quarantine.models import QuarantineSite, Transfer
from fangkong.tasks.choices import TaskStatus
from fangkong.tasks.models import Task
from fangkong.warning.choices import Severity, SignalKind
from fangkong.warning.models import Signal
from tests.base import WorldTestCase
from tests.factories import make_person, make_user


class TransferTestCase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.site = QuarantineSite.objects.create(name="乙镇隔离酒店", area=w.village_b, address="乙村1号")
        cls.site_staff = make_user("site_b", Role.SITE_STAFF, w.village_b)
        cls.closed_site = QuarantineSite.objects.create(name="已停用隔离点", area=w.village_b, is_active=False)
        cls.today = timezone.localdate()
        cls.order_a = impose_measure(w.person_a, "close_contact", "密接：病例甲", cls.today, user=w.hq)
        cls.person_a2 = make_person(w.hq, w.grid_a, "王小明")

    def plan(self, user=None, people=None, **overrides):
        w = self.w
        data = {"kind": "to_site", "from_place": "甲村3组12号", "to_place": "", "to_site": self.site,
                "vehicle": "鲁J12345", "driver": "赵师傅", "driver_phone": "13900001111", "escort": "钱医生",
                "planned_at": timezone.now() + timedelta(minutes=30)}
        data.update(overrides)
        return transfers.plan_transfer(user or w.township_a_officer, data,
                                       people if people is not None else [w.person_a])

    def arrived(self, now=None, **overrides):
        transfer = self.plan(**overrides)
        transfers.depart(self.w.township_a_officer, transfer, now=now)
        return transfers.arrive(self.w.township_a_officer, transfer, now=now)


class PlanTests(TransferTestCase):
    def test_to_site_is_received_by_the_site_area_with_the_order(self):
        transfer = self.plan()
        self.assertEqual((transfer.area, transfer.to_place, transfer.status),
                         (self.w.village_b, "乙镇隔离酒店", TransferStatus.PLANNED))
        seat = transfer.passengers.get()
        self.assertEqual((seat.person, seat.order), (self.w.person_a, self.order_a))
        self.order_a.refresh_from_db()
        self.assertEqual(self.order_a.history[-1]["kind"], "transfer_planned")
        self.assertTrue(AuditEvent.objects.filter(object_type="quarantine.transfer", action="create").exists())

    def test_to_home_is_received_by_the_township_of_the_person(self):
        transfer = self.plan(kind="to_home", to_site=None, from_place="乙镇隔离酒店", to_place="甲村3组12号")
        self.assertEqual(transfer.area, self.w.township_a)
        self.assertIsNone(transfer.to_site)

    def test_plate_is_required(self):
        with self.assertRaises(ValidationError) as caught:
            self.plan(vehicle="  ")
        self.assertIn("请填写车辆号牌", caught.exception.message_dict["vehicle"][0])

    def test_planned_more_than_a_day_ago_is_refused(self):
        with self.assertRaises(ValidationError) as caught:
            self.plan(planned_at=timezone.now() - timedelta(days=1, hours=1))
        self.assertIn("不能早于一天前", caught.exception.message_dict["planned_at"][0])
        self.plan(planned_at=timezone.now() - timedelta(hours=20))  # recorded after the fact: fine

    def test_at_least_one_passenger(self):
        with self.assertRaises(ValidationError) as caught:
            self.plan(people=[])
        self.assertIn("至少添加一名", caught.exception.message_dict["people"][0])

    def test_person_already_in_an_open_transfer_is_refused(self):
        first = self.plan()
        with self.assertRaises(ValidationError) as caught:
            self.plan(people=[self.w.person_a, self.person_a2])
        self.assertIn(f"#{first.pk}", caught.exception.message_dict["people"][0])
        transfers.cancel(self.w.township_a_officer, first, "车辆故障")
        self.plan(people=[self.w.person_a, self.person_a2])  # a cancelled transfer no longer holds them

    def test_site_required_and_active(self):
        with self.assertRaises(ValidationError) as caught:
            self.plan(to_site=None)
        self.assertIn("须选择目的隔离点", caught.exception.message_dict["to_site"][0])
        with self.assertRaises(ValidationError) as caught:
            self.plan(to_site=self.closed_site)
        self.assertIn("已停用", caught.exception.message_dict["to_site"][0])

    def test_people_outside_the_planners_area_are_refused(self):
        with self.assertRaises(ValidationError) as caught:
            self.plan(people=[self.w.person_b])
        self.assertIn("不在您的管辖范围内", caught.exception.message_dict["people"][0])

    def test_grid_worker_may_not_plan(self):
        with self.assertRaises(PermissionDenied):
            self.plan(user=self.w.grid_a_worker)


class HandoverTests(TransferTestCase):
    def test_arrival_starts_the_clock_and_tasks_the_site(self):
        now = timezone.now()
        transfer = self.arrived(now=now)
        self.assertEqual(transfer.status, TransferStatus.ARRIVED)
        self.assertEqual(transfer.ack_deadline, now + timedelta(minutes=60))
        task = Task.objects.get(kind=QuarantineTask.TRANSFER_ACK)
        self.assertEqual((task.area, task.role, task.deadline), (self.w.village_b, Role.SITE_STAFF,
                                                                 transfer.ack_deadline))
        self.assertNotIn("张三", task.description)

    def test_receiving_side_acknowledges(self):
        transfer = self.arrived()
        transfers.acknowledge(self.site_staff, transfer)
        transfer.refresh_from_db()
        self.assertEqual((transfer.status, transfer.acknowledged_by), (TransferStatus.ACKNOWLEDGED, self.site_staff))
        self.assertEqual(Task.objects.get(kind=QuarantineTask.TRANSFER_ACK).status, TaskStatus.DONE)
        self.order_a.refresh_from_db()
        self.assertEqual(self.order_a.history[-1]["kind"], "transfer_acknowledged")
        self.assertFalse(self.w.person_a.stays.exists())  # the handover does not check anyone in

    def test_to_home_acknowledged_by_the_township(self):
        transfer = self.arrived(kind="to_home", to_site=None, from_place="乙镇隔离酒店", to_place="甲村3组12号")
        task = Task.objects.get(kind=QuarantineTask.TRANSFER_ACK)
        self.assertEqual((task.area, task.role), (self.w.township_a, Role.TOWNSHIP_OFFICER))
        transfers.acknowledge(self.w.township_a_officer, transfer)
        self.assertEqual(transfer.status, TransferStatus.ACKNOWLEDGED)

    def test_sending_side_and_outsiders_may_not_acknowledge(self):
        transfer = self.arrived()
        for user in (self.w.township_a_officer, self.w.grid_b_worker, self.w.outsider):
            with self.assertRaises(PermissionDenied):
                transfers.acknowledge(user, transfer)
        self.assertFalse(transfers.transfers_for(self.w.grid_b_worker).filter(pk=transfer.pk).exists())
        self.assertTrue(transfers.transfers_for(self.w.township_a_officer).filter(pk=transfer.pk).exists())

    def test_cancelled_or_acknowledged_cannot_be_acknowledged(self):
        transfer = self.arrived()
        transfers.acknowledge(self.site_staff, transfer)
        with self.assertRaisesMessage(transfers.TransferConflict, "不能重复确认"):
            transfers.acknowledge(self.site_staff, transfer)
        other = self.plan(people=[self.person_a2])
        transfers.cancel(self.w.township_a_officer, other, "人员已自行到达")
        with self.assertRaisesMessage(transfers.TransferConflict, "已取消"):
            transfers.acknowledge(self.site_staff, other)

    def test_steps_in_order(self):
        transfer = self.plan()
        with self.assertRaisesMessage(transfers.TransferConflict, "尚未出发"):
            transfers.arrive(self.w.township_a_officer, transfer)
        with self.assertRaisesMessage(ValidationError, "取消原因"):
            transfers.cancel(self.w.township_a_officer, transfer, " ")
        transfers.depart(self.w.township_a_officer, transfer)
        with self.assertRaises(transfers.TransferConflict):
            transfers.depart(self.w.township_a_officer, transfer)
        transfers.arrive(self.w.township_a_officer, transfer)
        with self.assertRaisesMessage(transfers.TransferConflict, "不能取消"):
            transfers.cancel(self.w.township_a_officer, transfer, "改变主意")


class EscalationTests(TransferTestCase):
    def test_unacknowledged_escalates_once(self):
        arrived_at = timezone.now() - timedelta(hours=2)
        transfer = self.arrived(now=arrived_at)
        self.assertEqual(transfers.escalate_unacknowledged(now=arrived_at + timedelta(minutes=59)), 0)
        self.assertEqual(transfers.escalate_unacknowledged(), 1)
        signal = Signal.objects.get(kind=SignalKind.TRANSFER_UNACKNOWLEDGED)
        self.assertEqual((signal.area, signal.severity, signal.person), (self.w.village_b, Severity.CRITICAL,
                                                                         self.w.person_a))
        escalation = Task.objects.get(kind=QuarantineTask.TRANSFER_ACK, area=self.w.township_b)
        self.assertEqual(escalation.role, Role.TOWNSHIP_OFFICER)
        transfer.refresh_from_db()
        self.assertIsNotNone(transfer.escalated_at)
        self.assertEqual(transfers.escalate_unacknowledged(), 0)
        self.assertEqual(Signal.objects.filter(kind=SignalKind.TRANSFER_UNACKNOWLEDGED).count(), 1)
        self.assertEqual(Task.objects.filter(kind=QuarantineTask.TRANSFER_ACK).count(), 2)
        # A late handover still closes both tasks and is marked late.
        transfers.acknowledge(self.site_staff, transfer)
        self.assertFalse(Task.objects.filter(kind=QuarantineTask.TRANSFER_ACK, status=TaskStatus.OPEN).exists())

    def test_county_level_goes_to_hq(self):
        site = QuarantineSite.objects.create(name="县集中隔离点", area=self.w.county)
        arrived_at = timezone.now() - timedelta(hours=3)
        self.arrived(now=arrived_at, to_site=site)
        self.assertEqual(transfers.escalate_unacknowledged(), 1)
        task = Task.objects.exclude(area=self.w.county, role=Role.SITE_STAFF).get(kind=QuarantineTask.TRANSFER_ACK)
        self.assertEqual((task.area, task.role), (self.w.county, Role.HQ_STAFF))

    def test_acknowledged_in_time_never_escalates(self):
        transfer = self.arrived(now=timezone.now() - timedelta(hours=2))
        transfers.acknowledge(self.site_staff, transfer, now=timezone.now() - timedelta(hours=1, minutes=30))
        self.assertEqual(transfers.escalate_unacknowledged(), 0)

    def test_late_departure_is_flagged(self):
        transfer = self.plan(planned_at=timezone.now() - timedelta(hours=3))
        self.assertTrue(transfers.is_late(transfer))
        self.assertEqual(Transfer.objects.filter(transfers.late_q()).get(), transfer)


class PageTests(TransferTestCase):
    def test_list_highlights_and_filters(self):
        self.client.force_login(self.w.township_a_officer)
        empty = self.client.get(reverse("quarantine:transfers"))
        self.assertContains(empty, 'data-testid="transfers-empty"')
        late = self.plan(planned_at=timezone.now() - timedelta(hours=3))
        overdue = self.arrived(now=timezone.now() - timedelta(hours=2), people=[self.person_a2])
        response = self.client.get(reverse("quarantine:transfers"))
        self.assertContains(response, 'data-testid="transfers-table"')
        self.assertContains(response, f'class="table-warning" data-testid="transfer-row-{late.pk}"')
        self.assertContains(response, f'class="table-danger" data-testid="transfer-row-{overdue.pk}"')
        response = self.client.get(reverse("quarantine:transfers"), {"flag": "overdue"})
        self.assertNotContains(response, f"transfer-row-{late.pk}")
        response = self.client.get(reverse("quarantine:transfers"), {"status": "planned", "kind": "to_site"})
        self.assertContains(response, f"transfer-row-{late.pk}")
        self.assertNotContains(response, f"transfer-row-{overdue.pk}")

    def test_new_from_an_order_then_post(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("quarantine:transfer_new"), {"order": self.order_a.pk})
        self.assertContains(response, 'data-testid="transfer-form"')
        self.assertContains(response, f'value="{self.w.person_a.pk}" id="person-{self.w.person_a.pk}" checked')
        self.assertContains(response, "张*")
        planned = timezone.localtime() + timedelta(hours=1)
        response = self.client.post(reverse("quarantine:transfer_new"), {
            "kind": "to_site", "to_site": self.site.pk, "from_place": "甲村", "vehicle": "鲁J 12345",
            "driver": "赵师傅", "planned_at": planned.strftime("%Y-%m-%dT%H:%M"), "people": [self.w.person_a.pk],
            "documents": self.person_a2.document_number})
        transfer = Transfer.objects.get()
        self.assertRedirects(response, reverse("quarantine:transfer", args=[transfer.pk]))
        self.assertEqual(transfer.vehicle, "鲁J12345")
        self.assertEqual(transfer.passengers.count(), 2)

    def test_new_refuses_unknown_numbers_and_missing_plate(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("quarantine:transfer_new"), {
            "kind": "to_site", "to_site": self.site.pk, "from_place": "甲村", "vehicle": "", "driver": "赵",
            "planned_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "documents": self.w.person_b.document_number})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "查无此人", status_code=400)
        self.assertContains(response, "此项必填", status_code=400)
        response = self.client.post(reverse("quarantine:transfer_new"), {
            "kind": "to_site", "to_site": self.site.pk, "from_place": "甲村", "vehicle": "鲁J12345", "driver": "赵",
            "planned_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
        self.assertContains(response, "请至少添加一名转运人员", status_code=400)
        self.assertFalse(Transfer.objects.exists())

    def test_detail_steps_and_acknowledge(self):
        transfer = self.plan()
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("quarantine:transfer", args=[transfer.pk]))
        self.assertContains(response, 'data-testid="transfer-status" data-status="planned"')
        self.assertContains(response, self.w.person_a.doc_masked)
        self.assertNotContains(response, "张三")
        self.assertNotContains(response, 'data-testid="acknowledge-button"')
        self.client.post(reverse("quarantine:transfer_depart", args=[transfer.pk]))
        self.client.post(reverse("quarantine:transfer_arrive", args=[transfer.pk]))
        self.assertEqual(self.client.post(reverse("quarantine:transfer_acknowledge", args=[transfer.pk])).status_code,
                         403)
        self.client.force_login(self.site_staff)
        response = self.client.get(reverse("quarantine:transfer", args=[transfer.pk]))
        self.assertContains(response, 'data-testid="acknowledge-button"')
        self.assertContains(response, 'data-testid="ack-countdown"')
        response = self.client.post(reverse("quarantine:transfer_acknowledge", args=[transfer.pk]), follow=True)
        self.assertContains(response, 'data-status="acknowledged"')
        self.assertContains(response, "已确认交接")

    def test_out_of_scope_is_404(self):
        transfer = self.arrived()
        self.client.force_login(self.w.grid_b_worker)
        for name in ("quarantine:transfer", "quarantine:transfer_acknowledge", "quarantine:transfer_depart",
                     "quarantine:transfer_arrive", "quarantine:transfer_cancel"):
            url = reverse(name, args=[transfer.pk])
            method = self.client.get if name == "quarantine:transfer" else self.client.post
            self.assertEqual(method(url).status_code, 404, url)
        self.assertNotContains(self.client.get(reverse("quarantine:transfers")), f"transfer-row-{transfer.pk}")
        transfer.refresh_from_db()
        self.assertEqual(transfer.status, TransferStatus.ARRIVED)

    def test_cancel_needs_reason(self):
        transfer = self.plan()
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("quarantine:transfer_cancel", args=[transfer.pk]), {"reason": ""},
                                    follow=True)
        self.assertContains(response, "请填写取消原因")
        self.client.post(reverse("quarantine:transfer_cancel", args=[transfer.pk]), {"reason": "车辆故障"})
        transfer.refresh_from_db()
        self.assertEqual(transfer.status, TransferStatus.CANCELLED)
