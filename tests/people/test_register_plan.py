"""The dry run's plan kept for the commit, the two-process cleaning and the bulk load (issue 3's 1M-row target)."""

import os
from datetime import date, timedelta
from unittest import skipUnless

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from stdnum.cn import ric

from fangkong.areas.models import Building, Household
from fangkong.audit.models import AuditEvent
from fangkong.people.models import KeyGroup, Person
from fangkong.people.register import bulk, plan, quirks, services
from fangkong.people.register.reader import read_register
from tests.base import WorldTestCase
from tests.factories import make_person

HOUSEHOLD_KEY = "people_person_household_id_5312f7c5_fk_areas_household_id"
BUILDING_KEY = "areas_household_building_id_7edb8cba_fk_areas_building_id"
HEADER = "姓名,性别,公民身份号码,联系电话,楼栋,单元,门牌号,人员类别\n"


def resident_ids(count: int, start: date = date(1960, 1, 1)) -> list[str]:
    """COUNT distinct valid resident ID numbers."""
    numbers = []
    for n in range(count):
        body = f"370923{start + timedelta(days=n // 500):%Y%m%d}{n % 500 * 2 + 1:03d}"
        numbers.append(body + ric.calc_check_digit(body + "0"))
    return numbers


def register_csv(numbers, category="") -> bytes:
    lines = [f"王{n % 90 + 10}号,男,{number},138{n:08d},{n // 30 + 1}号楼,1,{n % 30 + 101},{category}"
             for n, number in enumerate(numbers)]
    return (HEADER + "\n".join(lines) + "\n").encode()


def without_seals(cleaned) -> list:
    """Cleaned rows without the ciphertexts (a fresh nonce every time)."""
    return [(tuple(v for i, v in enumerate(r) if i not in (plan.DOC_SEALED, plan.PHONE_SEALED))
             if isinstance(r, tuple) else r, number) for r, number in cleaned]


class KeptPlanTests(WorldTestCase):
    def setUp(self):
        self.user = self.w.grid_a_worker

    def dry_run(self, data: bytes):
        batch = services.upload_register(self.user, SimpleUploadedFile("r.csv", data), self.w.grid_a)
        services.save_mapping(self.user, batch, batch.mapping)
        services.run_dry_run(batch, self.user)
        batch.refresh_from_db()
        return batch

    def commit(self, batch):
        counts = services.run_commit(batch, self.user)
        event = AuditEvent.objects.filter(action="import", object_id=str(batch.pk)).latest("id")
        return counts, event.changes

    def test_the_commit_writes_the_kept_plan_and_removes_it(self):
        batch = self.dry_run(register_csv(resident_ids(5)))
        self.assertTrue(services.plan_path(batch).exists())
        counts, audit = self.commit(batch)
        self.assertEqual((counts["new"], audit["replanned"]), (5, False))
        self.assertEqual(Person.objects.filter(area=self.w.grid_a, name__startswith="王").count(), 5)
        self.assertFalse(services.plan_path(batch).exists())

    def test_the_kept_plan_holds_no_plain_id_number_or_phone(self):
        numbers = resident_ids(3)
        batch = self.dry_run(register_csv(numbers))
        kept = services.plan_path(batch).read_bytes()
        for number in numbers:
            self.assertNotIn(number.encode(), kept)
        self.assertNotIn(b"13800000001", kept)

    def test_someone_registered_between_dry_run_and_commit_is_noticed(self):
        numbers = resident_ids(3)
        batch = self.dry_run(register_csv(numbers))
        self.assertEqual(batch.summary["counts"]["new"], 3)
        make_person(self.w.hq, self.w.grid_a, "王先到", document_number=numbers[1])
        counts, audit = self.commit(batch)
        self.assertTrue(audit["replanned"])
        self.assertEqual((counts["new"], counts["updated"]), (2, 1))
        self.assertEqual(Person.objects.filter(name="王11号").count(), 1)  # the row updated the one on record

    def test_a_person_moved_out_of_scope_since_the_dry_run_is_refused_at_commit(self):
        numbers = resident_ids(2)
        self.commit(self.dry_run(register_csv(numbers[:1])))
        batch = self.dry_run(register_csv(numbers))
        Person.objects.filter(name="王10号").update(area=self.w.grid_b)
        counts, audit = self.commit(batch)
        self.assertTrue(audit["replanned"])
        self.assertEqual((counts["new"], counts["rejected"]), (1, 1))
        batch.refresh_from_db()
        self.assertIn("其他辖区", "".join(batch.summary["rejected"][0]["reasons"]))

    def test_a_key_group_renamed_since_the_dry_run_makes_the_commit_plan_again(self):
        group = KeyGroup.objects.create(code="test_cold_chain", name="测试冷链人员")
        batch = self.dry_run(register_csv(resident_ids(2), category="测试冷链人员"))
        group.name = "测试冷链从业人员"
        group.save()
        counts, audit = self.commit(batch)
        self.assertTrue(audit["replanned"])
        self.assertEqual((counts["new"], counts["rejected"]), (0, 2))

    def test_a_damaged_plan_file_is_not_trusted(self):
        batch = self.dry_run(register_csv(resident_ids(3)))
        path = services.plan_path(batch)
        path.write_bytes(path.read_bytes()[:-10])
        counts, audit = self.commit(batch)
        self.assertTrue(audit["replanned"])
        self.assertEqual(counts["new"], 3)

    def test_reupload_of_a_committed_file_changes_nothing(self):
        data = register_csv(resident_ids(4), category="流动人口")
        self.commit(self.dry_run(data))
        people = Person.objects.count()
        counts, audit = self.commit(self.dry_run(data))
        self.assertEqual((counts["unchanged"], counts["new"], audit["replanned"]), (4, 0, False))
        self.assertEqual(Person.objects.count(), people)


