"""Sampling, pooled tubes, lab results and the follow-up of positive pools (testing/services.py)."""

import io
from datetime import datetime, timedelta

import xlsxwriter
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.tasks.choices import TaskStatus
from fangkong.tasks.models import Task
from fangkong.testing import services
from fangkong.testing.choices import FollowupStatus, Result, TubeStatus
from fangkong.testing.models import LabResult, PoolFollowup, Sample, SamplingPoint, Tube
from fangkong.tracing.choices import Classification
from fangkong.tracing.models import Case
from fangkong.warning.models import Signal
from tests.base import WorldTestCase
from tests.factories import make_person, make_resident_id, make_user

NAMES = ["赵一", "钱二", "孙三", "李四四", "周五", "吴六", "郑七", "王八", "冯九", "陈十", "褚十一", "卫十二"]


class TestingBase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.staff = make_user("sampler", Role.SITE_STAFF, w.township_a)
        cls.lab = make_user("lab", Role.LAB_OPERATOR, w.county)
        cls.point = SamplingPoint.objects.create(name="甲村采样点", area=w.village_a)
        cls.numbers = [make_resident_id() for _ in NAMES]
        cls.people = [make_person(w.hq, w.grid_a if i % 2 == 0 else w.grid_a2, name, document_number=number)
                      for i, (name, number) in enumerate(zip(NAMES, cls.numbers, strict=True))]

    def session(self, pool_size=10):
        return services.open_session(self.staff, self.point, pool_size)

    def fill(self, session, barcode, people, prefix=None, sampled_at=None):
        """Swab PEOPLE into BARCODE, three hours ago unless SAMPLED_AT: before the results of row()."""
        prefix = prefix or barcode
        sampled_at = sampled_at or timezone.now() - timedelta(hours=3)
        return [services.add_sample(self.staff, session, barcode=barcode, person=p, client_key=f"{prefix}-{i}",
                                    sampled_at=sampled_at)[0]
                for i, p in enumerate(people)]

    def ingest(self, rows, **kwargs):
        return services.ingest_results(self.lab, rows, **kwargs)

    def row(self, barcode, result, minutes_ago=30, **extra):
        return {"barcode": barcode, "result": result,
                "tested_at": timezone.now() - timedelta(minutes=minutes_ago), **extra}


