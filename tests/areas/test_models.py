from django.db import IntegrityError, transaction

from fangkong.areas.models import Area, Household
from tests.base import WorldTestCase
from tests.factories import make_area, make_household


class AreaTreeTest(WorldTestCase):
    def test_prefix_is_set_from_the_level(self):
        self.assertEqual(self.w.county.prefix, "370923")
        self.assertEqual(self.w.township_a.prefix, "370923001")
        self.assertEqual(self.w.village_a.prefix, "370923001001")
        self.assertEqual(self.w.grid_a.prefix, "370923001001001")

    def test_ancestors_run_from_the_root_down(self):
        self.assertEqual(self.w.grid_a.ancestors(), [self.w.county, self.w.township_a, self.w.village_a])
        self.assertEqual(self.w.county.ancestors(), [])

    def test_full_name_leaves_out_the_county(self):
        self.assertEqual(self.w.grid_a.full_name, "甲镇甲村甲村一网格")

    def test_local_name_puts_the_parent_in_front_once(self):
        grid = make_area("370923001001009", "第1网格", "grid", self.w.village_a)
        self.assertEqual(grid.local_name, "甲村第1网格")
        self.assertEqual(self.w.grid_a.local_name, "甲村一网格")  # already named after its village
        self.assertEqual(self.w.township_a.local_name, "甲镇")  # the county is left out

    def test_subtree_is_a_prefix_range(self):
        codes = set(Area.objects.filter(self.w.township_a.subtree_q()).values_list("code", flat=True))
        self.assertEqual(codes, {self.w.township_a.code, self.w.village_a.code, self.w.grid_a.code,
                                 self.w.grid_a2.code})

    def test_code_must_be_digits(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            make_area("37092300100A", "坏代码", "village", self.w.township_a)

    def test_everyone_may_view_areas_of_their_scope(self):
        self.assertEqual(set(Area.objects.restrict(self.w.outsider)), {self.w.grid_b})
        self.assertEqual(Area.objects.restrict(self.w.hq).count(), Area.objects.count())


class HouseholdTest(WorldTestCase):
    def test_household_reads_as_building_unit_door(self):
        household = make_household(self.w.grid_a, building_name="3号楼", door="502")
        self.assertEqual(str(household), "3号楼1单元502")
        self.assertEqual(str(Household(address="幸福路8号")), "幸福路8号")

    def test_households_are_scoped_to_the_grid(self):
        self.assertEqual(list(Household.objects.restrict(self.w.grid_b_worker)), [self.w.person_b.household])
        self.assertFalse(Household.objects.restrict(self.w.outsider).exists())

    def test_population_kept_by_people_services(self):
        self.assertEqual(Area.objects.get(pk=self.w.county.pk).population, 2)
