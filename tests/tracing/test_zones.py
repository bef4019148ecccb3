"""Control zones: proposals under each pack, no duplicates, publishing, the lift criteria and countdown, the pages."""

from datetime import datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.policy.models import PolicyPack
from fangkong.tracing import zones
from fangkong.tracing.choices import ZoneStatus
from fangkong.tracing.models import Case, ControlZone
from fangkong.tracing.models import TestingRound as ZoneRound
from fangkong.venues.models import CheckIn
from tests.base import WorldTestCase
from tests.factories import make_household, make_person, make_user, make_venue

NUMBER = "BL20261120-901"


def activate(code: str) -> PolicyPack:
    """Switch the active pack (one active pack at a time: deactivate first)."""
    PolicyPack.objects.filter(is_active=True).update(is_active=False)
    PolicyPack.objects.filter(code=code).update(is_active=True)
    return PolicyPack.objects.get(code=code)


def local(day, hour=10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


class ZoneWorld(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        cls.today = timezone.localdate()
        cls.supermarket = make_venue(w.grid_b, "乙村超市")
        cls.case = Case.objects.create(number=NUMBER, person=w.person_a, area=w.person_a.area,
                                       classification="confirmed", onset_date=cls.today - timedelta(days=1))
        # Inside the window (from 2 days before onset) and before isolation (none: now).
        CheckIn.objects.create(person=w.person_a, venue=cls.supermarket,
                               scanned_at=local(cls.today - timedelta(days=2), 10))
        # Before the window: not a place of the case's trajectory.
        cls.old_venue = make_venue(w.grid_a2, "甲村二网格饭店", "restaurant")
        CheckIn.objects.create(person=w.person_a, venue=cls.old_venue,
                               scanned_at=local(cls.today - timedelta(days=6), 10))
        cls.building = w.person_a.household.building


class ProposalTests(ZoneWorld):
    def proposed(self):
        return {(z.level, z.area_id, z.building_id) for z in ControlZone.objects.filter(status=ZoneStatus.PROPOSED)}

    def test_default_pack_proposes_sealed_controlled_precaution(self):
        w = self.w
        result = zones.propose_zones(w.hq)
        self.assertEqual(result.cases, 1)
        self.assertEqual(len(result.created), 4)
        self.assertEqual(self.proposed(), {
            ("sealed", w.grid_a.code, self.building.pk),
            ("controlled", w.grid_b.code, None),
            ("precaution", w.township_a.code, None),
            ("precaution", w.township_b.code, None),
        })
        sealed = ControlZone.objects.get(level="sealed")
        self.assertEqual(sealed.reason, f"病例 {NUMBER} 住所")
        self.assertEqual(list(sealed.cases.all()), [self.case])
        self.assertEqual(sealed.last_case_at, self.case.clock_start)
        self.assertEqual(sealed.pack.code, "ed8-14-7")
        self.assertIn("1号楼", sealed.name)
        controlled = ControlZone.objects.get(level="controlled")
        self.assertEqual(controlled.reason, f"病例 {NUMBER} 活动场所：乙村超市")
        self.assertEqual(AuditEvent.objects.filter(object_type="tracing.controlzone", action="create").count(), 4)

    def test_re_proposing_makes_no_duplicates_and_adds_new_cases(self):
        w = self.w
        zones.propose_zones(w.hq)
        again = zones.propose_zones(w.hq)
        self.assertEqual((len(again.created), len(again.updated)), (0, 0))
        self.assertEqual(ControlZone.objects.count(), 4)
        # A second case in the same building joins the sealed zone (and the township's precaution zone).
        neighbour = make_person(w.hq, w.grid_a, "王五", household=make_household(w.grid_a, door="102"))
        later = Case.objects.create(number="BL20261120-902", person=neighbour, area=w.grid_a,
                                    classification="asymptomatic", sampled_at=timezone.now())
        third = zones.propose_zones(w.hq)
        self.assertEqual(len(third.created), 0)
        self.assertEqual(ControlZone.objects.count(), 4)
        sealed = ControlZone.objects.get(level="sealed")
        self.assertEqual(set(sealed.cases.all()), {self.case, later})
        self.assertEqual(sealed.last_case_at, later.clock_start)
        self.assertIn("BL20261120-902", sealed.reason)
        self.assertIn(sealed, third.updated)

    def test_published_zone_is_not_duplicated_but_lifted_one_is(self):
        w = self.w
        zones.propose_zones(w.hq)
        sealed = ControlZone.objects.get(level="sealed")
        zones.publish_zone(w.hq, sealed)
        self.assertEqual(len(zones.propose_zones(w.hq).created), 0)
        ControlZone.objects.filter(pk=sealed.pk).update(status=ZoneStatus.LIFTED)
        self.assertEqual([z.level for z in zones.propose_zones(w.hq).created], ["sealed"])

    def test_home_without_building_is_the_grid(self):
        w = self.w
        person = make_person(w.hq, w.grid_a2, "赵六")
        case = Case.objects.create(number="BL20261120-903", person=person, area=w.grid_a2,
                                   classification="confirmed", onset_date=self.today)
        result = zones.propose_zones(w.hq, cases=Case.objects.filter(pk=case.pk))
        sealed = [z for z in result.created if z.level == "sealed"]
        self.assertEqual([(z.area_id, z.building_id) for z in sealed], [(w.grid_a2.code, None)])

    def test_ninth_edition_pack_proposes_high_medium_low(self):
        w = self.w
        activate("ed9-7-3")
        zones.propose_zones(self.epi)
        self.assertEqual(self.proposed(), {
            ("high", w.grid_a.code, self.building.pk),
            ("medium", w.grid_b.code, None),
            ("low", w.township_a.code, None),
            ("low", w.township_b.code, None),
        })

    def test_two_level_pack_draws_no_venue_zone(self):
        w = self.w
        activate("nov2022-5-3")
        zones.propose_zones(w.hq)
        self.assertEqual(self.proposed(), {
            ("high", w.grid_a.code, self.building.pk),
            ("low", w.township_a.code, None),
        })

    def test_old_closed_or_out_of_scope_cases_are_left_out(self):
        w = self.w
        Case.objects.filter(pk=self.case.pk).update(created_at=timezone.now() - timedelta(days=15))
        self.assertEqual(zones.propose_zones(w.hq).cases, 0)
        Case.objects.filter(pk=self.case.pk).update(created_at=timezone.now(), status="closed")
        self.assertEqual(zones.propose_zones(w.hq).cases, 0)

    def test_only_hq_and_epidemiologists_propose(self):
        with self.assertRaises(PermissionDenied):
            zones.propose_zones(self.w.grid_a_worker)
        self.assertEqual(len(zones.propose_zones(self.epi).created), 4)


class WorkflowTests(ZoneWorld):
    def zone(self, **extra) -> ControlZone:
        w = self.w
        data = {"name": "", "level": "sealed", "area": w.grid_a2, "building": None, "reason": "人工划定"}
        return zones.create_zone(w.hq, {**data, **extra})

    def test_create_by_hand_validates(self):
        w = self.w
        zone = self.zone()
        self.assertEqual((zone.status, zone.name, zone.pack.code), (ZoneStatus.PROPOSED, "甲镇甲村甲村二网格", "ed8-14-7"))
        with self.assertRaises(ValidationError) as caught:
            self.zone(level="high")
        self.assertIn("level", caught.exception.message_dict)
        with self.assertRaises(ValidationError) as caught:
            self.zone(building=self.building)  # the building is in grid A, not grid A2
        self.assertIn("building", caught.exception.message_dict)
        town_user = w.township_a_officer
        with self.assertRaises(PermissionDenied):
            zones.create_zone(town_user, {"level": "sealed", "area": w.grid_a2})
        on_building = self.zone(area=None, building=self.building)
        self.assertEqual(on_building.area_id, w.grid_a.code)

    def test_epidemiologist_cannot_publish_hq_can(self):
        zone = self.zone()
        with self.assertRaises(PermissionDenied):
            zones.publish_zone(self.epi, zone)
        zones.publish_zone(self.w.hq, zone)
        zone.refresh_from_db()
        self.assertEqual(zone.status, ZoneStatus.PUBLISHED)
        self.assertEqual(zone.published_by, self.w.hq)
        self.assertIsNotNone(zone.published_at)
        with self.assertRaises(ValidationError):
            zones.publish_zone(self.w.hq, zone)

    def test_update_and_discard(self):
        zone = self.zone()
        zones.update_zone(self.epi, zone, {"level": "controlled", "name": "甲村二网格管控区"})
        zone.refresh_from_db()
        self.assertEqual((zone.level, zone.name), ("controlled", "甲村二网格管控区"))
        zones.discard_zone(self.epi, zone, "重复划定")
        self.assertEqual(zone.status, ZoneStatus.DISCARDED)
        with self.assertRaises(ValidationError):
            zones.update_zone(self.epi, zone, {"level": "sealed"})

    def test_countdown_fourteen_days_and_negative_round_within_two_days(self):
        w = self.w
        zone = self.zone()
        zones.publish_zone(w.hq, zone)
        last = self.today - timedelta(days=10)
        ControlZone.objects.filter(pk=zone.pk).update(last_case_at=local(last, 9))
        zone.refresh_from_db()
        facts = zones.zone_facts(zone)
        self.assertEqual(facts["days_since_last_case"], 10)
        self.assertEqual(facts["lift_on"], last + timedelta(days=14))
        self.assertEqual(facts["days_left"], 4)
        self.assertEqual([c["met"] for c in facts["criteria"]], [False, False])
        self.assertFalse(facts["can_lift"])
        self.assertIn((last + timedelta(days=12)).isoformat(), facts["criteria"][1]["detail"])
        # On day 14 the clock is met; a round 3 days before is too early, one 2 days before counts.
        day14 = last + timedelta(days=14)
        ZoneRound.objects.create(zone=zone, day=day14 - timedelta(days=3), tested=90)
        facts = zones.zone_facts(zone, today=day14)
        self.assertEqual(facts["days_left"], 0)
        self.assertEqual([c["met"] for c in facts["criteria"]], [True, False])
        ZoneRound.objects.create(zone=zone, day=day14 - timedelta(days=2), tested=95)
        facts = zones.zone_facts(zone, today=day14)
        self.assertTrue(facts["can_lift"])
        self.assertEqual(facts["rounds"], 2)
        self.assertEqual(facts["last_round_on"], day14 - timedelta(days=2))
        self.assertEqual(facts["then"], "")
        # A positive round is a new infection: the clock restarts from it.
        ZoneRound.objects.create(zone=zone, day=day14 - timedelta(days=1), tested=95, positives=1)
        facts = zones.zone_facts(zone, today=day14)
        self.assertEqual(facts["lift_on"], day14 - timedelta(days=1) + timedelta(days=14))
        self.assertFalse(facts["can_lift"])

    def test_facts_count_population_and_people_under_measures(self):
        w = self.w
        zones.propose_zones(w.hq)
        sealed = ControlZone.objects.get(level="sealed")
        make_person(w.hq, w.grid_a, "同楼", household=make_household(w.grid_a, door="301"))
        make_person(w.hq, w.grid_a, "别楼", household=make_household(w.grid_a, building_name="2号楼"))
        from fangkong.policy.services import impose_measure

        impose_measure(w.person_a, "close_contact", "测试", self.today, user=w.hq)
        facts = zones.zone_facts(sealed)
        self.assertEqual(facts["population"], 2)  # person A and 同楼, not 别楼
        self.assertEqual(facts["under_measures"], 1)
        self.assertEqual(facts["days_since_last_case"], 0)
        township = ControlZone.objects.get(level="precaution", area=w.township_a)
        self.assertEqual(zones.zone_facts(township)["population"], w.township_a.__class__.objects.get(
            pk=w.township_a.pk).population)

    def test_lift_checks_criteria_and_hq_may_force_with_a_reason(self):
        w = self.w
        zone = self.zone()
        zones.publish_zone(w.hq, zone)
        ControlZone.objects.filter(pk=zone.pk).update(last_case_at=timezone.now() - timedelta(days=3))
        zone.refresh_from_db()
        with self.assertRaises(ValidationError):
            zones.lift_zone(w.hq, zone)
        with self.assertRaises(ValidationError) as caught:
            zones.lift_zone(w.hq, zone, force=True)
        self.assertIn("reason", caught.exception.message_dict)
        with self.assertRaises(PermissionDenied):
            zones.lift_zone(self.epi, zone, force=True, reason="指挥部决定")
        zones.lift_zone(w.hq, zone, force=True, reason="指挥部研判提前解除")
        zone.refresh_from_db()
        self.assertEqual(zone.status, ZoneStatus.LIFTED)
        self.assertIsNotNone(zone.lifted_at)
        event = AuditEvent.objects.filter(object_id=str(zone.pk), object_type="tracing.controlzone").order_by("-at",
                                                                                                        "-id")[0]
        self.assertEqual(event.reason, "指挥部研判提前解除")
        self.assertIn("forced", event.changes)

    def test_lift_when_met(self):
        w = self.w
        zone = self.zone()
        zones.publish_zone(w.hq, zone)
        ControlZone.objects.filter(pk=zone.pk).update(last_case_at=timezone.now() - timedelta(days=15))
        zones.record_round(w.hq, zone, self.today - timedelta(days=1), 120, 0)
        zone.refresh_from_db()
        zones.lift_zone(w.hq, zone)
        self.assertEqual(zone.status, ZoneStatus.LIFTED)

    def test_precaution_lifts_when_sealed_and_controlled_are_lifted(self):
        w = self.w
        zones.propose_zones(w.hq)
        for zone in ControlZone.objects.all():
            zones.publish_zone(w.hq, zone)
        precaution = ControlZone.objects.get(level="precaution", area=w.township_a)
        facts = zones.zone_facts(precaution)
        self.assertEqual([c["met"] for c in facts["criteria"]], [False])
        self.assertIn("2", facts["criteria"][0]["detail"])
        ControlZone.objects.filter(level__in=["sealed", "controlled"]).update(status=ZoneStatus.LIFTED)
        self.assertTrue(zones.zone_facts(precaution)["can_lift"])

    def test_ninth_edition_downgrades_high_to_medium_then_lifts(self):
        w = self.w
        activate("ed9-7-3")
        zone = self.zone(level="high")
        zones.publish_zone(w.hq, zone)
        ControlZone.objects.filter(pk=zone.pk).update(last_case_at=timezone.now() - timedelta(days=7))
        zone.refresh_from_db()
        facts = zones.zone_facts(zone)
        self.assertTrue(facts["can_lift"])
        self.assertEqual((facts["then"], facts["action_label"]), ("medium", "降为中风险"))
        zones.lift_zone(w.hq, zone)
        zone.refresh_from_db()
        self.assertEqual((zone.level, zone.status), ("medium", ZoneStatus.PUBLISHED))
        # Three more days from the downgrade, not from the last case.
        facts = zones.zone_facts(zone)
        self.assertEqual((facts["lift_on"], facts["days_left"]), (self.today + timedelta(days=3), 3))
        self.assertEqual(facts["then"], "")  # medium -> low is the end: lifted
        later = zones.zone_facts(zone, today=self.today + timedelta(days=3))
        self.assertTrue(later["can_lift"])
        zones.lift_zone(w.hq, zone, today=self.today + timedelta(days=3))
        self.assertEqual(zone.status, ZoneStatus.LIFTED)

    def test_testing_round_validation_and_replacement(self):
        zone = self.zone()
        with self.assertRaises(ValidationError):
            zones.record_round(self.w.hq, zone, self.today + timedelta(days=1), 10, 0)
        with self.assertRaises(ValidationError):
            zones.record_round(self.w.hq, zone, self.today, 10, 11)
        zones.record_round(self.w.hq, zone, self.today, 10, 0)
        zones.record_round(self.w.hq, zone, self.today, 12, 1)
        self.assertEqual(list(zone.rounds.values_list("tested", "positives")), [(12, 1)])

    def test_grid_workers_see_published_zones_of_their_area_only(self):
        w = self.w
        zones.propose_zones(w.hq)
        sealed = ControlZone.objects.get(level="sealed")
        township_a = ControlZone.objects.get(level="precaution", area=w.township_a)
        self.assertFalse(zones.zones_for(w.grid_a_worker).exists())  # nothing published yet
        zones.publish_zone(w.hq, sealed)
        zones.publish_zone(w.hq, township_a)
        self.assertEqual(set(zones.zones_for(w.grid_a_worker)), {sealed, township_a})
        self.assertEqual(list(zones.zones_for(w.grid_b_worker)), [])
        self.assertEqual(zones.public_reason(sealed, w.grid_a_worker), "病例 住所")
        self.assertEqual(zones.public_reason(sealed, w.hq), f"病例 {NUMBER} 住所")


class PageTests(ZoneWorld):
    def test_list_and_propose(self):
        w = self.w
        self.client.force_login(w.hq)
        response = self.client.post(reverse("tracing:zones_propose"))
        self.assertRedirects(response, reverse("tracing:zones"), fetch_redirect_response=False)
        response = self.client.get(reverse("tracing:zones"))
        self.assertContains(response, "新建议 4 个")
        self.assertContains(response, 'data-testid="zones-table"')
        self.assertContains(response, "封控区")
        self.assertContains(response, "防范区")
        self.assertEqual(len(response.context["page_obj"]), 4)
        self.assertEqual({c["level"]: c["count"] for c in response.context["level_counts"]},
                         {"sealed": 1, "controlled": 1, "precaution": 2})
        response = self.client.get(reverse("tracing:zones"), {"level": "precaution"})
        self.assertEqual(len(response.context["page_obj"]), 2)
        response = self.client.get(reverse("tracing:zones"), {"status": "published"})
        self.assertEqual(len(response.context["page_obj"]), 0)
        self.assertContains(self.client.post(reverse("tracing:zones_propose"), follow=True), "新建议 0 个")

    def test_propose_is_post_only_and_not_for_grid_workers(self):
        self.client.force_login(self.w.hq)
        self.assertEqual(self.client.get(reverse("tracing:zones_propose")).status_code, 405)
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.post(reverse("tracing:zones_propose")).status_code, 403)
        self.assertEqual(ControlZone.objects.count(), 0)

    def test_new_edit_and_discard(self):
        w = self.w
        self.client.force_login(self.epi)
        self.assertEqual(self.client.get(reverse("tracing:zone_new")).status_code, 200)
        # Picking a grid offers its buildings.
        response = self.client.get(reverse("tracing:zone_new"), {"area": w.grid_a.code})
        self.assertContains(response, f'<option value="{self.building.pk}">1号楼</option>', html=True)
        response = self.client.post(reverse("tracing:zone_new"), {
            "level": "sealed", "area": w.grid_a.code, "building": self.building.pk, "name": "", "reason": "密接较多"})
        zone = ControlZone.objects.get()
        self.assertRedirects(response, reverse("tracing:zone", args=[zone.pk]))
        self.assertEqual((zone.building, zone.status), (self.building, ZoneStatus.PROPOSED))
        response = self.client.post(reverse("tracing:zone_new"), {"level": "high", "area": w.grid_a.code})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "invalid-feedback")
        response = self.client.post(reverse("tracing:zone_edit", args=[zone.pk]), {
            "level": "controlled", "area": w.grid_a.code, "building": "", "name": "甲村一网格", "reason": "调整"})
        self.assertRedirects(response, reverse("tracing:zone", args=[zone.pk]))
        zone.refresh_from_db()
        self.assertEqual((zone.level, zone.building), ("controlled", None))
        response = self.client.post(reverse("tracing:zone_edit", args=[zone.pk]), {"discard": "1", "reason": "不需要"})
        self.assertRedirects(response, reverse("tracing:zone", args=[zone.pk]))
        zone.refresh_from_db()
        self.assertEqual(zone.status, ZoneStatus.DISCARDED)

    def test_publish_permission_on_the_page(self):
        zones.propose_zones(self.w.hq)
        zone = ControlZone.objects.get(level="sealed")
        url = reverse("tracing:zone_publish", args=[zone.pk])
        self.client.force_login(self.epi)
        page = self.client.get(reverse("tracing:zone", args=[zone.pk]))
        self.assertNotContains(page, url)
        self.assertEqual(self.client.post(url).status_code, 403)
        self.client.force_login(self.w.hq)
        self.assertContains(self.client.get(reverse("tracing:zone", args=[zone.pk])), url)
        self.assertRedirects(self.client.post(url), reverse("tracing:zone", args=[zone.pk]))
        zone.refresh_from_db()
        self.assertEqual(zone.status, ZoneStatus.PUBLISHED)

    def test_detail_shows_criteria_rounds_and_cases_to_hq(self):
        zones.propose_zones(self.w.hq)
        zone = ControlZone.objects.get(level="sealed")
        zones.publish_zone(self.w.hq, zone)
        self.client.force_login(self.w.hq)
        url = reverse("tracing:zone", args=[zone.pk])
        response = self.client.get(url)
        self.assertContains(response, 'data-testid="lift-criteria"')
        self.assertContains(response, "连续 14 天无新增感染者")
        self.assertContains(response, "解除前 2 天内全员核酸检测均为阴性")
        self.assertContains(response, NUMBER)
        self.assertContains(response, reverse("tracing:case", args=[self.case.pk]))
        self.assertContains(response, "还需 14 天")
        response = self.client.post(reverse("tracing:zone_round", args=[zone.pk]),
                                    {"day": self.today.isoformat(), "tested": "80", "positives": "0"})
        self.assertRedirects(response, url + "#rounds", fetch_redirect_response=False)
        self.assertEqual(zone.rounds.get().tested, 80)
        response = self.client.post(reverse("tracing:zone_round", args=[zone.pk]),
                                    {"day": self.today.isoformat(), "tested": "5", "positives": "6"})
        self.assertContains(response, "阳性人数不能多于检测人数")

    def test_lift_on_the_page(self):
        zones.propose_zones(self.w.hq)
        zone = ControlZone.objects.get(level="sealed")
        zones.publish_zone(self.w.hq, zone)
        self.client.force_login(self.w.hq)
        url = reverse("tracing:zone_lift", args=[zone.pk])
        response = self.client.post(url, {"reason": ""})
        self.assertContains(response, "尚未达到解除条件")
        response = self.client.post(url, {"force": "on", "reason": ""})
        self.assertContains(response, "须说明理由")
        response = self.client.post(url, {"force": "on", "reason": "病例住所误判，经研判解除"})
        self.assertRedirects(response, reverse("tracing:zone", args=[zone.pk]))
        zone.refresh_from_db()
        self.assertEqual(zone.status, ZoneStatus.LIFTED)

    def test_grid_worker_sees_the_zone_but_no_case_number(self):
        w = self.w
        zones.propose_zones(w.hq)
        sealed = ControlZone.objects.get(level="sealed")
        self.client.force_login(w.grid_a_worker)
        self.assertEqual(self.client.get(reverse("tracing:zone", args=[sealed.pk])).status_code, 404)  # not published
        zones.publish_zone(w.hq, sealed)
        for url in (reverse("tracing:zones"), reverse("tracing:zone", args=[sealed.pk])):
            response = self.client.get(url)
            self.assertEqual(response.status_code, 200, url)
            self.assertContains(response, sealed.name)
            self.assertNotContains(response, NUMBER)
            self.assertNotContains(response, w.person_a.name)
            self.assertNotContains(response, reverse("tracing:case", args=[self.case.pk]))
        response = self.client.get(reverse("tracing:zone", args=[sealed.pk]))
        self.assertContains(response, "病例 住所")
        self.assertNotContains(response, 'data-testid="round-form"')
        self.assertNotContains(response, 'data-testid="lift-form"')
        self.assertEqual(self.client.post(reverse("tracing:zone_publish", args=[sealed.pk])).status_code, 403)
        self.assertEqual(self.client.post(reverse("tracing:zone_lift", args=[sealed.pk])).status_code, 403)
        self.client.force_login(w.grid_b_worker)
        self.assertEqual(self.client.get(reverse("tracing:zone", args=[sealed.pk])).status_code, 404)
        self.assertNotContains(self.client.get(reverse("tracing:zones")), sealed.name)

    def test_outsider_has_no_zone_pages(self):
        self.client.force_login(self.w.outsider)
        self.assertEqual(self.client.get(reverse("tracing:zones")).status_code, 403)