class SamplingTests(TestingBase):
    def test_ten_in_one_tube_fills_and_closes(self):
        session = self.session(10)
        self.assertEqual(session.area_id, self.point.area_id)
        self.fill(session, "T0001", self.people[:10])
        tube = Tube.objects.get(barcode="T0001")
        self.assertEqual((tube.capacity, tube.status), (10, TubeStatus.CLOSED))
        self.assertIsNotNone(tube.closed_at)
        self.assertEqual(tube.samples.count(), 10)
        self.assertEqual(Sample.objects.get(person=self.people[1]).area_id, self.w.grid_a2.pk)

    def test_tube_over_capacity_is_refused(self):
        session = self.session(5)
        self.fill(session, "T0002", self.people[:5])
        with self.assertRaisesMessage(ValidationError, "采样管已满/已封管"):
            services.add_sample(self.staff, session, barcode="T0002", person=self.people[5], client_key="over")
        self.assertEqual(Sample.objects.filter(tube__barcode="T0002").count(), 5)

    def test_sealed_tube_is_refused(self):
        session = self.session(10)
        self.fill(session, "T0003", self.people[:3])
        tube = services.seal_tube(self.staff, Tube.objects.get(barcode="T0003"))
        self.assertEqual(tube.status, TubeStatus.CLOSED)
        with self.assertRaisesMessage(ValidationError, "采样管已满/已封管"):
            services.add_sample(self.staff, session, barcode="T0003", person=self.people[4], client_key="late")

    def test_close_session_seals_open_tubes(self):
        session = self.session(10)
        self.fill(session, "T0004", self.people[:2])
        services.close_session(self.staff, session)
        self.assertEqual(Tube.objects.get(barcode="T0004").status, TubeStatus.CLOSED)
        with self.assertRaises(ValidationError):
            services.add_sample(self.staff, session, barcode="T0005", person=self.people[3], client_key="closed")

    def test_same_person_twice_in_a_day_is_kept_and_flagged(self):
        session = self.session(10)
        first = self.fill(session, "T0010", [self.people[0]], sampled_at=timezone.now())[0]
        second, created = services.add_sample(self.staff, session, barcode="T0011", person=self.people[0],
                                              client_key="again")
        self.assertTrue(created)
        self.assertFalse(first.duplicate)
        self.assertTrue(second.duplicate)
        self.assertEqual(Sample.objects.filter(person=self.people[0]).count(), 2)

    def test_sampled_yesterday_is_not_a_duplicate(self):
        session = self.session(10)
        services.add_sample(self.staff, session, barcode="T0012", person=self.people[0], client_key="y",
                            sampled_at=timezone.now() - timedelta(days=1, hours=1))
        today, _ = services.add_sample(self.staff, session, barcode="T0013", person=self.people[0], client_key="t")
        self.assertFalse(today.duplicate)

    def test_same_person_in_same_tube_is_refused(self):
        session = self.session(10)
        self.fill(session, "T0020", [self.people[0]])
        with self.assertRaisesMessage(ValidationError, "该人员已在此采样管中"):
            services.add_sample(self.staff, session, barcode="T0020", person=self.people[0], client_key="twice")

    def test_barcode_of_another_session_is_refused(self):
        self.fill(self.session(10), "T0030", [self.people[0]])
        with self.assertRaisesMessage(ValidationError, "其他采样批次"):
            services.add_sample(self.staff, self.session(10), barcode="T0030", person=self.people[1], client_key="x")

    def test_client_key_makes_a_resend_a_no_op(self):
        session = self.session(10)
        sample, created = services.add_sample(self.staff, session, barcode="T0040", person=self.people[0],
                                              client_key="offline-1")
        again, created_again = services.add_sample(self.staff, session, barcode="T0040", person=self.people[0],
                                                   client_key="offline-1")
        self.assertEqual((created, created_again, again.pk), (True, False, sample.pk))
        self.assertEqual(Sample.objects.count(), 1)
        self.assertTrue(AuditEvent.objects.filter(object_type="testing.sample", object_id=str(sample.pk)).exists())

    def test_point_out_of_scope_and_wrong_role(self):
        other = SamplingPoint.objects.create(name="乙村采样点", area=self.w.village_b)
        from django.core.exceptions import PermissionDenied
        with self.assertRaises(PermissionDenied):
            services.open_session(self.staff, other, 10)
        with self.assertRaises(PermissionDenied):
            services.open_session(self.lab, self.point, 10)
        with self.assertRaises(ValidationError):
            services.open_session(self.staff, self.point, 7)

    def test_find_person(self):
        number = self.numbers[0]
        self.assertEqual(services.find_person(number), self.people[0])
        spaced = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
        self.assertEqual(services.find_person(spaced), self.people[0])
        self.assertIsNone(services.find_person(make_resident_id()))
        self.assertIsNone(services.find_person("not-a-number"))
        self.assertIsNone(services.find_person(""))

    def test_person_tests(self):
        session = self.session(10)
        self.fill(session, "T0050", [self.people[0]])
        self.ingest([self.row("T0050", "阴性")])
        history = services.person_tests(self.people[0])
        self.assertEqual(len(history), 1)
        self.assertEqual((history[0]["barcode"], history[0]["pool_size"], history[0]["result"]),
                         ("T0050", 10, Result.NEGATIVE))
        self.assertIsNotNone(history[0]["resulted_at"])
        self.assertEqual(history[0]["followup_status"], "")


