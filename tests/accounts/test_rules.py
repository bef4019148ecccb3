import pytest

from tests.base import WorldTestCase
from tests.factories import make_user

# (persona attribute, permission, expected)
EXPECTED = [
    ("auditor", "audit.view_auditevent", True),
    ("auditor", "audit.export_auditevent", True),
    ("hq", "audit.view_auditevent", True),
    ("grid_a_worker", "audit.view_auditevent", False),
    ("township_a_officer", "audit.view_auditevent", False),
    ("outsider", "people.view_person", False),
    ("outsider", "people.reveal_person", False),
    ("outsider", "areas.view_area", True),
    ("hq", "areas.import_area", True),
    ("township_a_officer", "areas.import_area", False),
    ("grid_a_worker", "people.view_person", True),
    ("grid_a_worker", "people.add_person", True),
    ("grid_a_worker", "people.reveal_person", True),
    ("grid_a_worker", "people.merge_person", False),
    ("grid_a_worker", "people.export_person", False),
    ("township_a_officer", "people.merge_person", True),
    ("village_a_officer", "people.merge_person", False),
    ("auditor", "people.view_person", True),
    ("auditor", "people.change_person", False),
    ("auditor", "people.reveal_person", False),
    ("grid_a_worker", "tasks.add_task", False),
    ("village_a_officer", "tasks.add_task", True),
    ("hq", "accounts.view_user", True),
    ("auditor", "accounts.view_user", False),
]


class RolePermissionTest(WorldTestCase):
    def test_each_role_holds_exactly_its_permissions(self):
        for persona, perm, expected in EXPECTED:
            with self.subTest(persona=persona, perm=perm):
                self.assertIs(getattr(self.w, persona).has_perm(perm), expected)

    def test_superuser_holds_every_permission(self):
        root = make_user("root", "sentinel_reporter", None, is_superuser=True)
        self.assertTrue(root.has_perm("areas.import_area"))
        self.assertTrue(root.has_perm("people.merge_person"))

    def test_unknown_permission_is_refused(self):
        self.assertFalse(self.w.hq.has_perm("people.delete_person"))


@pytest.mark.parametrize("perm", sorted({p for _, p, _ in EXPECTED}))
def test_every_checked_permission_is_declared(perm):
    from fangkong.accounts.rules import PERMISSIONS

    assert perm in PERMISSIONS
