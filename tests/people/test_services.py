import io
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.models import AuditEvent
from fangkong.people import services
from fangkong.people.choices import DocumentType
from fangkong.people.models import KeyGroup, Person
from tests.base import WorldTestCase
from tests.factories import make_household, make_person, make_resident_id


def population(area):
    return Area.objects.get(pk=area.pk).population


def events(person, action):
    return AuditEvent.objects.filter(object_type="people.person", object_id=str(person.pk), action=action)


class CreatePersonTest(WorldTestCase):
    def test_create_writes_an_audit_row_with_masked_values_only(self):
        number = make_resident_id()
        person = make_person(self.w.grid_a_worker, self.w.grid_a, "王五", document_number=number,
                             phone="13862345678")
        event = events(person, AuditAction.CREATE).get()
        self.assertEqual(event.user, self.w.grid_a_worker)
        self.assertEqual(event.area_code, self.w.grid_a.code)
        dumped = json.dumps(event.changes, ensure_ascii=False) + event.object_repr
        self.assertNotIn(number, dumped)
        self.assertNotIn("13862345678", dumped)
        self.assertEqual(event.changes["doc_masked"], [None, person.doc_masked])
        self.assertEqual(event.changes["phone_masked"], [None, "138****5678"])
        self.assertIn(person.doc_masked, event.object_repr)

    def test_create_fills_birth_date_sex_and_pinyin_from_the_id(self):
        number = make_resident_id(male=False)
        person = make_person(self.w.hq, self.w.grid_a, "张晓红", document_number=number)
        self.assertEqual(person.birth_date.isoformat(), f"{number[6:10]}-{number[10:12]}-{number[12:14]}")
        self.assertEqual(person.sex, "F")
        self.assertEqual((person.name_pinyin, person.name_initials), ("zhangxiaohong", "zxh"))
        self.assertEqual(person.document_number, number)
        self.assertEqual(person.doc_last4, number[-4:])

    def test_create_counts_population_up_the_tree(self):
        before = {a: population(a) for a in (self.w.grid_a, self.w.village_a, self.w.township_a, self.w.county)}
        make_person(self.w.hq, self.w.grid_a, "王五")
        for area, count in before.items():
            self.assertEqual(population(area), count + 1, area.name)
        self.assertEqual(population(self.w.township_b), 1)
        self.assertEqual(population(self.w.grid_a2), 0)

    def test_duplicate_id_number_is_refused_in_chinese(self):
        with self.assertRaises(ValidationError) as info:
            make_person(self.w.hq, self.w.grid_b, "张三", document_number=self.w.person_a.document_number)
        self.assertIn("同一证件号码只能对应一人", info.exception.message_dict["document_number"][0])
        self.assertEqual(Person.objects.count(), 2)

    def test_bad_fields_are_named_in_the_error(self):
        with self.assertRaises(ValidationError) as info:
            services.create_person(self.w.hq, {"name": "", "document_number": "123", "phone": "12"},
                                   area=self.w.grid_a)
        self.assertEqual(set(info.exception.message_dict), {"name", "document_number", "phone"})

    def test_create_outside_own_area_is_refused(self):
        with self.assertRaises(ValidationError) as info:
            make_person(self.w.grid_a_worker, self.w.grid_b, "王五")
        self.assertIn("管辖范围", info.exception.message_dict["area"][0])
        self.assertEqual(population(self.w.grid_b), 1)

    def test_role_without_add_permission_cannot_create(self):
        with self.assertRaises(PermissionDenied):
            make_person(self.w.outsider, self.w.grid_b, "王五")
        with self.assertRaises(PermissionDenied):
            make_person(self.w.auditor, self.w.grid_b, "王五")

    def test_person_without_document_can_be_registered(self):
        person = services.create_person(
            self.w.hq, {"name": "无证人", "doc_type": DocumentType.NONE, "birth_date": None}, area=self.w.grid_a
        )
        self.assertEqual((person.doc_index, person.doc_masked, person.doc_sealed), ("", "", ""))


