"""Declaring, deciding by the active pack, following up, checking at the road."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from fangkong.declarations import services
from fangkong.declarations.choices import DeclarationStatus, Source
from fangkong.declarations.services import declaration_document
from fangkong.policy.choices import Category, Measure
from fangkong.policy.models import ControlOrder
from fangkong.tasks.models import Task
from tests.base import WorldTestCase
from tests.factories import declaration_data, make_risk_area


class DeclareTests(WorldTestCase):
    def test_low_risk_arrival_gets_landing_tests_and_a_task_for_the_grid(self):
        declaration, created = services.submit_declaration(declaration_data(self.w.grid_a))
        self.assertTrue(created)
        self.assertEqual(declaration.category, Category.LOW_RISK_ARRIVAL)
        self.assertEqual(declaration.measure, Measure.ARRIVAL_TESTS)
        self.assertEqual(len(declaration.test_dates), 2)
        self.assertIsNone(declaration.control_order)
        self.assertIsNotNone(declaration.person)
        task = Task.objects.get(kind=services.FOLLOWUP)
        self.assertEqual(task.area, self.w.grid_a)
        self.assertEqual(task.role, "grid_worker")

    def test_medium_risk_history_gives_home_isolation_under_14_7(self):
        make_risk_area("110101", "medium")
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a))
        self.assertEqual(declaration.category, Category.MEDIUM_RISK_ARRIVAL)
        self.assertEqual(declaration.measure, Measure.HOME_ISOLATION)
        order = declaration.control_order
        self.assertEqual(order.stages[0]["stage"], "home_isolation")
        arrival = timezone.localdate(declaration.planned_arrival)
        self.assertEqual(order.planned_end, arrival + timedelta(days=13))

    def test_lifted_area_does_not_count_for_days_after_it_was_lifted(self):
        make_risk_area("110000", "high", days_ago=40, until=timezone.localdate() - timedelta(days=20))
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a))
        self.assertEqual(declaration.category, Category.LOW_RISK_ARRIVAL)

    def test_high_risk_arrival_gets_a_pickup_task_for_the_township(self):
        make_risk_area("110000", "high")
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a))
        self.assertEqual(declaration.measure, Measure.CENTRALIZED)
        pickup = Task.objects.get(kind=services.PICKUP)
        self.assertEqual(pickup.area, self.w.township_a)
        from fangkong.warning.models import Signal

        signal = Signal.objects.get(kind="high_risk_arrival")
        self.assertEqual(signal.person, declaration.person)
        services.submit_declaration({**declaration_data(self.w.grid_a), "document_number": declaration_document(
            declaration), "phone": services.declaration_phone(declaration)})
        self.assertEqual(Signal.objects.filter(kind="high_risk_arrival").count(), 1)  # an update raises no second

    def test_same_id_same_phone_updates_one_declaration(self):
        data = declaration_data(self.w.grid_a)
        first, _ = services.submit_declaration(data)
        again, created = services.submit_declaration({**data, "address": "甲村4组1号"})
        self.assertFalse(created)
        self.assertEqual(first.pk, again.pk)
        self.assertEqual(again.address, "甲村4组1号")
        self.assertEqual(Task.objects.filter(kind=services.FOLLOWUP).count(), 1)

    def test_same_id_other_phone_is_refused(self):
        data = declaration_data(self.w.grid_a)
        services.submit_declaration(data)
        with self.assertRaises(services.DuplicateDeclaration):
            services.submit_declaration({**data, "phone": "13700000000"})

    def test_existing_person_is_linked_not_changed(self):
        number = self.w.person_a.document_number
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_b, document_number=number,
                                                                      name="冒名"))
        self.assertEqual(declaration.person, self.w.person_a)
        self.w.person_a.refresh_from_db()
        self.assertEqual(self.w.person_a.name, "张三")

    def test_bad_input_names_the_fields(self):
        past = (timezone.localdate() - timedelta(days=1)).isoformat()
        data = declaration_data(self.w.grid_a, document_number="370923198506150011", planned_arrival=past,
                                stops=[{"place_code": "999999", "date_from": past, "date_to": past}])
        with self.assertRaises(ValidationError) as raised:
            services.submit_declaration(data)
        fields = raised.exception.message_dict
        self.assertIn("document_number", fields)
        self.assertIn("planned_arrival", fields)
        self.assertIn("stops.0.place_code", fields)

    def test_confirm_arrival_completes_the_task(self):
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a))
        services.confirm_arrival(self.w.grid_a_worker, declaration)
        declaration.refresh_from_db()
        self.assertEqual(declaration.status, DeclarationStatus.ARRIVED)
        self.assertEqual(Task.objects.get(kind=services.FOLLOWUP).status, "done")

    def test_missed_arrival_escalates_to_the_township_once(self):
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a))
        later = declaration.planned_arrival + timedelta(days=2)
        self.assertEqual(services.escalate_missed_arrivals(later), 1)
        self.assertEqual(services.escalate_missed_arrivals(later), 0)
        self.assertEqual(Task.objects.get(kind=services.MISSED).area, self.w.township_a)

    def test_checkpoint_new_arrival_on_the_spot(self):
        from fangkong.accounts.choices import Role
        from fangkong.declarations.models import Checkpoint
        from tests.factories import make_user

        officer = make_user("kd", Role.CHECKPOINT_OFFICER, self.w.township_a)
        checkpoint = Checkpoint.objects.create(name="高速口卡点", area=self.w.township_a)
        data = declaration_data(self.w.grid_a)
        data.pop("planned_arrival")
        passage = services.checkpoint_check(officer, checkpoint, temperature="37.6", health_code="green", data=data)
        self.assertEqual(passage.declaration.source, Source.CHECKPOINT)
        self.assertEqual(passage.declaration.status, DeclarationStatus.ARRIVED)
        self.assertTrue(Task.objects.filter(kind=services.CHECKPOINT_ALERT).exists())

    def test_public_lookup_needs_the_phone_digits(self):
        declaration, _ = services.submit_declaration(declaration_data(self.w.grid_a, phone="13912345678"))
        self.assertIsNone(services.public_lookup(declaration.receipt, "0000"))
        self.assertEqual(services.public_lookup(declaration.receipt.lower(), "5678"), declaration)
        self.assertFalse(ControlOrder.objects.exists())
