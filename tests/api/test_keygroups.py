"""GET/POST /api/v1/key-groups and GET /api/v1/key-groups/{id}/coverage."""

from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.choices import OrganizationKind, Role
from fangkong.accounts.models import Organization
from fangkong.people.models import KeyGroup
from fangkong.testing.models import RosterEntry
from tests.factories import make_person, make_user

from .base import ApiTestCase


class KeyGroupApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.dept = Organization.objects.create(name="县商务局", kind=OrganizationKind.COMMERCE, area=w.county)
        cls.other = Organization.objects.create(name="县交通局", kind=OrganizationKind.TRANSPORT, area=w.county)
        cls.dept_officer = make_user("commerce", Role.DEPT_OFFICER, w.county, organization=cls.dept)
        cls.group = KeyGroup.objects.create(code="kg_cold", name="测试冷链人员", test_interval_days=1,
                                            department=cls.dept)
        today = timezone.localdate()
        cls.late = RosterEntry.objects.create(group=cls.group, person=w.person_a, area=w.grid_a, employer="冷库甲",
                                              department=cls.dept, next_due=today - timedelta(days=1))
        driver = make_person(w.hq, w.grid_b, "王司机")
        RosterEntry.objects.create(group=cls.group, person=driver, area=w.grid_b, employer="运输公司",
                                   department=cls.other, next_due=today + timedelta(days=1))

    def test_list_with_counts(self):
        response = self.get(self.w.hq, "/key-groups")
        self.assertEqual(response.status_code, 200, response.content)
        row = next(g for g in response.json() if g["code"] == "kg_cold")
        self.assertEqual(row["test_interval_days"], 1)
        self.assertEqual(row["department_name"], "县商务局")
        self.assertEqual((row["counts"]["members"], row["counts"]["on_time"], row["counts"]["overdue"]), (2, 1, 1))
        # Seeded groups carry their intervals (china-ops §4).
        seeded = {g["code"]: g["test_interval_days"] for g in response.json()}
        self.assertEqual(seeded.get("coldchain"), 1)

    def test_department_officer_counts_own_department(self):
        response = self.get(self.dept_officer, "/key-groups")
        row = next(g for g in response.json() if g["code"] == "kg_cold")
        self.assertEqual(row["counts"]["members"], 1)

    def test_coverage_by_each_dimension(self):
        body = self.get(self.w.hq, f"/key-groups/{self.group.pk}/coverage", by="employer").json()
        rows = {r["label"]: (r["members"], r["on_time"], r["overdue"]) for r in body["rows"]}
        self.assertEqual(rows, {"冷库甲": (1, 0, 1), "运输公司": (1, 1, 0)})
        body = self.get(self.w.hq, f"/key-groups/{self.group.pk}/coverage", by="township").json()
        self.assertEqual({r["label"] for r in body["rows"]}, {"甲镇", "乙镇"})
        body = self.get(self.w.hq, f"/key-groups/{self.group.pk}/coverage").json()
        self.assertEqual(body["by"], "department")
        self.assertEqual(body["totals"]["members"], 2)
        self.assertEqual({r["label"] for r in body["rows"]}, {"县商务局", "县交通局"})

    def test_coverage_scoped(self):
        body = self.get(self.dept_officer, f"/key-groups/{self.group.pk}/coverage").json()
        self.assertEqual([r["label"] for r in body["rows"]], ["县商务局"])
        body = self.get(self.w.township_a_officer, f"/key-groups/{self.group.pk}/coverage", by="employer").json()
        self.assertEqual([r["label"] for r in body["rows"]], ["冷库甲"])

    def test_coverage_errors(self):
        self.assertError(self.get(self.w.hq, "/key-groups/999999/coverage"), 404, "not_found")
        self.assertError(self.get(self.w.hq, f"/key-groups/{self.group.pk}/coverage", by="street"), 422, "invalid")
        self.assertError(self.get(self.w.grid_a_worker, f"/key-groups/{self.group.pk}/coverage"), 403, "forbidden")

    def test_create_by_hq_admin(self):
        response = self.post(self.w.hq, "/key-groups", {"code": "kg_riders", "name": "外卖骑手", "test_interval_days": 3,
                                                         "department": self.dept.pk, "identified_by": "平台名单"})
        self.assertEqual(response.status_code, 201, response.content)
        group = KeyGroup.objects.get(code="kg_riders")
        self.assertEqual((group.test_interval_days, group.department_id, group.identified_by),
                         (3, self.dept.pk, "平台名单"))
        self.assertError(self.post(self.w.hq, "/key-groups", {"code": "kg_riders", "name": "外卖骑手"}), 400, "invalid")

    def test_create_refused(self):
        self.assertError(self.post(self.dept_officer, "/key-groups", {"code": "x", "name": "某人群"}), 403, "forbidden")
        self.assertError(self.post(self.w.hq, "/key-groups", {"code": "kg_y", "name": "某人群", "department": 999999}),
                         404, "not_found")
        self.assertError(self.post(self.w.hq, "/key-groups", {"code": "kg_z", "name": "某人群", "test_interval_days": 0}),
                         422, "invalid")