class UpdatePersonTest(WorldTestCase):
    def test_update_audits_the_difference(self):
        person = self.w.person_a
        services.update_person(self.w.grid_a_worker, person, {"name": "张三", "address": "幸福路1号",
                                                              "phone": "15912345678"})
        event = events(person, AuditAction.UPDATE).get()
        self.assertEqual(event.changes["address"], ["", "幸福路1号"])
        self.assertEqual(event.changes["phone_masked"][1], "159****5678")
        self.assertNotIn("name", event.changes)
        self.assertNotIn("15912345678", json.dumps(event.changes))

    def test_update_without_a_change_writes_no_audit_row(self):
        services.update_person(self.w.hq, self.w.person_a, {"name": "张三"})
        self.assertFalse(events(self.w.person_a, AuditAction.UPDATE).exists())

    def test_partial_update_keeps_name_and_document(self):
        number = self.w.person_a.document_number
        person = services.update_person(self.w.hq, self.w.person_a, {"address": "新址"})
        person.refresh_from_db()
        self.assertEqual((person.name, person.address, person.document_number), ("张三", "新址", number))

    def test_moving_a_person_between_grids_shifts_population(self):
        services.update_person(self.w.hq, self.w.person_a, {"name": "张三"}, area=self.w.grid_b)
        self.assertEqual(population(self.w.grid_a), 0)
        self.assertEqual(population(self.w.township_a), 0)
        self.assertEqual(population(self.w.grid_b), 2)
        self.assertEqual(population(self.w.township_b), 2)
        self.assertEqual(population(self.w.county), 2)
        event = events(self.w.person_a, AuditAction.UPDATE).get()
        self.assertEqual(event.changes["area"], [self.w.grid_a.code, self.w.grid_b.code])

    def test_grid_worker_cannot_move_a_person_out_of_scope(self):
        with self.assertRaises(ValidationError):
            services.update_person(self.w.grid_a_worker, self.w.person_a, {"name": "张三"}, area=self.w.grid_b)
        self.assertEqual(population(self.w.grid_a), 1)

    def test_grid_worker_cannot_change_other_grids_person(self):
        with self.assertRaises(PermissionDenied):
            services.update_person(self.w.grid_b_worker, self.w.person_a, {"address": "改"})

    def test_changing_the_id_to_one_already_registered_is_refused(self):
        with self.assertRaises(ValidationError):
            services.update_person(self.w.hq, self.w.person_a,
                                   {"document_number": self.w.person_b.document_number})

    def test_key_group_change_is_audited(self):
        group = KeyGroup.objects.get(code="medical")
        services.update_person(self.w.hq, self.w.person_a, {"name": "张三"}, key_groups=[group])
        self.assertEqual(events(self.w.person_a, AuditAction.UPDATE).get().changes["key_groups"], [[], ["medical"]])


class RevealPersonTest(WorldTestCase):
    def test_reveal_requires_a_reason(self):
        for reason in ("", " ", "查"):
            with self.assertRaises(ValidationError):
                services.reveal_person(self.w.grid_a_worker, self.w.person_a, reason)
        self.assertFalse(events(self.w.person_a, AuditAction.REVEAL).exists())

    def test_grid_worker_can_reveal_own_grid_person_and_it_is_logged(self):
        plain = services.reveal_person(self.w.grid_a_worker, self.w.person_a, "电话核实返乡情况")
        self.assertEqual(plain["document_number"], self.w.person_a.document_number)
        self.assertEqual(len(plain["phone"]), 11)
        event = events(self.w.person_a, AuditAction.REVEAL).get()
        self.assertEqual((event.user, event.reason), (self.w.grid_a_worker, "电话核实返乡情况"))
        self.assertNotIn(plain["document_number"], json.dumps(event.changes) + event.object_repr)

    def test_sentinel_reporter_cannot_reveal(self):
        with self.assertRaises(PermissionDenied):
            services.reveal_person(self.w.outsider, self.w.person_b, "想看看")
        self.assertFalse(events(self.w.person_b, AuditAction.REVEAL).exists())

    def test_grid_worker_cannot_reveal_other_grids_person(self):
        with self.assertRaises(PermissionDenied):
            services.reveal_person(self.w.grid_b_worker, self.w.person_a, "核实身份")

    def test_viewing_a_person_is_logged(self):
        services.record_person_view(self.w.auditor, self.w.person_a)
        self.assertEqual(events(self.w.person_a, AuditAction.VIEW).get().user, self.w.auditor)


