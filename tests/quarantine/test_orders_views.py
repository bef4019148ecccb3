"""The control-order pages: the scoped list and its filters, one order, advance and release, notices."""

from datetime import timedelta
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder, PolicyPack
from fangkong.policy.services import impose_measure, preview_pack
from fangkong.quarantine import orders
from fangkong.quarantine.models import QuarantineSite, Room, Stay
from tests.base import WorldTestCase
from tests.factories import make_person, make_resident_id
from tests.quarantine.test_orders import swab, swab_test_days, use_pack

REASON = "密接：病例 BL1 同住"


def days_ago(n):
    return timezone.localdate() - timedelta(days=n)


class OrderPagesBase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        # Started 30 days ago: its 14 days of centralized quarantine are over, the order waits to advance.
        cls.due = impose_measure(w.person_a, "close_contact", REASON, days_ago(30), user=w.hq)
        cls.fresh_number = make_resident_id()
        cls.fresh_person = make_person(w.hq, w.grid_a2, "王小明", document_number=cls.fresh_number)
        cls.fresh = impose_measure(cls.fresh_person, "medium_risk_arrival", "来自中风险地区", days_ago(2),
                                   user=w.hq)
        cls.other = impose_measure(w.person_b, "close_contact", "密接：病例 BL2 同事", days_ago(3), user=w.hq)

    def login(self, user):
        self.client.force_login(user)

    def listed(self, **params) -> set[int]:
        response = self.client.get(reverse("quarantine:index"), params)
        self.assertEqual(response.status_code, 200)
        return {order.pk for order in response.context["page_obj"]}


class OrderListTests(OrderPagesBase):
    def test_township_officer_lists_own_orders_masked_and_not_other_township(self):
        self.login(self.w.township_a_officer)
        response = self.client.get(reverse("quarantine:index"))
        self.assertContains(response, 'data-testid="orders-table"')
        self.assertEqual({o.pk for o in response.context["page_obj"]}, {self.due.pk, self.fresh.pk})
        self.assertContains(response, "张*")
        self.assertNotContains(response, "张三")
        self.assertNotContains(response, "李四")

    def test_other_township_order_is_404(self):
        self.login(self.w.township_a_officer)
        for name in ("order", "order_notice"):
            self.assertEqual(self.client.get(reverse(f"quarantine:{name}", args=[self.other.pk])).status_code, 404)
        for name in ("order_advance", "order_release"):
            self.assertEqual(self.client.post(reverse(f"quarantine:{name}", args=[self.other.pk])).status_code, 404)

    def test_filters(self):
        self.login(self.w.hq)
        self.assertEqual(self.listed(), {self.due.pk, self.fresh.pk, self.other.pk})
        self.assertEqual(self.listed(stage=Stage.HOME_ISOLATION), {self.fresh.pk})
        self.assertEqual(self.listed(category="close_contact"), {self.due.pk, self.other.pk})
        self.assertEqual(self.listed(area=self.w.township_b.code), {self.other.pk})
        self.assertEqual(self.listed(q=self.fresh_number), {self.fresh.pk})
        self.assertEqual(self.listed(q="王小"), {self.fresh.pk})
        # The stage of the fresh order ends in 12 days, the other's in 11: none ends today or within 3 days.
        self.assertEqual(self.listed(ending="3d"), set())
        ControlOrder.objects.filter(pk=self.other.pk).update(stage_end=timezone.localdate() + timedelta(days=1))
        self.assertEqual(self.listed(ending="tomorrow"), {self.other.pk})
        self.assertEqual(self.listed(ending="3d"), {self.other.pk})
        ControlOrder.objects.filter(pk=self.fresh.pk).update(hold_reason="缺少检测")
        self.assertEqual(self.listed(ending="held"), {self.fresh.pk})
        self.assertEqual(self.listed(status="released"), set())

    def test_area_outside_scope_is_not_a_choice(self):
        self.login(self.w.township_a_officer)
        response = self.client.get(reverse("quarantine:index"), {"area": self.w.township_b.code})
        self.assertEqual({o.pk for o in response.context["page_obj"]}, {self.due.pk, self.fresh.pk})

    def test_stage_day_and_site_room_columns(self):
        site = QuarantineSite.objects.create(name="县宾馆", area=self.w.county)
        room = Room.objects.create(site=site, floor=3, number="301")
        Stay.objects.create(order=self.other, person=self.w.person_b, site=site, room=room, area=site.area,
                            category=self.other.category)
        self.login(self.w.hq)
        response = self.client.get(reverse("quarantine:index"))
        self.assertContains(response, "第 4/14 天")
        self.assertContains(response, "县宾馆 301")

    def test_person_without_order_rights_is_refused(self):
        self.login(self.w.outsider)
        self.assertEqual(self.client.get(reverse("quarantine:index")).status_code, 403)

    def test_list_query_count_does_not_grow_with_rows(self):
        self.login(self.w.hq)
        self.client.get(reverse("quarantine:index"))
        with CaptureQueriesContext(connection) as three_rows:
            self.client.get(reverse("quarantine:index"))
        for n in range(5):
            person = make_person(self.w.hq, self.w.grid_a, f"测试{n}")
            impose_measure(person, "close_contact", REASON, days_ago(1), user=self.w.hq)
        with self.assertNumQueries(len(three_rows)):
            self.client.get(reverse("quarantine:index"))