class ExistingPeopleTests(WorldTestCase):
    def test_probing_and_one_pass_over_the_register_find_the_same(self):
        group = KeyGroup.objects.create(code="test_cold_chain", name="测试冷链人员")
        people = [make_person(self.w.hq, self.w.grid_a, f"王{n}", document_number=number)
                  for n, number in enumerate(resident_ids(12))]
        people[1].key_groups.add(group)
        wanted = {people[1].doc_index, people[2].doc_index, "not-on-record"}
        probed = plan._existing_people(wanted)  # 3 wanted of 12+ on record: probed
        self.assertEqual(set(probed), {people[1].doc_index, people[2].doc_index})
        self.assertEqual(probed[people[1].doc_index].pk, people[1].pk)
        self.assertEqual(dict(plan._key_groups_of([people[1].pk, people[2].pk])), {people[1].pk: [group.code]})
        everyone = {p.doc_index for p in Person.objects.exclude(doc_index="")} | {"not-on-record"}
        passed = plan._existing_people(everyone)  # the whole register wanted: one pass
        self.assertEqual(passed[people[1].doc_index], probed[people[1].doc_index])
        self.assertEqual(len(passed), Person.objects.exclude(doc_index="").count())
        self.assertEqual(dict(plan._key_groups_of(list(Person.objects.values_list("pk", flat=True)))),
                         {people[1].pk: [group.code]})