class MergePeopleTest(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.household = w.person_a.household
        services.update_person(w.hq, w.person_a, {"name": "张三"}, key_groups=[KeyGroup.objects.get(code="medical")])
        cls.copy = services.create_person(
            w.hq, {"name": "张三", "doc_type": DocumentType.NONE, "birth_date": w.person_a.birth_date,
                   "household": cls.household, "address": "幸福路1号", "phone": "15912345678"},
            area=w.grid_a, key_groups=[KeyGroup.objects.get(code="courier")],
        )

    def test_duplicate_candidates_find_same_name_birth_date_and_household(self):
        groups = services.duplicate_candidates(Person.objects.restrict(self.w.hq))
        self.assertEqual([set(g) for g in groups], [{self.w.person_a, self.copy}])

    def test_duplicate_candidates_are_scoped(self):
        self.assertEqual(services.duplicate_candidates(Person.objects.restrict(self.w.grid_b_worker)), [])

    def test_different_household_is_no_candidate(self):
        Person.objects.filter(pk=self.copy.pk).update(household=make_household(self.w.grid_a, door="102"))
        self.assertEqual(services.duplicate_candidates(Person.objects.restrict(self.w.hq)), [])

    def test_merge_keeps_both_rows_and_marks_the_duplicate(self):
        keep = services.merge_people(self.w.hq, self.w.person_a, self.copy, "同户重复登记")
        self.copy.refresh_from_db()
        self.assertEqual(self.copy.merged_into, keep)
        self.assertEqual(Person.objects.count(), 3)
        self.assertEqual(Person.objects.current().count(), 2)
        self.assertEqual(set(keep.key_groups.values_list("code", flat=True)), {"medical", "courier"})
        self.assertEqual(keep.address, "幸福路1号")
        # The kept record had a phone already: it stays.
        self.assertNotEqual(keep.phone, "15912345678")

    def test_merge_writes_an_audit_row_for_both(self):
        services.merge_people(self.w.hq, self.w.person_a, self.copy, "同户重复登记")
        kept = events(self.w.person_a, AuditAction.MERGE).get()
        folded = events(self.copy, AuditAction.MERGE).get()
        self.assertEqual(kept.changes["merged_from"], [None, self.copy.pk])
        self.assertEqual(folded.changes["merged_into"], [None, self.w.person_a.pk])
        self.assertEqual({kept.reason, folded.reason}, {"同户重复登记"})

    def test_merge_lowers_population(self):
        self.assertEqual(population(self.w.grid_a), 2)
        services.merge_people(self.w.hq, self.w.person_a, self.copy, "同户重复登记")
        self.assertEqual(population(self.w.grid_a), 1)
        self.assertEqual(population(self.w.county), 2)

    def test_merge_moves_the_document_to_a_record_without_one(self):
        number = self.w.person_a.document_number
        keep = services.merge_people(self.w.hq, self.copy, self.w.person_a, "保留新记录")
        keep.refresh_from_db()
        self.assertEqual(keep.document_number, number)
        self.assertEqual(Person.objects.get(pk=self.w.person_a.pk).doc_index, "")

    def test_merge_refuses_different_id_numbers(self):
        with self.assertRaises(ValidationError) as info:
            services.merge_people(self.w.hq, self.w.person_a, self.w.person_b, "疑似重复")
        self.assertIn("证件号码不同", info.exception.messages[0])

    def test_merge_refuses_self_already_merged_and_no_reason(self):
        with self.assertRaises(ValidationError):
            services.merge_people(self.w.hq, self.w.person_a, self.w.person_a, "自身")
        with self.assertRaises(ValidationError):
            services.merge_people(self.w.hq, self.w.person_a, self.copy, "")
        services.merge_people(self.w.hq, self.w.person_a, self.copy, "同户重复登记")
        with self.assertRaises(ValidationError):
            services.merge_people(self.w.hq, self.w.person_a, self.copy, "再次合并")

    def test_grid_worker_may_not_merge(self):
        with self.assertRaises(PermissionDenied):
            services.merge_people(self.w.grid_a_worker, self.w.person_a, self.copy, "同户重复登记")

    def test_township_officer_cannot_merge_people_of_another_township(self):
        with self.assertRaises(PermissionDenied):
            services.merge_people(self.w.township_a_officer, self.w.person_a, self.w.person_b, "疑似重复")


class RecountPopulationTest(WorldTestCase):
    def test_recount_matches_incremental_counts(self):
        for i in range(3):
            make_person(self.w.village_a_officer, self.w.grid_a2, f"王{i}")
        incremental = dict(Area.objects.values_list("code", "population"))
        Area.objects.update(population=0)
        total = services.recount_population()
        self.assertEqual(dict(Area.objects.values_list("code", "population")), incremental)
        self.assertEqual(total, 5)

    def test_recount_leaves_out_merged_people(self):
        copy = services.create_person(self.w.hq, {"name": "张三", "doc_type": DocumentType.NONE},
                                      area=self.w.grid_a)
        services.merge_people(self.w.hq, self.w.person_a, copy, "重复")
        incremental = dict(Area.objects.values_list("code", "population"))
        self.assertEqual(services.recount_population(), 2)
        self.assertEqual(dict(Area.objects.values_list("code", "population")), incremental)


class RecountCommandTest(WorldTestCase):
    def test_recount_command_restores_counts(self):
        Area.objects.update(population=0)
        call_command("recount_population", stdout=io.StringIO())
        self.w.county.refresh_from_db()
        self.assertEqual(self.w.county.population, 2)
