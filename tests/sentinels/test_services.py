"""Sentinel reports and four-class drug purchases (sentinels/services.py)."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.test.utils import override_settings
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.sentinels import services
from fangkong.sentinels.choices import SIGNAL_BUYER_UNTESTED, SIGNAL_FEVER_PATIENT, ReportKind
from fangkong.sentinels.models import DrugProduct, DrugPurchase, SentinelReport
from fangkong.tasks.choices import TaskStatus
from fangkong.tasks.models import Task
from fangkong.tasks.services import inbox
from fangkong.testing import services as testing
from fangkong.testing.models import SamplingPoint
from fangkong.warning.models import Signal
from tests.factories import make_resident_id

from .base import SentinelTestCase, sale


class ProductListTests(SentinelTestCase):
    def test_the_four_classes_are_seeded(self):
        classes = set(DrugProduct.objects.values_list("drug_class", flat=True))
        self.assertEqual(classes, {"antipyretic", "cough", "antiviral", "antibiotic"})
        self.assertGreaterEqual(DrugProduct.objects.count(), 20)
        self.assertTrue(DrugProduct.objects.filter(name="连花清瘟胶囊").exists())


class PurchaseTests(SentinelTestCase):
    def test_duplicate_submission_keeps_one_record(self):
        first, created = services.record_purchase(self.reporter, self.pharmacy, sale("dup-1"))
        again, created_again = services.record_purchase(self.reporter, self.pharmacy, sale("dup-1", buyer_name="别人"))
        self.assertTrue(created)
        self.assertFalse(created_again)
        self.assertEqual(first.pk, again.pk)
        self.assertEqual(DrugPurchase.objects.count(), 1)
        self.assertEqual(Task.objects.filter(subject_id=str(first.pk)).count(), 1)

    def test_invalid_id_is_kept_unverified_with_a_task_to_verify(self):
        valid = make_resident_id()
        bad = valid[:-1] + ("1" if valid[-1] != "1" else "2")  # wrong check digit
        purchase, _ = services.record_purchase(self.reporter, self.pharmacy, sale("bad-id", document_number=bad))
        self.assertFalse(purchase.buyer_verified)
        self.assertEqual(purchase.doc_index, "")
        self.assertEqual(purchase.document_number, bad)
        self.assertEqual(purchase.area, self.pharmacy.area)
        self.assertEqual(purchase.task.kind, "drug_buyer_verify")
        self.assertEqual(purchase.task.area, self.w.village_a)
        self.assertEqual(purchase.task.role, "village_officer")
        self.assertIn(purchase.task, inbox(self.w.village_a_officer))

    def test_missing_id_is_kept_unverified_too(self):
        purchase, _ = services.record_purchase(self.reporter, self.pharmacy, sale("no-id"))
        self.assertFalse(purchase.buyer_verified)
        self.assertEqual(purchase.task.kind, "drug_buyer_verify")

    def test_known_buyer_gets_a_test_task_in_the_grid_workers_inbox(self):
        number = self.w.person_a.document_number
        with override_settings(FANGKONG_DRUG_TEST_HOURS=24):
            purchase, _ = services.record_purchase(self.reporter, self.pharmacy,
                                                   sale("known", buyer_name="张三", document_number=number))
        self.assertTrue(purchase.buyer_verified)
        self.assertEqual(purchase.person, self.w.person_a)
        self.assertEqual(purchase.area, self.w.grid_a)
        task = purchase.task
        self.assertEqual((task.kind, task.role, task.area), ("drug_buyer_test", "grid_worker", self.w.grid_a))
        self.assertEqual(task.deadline, purchase.created_at + timedelta(hours=24))
        self.assertIn("张*", task.title)
        self.assertNotIn("张三", task.title)
        self.assertIn(task, inbox(self.w.grid_a_worker))
        self.assertNotIn(task, inbox(self.w.grid_b_worker))

    def test_valid_id_of_someone_unknown_keeps_the_buyer_on_the_purchase(self):
        number = make_resident_id(place="110101")
        purchase, _ = services.record_purchase(self.reporter, self.pharmacy, sale("stranger", document_number=number))
        self.assertTrue(purchase.buyer_verified)
        self.assertIsNone(purchase.person)
        self.assertEqual(purchase.area, self.w.village_a)
        self.assertEqual(purchase.task.kind, "drug_buyer_test")
        self.assertEqual(purchase.doc_masked[:4], number[:4])
        self.assertTrue(purchase.doc_index)

    def test_unknown_product_and_empty_items_are_refused(self):
        with self.assertRaises(ValidationError):
            services.record_purchase(self.reporter, self.pharmacy, sale("x1", items=[]))
        with self.assertRaises(ValidationError):
            services.record_purchase(self.reporter, self.pharmacy, sale("x2", items=[{"product": "nope"}]))
        self.assertFalse(DrugPurchase.objects.exists())

    def test_only_pharmacies_register_sales(self):
        with self.assertRaises(ValidationError):
            services.record_purchase(self.reporter, self.clinic, sale("clinic-sale"))

    def test_reporter_of_another_pharmacy_is_refused(self):
        with self.assertRaises(PermissionDenied):
            services.record_purchase(self.w.outsider, self.pharmacy, sale("other"))

    def test_sale_is_audited(self):
        purchase, _ = services.record_purchase(self.reporter, self.pharmacy, sale("audit"))
        event = AuditEvent.objects.get(object_type="sentinels.drugpurchase", object_id=str(purchase.pk))
        self.assertNotIn("王小明", event.object_repr)


class FollowupTests(SentinelTestCase):
    def _buy(self, key="f1"):
        return services.record_purchase(self.reporter, self.pharmacy,
                                        sale(key, document_number=self.w.person_a.document_number))[0]

    def test_untested_buyer_past_due_raises_one_signal(self):
        purchase = self._buy()
        later = purchase.test_due_at + timedelta(minutes=1)
        self.assertEqual(services.overdue_buyers(purchase.test_due_at - timedelta(minutes=1)), 0)
        self.assertEqual(services.overdue_buyers(later), 1)
        self.assertEqual(services.overdue_buyers(later + timedelta(hours=5)), 0)
        signal = Signal.objects.get(kind=SIGNAL_BUYER_UNTESTED)
        self.assertEqual(signal.person, self.w.person_a)
        self.assertEqual(signal.area, self.w.grid_a)

    def test_sample_after_purchase_marks_the_buyer_tested_and_closes_the_task(self):
        purchase = self._buy()
        point = SamplingPoint.objects.create(name="甲村采样点", area=self.w.village_a)
        session = testing.open_session(self.w.hq, point, 1)
        testing.add_sample(self.w.hq, session, barcode="T-1", person=self.w.person_a, client_key="s-1")
        self.assertEqual(services.refresh_buyer_tests(), 1)
        purchase.refresh_from_db()
        self.assertIsNotNone(purchase.tested_at)
        self.assertEqual(purchase.task.status, TaskStatus.DONE)
        self.assertEqual(services.overdue_buyers(purchase.test_due_at + timedelta(hours=1)), 0)

    def test_sample_before_purchase_does_not_count(self):
        point = SamplingPoint.objects.create(name="甲村采样点", area=self.w.village_a)
        session = testing.open_session(self.w.hq, point, 1)
        testing.add_sample(self.w.hq, session, barcode="T-2", person=self.w.person_a, client_key="s-2",
                           sampled_at=timezone.now() - timedelta(hours=2))
        self._buy("f2")
        self.assertEqual(services.refresh_buyer_tests(), 0)

    def test_unverified_buyers_are_signalled_too(self):
        purchase = services.record_purchase(self.reporter, self.pharmacy, sale("u1", document_number="123"))[0]
        self.assertEqual(services.overdue_buyers(purchase.test_due_at + timedelta(seconds=1)), 1)
        self.assertEqual(Signal.objects.get(kind=SIGNAL_BUYER_UNTESTED).area, self.w.village_a)


class ReportTests(SentinelTestCase):
    def test_future_day_is_refused(self):
        tomorrow = timezone.localdate() + timedelta(days=1)
        for call in (
            lambda: services.record_zero_report(self.reporter, self.clinic, tomorrow),
            lambda: services.record_daily_counts(self.w.hq, self.fever_clinic, tomorrow, 10),
            lambda: services.record_absences(self.w.hq, self.school, tomorrow, [{"class_name": "一(1)班",
                                                                                  "absent_ill": 2}]),
        ):
            with self.assertRaises(ValidationError) as caught:
                call()
            self.assertIn("报告日期不能晚于今天", str(caught.exception))
        self.assertFalse(SentinelReport.objects.exists())

    def test_zero_report_counts_as_a_report(self):
        today = timezone.localdate()
        self.assertIn(self.clinic, services.missing_reports(today))
        services.record_zero_report(self.reporter, self.clinic)
        services.record_zero_report(self.reporter, self.clinic)  # twice: still one
        self.assertEqual(SentinelReport.objects.filter(kind=ReportKind.ZERO_REPORT).count(), 1)
        self.assertNotIn(self.clinic, services.missing_reports(today))
        self.assertIn(self.fever_clinic, services.missing_reports(today))

    def test_a_sale_counts_as_the_pharmacys_report(self):
        services.record_purchase(self.reporter, self.pharmacy, sale("r1"))
        self.assertNotIn(self.pharmacy, services.missing_reports(timezone.localdate()))

    def test_sentinel_that_had_not_joined_is_not_missing(self):
        yesterday = timezone.localdate() - timedelta(days=1)
        self.assertNotIn(self.clinic, services.missing_reports(yesterday))

    def test_daily_counts_are_corrected_not_duplicated(self):
        today = timezone.localdate()
        services.record_daily_counts(self.w.hq, self.fever_clinic, today, 10, 0)
        services.record_daily_counts(self.w.hq, self.fever_clinic, today, 12, 1)
        report = SentinelReport.objects.get(kind=ReportKind.DAILY_COUNT)
        self.assertEqual((report.visits, report.positives), (12, 1))
        with self.assertRaises(ValidationError):
            services.record_daily_counts(self.w.hq, self.fever_clinic, today, 1, 2)

    def test_fever_patient_has_the_clock_and_writes_a_signal(self):
        consulted = timezone.now() - timedelta(minutes=90)
        report = services.record_fever_patient(self.reporter, self.clinic, {
            "name": "张三", "document_number": self.w.person_a.document_number, "temperature": "38.6",
            "referred_to": "县人民医院发热门诊", "consulted_at": consulted})
        self.assertEqual(report.person, self.w.person_a)
        self.assertGreaterEqual(report.report_minutes, 89)
        self.assertTrue(report.is_late)
        signal = Signal.objects.get(kind=SIGNAL_FEVER_PATIENT)
        self.assertEqual(signal.area, self.w.village_a)
        self.assertIn("张*", signal.title)
        self.assertTrue(signal.details["late"])
        self.assertIn("from_risk_area", signal.details)

    def test_fever_patient_needs_a_valid_id(self):
        with self.assertRaises(ValidationError):
            services.record_fever_patient(self.reporter, self.clinic, {"name": "某人", "document_number": "123"})

    def test_backfilled_day_moves_the_joining_day(self):
        earlier = timezone.localdate() - timedelta(days=3)
        services.record_daily_counts(self.w.hq, self.fever_clinic, earlier, 5)
        self.fever_clinic.refresh_from_db()
        self.assertEqual(self.fever_clinic.joined_on, earlier)


class DailyCountsTests(SentinelTestCase):
    def test_counts_per_township_and_signal_type(self):
        today = timezone.localdate()
        services.record_daily_counts(self.w.hq, self.fever_clinic, today, 17)
        services.record_absences(self.w.hq, self.school, today, [{"class_name": "一(1)班", "absent_ill": 2},
                                                                 {"class_name": "一(2)班", "absent_ill": 3}])
        services.record_fever_patient(self.reporter, self.clinic, {
            "name": "张三", "document_number": self.w.person_a.document_number})
        services.record_zero_report(self.reporter, self.clinic)
        for key in ("a", "b", "c"):
            services.record_purchase(self.reporter, self.pharmacy, sale(key))
        services.record_purchase(self.w.outsider, self.pharmacy_b, sale("b1"))
        rows = set(services.daily_counts(today - timedelta(days=1), today))
        a, b = self.w.township_a.code, self.w.township_b.code
        self.assertEqual(rows, {
            (a, "fever_clinic_visits", today, 17), (a, "school_absences", today, 5),
            (a, "clinic_fever_patients", today, 1), (a, "drug_sales", today, 3), (b, "drug_sales", today, 1),
        })
        coverage = services.sentinel_coverage()
        self.assertEqual(coverage[(a, "drug_sales")], [self.pharmacy.joined_on])


class CommandTests(SentinelTestCase):
    def test_sentinel_followups_command(self):
        import io

        from django.core.management import call_command

        purchase = services.record_purchase(self.reporter, self.pharmacy, sale("cmd"))[0]
        DrugPurchase.objects.filter(pk=purchase.pk).update(test_due_at=timezone.now() - timedelta(minutes=1))
        out = io.StringIO()
        call_command("sentinel_followups", stdout=out)
        self.assertIn("signals 1", out.getvalue())
        call_command("sentinel_followups", stdout=out)
        self.assertEqual(Signal.objects.filter(kind=SIGNAL_BUYER_UNTESTED).count(), 1)