class ResultTests(TestingBase):
    def test_negative_result_and_resend_is_duplicate(self):
        self.fill(self.session(10), "R0001", self.people[:3])
        rows = [self.row("R0001", "阴性", ct_values={"ORF1ab": "38.1", "N": ""})]
        first = self.ingest(rows, lab="县疾控")
        self.assertEqual((first["accepted"], first["duplicate"], first["positives"]), (1, 0, 0))
        tube = Tube.objects.get(barcode="R0001")
        self.assertEqual((tube.result, tube.status), (Result.NEGATIVE, TubeStatus.RESULTED))
        self.assertEqual(LabResult.objects.get().ct_values, {"ORF1ab": 38.1})
        second = self.ingest(rows)
        self.assertEqual((second["accepted"], second["duplicate"]), (0, 1))
        self.assertEqual(LabResult.objects.count(), 1)
        self.assertEqual(AuditEvent.objects.filter(object_type="testing.labresult").count(), 2)

    def test_time_formats_words_and_bad_rows(self):
        sampled = timezone.make_aware(datetime(2022, 4, 9, 8, 0))
        self.fill(self.session(1), "R0002", [self.people[0]], sampled_at=sampled)
        self.fill(self.session(1), "R0003", [self.people[1]], sampled_at=sampled)
        answer = self.ingest([
            {"barcode": "r0002", "result": "negative", "tested_at": "2022年4月9日 10:00"},
            {"barcode": "R0003", "result": "无效", "tested_at": "2022-04-09T11:00:00+08:00"},
            {"barcode": "R0004", "result": "maybe", "tested_at": "yesterday"},
            {"barcode": "", "result": "阴性", "tested_at": "2022-04-09 10:00"},
        ])
        self.assertEqual(answer["accepted"], 2)
        self.assertEqual([r["row"] for r in answer["rejected"]], [3, 4])
        self.assertEqual(len(answer["rejected"][0]["errors"]), 2)
        at = timezone.localtime(Tube.objects.get(barcode="R0002").resulted_at)
        self.assertEqual((at.year, at.month, at.day, at.hour), (2022, 4, 9, 10))

    def test_unknown_tube_is_kept_then_matched(self):
        answer = self.ingest([self.row("R0100", "阴性")])
        self.assertEqual((answer["accepted"], answer["unmatched"]), (1, 1))
        result = LabResult.objects.get(barcode="R0100")
        self.assertIsNone(result.tube)
        session = self.session(5)
        self.fill(session, "R0100", self.people[:5])  # full: closes and picks up its result
        result.refresh_from_db()
        tube = Tube.objects.get(barcode="R0100")
        self.assertEqual(result.tube, tube)
        self.assertEqual(tube.result, Result.NEGATIVE)

    def test_unmatched_result_linked_by_match_unmatched(self):
        self.ingest([self.row("R0101", "阴性")])
        self.fill(self.session(10), "R0101", self.people[:2])
        self.assertEqual(services.match_unmatched(self.lab), 1)
        self.assertEqual(Tube.objects.get(barcode="R0101").result, Result.NEGATIVE)
        self.assertEqual(services.match_unmatched(self.lab), 0)

    def test_result_before_sampling_is_rejected(self):
        sampled = timezone.now() - timedelta(hours=3)
        self.fill(self.session(10), "R0300", self.people[:2], sampled_at=sampled)
        early = self.row("R0300", "阳性", minutes_ago=240)
        answer = self.ingest([early, early, self.row("R0300", "阴性", minutes_ago=30)])
        reason = (f"检测时间早于该管的采样时间（{timezone.localtime(sampled):%Y-%m-%d %H:%M}），"
                  "请核对管码和检测时间。")
        # Both copies are rejected (the first is not remembered as seen), the later result is stored.
        self.assertEqual(answer["rejected"], [{"row": 1, "errors": [reason]}, {"row": 2, "errors": [reason]}])
        self.assertEqual((answer["accepted"], answer["duplicate"], answer["positives"]), (1, 0, 0))
        self.assertEqual(list(LabResult.objects.values_list("result", flat=True)), [Result.NEGATIVE])
        # Alone, the early result leaves the tube with no result at all.
        self.fill(self.session(10), "R0301", self.people[2:4], sampled_at=sampled)
        alone = self.ingest([self.row("R0301", "阳性", minutes_ago=240)])
        self.assertEqual((alone["accepted"], alone["rejected"]), (0, [{"row": 1, "errors": [reason]}]))
        tube = Tube.objects.get(barcode="R0301")
        self.assertEqual((tube.result, tube.resulted_at, tube.needs_review), ("", None, False))
        self.assertFalse(LabResult.objects.filter(barcode="R0301").exists())
        self.assertFalse(PoolFollowup.objects.exists())

    def test_unmatched_result_older_than_the_sampling_stays_unmatched(self):
        answer = self.ingest([self.row("R0302", "阳性", minutes_ago=240)])
        self.assertEqual((answer["accepted"], answer["unmatched"], answer["rejected"]), (1, 1, []))
        self.fill(self.session(10), "R0302", self.people[:2])  # sampled three hours ago, after that result
        self.assertEqual(services.match_unmatched(self.lab), 0)
        old = LabResult.objects.get(barcode="R0302")
        self.assertIsNone(old.tube)
        tube = Tube.objects.get(barcode="R0302")
        self.assertEqual((tube.result, tube.needs_review), ("", False))
        self.assertFalse(PoolFollowup.objects.exists())
        # A later unmatched result of the same barcode is linked; the old one still is not.
        LabResult.objects.create(barcode="R0302", result=Result.NEGATIVE, received_by=self.lab,
                                 tested_at=timezone.now() - timedelta(minutes=30))
        self.assertEqual(services.match_unmatched(self.lab, barcodes=["R0302"]), 1)
        old.refresh_from_db()
        self.assertIsNone(old.tube)
        tube.refresh_from_db()
        self.assertEqual(tube.result, Result.NEGATIVE)

    def test_conflicting_results_are_both_kept_and_flagged(self):
        self.fill(self.session(10), "R0200", self.people[:3])
        self.ingest([self.row("R0200", "阴性", minutes_ago=60)])
        answer = self.ingest([self.row("R0200", "阳性", minutes_ago=30)])
        self.assertEqual((answer["accepted"], answer["conflicts"], answer["positives"]), (1, 1, 0))
        tube = Tube.objects.get(barcode="R0200")
        self.assertEqual(tube.result, Result.NEGATIVE)
        self.assertTrue(tube.needs_review)
        results = list(LabResult.objects.filter(barcode="R0200").order_by("tested_at"))
        self.assertEqual([(r.result, r.conflicting) for r in results],
                         [(Result.NEGATIVE, False), (Result.POSITIVE, True)])
        self.assertFalse(PoolFollowup.objects.exists())

    def test_invalid_then_valid_is_not_a_conflict(self):
        self.fill(self.session(10), "R0201", self.people[:3])
        self.ingest([self.row("R0201", "无效", minutes_ago=60), self.row("R0201", "阴性", minutes_ago=30)])
        tube = Tube.objects.get(barcode="R0201")
        self.assertEqual((tube.result, tube.needs_review), (Result.NEGATIVE, False))

    def test_batch_uses_a_bounded_number_of_queries(self):
        session = self.session(1)
        tubes = [Tube(barcode=f"B{i:05d}", session=session, area_id=session.area_id, capacity=10,
                      status=TubeStatus.CLOSED) for i in range(2000)]
        Tube.objects.bulk_create(tubes)
        rows = [self.row(f"B{i:05d}", "阴性") for i in range(2000)] + [self.row(f"X{i:05d}", "阴性")
                                                                       for i in range(500)]
        with CaptureQueriesContext(connection) as queries:
            answer = self.ingest(rows)
        self.assertEqual((answer["accepted"], answer["unmatched"]), (2500, 500))
        self.assertLess(len(queries), 60)  # 2,500 rows: per chunk, not per row
        self.assertEqual(Tube.objects.filter(result=Result.NEGATIVE).count(), 2000)