class TwoProcessCleaningTests(WorldTestCase):
    def load(self, numbers):
        """A function giving the sheets of a register of these numbers, and the batch's column mapping."""
        batch = services.upload_register(self.w.grid_a_worker, SimpleUploadedFile("r.csv", register_csv(numbers)),
                                         self.w.grid_a)
        return (lambda: read_register(services.batch_path(batch), "r.csv")), batch.mapping

    def cleaner(self):
        return plan.Cleaner(plan.Grids(self.w.grid_a_worker, self.w.grid_a), {})

    def test_two_processes_clean_as_one_does(self):
        numbers = resident_ids(40)
        numbers[30] = "3.70923E+17"
        load, mapping = self.load(numbers)
        rows, one = plan.clean_rows(load, mapping, self.cleaner(), 40)
        with _parallel_from(10):
            rows_too, two = plan.clean_rows(load, mapping, self.cleaner(), 40)
        self.assertEqual(rows, rows_too)
        self.assertEqual(without_seals(one), without_seals(two))
        self.assertIn("科学计数法", two[30][0][0])

    def test_a_duplicate_across_the_two_halves_is_caught(self):
        numbers = resident_ids(40)
        numbers[35] = numbers[3]
        with _parallel_from(10):
            batch = services.upload_register(
                self.w.grid_a_worker, SimpleUploadedFile("r.csv", register_csv(numbers)), self.w.grid_a)
            services.run_dry_run(batch, self.w.grid_a_worker)
        batch.refresh_from_db()
        self.assertEqual(batch.summary["counts"]["rejected"], 1)
        self.assertIn("与第5行重复", batch.summary["rejected"][0]["reasons"][0])

    def test_a_failure_in_the_forked_copy_fails_the_plan(self):
        load, mapping = self.load(resident_ids(20))
        cleaner = self.cleaner()
        parent = os.getpid()

        def clean(sheet, row, raw, clean=cleaner.clean):
            if os.getpid() != parent:
                raise MemoryError  # in the copy only
            return clean(sheet, row, raw)

        cleaner.clean = clean
        with _parallel_from(10), self.assertRaisesRegex(RuntimeError, "first rows failed"):
            plan.clean_rows(load, mapping, cleaner, 20)


class _parallel_from:
    """Clean in two processes from N rows on (the default waits for files worth the fork)."""

    def __init__(self, rows: int):
        self.rows = rows

    def __enter__(self):
        self.before, plan.PARALLEL_ROWS = plan.PARALLEL_ROWS, self.rows

    def __exit__(self, *exc):
        plan.PARALLEL_ROWS = self.before


class BulkLoadTests(WorldTestCase):
    def indexes(self, model=Person) -> list[str]:
        with connection.cursor() as cursor:
            return sorted(connection.introspection.get_constraints(cursor, model._meta.db_table))

    def test_indexes_are_dropped_for_a_big_load_and_rebuilt_as_they_were(self):
        before = self.indexes()
        with transaction.atomic(), bulk.loading(Person, 10**9):
            self.assertLess(len(self.indexes()), len(before))
        self.assertEqual(self.indexes(), before)

    def test_a_failed_load_leaves_the_indexes_in_place(self):
        before = self.indexes()
        with self.assertRaises(ZeroDivisionError), transaction.atomic(), bulk.loading(Person, 10**9):
            1 / 0  # noqa: B018
        self.assertEqual(self.indexes(), before)

    def test_a_load_of_households_and_people_puts_every_constraint_back(self):
        before = self.indexes(), self.indexes(Household)
        with transaction.atomic(), bulk.loading(Household, 10**9, with_locked=[Building]), \
                bulk.loading(Person, 10**9):
            if connection.vendor == "postgresql":  # the tables locked: the keys between them are checked at the end
                self.assertNotIn(HOUSEHOLD_KEY, self.indexes())
                self.assertNotIn(BUILDING_KEY, self.indexes(Household))
        self.assertEqual((self.indexes(), self.indexes(Household)), before)

    @skipUnless(connection.vendor == "postgresql", "the key is dropped for the load on PostgreSQL only")
    def test_the_key_to_households_is_checked_when_added_back(self):
        person = make_person(self.w.hq, self.w.grid_a, "王悬空")
        with self.assertRaises(IntegrityError), transaction.atomic(), bulk.loading(Household, 10**9), \
                bulk.loading(Person, 10**9):
            Person.objects.filter(pk=person.pk).update(household_id=10**9)

    def test_a_small_load_keeps_the_indexes(self):
        before = self.indexes()
        with transaction.atomic(), bulk.loading(Person, 10):
            self.assertEqual(self.indexes(), before)


def test_clean_text_fast_path_lets_no_blank_through():
    blanks = [chr(c) for c in range(0x110000) if quirks._BLANKS.match(chr(c)) and chr(c).isprintable()]
    assert blanks == [" "]
    assert quirks.clean_text("王\u3000伟") == "王 伟"
    assert quirks.clean_text("ＡＢ１２") == "AB12"
    assert quirks.clean_text("'13862345678") == "13862345678"
