"""Quarantine sites (quarantine/sites.py) and their pages: rooms from a spec, suggestions, check-in refusals
(double-booked bed, mixed categories on a floor, 单人单间 with the household exception), check-out, the
occupancy board, scoping and permissions."""

from datetime import datetime, time, timedelta
from unittest import mock

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.policy.models import ControlOrder
from fangkong.policy.services import impose_measure
from fangkong.quarantine import sites
from fangkong.quarantine.models import QuarantineSite, Room, Stay, Transfer, TransferPassenger
from tests.base import WorldTestCase
from tests.factories import PASSWORD, make_household, make_person, make_resident_id, make_user

SPEC = {"floor_from": 3, "floor_to": 4, "rooms_per_floor": 4, "beds_per_room": 1,
        "rooms": [{"number": "501", "floor": 5, "beds": 3}]}


class SiteWorld(WorldTestCase):
    """A hotel in township A: floors 3–4 with 4 single rooms each (301–304, 401–404), and 501 (3 beds) on 5.

    People under centralized orders: 张三 (person_a) and 张小三 of the same household (close contacts),
    王五 (another close contact), 赵六 (a high-risk arrival)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.today = timezone.localdate()
        cls.staff = make_user("site1", Role.SITE_STAFF, w.county)
        cls.town_b = make_user("town_b", Role.TOWNSHIP_OFFICER, w.township_b)
        cls.site = sites.create_site(w.hq, {"name": "甲镇宾馆", "kind": "hotel", "area": w.township_a,
                                            "address": "甲镇1号"}, SPEC)
        cls.family = make_person(w.hq, w.grid_a, "张小三", household=w.person_a.household)
        cls.wang_doc = make_resident_id()
        cls.wang = make_person(w.hq, w.grid_a, "王五", document_number=cls.wang_doc,
                               household=make_household(w.grid_a, door="102"))
        cls.zhao = make_person(w.hq, w.grid_a2, "赵六")
        cls.order_a = impose_measure(w.person_a, "close_contact", "密接", cls.today, user=w.hq)
        cls.order_family = impose_measure(cls.family, "close_contact", "密接", cls.today, user=w.hq)
        cls.order_wang = impose_measure(cls.wang, "close_contact", "密接", cls.today, user=w.hq)
        cls.order_zhao = impose_measure(cls.zhao, "high_risk_arrival", "高风险地区来人", cls.today, user=w.hq)

    def room(self, number) -> Room:
        return self.site.rooms.get(number=number)

    def check_in(self, order, number, bed=None, site=None):
        site = site or self.site
        return sites.check_in(self.staff, site, order, site.rooms.get(number=number), bed)

    def assertRefused(self, fn, *args, text=None, code=None):
        with self.assertRaises(ValidationError) as caught:
            fn(*args)
        if text is not None:
            self.assertIn(text, " ".join(caught.exception.messages))
        if code is not None:
            self.assertIn(code, [e.code for e in caught.exception.error_list])
        return caught.exception


class CreateSiteTests(SiteWorld):
    def test_rooms_are_generated_by_floor_and_listed(self):
        numbers = list(self.site.rooms.order_by("floor", "number").values_list("number", flat=True))
        self.assertEqual(numbers, ["301", "302", "303", "304", "401", "402", "403", "404", "501"])
        self.assertEqual(self.room("501").beds, 3)
        self.assertEqual(self.room("501").floor, 5)
        event = AuditEvent.objects.get(object_type="quarantine.quarantinesite", object_id=str(self.site.pk))
        self.assertEqual(event.changes["rooms"], 9)
        self.assertEqual(event.changes["beds"], 11)

    def test_numbering_follows_the_floor(self):
        rooms = sites.plan_rooms({"floor_from": 3, "floor_to": 3, "rooms_per_floor": 20})
        self.assertEqual([r["number"] for r in rooms][:2] + [rooms[-1]["number"]], ["301", "302", "320"])

    def test_bad_specs_are_refused_with_reasons(self):
        cases = [
            ({"floor_from": 5, "floor_to": 3, "rooms_per_floor": 2}, "结束楼层不能低于起始楼层"),
            ({"floor_from": 1, "floor_to": 1, "rooms_per_floor": "abc"}, "每层房间数应为整数"),
            ({"floor_from": 1, "floor_to": 1, "rooms_per_floor": 2, "beds_per_room": 0}, "每间床位应在"),
            ({"floor_from": 1, "floor_to": 1, "rooms_per_floor": 2,
              "rooms": [{"number": "101", "floor": 1}]}, "房号重复：101"),
            ({}, "请至少设置一个房间"),
            ({"rooms": [{"number": "", "floor": 1}]}, "房号应为"),
        ]
        for n, (spec, text) in enumerate(cases):
            with self.subTest(spec=spec):
                self.assertRefused(sites.create_site, self.w.hq, {"name": f"新点{n}", "area": self.w.county}, spec,
                                   text=text)
        self.assertFalse(QuarantineSite.objects.filter(name__startswith="新点").exists())

    def test_name_taken_and_area_out_of_scope_are_refused(self):
        error = self.assertRefused(sites.create_site, self.w.hq, {"name": "甲镇宾馆", "area": "999999999999"},
                                   {"floor_from": 1, "rooms_per_floor": 1})
        self.assertIn("已有同名的隔离点。", error.message_dict["name"])
        self.assertIn("区划代码不存在。", error.message_dict["area"])

    def test_only_hq_creates_sites(self):
        for user in (self.staff, self.w.township_a_officer, self.w.grid_a_worker):
            with self.subTest(user=user.username), self.assertRaises(PermissionDenied):
                sites.create_site(user, {"name": "某点", "area": self.w.township_a}, SPEC)

    def test_update_site_adds_rooms_and_audits(self):
        sites.update_site(self.w.hq, self.site, {"separate_categories": False},
                          {"rooms": [{"number": "601", "floor": 6, "beds": 2}]})
        self.site.refresh_from_db()
        self.assertFalse(self.site.separate_categories)
        self.assertTrue(self.site.rooms.filter(number="601", beds=2).exists())
        self.assertRefused(sites.update_site, self.w.hq, self.site, {}, {"rooms": [{"number": "301", "floor": 3}]},
                           text="房号已存在：301")


class CheckInTests(SiteWorld):
    def test_check_in_creates_the_stay_with_history_and_audit(self):
        stay = self.check_in(self.order_a, "301")
        self.assertEqual((stay.bed, stay.area_id, stay.category), (1, self.w.township_a.code, "close_contact"))
        self.assertEqual(stay.person, self.w.person_a)
        self.order_a.refresh_from_db()
        self.assertEqual(self.order_a.history[-1]["kind"], "checked_in")
        self.assertIn("301", self.order_a.history[-1]["text"])
        event = AuditEvent.objects.get(object_type="quarantine.stay", object_id=str(stay.pk))
        self.assertNotIn("张三", event.object_repr)  # masked in the trail

    def test_a_double_booked_room_is_refused(self):
        self.check_in(self.order_a, "301")
        self.assertRefused(self.check_in, self.order_wang, "301", text="已有人入住，不能重复安排",
                           code=sites.DOUBLE_BOOKED)
        self.check_in(self.order_family, "501", 2)
        self.assertRefused(self.check_in, self.order_wang, "501", 2,
                           code=sites.DOUBLE_BOOKED)
        self.assertEqual(Stay.objects.filter(room=self.room("301"), checked_out_at__isnull=True).count(), 1)

    def test_the_database_constraint_backs_the_check_with_the_same_reason(self):
        self.check_in(self.order_a, "301")
        with mock.patch.object(sites, "_room_occupants", return_value=[]):  # as if two desks raced
            self.assertRefused(self.check_in, self.order_wang, "301", code=sites.DOUBLE_BOOKED,
                               text="不能重复安排")
        self.assertEqual(Stay.objects.filter(room=self.room("301")).count(), 1)

    def test_a_person_with_an_open_stay_is_refused(self):
        self.check_in(self.order_a, "301")
        self.assertRefused(self.check_in, self.order_a, "302", text="请先办理离开")

    def test_an_order_not_in_force_or_not_centralized_is_refused(self):
        ControlOrder.objects.filter(pk=self.order_wang.pk).update(current_stage="home_monitoring")
        self.order_wang.refresh_from_db()
        self.assertRefused(self.check_in, self.order_wang, "302", text="不是集中隔离")
        ControlOrder.objects.filter(pk=self.order_wang.pk).update(current_stage="centralized", status="released")
        self.order_wang.refresh_from_db()
        self.assertRefused(self.check_in, self.order_wang, "302", text="已不在执行中")

    def test_mixing_categories_on_a_floor_is_refused(self):
        self.check_in(self.order_a, "301")
        self.assertRefused(self.check_in, self.order_zhao, "302", text="不同类别人员须分楼层")
        self.check_in(self.order_zhao, "401")  # another floor
        self.check_in(self.order_wang, "303")  # same category, same floor

    def test_a_site_that_does_not_separate_categories_mixes_them(self):
        QuarantineSite.objects.filter(pk=self.site.pk).update(separate_categories=False)
        self.site.refresh_from_db()
        self.check_in(self.order_a, "301")
        self.assertEqual(self.check_in(self.order_zhao, "302").category, "high_risk_arrival")

    def test_single_room_refuses_a_second_person_of_another_household(self):
        self.check_in(self.order_a, "501")
        self.assertRefused(self.check_in, self.order_wang, "501", text="单人单间")

    def test_household_members_share_a_room_with_beds(self):
        self.check_in(self.order_a, "501")
        stay = self.check_in(self.order_family, "501")
        self.assertEqual(stay.bed, 2)

    def test_a_site_without_single_occupancy_fills_free_beds(self):
        QuarantineSite.objects.filter(pk=self.site.pk).update(single_occupancy=False)
        self.site.refresh_from_db()
        self.check_in(self.order_a, "501")
        self.assertEqual(self.check_in(self.order_wang, "501").bed, 2)

    def test_out_of_service_rooms_and_bad_beds_are_refused(self):
        sites.set_room_out_of_service(self.w.hq, self.room("302"), True, "维修")
        self.assertRefused(self.check_in, self.order_a, "302", text="已停用")
        self.assertRefused(self.check_in, self.order_a, "301", 2, text="只有 1 张床")

    def test_an_occupied_room_cannot_be_taken_out_of_service(self):
        self.check_in(self.order_a, "301")
        self.assertRefused(sites.set_room_out_of_service, self.w.hq, self.room("301"), True, text="尚有人员入住")

    def test_grid_worker_and_township_officer_cannot_check_in(self):
        for user in (self.w.grid_a_worker, self.w.township_a_officer):
            with self.subTest(user=user.username), self.assertRaises(PermissionDenied):
                sites.check_in(user, self.site, self.order_a, self.room("301"))


class SuggestionTests(SiteWorld):
    def test_free_single_rooms_first_then_multi_bed(self):
        suggestions = sites.suggest_rooms(self.site, self.order_a)
        self.assertEqual(suggestions[0].room.number, "301")
        self.assertEqual(suggestions[-1].room.number, "501")  # bigger rooms kept for households

    def test_household_member_is_offered_the_room_of_their_family_first(self):
        self.check_in(self.order_a, "501")
        first = sites.suggest_rooms(self.site, self.order_family)[0]
        self.assertEqual((first.room.number, first.bed), ("501", 2))
        self.assertNotIn("501", [s.room.number for s in sites.suggest_rooms(self.site, self.order_wang)])

    def test_floors_of_the_same_category_first_never_another_category(self):
        self.check_in(self.order_a, "401")
        numbers = [s.room.number for s in sites.suggest_rooms(self.site, self.order_wang)]
        self.assertEqual(numbers[:3], ["402", "403", "404"])
        other = [s.room.number for s in sites.suggest_rooms(self.site, self.order_zhao)]
        self.assertFalse([n for n in other if n.startswith("4")])
        self.assertIn("301", other)

    def test_out_of_service_and_taken_beds_are_not_offered(self):
        sites.set_room_out_of_service(self.w.hq, self.room("301"), True)
        self.check_in(self.order_a, "302")
        numbers = [s.room.number for s in sites.suggest_rooms(self.site, self.order_wang, limit=20)]
        self.assertNotIn("301", numbers)
        self.assertNotIn("302", numbers)
        self.assertEqual(len(sites.suggest_rooms(self.site, self.order_wang, limit=2)), 2)


class CheckOutTests(SiteWorld):
    def test_check_out_frees_the_bed(self):
        stay = self.check_in(self.order_a, "301")
        sites.check_out(self.staff, stay, "home", room_sample="negative")
        stay.refresh_from_db()
        self.assertIsNotNone(stay.checked_out_at)
        self.assertEqual((stay.left_to, stay.room_sample), ("home", "negative"))
        self.order_a.refresh_from_db()
        self.assertEqual(self.order_a.history[-1]["kind"], "checked_out")
        self.assertEqual(self.check_in(self.order_wang, "301").bed, 1)
        self.assertRefused(sites.check_out, self.staff, stay, "home", text="不能重复办理")

    def test_bad_destination_and_sample_are_refused(self):
        stay = self.check_in(self.order_a, "301")
        self.assertRefused(sites.check_out, self.staff, stay, "moon", text="请选择去向")
        self.assertRefused(sites.check_out, self.staff, stay, "home", "maybe", text="阴性或阳性")
        self.assertTrue(Stay.objects.get(pk=stay.pk).is_open)

    def test_room_sample_after_leaving(self):
        stay = self.check_in(self.order_a, "301")
        sites.check_out(self.staff, stay, "home")
        sites.record_room_sample(self.staff, stay, "negative")
        stay.refresh_from_db()
        self.assertEqual(stay.room_sample, "negative")
        self.assertIsNotNone(stay.room_sampled_at)


class OccupancyTests(SiteWorld):
    def transfer(self, planned_at, people, status="planned", site=None):
        transfer = Transfer.objects.create(kind="to_site", area=self.w.township_a, from_place="甲村", to_place="宾馆",
                                           to_site=site or self.site, vehicle="鲁A12345", driver="司机",
                                           planned_at=planned_at, status=status)
        for person in people:
            TransferPassenger.objects.create(transfer=transfer, person=person)
        return transfer

    def test_figures_are_right(self):
        w = self.w
        today, tomorrow = self.today, self.today + timedelta(days=1)
        # person_a's 14-day centralized stage ends today, 王五's tomorrow, 赵六's in 14 days.
        late_a = impose_measure(make_person(w.hq, w.grid_a, "钱七"), "close_contact", "密接",
                                today - timedelta(days=13), user=w.hq)
        late_b = impose_measure(make_person(w.hq, w.grid_a, "孙八"), "close_contact", "密接",
                                today - timedelta(days=12), user=w.hq)
        self.check_in(late_a, "301")
        self.check_in(late_b, "302")
        self.check_in(self.order_zhao, "401")
        sites.set_room_out_of_service(w.hq, self.room("404"), True)
        noon = timezone.make_aware(datetime.combine(today, time(12)))
        self.transfer(noon, [self.w.person_a, self.family])
        self.transfer(noon + timedelta(days=1), [self.wang])
        self.transfer(noon, [self.wang], status="cancelled")
        self.transfer(noon + timedelta(days=2), [self.wang])
        board = sites.occupancy(w.hq, today=today)
        row = board["sites"][0]
        self.assertEqual(board["tomorrow"], tomorrow)
        self.assertEqual(row["rooms"], 9)
        self.assertEqual((row["beds_total"], row["beds_out_of_service"]), (10, 1))
        self.assertEqual((row["beds_occupied"], row["beds_free"]), (3, 7))
        self.assertEqual((row["arrivals_today"], row["arrivals_tomorrow"]), (2, 1))
        self.assertEqual((row["releases_today"], row["releases_tomorrow"]), (1, 1))
        self.assertEqual(board["totals"]["beds_free"], 7)
        self.assertEqual(board["totals"]["sites"], 1)

    def test_totals_add_up_over_sites_and_queries_do_not_grow(self):
        other = sites.create_site(self.w.hq, {"name": "乙镇宾馆", "area": self.w.township_b},
                                  {"floor_from": 1, "floor_to": 2, "rooms_per_floor": 5})
        self.check_in(self.order_a, "301")
        with self.assertNumQueries(5):
            board = sites.occupancy(self.w.hq)
        self.assertEqual([s["name"] for s in board["sites"]], ["乙镇宾馆", "甲镇宾馆"])
        self.assertEqual(board["totals"]["beds_total"], 11 + 10)
        self.assertEqual(board["totals"]["beds_occupied"], 1)
        self.assertEqual(board["totals"]["beds_free"], 20)
        self.assertEqual(sites.occupancy(self.town_b)["sites"][0]["id"], other.pk)

    def test_scoping_township_b_does_not_see_township_a_site(self):
        self.assertFalse(sites.sites_for(self.town_b).filter(pk=self.site.pk).exists())
        self.assertEqual(sites.occupancy(self.town_b)["sites"], [])
        self.assertTrue(sites.sites_for(self.w.township_a_officer).filter(pk=self.site.pk).exists())

    def test_site_staff_on_the_staff_list_see_a_site_outside_their_area(self):
        staff_b = make_user("site_b", Role.SITE_STAFF, self.w.township_b)
        self.assertFalse(sites.sites_for(staff_b).filter(pk=self.site.pk).exists())
        self.site.staff.add(staff_b)
        self.assertTrue(sites.sites_for(staff_b).filter(pk=self.site.pk).exists())


class SitePageTests(SiteWorld):
    def login(self, user):
        self.client.login(username=user.username, password=PASSWORD)

    def test_list_and_board_show_occupancy(self):
        self.check_in(self.order_a, "301")
        self.login(self.w.hq)
        response = self.client.get(reverse("quarantine:sites"))
        self.assertContains(response, 'data-testid="site-list"')
        self.assertContains(response, "甲镇宾馆")
        response = self.client.get(reverse("quarantine:occupancy"))
        self.assertContains(response, 'data-testid="occupancy-table"')
        self.assertEqual(response.context["board"]["totals"]["beds_occupied"], 1)

    def test_detail_shows_the_room_grid_with_masked_names_and_day(self):
        self.check_in(self.order_a, "301")
        sites.set_room_out_of_service(self.w.hq, self.room("404"), True, "维修")
        self.login(self.staff)
        response = self.client.get(reverse("quarantine:site", args=[self.site.pk]))
        self.assertContains(response, 'data-testid="room-grid"')
        self.assertContains(response, "张*")
        self.assertNotContains(response, "张三")
        self.assertContains(response, "第1天")
        self.assertContains(response, "维修")
        self.assertContains(response, "密切接触者")

    def test_township_officer_of_another_township_gets_404(self):
        self.login(self.town_b)
        self.assertEqual(self.client.get(reverse("quarantine:site", args=[self.site.pk])).status_code, 404)
        self.assertNotContains(self.client.get(reverse("quarantine:sites")), "甲镇宾馆")

    def test_grid_worker_cannot_open_check_in(self):
        self.login(self.w.grid_a_worker)
        url = reverse("quarantine:site_check_in", args=[self.site.pk])
        self.assertEqual(self.client.get(url).status_code, 403)
        self.assertEqual(self.client.post(url, {"order": self.order_a.pk, "room": self.room("301").pk}).status_code,
                         403)
        self.assertFalse(Stay.objects.exists())

    def test_check_in_by_searching_the_id_number_then_suggested_room(self):
        self.login(self.staff)
        url = reverse("quarantine:site_check_in", args=[self.site.pk])
        response = self.client.get(url, {"q": self.wang_doc})
        self.assertEqual([c["order"].pk for c in response.context["candidates"]], [self.order_wang.pk])
        response = self.client.get(url, {"order": self.order_wang.pk})
        self.assertContains(response, 'data-testid="suggested-rooms"')
        self.assertContains(response, 'data-testid="check-in-form"')
        room = response.context["suggestions"][0].room
        response = self.client.post(url, {"order": self.order_wang.pk, "room": room.pk, "bed": 1})
        self.assertRedirects(response, reverse("quarantine:site", args=[self.site.pk]))
        self.assertTrue(Stay.objects.filter(person=self.wang, room=room, checked_out_at__isnull=True).exists())
        # Once in, the person is no longer waiting.
        self.assertEqual(self.client.get(url, {"q": self.wang_doc}).context["candidates"], [])

    def test_check_in_page_refuses_a_double_booked_bed(self):
        self.check_in(self.order_a, "301")
        self.login(self.staff)
        url = reverse("quarantine:site_check_in", args=[self.site.pk])
        response = self.client.post(url, {"order": self.order_wang.pk, "room": self.room("301").pk})
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "不能重复安排", status_code=409)

    def test_check_out_page(self):
        stay = self.check_in(self.order_a, "301")
        self.login(self.staff)
        url = reverse("quarantine:stay_check_out", args=[stay.pk])
        self.assertContains(self.client.get(url), 'data-testid="check-out-form"')
        self.assertEqual(self.client.post(url, {"left_to": ""}).status_code, 400)
        response = self.client.post(url, {"left_to": "home", "room_sample": "negative"})
        self.assertRedirects(response, reverse("quarantine:site", args=[self.site.pk]))
        self.assertFalse(Stay.objects.get(pk=stay.pk).is_open)

    def test_new_site_page_for_hq(self):
        self.login(self.w.hq)
        url = reverse("quarantine:site_new")
        response = self.client.post(url, {"name": "县集中隔离点", "kind": "designated", "area": self.w.county.code,
                                          "single_occupancy": "on", "floor_from": 2, "floor_to": 3,
                                          "rooms_per_floor": 10, "beds_per_room": 1, "extra_rooms": "A01 1 3"})
        site = QuarantineSite.objects.get(name="县集中隔离点")
        self.assertRedirects(response, reverse("quarantine:site", args=[site.pk]))
        self.assertEqual(site.rooms.count(), 21)
        self.assertFalse(site.separate_categories)  # unchecked box
        response = self.client.post(url, {"name": "空点", "kind": "hotel", "area": self.w.county.code})
        self.assertContains(response, "请至少设置一个房间", status_code=400)
        response = self.client.post(url, {"name": "坏点", "kind": "hotel", "area": self.w.county.code,
                                          "extra_rooms": "A01"})
        self.assertContains(response, "房号 楼层 床位数", status_code=400)
        self.login(self.staff)
        self.assertEqual(self.client.get(url).status_code, 403)

    def test_room_can_be_taken_out_of_service_from_the_grid(self):
        self.login(self.w.hq)
        self.client.post(reverse("quarantine:room_service", args=[self.room("303").pk]), {"out_of_service": "1"})
        self.assertTrue(self.room("303").out_of_service)
        self.client.post(reverse("quarantine:room_service", args=[self.room("303").pk]), {"out_of_service": "0"})
        self.assertFalse(self.room("303").out_of_service)

    def test_outsiders_get_nothing_from_the_site_pages(self):
        stay = self.check_in(self.order_a, "301")
        urls = [reverse("quarantine:sites"), reverse("quarantine:occupancy"), reverse("quarantine:site_new"),
                reverse("quarantine:site", args=[self.site.pk]),
                reverse("quarantine:site_check_in", args=[self.site.pk]),
                reverse("quarantine:stay_check_out", args=[stay.pk]),
                reverse("quarantine:room_service", args=[self.room("302").pk])]
        for user in (self.w.grid_b_worker, self.w.outsider, self.town_b):
            self.client.force_login(user)
            for url in urls:
                for method in ("get", "post"):
                    response = getattr(self.client, method)(url)
                    if response.status_code == 200:  # the township B officer's own (empty) list and board
                        self.assertNotContains(response, "甲镇宾馆")
                    else:
                        self.assertIn(response.status_code, (403, 404, 405), f"{user} {method} {url}")
        self.assertTrue(Stay.objects.get(pk=stay.pk).is_open)
        self.assertFalse(self.room("302").out_of_service)


def test_positive_room_sample_raises_a_site_signal(db):
    from datetime import date

    from fangkong.policy.services import impose_measure
    from fangkong.quarantine import sites
    from fangkong.quarantine.models import QuarantineSite, Room, Stay
    from fangkong.warning.models import Signal
    from tests.factories import World

    w = World()
    order = impose_measure(w.person_a, "close_contact", "密接", date.today(), user=w.hq)
    site = QuarantineSite.objects.create(name="环境采样测试点", area=w.county)
    room = Room.objects.create(site=site, floor=2, number="201")
    stay = Stay.objects.create(order=order, person=w.person_a, site=site, room=room, area=site.area,
                               category=order.category)
    sites.record_room_sample(w.hq, stay, "positive")
    signal = Signal.objects.get(kind="site_positive")
    assert signal.details["room"] == "201" and "201" in signal.title