@override_settings(FANGKONG_POOL_RETEST_HOURS=4)
class PositiveTests(TestingBase):
    def test_pooled_positive_puts_every_member_under_followup(self):
        self.fill(self.session(10), "P0001", self.people[:10])
        answer = self.ingest([self.row("P0001", "阳性")])
        self.assertEqual((answer["positives"], answer["followups"], answer["already_cases"]), (1, 10, 0))
        followups = PoolFollowup.objects.filter(tube__barcode="P0001")
        self.assertEqual(followups.count(), 10)
        self.assertTrue(all(f.status == FollowupStatus.PENDING and f.task_id for f in followups))
        deadline = followups[0].deadline - timezone.now()
        self.assertTrue(timedelta(hours=3, minutes=55) < deadline <= timedelta(hours=4))
        tasks = Task.objects.filter(kind="pool_retest")
        self.assertEqual(tasks.count(), 10)
        for person in self.people[:10]:
            task = tasks.get(subject_id=str(person.pk))
            self.assertEqual((task.area_id, task.role), (person.area_id, Role.GRID_WORKER))
            text = task.title + task.description
            self.assertIn(person.name, text)
            self.assertIn("4 小时", text)
            for other in self.people[:10]:
                if other != person:
                    self.assertNotIn(other.name, text)
        signals = Signal.objects.filter(kind="positive_pool")
        self.assertEqual(signals.count(), 1)
        self.assertFalse(Signal.objects.filter(kind="positive_result").exists())
        self.assertEqual(services.person_tests(self.people[0])[0]["followup_status"], FollowupStatus.PENDING)

    def test_pooled_positive_with_a_member_already_a_case(self):
        self.fill(self.session(10), "P0002", self.people[:10])
        Case.objects.create(number="C-001", person=self.people[3], area=self.people[3].area,
                            classification=Classification.CONFIRMED)
        answer = self.ingest([self.row("P0002", "阳性")])
        self.assertEqual((answer["followups"], answer["already_cases"]), (9, 1))
        self.assertFalse(PoolFollowup.objects.filter(person=self.people[3]).exists())
        self.assertEqual(Task.objects.filter(kind="pool_retest").count(), 9)
        self.assertEqual(Signal.objects.get(kind="positive_pool").details["already_cases"], 1)

    def test_single_positive_raises_a_critical_signal_only(self):
        self.fill(self.session(1), "S0001", [self.people[0]])
        answer = self.ingest([self.row("S0001", "positive")])
        self.assertEqual(answer["positives"], 1)
        signal = Signal.objects.get(kind="positive_result")
        self.assertEqual((signal.person, signal.severity), (self.people[0], 3))
        self.assertFalse(PoolFollowup.objects.exists())
        self.assertFalse(Case.objects.exists())

    def test_retest_finds_the_positive_person(self):
        self.fill(self.session(10), "P0003", self.people[:10])
        self.ingest([self.row("P0003", "阳性", minutes_ago=120)])
        single = self.session(1)
        retested = timezone.now() - timedelta(minutes=60)  # after the pool's result, before the re-test's
        self.fill(single, "S0100", [self.people[2]], sampled_at=retested)
        self.fill(single, "S0101", [self.people[5]], sampled_at=retested)
        found = PoolFollowup.objects.get(person=self.people[2])
        self.assertEqual((found.status, found.retest.tube.barcode), (FollowupStatus.SAMPLED, "S0100"))
        answer = self.ingest([self.row("S0100", "阳性"), self.row("S0101", "阴性")])
        self.assertEqual(answer["positives"], 1)
        found.refresh_from_db()
        self.assertEqual(found.status, FollowupStatus.POSITIVE)
        self.assertEqual(Signal.objects.get(kind="positive_result").person, self.people[2])
        cleared = PoolFollowup.objects.get(person=self.people[5])
        self.assertEqual(cleared.status, FollowupStatus.NEGATIVE)
        self.assertEqual(cleared.task.status, TaskStatus.DONE)
        self.assertEqual(PoolFollowup.objects.filter(status=FollowupStatus.PENDING).count(), 8)
        history = services.person_tests(self.people[2])
        self.assertEqual([h["barcode"] for h in history], ["S0100", "P0003"])
        self.assertTrue(history[0]["is_retest"])


