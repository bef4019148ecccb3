from fangkong.areas.models import Area
from fangkong.audit.models import AuditEvent
from fangkong.core.scope import in_scope, prefix_for, prefix_q
from fangkong.people.models import Person
from tests.base import WorldTestCase
from tests.factories import make_user


def test_prefix_for_cuts_the_code_at_the_level():
    assert prefix_for("370923001001", "county") == "370923"
    assert prefix_for("370923001001", "township") == "370923001"
    assert prefix_for("370923001001", "village") == "370923001001"
    assert prefix_for("370923001001001", "grid") == "370923001001001"


def test_prefix_q_none_means_everything():
    assert prefix_q("code", None).children == []


def test_in_scope_is_a_prefix_test():
    assert in_scope("370923001001001", "370923")
    assert not in_scope("370923002001001", "370923001")
    assert not in_scope("", "370923")
    assert not in_scope(None, "370923")
    assert in_scope("", None)


class PrefixRangeTest(WorldTestCase):
    def codes(self, prefix):
        return set(Area.objects.filter(prefix_q("code", prefix)).values_list("code", flat=True))

    def test_county_prefix_sees_grid_codes(self):
        self.assertIn(self.w.grid_a.code, self.codes("370923"))
        self.assertIn(self.w.grid_b.code, self.codes("370923"))

    def test_township_a_does_not_see_township_b(self):
        codes = self.codes(self.w.township_a.prefix)
        self.assertIn(self.w.grid_a.code, codes)
        self.assertIn(self.w.grid_a2.code, codes)
        self.assertNotIn(self.w.township_b.code, codes)
        self.assertNotIn(self.w.grid_b.code, codes)

    def test_grid_prefix_sees_only_its_grid(self):
        self.assertEqual(self.codes(self.w.grid_a.prefix), {self.w.grid_a.code})


class RestrictedQuerySetTest(WorldTestCase):
    def visible_people(self, user, action="view"):
        return set(Person.objects.restrict(user, action))

    def test_county_admin_sees_everyone(self):
        self.assertEqual(self.visible_people(self.w.hq), {self.w.person_a, self.w.person_b})

    def test_township_officer_sees_own_township_only(self):
        self.assertEqual(self.visible_people(self.w.township_a_officer), {self.w.person_a})

    def test_grid_worker_cannot_see_other_grid(self):
        self.assertEqual(self.visible_people(self.w.grid_a_worker), {self.w.person_a})
        self.assertEqual(self.visible_people(self.w.grid_b_worker), {self.w.person_b})

    def test_role_without_the_permission_sees_nothing(self):
        # A sentinel reporter sits in grid B but has no people.view_person.
        self.assertFalse(self.w.outsider.has_perm("people.view_person"))
        self.assertEqual(self.visible_people(self.w.outsider), set())

    def test_action_the_role_lacks_returns_none(self):
        # An auditor may read people but not merge them.
        self.assertTrue(self.visible_people(self.w.auditor))
        self.assertEqual(self.visible_people(self.w.auditor, "merge"), set())

    def test_user_without_area_sees_nothing(self):
        user = make_user("no_area", "hq_admin", None)
        self.assertEqual(self.visible_people(user), set())
        self.assertEqual(Area.objects.restrict(user).count(), 0)

    def test_superuser_without_area_sees_everything(self):
        user = make_user("root", "hq_admin", None, is_superuser=True)
        self.assertEqual(self.visible_people(user), {self.w.person_a, self.w.person_b})
        self.assertEqual(self.visible_people(user, "merge"), {self.w.person_a, self.w.person_b})

    def test_anonymous_and_inactive_users_see_nothing(self):
        from django.contrib.auth.models import AnonymousUser

        self.assertEqual(Person.objects.restrict(AnonymousUser()).count(), 0)
        self.assertEqual(Person.objects.restrict(None).count(), 0)
        inactive = make_user("gone", "hq_admin", self.w.county, is_active=False)
        self.assertEqual(Person.objects.restrict(inactive).count(), 0)

    def test_audit_rows_are_scoped_by_their_area_code(self):
        # Audit rows carry the area code of the record they describe.
        visible = AuditEvent.objects.restrict(self.w.hq)
        self.assertTrue(visible.filter(area_code=self.w.grid_a.code).exists())
        self.assertFalse(AuditEvent.objects.restrict(self.w.grid_a_worker).exists())
