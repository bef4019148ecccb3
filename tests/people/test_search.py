from fangkong.people import services
from fangkong.people.choices import DocumentType
from fangkong.people.selectors import search_people
from tests.base import WorldTestCase
from tests.factories import make_person, make_resident_id


class SearchPeopleTest(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.zhang_san_feng = make_person(w.hq, w.grid_a2, "张三丰", phone="13862345678")
        cls.zhao_si = make_person(w.hq, w.grid_a, "赵四")
        cls.passport_holder = services.create_person(
            w.hq, {"name": "Anna", "doc_type": DocumentType.PASSPORT, "document_number": "E12345678"},
            area=w.grid_a,
        )

    def found(self, q, user=None, **kwargs):
        return set(search_people(user or self.w.hq, q, **kwargs))

    def test_name_prefix(self):
        self.assertEqual(self.found("张"), {self.w.person_a, self.zhang_san_feng})

    def test_full_name(self):
        self.assertEqual(self.found("张三丰"), {self.zhang_san_feng})
        self.assertEqual(self.found(" 李四 "), {self.w.person_b})

    def test_pinyin_initials(self):
        self.assertEqual(self.found("zs"), {self.w.person_a, self.zhao_si, self.zhang_san_feng})
        self.assertEqual(self.found("ZSF"), {self.zhang_san_feng})

    def test_full_pinyin_prefix(self):
        self.assertEqual(self.found("zhang"), {self.w.person_a, self.zhang_san_feng})
        self.assertEqual(self.found("zhangsanf"), {self.zhang_san_feng})

    def test_last_four_of_the_id_number(self):
        last4 = self.w.person_b.doc_last4
        self.assertIn(self.w.person_b, self.found(last4))
        self.assertTrue(all(p.doc_last4 == last4 for p in self.found(last4)))

    def test_full_phone(self):
        self.assertEqual(self.found("13862345678"), {self.zhang_san_feng})
        self.assertEqual(self.found("+86 138 6234 5678"), {self.zhang_san_feng})

    def test_full_id_number(self):
        number = self.w.person_a.document_number
        self.assertEqual(self.found(number), {self.w.person_a})
        self.assertEqual(self.found(number.lower()), {self.w.person_a})

    def test_other_document_number(self):
        self.assertEqual(self.found("e12345678"), {self.passport_holder})

    def test_unknown_id_number_finds_nobody(self):
        self.assertEqual(self.found(make_resident_id()), set())

    def test_empty_query_lists_everyone_in_scope(self):
        self.assertEqual(len(self.found("")), 5)

    def test_grid_worker_cannot_find_other_grids_people(self):
        self.assertEqual(self.found("zs", self.w.grid_b_worker), set())
        self.assertEqual(self.found(self.w.person_a.document_number, self.w.grid_b_worker), set())
        self.assertEqual(self.found("zs", self.w.grid_a_worker), {self.w.person_a, self.zhao_si})

    def test_area_prefix_narrows_within_scope(self):
        self.assertEqual(self.found("张", area_prefix=self.w.grid_a2.prefix), {self.zhang_san_feng})
        # A prefix outside the user's scope cannot widen it.
        self.assertEqual(self.found("", self.w.grid_a_worker, area_prefix=self.w.grid_b.prefix), set())

    def test_key_group_filter(self):
        from fangkong.people.models import KeyGroup

        services.update_person(self.w.hq, self.zhao_si, {}, key_groups=[KeyGroup.objects.get(code="medical")])
        self.assertEqual(self.found("", key_group="medical"), {self.zhao_si})

    def test_merged_people_are_excluded(self):
        copy = services.create_person(self.w.hq, {"name": "张三", "doc_type": DocumentType.NONE}, area=self.w.grid_a)
        self.assertIn(copy, self.found("张三"))
        services.merge_people(self.w.hq, self.w.person_a, copy, "重复登记")
        self.assertEqual(self.found("张三"), {self.w.person_a, self.zhang_san_feng})

    def test_sentinel_reporter_finds_nobody(self):
        self.assertEqual(self.found("李四", self.w.outsider), set())