class ResultFileTests(TestingBase):
    def setUp(self):
        sampled = timezone.make_aware(datetime(2022, 4, 9, 8, 0))  # before the files' results
        self.fill(self.session(10), "F0001", self.people[:3], sampled_at=sampled)
        self.fill(self.session(1), "F0002", [self.people[4]], sampled_at=sampled)

    def test_gbk_csv(self):
        text = ("某某医学检验实验室核酸检测结果,,,\n管码,检测结果,报告时间,Ct值\n"
                "F0001,阴性,2022年4月9日 10:00,\nF0002,阳性,2022/4/9 10:30,28.5\nZ9999,阴性,2022-04-09 10:00,\n")
        upload = SimpleUploadedFile("结果.csv", text.encode("gbk"), content_type="text/csv")
        answer = services.import_result_file(self.lab, upload, lab="某某实验室")
        self.assertEqual((answer["accepted"], answer["unmatched"], answer["positives"]), (3, 1, 1))
        self.assertEqual(LabResult.objects.get(barcode="F0002").ct_values, {"Ct": 28.5})
        self.assertEqual(LabResult.objects.get(barcode="F0001").lab, "某某实验室")

    def test_xlsx_with_merged_header_cells(self):
        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = book.add_worksheet("结果")
        sheet.merge_range(0, 0, 0, 4, "县人民医院新冠病毒核酸检测报告")
        sheet.merge_range(1, 0, 2, 0, "样本编号")
        sheet.merge_range(1, 1, 2, 1, "结果")
        sheet.merge_range(1, 2, 2, 2, "检测时间")
        sheet.merge_range(1, 3, 1, 4, "Ct值")
        sheet.write(2, 3, "ORF1ab")
        sheet.write(2, 4, "N")
        sheet.write_row(3, 0, ["F0001", "阴性", "2022-04-09 10:00", "", ""])
        sheet.write_row(4, 0, ["F0002", "阳性", "2022-04-09 10:30", 30.1, 31.2])
        book.close()
        upload = SimpleUploadedFile("结果.xlsx", buffer.getvalue())
        answer = services.import_result_file(self.lab, upload)
        self.assertEqual((answer["accepted"], answer["positives"], answer["rejected"]), (2, 1, []))
        self.assertEqual(LabResult.objects.get(barcode="F0002").ct_values, {"ORF1ab": 30.1, "N": 31.2})
        self.assertEqual(Tube.objects.get(barcode="F0001").result, Result.NEGATIVE)

    def test_file_without_header(self):
        from fangkong.core.tabular import ImportFileError
        upload = SimpleUploadedFile("x.csv", b"a,b\n1,2\n")
        with self.assertRaises(ImportFileError):
            services.import_result_file(self.lab, upload)
