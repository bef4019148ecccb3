"""The daily census: counts per township that match the orders, scoped, per day, as CSV."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder
from fangkong.policy.services import impose_measure
from fangkong.quarantine import census
from fangkong.quarantine.choices import VisitKind, VisitOutcome
from fangkong.quarantine.models import HomeVisit, MissedCheck, QuarantineSite, Room, Stay
from tests.base import WorldTestCase
from tests.factories import make_area, make_person, make_user


def days_ago(n):
    return timezone.localdate() - timedelta(days=n)


class CensusTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        hq = w.hq
        cls.a_central = impose_measure(w.person_a, "close_contact", "密接", days_ago(0), user=hq)
        cls.b_home = impose_measure(w.person_b, "medium_risk_arrival", "中风险来人", days_ago(2), user=hq)
        monitoring = make_person(hq, w.grid_a2, "钱监测")
        cls.a_monitoring = impose_measure(monitoring, "close_contact", "密接", days_ago(16), user=hq)
        held = make_person(hq, w.grid_a, "孙暂缓")
        cls.a_held = impose_measure(held, "medium_risk_arrival", "中风险来人", days_ago(20), user=hq)
        ControlOrder.objects.filter(pk=cls.a_held.pk).update(hold_reason="缺少检测")
        released = make_person(hq, w.grid_b, "周解除")
        cls.b_released = impose_measure(released, "medium_risk_arrival", "中风险来人", days_ago(20), user=hq)
        ControlOrder.objects.filter(pk=cls.b_released.pk).update(status=OrderStatus.RELEASED,
                                                                  released_at=timezone.now())
        old = make_person(hq, w.grid_b, "吴昨日")
        cls.b_yesterday = impose_measure(old, "medium_risk_arrival", "中风险来人", days_ago(20), user=hq)
        ControlOrder.objects.filter(pk=cls.b_yesterday.pk).update(
            status=OrderStatus.RELEASED, released_at=timezone.now() - timedelta(days=1),
            created_at=timezone.now() - timedelta(days=20))
        # A second measure on person A is merged into the first: not a new person.
        cls.merged = impose_measure(w.person_a, "medium_risk_arrival", "中风险来人", days_ago(0), user=hq)
        MissedCheck.objects.create(order=cls.a_monitoring, day=timezone.localdate(), slot=1)
        MissedCheck.objects.create(order=cls.a_monitoring, day=timezone.localdate(), slot=2)
        MissedCheck.objects.create(order=cls.a_held, day=days_ago(1), slot=1)
        HomeVisit.objects.create(order=cls.b_home, area=w.grid_b, kind=VisitKind.VIOLATION,
                                 outcome=VisitOutcome.NOT_HOME)
        HomeVisit.objects.create(order=cls.b_home, area=w.grid_b, kind=VisitKind.DOOR_CHECK, outcome=VisitOutcome.OK)
        site = QuarantineSite.objects.create(name="甲镇宾馆", area=w.township_a)
        room = Room.objects.create(site=site, floor=2, number="201")
        Stay.objects.create(order=cls.a_central, person=w.person_a, site=site, room=room, area=site.area,
                            category="close_contact")

    def row(self, result, township):
        return next(r for r in result["rows"] if r["code"] == township.code)

    def expected(self, township):
        orders = [o for o in ControlOrder.objects.all() if o.area_id.startswith(township.prefix)]
        active = [o for o in orders if o.status == OrderStatus.ACTIVE]
        today = timezone.localdate()
        return {
            **{key: sum(1 for o in active if o.current_stage == stage) for key, stage in (
                ("centralized", Stage.CENTRALIZED), ("home_isolation", Stage.HOME_ISOLATION),
                ("home_monitoring", Stage.HOME_MONITORING))},
            "held": sum(1 for o in active if o.hold_reason),
            "new": sum(1 for o in orders if timezone.localdate(o.created_at) == today
                       and o.status in (OrderStatus.ACTIVE, OrderStatus.RELEASED)),
            "released": sum(1 for o in orders if o.status == OrderStatus.RELEASED
                            and timezone.localdate(o.released_at) == today),
        }

    def test_census_numbers_match_the_orders(self):
        w = self.w
        result = census.census(w.hq)
        self.assertEqual([r["code"] for r in result["rows"]], [w.township_a.code, w.township_b.code])
        for township in (w.township_a, w.township_b):
            row = self.row(result, township)
            for key, value in self.expected(township).items():
                self.assertEqual(row[key], value, f"{township.name} {key}")
        a, b = self.row(result, w.township_a), self.row(result, w.township_b)
        self.assertEqual((a["centralized"], a["home_isolation"], a["home_monitoring"]), (1, 1, 1))
        self.assertEqual((a["new"], a["held"], a["missed_checks"], a["at_sites"]), (3, 1, 1, 1))
        self.assertEqual((b["home_isolation"], b["new"], b["released"], b["violations"]), (1, 2, 1, 1))
        totals = result["totals"]
        self.assertEqual(totals["new"], 5)
        self.assertEqual(totals["released"], 1)
        self.assertEqual(totals["centralized"] + totals["home_isolation"] + totals["home_monitoring"],
                         ControlOrder.objects.filter(status=OrderStatus.ACTIVE).count())

    def test_a_past_day(self):
        result = census.census(self.w.hq, timezone.localdate() - timedelta(days=1))
        b = self.row(result, self.w.township_b)
        self.assertEqual((b["released"], b["new"], b["violations"]), (1, 0, 0))
        self.assertEqual(self.row(result, self.w.township_a)["missed_checks"], 1)

    def test_queries_do_not_grow_with_townships(self):
        for n in range(3, 8):
            make_area(f"370923{n:03d}000", f"镇{n}", "township", self.w.county)
        with CaptureQueriesContext(connection) as captured:
            result = census.census(self.w.hq)
        self.assertEqual(len(result["rows"]), 7)
        self.assertLessEqual(len(captured), 6)

    def test_township_officer_sees_own_township_only(self):
        result = census.census(self.w.township_a_officer)
        self.assertEqual([r["code"] for r in result["rows"]], [self.w.township_a.code])
        self.assertEqual(result["totals"]["violations"], 0)

    def test_village_officer_sees_own_village_counts_under_the_township(self):
        result = census.census(self.w.village_a_officer)
        self.assertEqual([r["code"] for r in result["rows"]], [self.w.township_a.code])
        self.assertEqual(result["rows"][0]["centralized"], 1)

    def test_page_and_csv(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("quarantine:census"))
        self.assertContains(response, 'data-testid="census-table"')
        self.assertContains(response, "甲镇")
        response = self.client.get(reverse("quarantine:census"), {"format": "csv"})
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        text = response.content.decode("utf-8-sig")
        self.assertIn("集中隔离", text.splitlines()[0])
        self.assertIn("合计", text.splitlines()[-1])

    def test_page_bad_and_future_dates(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("quarantine:census"), {"date": "2022-13-01"})
        self.assertContains(response, "日期格式应为")
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        self.assertContains(self.client.get(reverse("quarantine:census"), {"date": tomorrow}), "不能统计未来的日期")

    def test_census_needs_the_permission(self):
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.get(reverse("quarantine:census")).status_code, 403)
        supervisor = make_user("sup_census", Role.SUPERVISOR, self.w.county)
        self.client.force_login(supervisor)
        self.assertEqual(self.client.get(reverse("quarantine:census")).status_code, 200)