class OrderDetailTests(OrderPagesBase):
    def test_detail_shows_stages_conditions_and_history(self):
        self.login(self.w.township_a_officer)
        response = self.client.get(reverse("quarantine:order", args=[self.due.pk]))
        for testid in ("order-stages", "order-history", "advance-button", "release-button"):
            self.assertContains(response, f'data-testid="{testid}"')
        self.assertContains(response, "解除条件")
        self.assertContains(response, "缺少")  # no test of day 14 yet
        self.assertContains(response, "张三")  # the township officer may reveal people
        self.assertContains(response, reverse("quarantine:order_notice", args=[self.due.pk]))

    def test_readers_without_change_right_see_no_buttons(self):
        from fangkong.accounts.choices import Role
        from tests.factories import make_user

        supervisor = make_user("sup", Role.SUPERVISOR, self.w.county)
        self.login(supervisor)
        response = self.client.get(reverse("quarantine:order", args=[self.due.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'data-testid="advance-button"')
        self.assertContains(response, "张*")
        self.assertEqual(self.client.post(reverse("quarantine:order_advance", args=[self.due.pk])).status_code, 404)

    def test_advance_refused_before_the_date_with_the_reason(self):
        self.login(self.w.township_a_officer)
        response = self.client.post(reverse("quarantine:order_advance", args=[self.fresh.pk]), follow=True)
        self.assertContains(response, "未到转段时间")
        self.fresh.refresh_from_db()
        self.assertEqual(self.fresh.current_stage, Stage.HOME_ISOLATION)

    def test_advance_refused_without_the_last_test_and_the_daily_job_holds_it(self):
        self.login(self.w.township_a_officer)
        swab_test_days(self.due, up_to=days_ago(30) + timedelta(days=6))
        response = self.client.post(reverse("quarantine:order_advance", args=[self.due.pk]), follow=True)
        self.assertContains(response, "未能转段")
        self.assertContains(response, "第 14 天")
        orders.advance_due_orders()
        response = self.client.get(reverse("quarantine:order", args=[self.due.pk]))
        self.assertContains(response, 'data-testid="hold-reason"')
        self.assertEqual(self.listed(ending="held"), {self.due.pk})

    def test_advance_after_the_date_with_negative_tests_moves_home(self):
        self.login(self.w.township_a_officer)
        swab_test_days(self.due)
        response = self.client.post(reverse("quarantine:order_advance", args=[self.due.pk]), follow=True)
        self.assertContains(response, "已转入居家健康监测")
        self.due.refresh_from_db()
        self.assertEqual(self.due.current_stage, Stage.HOME_MONITORING)
        advanced = [h for h in self.due.history if h["kind"] == "advanced"]
        self.assertEqual(advanced[0]["by"], "town_a")

    def test_release_refused_before_conditions_then_allowed(self):
        self.login(self.w.township_a_officer)
        url = reverse("quarantine:order_release", args=[self.due.pk])
        response = self.client.post(url, follow=True)
        self.assertContains(response, "尚未进入最后一个管控阶段")
        start = self.due.start_date
        for n in (1, 4, 7, 14):
            swab(self.w.person_a, start + timedelta(days=n - 1))
        self.client.post(reverse("quarantine:order_advance", args=[self.due.pk]))
        response = self.client.post(url, follow=True)
        self.assertContains(response, "未能解除")
        self.assertContains(response, f"缺少 {(start + timedelta(days=20)).isoformat()}")
        self.due.refresh_from_db()
        self.assertEqual(self.due.status, OrderStatus.ACTIVE)
        swab(self.w.person_a, start + timedelta(days=20))
        response = self.client.post(url, follow=True)
        self.assertContains(response, "已解除管控")
        self.due.refresh_from_db()
        self.assertEqual(self.due.status, OrderStatus.RELEASED)

    def test_release_refused_before_the_planned_end(self):
        self.login(self.w.township_a_officer)
        response = self.client.post(reverse("quarantine:order_release", args=[self.fresh.pk]), follow=True)
        self.assertContains(response, "未到解除时间")

    def test_overlapping_orders_merged_to_the_stricter_with_history(self):
        w = self.w
        person = make_person(w.hq, w.grid_a, "赵合并")
        home = impose_measure(person, "medium_risk_arrival", "来自中风险地区", days_ago(1), user=w.hq)
        survivor = impose_measure(person, "close_contact", REASON, days_ago(1), user=w.hq)
        home.refresh_from_db()
        self.assertEqual(ControlOrder.objects.filter(person=person, status=OrderStatus.ACTIVE).count(), 1)
        self.assertEqual(survivor.category, "close_contact")
        self.assertEqual((home.status, home.merged_into_id), (OrderStatus.MERGED, survivor.pk))
        self.assertEqual(home.history[-1]["kind"], "merged")
        self.assertEqual(survivor.history[-1]["kind"], "merged")
        self.login(w.township_a_officer)
        response = self.client.get(reverse("quarantine:order", args=[survivor.pk]))
        self.assertContains(response, 'data-testid="merged-orders"')
        self.assertContains(response, f"合并管控措施 #{home.pk}")
        response = self.client.get(reverse("quarantine:order", args=[home.pk]))
        self.assertContains(response, 'data-testid="merged-into"')
        self.assertContains(response, "并入更严格的管控措施")
        self.assertNotIn(home.pk, self.listed())

    def test_policy_change_mid_order_is_previewed_then_moves_the_dates_and_is_audited(self):
        w = self.w
        before = self.fresh.planned_end
        pack = PolicyPack.objects.get(code="ed9-7-3")
        preview = preview_pack(w.hq, pack)
        sample = {s["order"]: s for s in preview["samples"]}[self.fresh.pk]
        self.assertEqual((sample["outcome"], sample["old_end"]), ("earlier", before.isoformat()))
        use_pack("ed9-7-3", w.hq)
        self.fresh.refresh_from_db()
        self.assertEqual(self.fresh.planned_end, before - timedelta(days=7))
        self.assertEqual(self.fresh.history[-1]["kind"], "replanned")
        self.assertTrue(AuditEvent.objects.filter(object_type="policy.controlorder", object_id=str(self.fresh.pk),
                                                  reason__startswith="切换防控策略").exists())
        self.login(w.township_a_officer)
        response = self.client.get(reverse("quarantine:order", args=[self.fresh.pk]))
        self.assertContains(response, self.fresh.planned_end.isoformat())
        self.assertContains(response, "切换防控策略")


class NoticeTests(OrderPagesBase):
    def test_single_notice_is_a_pdf_and_audited(self):
        self.login(self.w.township_a_officer)
        response = self.client.get(reverse("quarantine:order_notice", args=[self.due.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF"))
        event = AuditEvent.objects.get(object_type="policy.controlorder", object_id=str(self.due.pk),
                                       reason="打印告知书")
        self.assertEqual(event.username, "town_a")

    def test_notice_html_has_title_by_stage_masked_id_and_test_days(self):
        from fangkong.quarantine import notices

        request = self.client.get("/").wsgi_request
        orders = list(ControlOrder.objects.filter(pk__in=[self.due.pk, self.fresh.pk]).order_by("id"))
        html = notices.render_html(request, orders, for_pdf=True)
        self.assertEqual(html.count('data-testid="notice-page"'), 2)
        self.assertIn("隔离医学观察告知书", html)
        self.assertIn(self.w.person_a.doc_masked, html)
        self.assertIn("被告知人（签字）", html)
        self.due.current_stage = Stage.HOME_MONITORING
        self.assertIn("居家健康监测告知书", notices.render_html(request, [self.due]))

    def test_bulk_notices_for_an_area_only_in_scope(self):
        self.login(self.w.township_a_officer)
        response = self.client.get(reverse("quarantine:notices"), {"area": self.w.township_a.code})
        self.assertEqual(response["Content-Type"], "application/pdf")
        event = AuditEvent.objects.filter(reason="打印告知书").latest("id")
        self.assertEqual(sorted(event.changes["orders"][1]), sorted([self.due.pk, self.fresh.pk]))
        self.assertEqual(self.client.get(reverse("quarantine:notices"), {"area": self.w.township_b.code}
                                         ).status_code, 404)

    def test_bulk_notices_for_a_site(self):
        site = QuarantineSite.objects.create(name="县宾馆", area=self.w.county)
        room = Room.objects.create(site=site, floor=3, number="301")
        Stay.objects.create(order=self.other, person=self.w.person_b, site=site, room=room, area=site.area,
                            category=self.other.category)
        self.login(self.w.hq)
        response = self.client.get(reverse("quarantine:notices"), {"site": site.pk})
        self.assertEqual(response["Content-Type"], "application/pdf")
        event = AuditEvent.objects.filter(reason="打印告知书").latest("id")
        self.assertEqual(event.changes["orders"][1], [self.other.pk])

    def test_bulk_notices_over_the_cap_are_refused_with_a_message(self):
        self.login(self.w.hq)
        with mock.patch("fangkong.quarantine.notices.MAX_NOTICES", 2):
            response = self.client.get(reverse("quarantine:notices"), {"area": self.w.county.code}, follow=True)
        self.assertContains(response, "超过一次打印上限 2 份")
        self.assertFalse(AuditEvent.objects.filter(reason="打印告知书").exists())
