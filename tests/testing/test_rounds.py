"""Mass-testing rounds (testing/rounds.py) and their pages: coverage, the not-yet-sampled list, exemptions."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.policy.models import PolicyPack
from fangkong.tasks.models import Task
from fangkong.testing import rounds, services
from fangkong.testing.models import RoundExemption, RoundStatus, Sample, SamplingPoint
from fangkong.testing.models import TestRound as Round
from fangkong.tracing.models import ControlZone
from fangkong.tracing.models import TestingRound as ZoneRound
from tests.base import WorldTestCase
from tests.factories import PASSWORD, make_household, make_person, make_user


class RoundWorld(WorldTestCase):
    """Grid A: 张三 (1号楼) + 4 more (two in 1号楼, two in 2号楼); grid A2: 2 people; grid B: 李四."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.staff = make_user("sampler", Role.SITE_STAFF, w.county)
        cls.point = SamplingPoint.objects.create(name="甲村采样点", area=w.village_a)
        cls.b1 = w.person_a.household.building
        h1 = make_household(w.grid_a, "1号楼", "102")
        h2 = make_household(w.grid_a, "2号楼", "201")
        cls.b2 = h2.building
        cls.a_people = [w.person_a] + [make_person(w.hq, w.grid_a, name, household=h)
                                       for name, h in [("赵一", h1), ("钱二", h1), ("孙三", h2), ("李四四", h2)]]
        cls.a2_people = [make_person(w.hq, w.grid_a2, name) for name in ("周五", "吴六")]
        cls.pack = PolicyPack.objects.get(code="ed9-7-3")

    def sample(self, people, barcode, pool=10, at=None):
        session = services.open_session(self.staff, self.point, pool)
        return [services.add_sample(self.staff, session, barcode=barcode, person=p, client_key=f"{barcode}-{p.pk}",
                                    sampled_at=at)[0] for p in people]

    def start(self, **kwargs):
        kwargs.setdefault("starts_at", timezone.now() - timedelta(hours=1))
        return rounds.start_round(self.w.hq, **kwargs)

    def zone(self, **extra):
        return ControlZone.objects.create(name="甲村一网格1号楼", area=self.w.grid_a, level="high",
                                          status="published", pack=self.pack, **extra)


class RoundServiceTests(RoundWorld):
    def test_start_numbers_rounds_per_area_and_names_them(self):
        first = self.start(area=self.w.village_a, name="")
        second = self.start(area=self.w.village_a, name="第二轮")
        other = self.start(area=self.w.township_a, name="全镇")
        self.assertEqual((first.number, second.number, other.number), (1, 2, 1))
        self.assertIn("甲村", first.name)
        self.assertEqual(first.deadline - first.starts_at, timedelta(hours=24))
        self.assertEqual(first.status, RoundStatus.OPEN)

    def test_only_hq_starts_and_closes(self):
        w = self.w
        for user in (w.township_a_officer, w.grid_a_worker, w.auditor):
            with self.assertRaises(PermissionDenied):
                rounds.start_round(user, area=w.grid_a, name="x")
        test_round = self.start(area=w.grid_a)
        with self.assertRaises(PermissionDenied):
            rounds.close_round(w.grid_a_worker, test_round)
        with self.assertRaises(ValidationError):
            rounds.start_round(w.hq, area=w.grid_a, hours=0)

    def test_coverage_per_grid_counts_sampled_exempted_missing(self):
        w = self.w
        test_round = self.start(area=w.village_a)
        self.sample(self.a_people[:2] + self.a2_people[:1], "R0001")
        # Before the round: not counted.
        self.sample(self.a_people[2:3], "R0000", at=timezone.now() - timedelta(hours=3))
        rounds.exempt(w.grid_a_worker, test_round, self.a_people[4], "away", "在外地务工")
        result = rounds.coverage(test_round)
        rows = {row["key"]: row for row in result["rows"]}
        self.assertEqual(set(rows), {w.grid_a.code, w.grid_a2.code})
        a = rows[w.grid_a.code]
        self.assertEqual((a["residents"], a["sampled"], a["exempted"], a["missing"]), (5, 2, 1, 2))
        self.assertEqual(a["percent"], 60.0)
        self.assertIn("甲村一网格", a["label"])
        a2 = rows[w.grid_a2.code]
        self.assertEqual((a2["residents"], a2["sampled"], a2["exempted"], a2["missing"]), (2, 1, 0, 1))
        totals = result["totals"]
        self.assertEqual((totals["residents"], totals["sampled"], totals["exempted"], totals["missing"]),
                         (7, 3, 1, 3))
        village = rounds.coverage(test_round, by="village")
        self.assertEqual([(r["key"], r["residents"], r["sampled"]) for r in village["rows"]],
                         [(w.village_a.prefix, 7, 3)])

    def test_same_person_twice_counted_once_and_flagged(self):
        w = self.w
        test_round = self.start(area=w.grid_a)
        self.sample([w.person_a], "R0010")
        self.sample([w.person_a], "R0011")
        self.assertEqual(list(Sample.objects.filter(person=w.person_a).order_by("id").values_list(
            "duplicate", flat=True)), [False, True])
        totals = rounds.coverage(test_round)["totals"]
        self.assertEqual((totals["residents"], totals["sampled"], totals["missing"]), (5, 1, 4))
        facts = rounds.summary(test_round)
        self.assertEqual((facts["people"], facts["tubes"], facts["duplicates"]), (1, 2, 1))

    def test_coverage_per_building(self):
        w = self.w
        test_round = self.start(area=w.grid_a)
        self.sample([w.person_a, self.a_people[3]], "R0020")
        rounds.exempt(w.grid_a_worker, test_round, self.a_people[1], "isolated")
        rows = {row["key"]: row for row in rounds.coverage(test_round, by="building")["rows"]}
        self.assertEqual(set(rows), {self.b1.pk, self.b2.pk})
        b1, b2 = rows[self.b1.pk], rows[self.b2.pk]
        self.assertEqual((b1["residents"], b1["sampled"], b1["exempted"], b1["missing"]), (3, 1, 1, 1))
        self.assertEqual((b2["residents"], b2["sampled"], b2["exempted"], b2["missing"]), (2, 1, 0, 1))
        self.assertIn("1号楼", b1["label"])

    def test_sampled_after_exemption_counts_as_sampled(self):
        w = self.w
        test_round = self.start(area=w.grid_a)
        rounds.exempt(w.grid_a_worker, test_round, w.person_a, "bedridden")
        self.sample([w.person_a], "R0030", pool=1)
        totals = rounds.coverage(test_round)["totals"]
        self.assertEqual((totals["sampled"], totals["exempted"], totals["missing"]), (1, 0, 4))

    def test_township_round(self):
        w = self.w
        test_round = self.start(area=w.township_a)
        self.sample(self.a_people + self.a2_people, "R0040", pool=10)
        result = rounds.coverage(test_round)
        self.assertEqual(len(result["rows"]), 2)
        self.assertEqual((result["totals"]["residents"], result["totals"]["sampled"], result["totals"]["missing"]),
                         (7, 7, 0))
        self.assertEqual(result["totals"]["percent"], 100.0)
        by_village = rounds.coverage(test_round, by="village")["rows"]
        self.assertEqual([(r["label"], r["residents"]) for r in by_village], [("甲村", 7)])
        county = self.start(area=w.county)
        self.assertEqual(rounds.coverage(county)["totals"]["residents"], 8)

    def test_zone_round_at_building_level(self):
        w = self.w
        zone = self.zone(building=self.b1)
        test_round = self.start(zone=zone, name="")
        self.assertEqual((test_round.area_id, test_round.zone_id, test_round.number), (w.grid_a.code, zone.pk, 1))
        self.sample([w.person_a, self.a_people[3]], "R0050")  # 孙三 lives in 2号楼: not in the zone
        result = rounds.coverage(test_round)
        self.assertEqual((result["totals"]["residents"], result["totals"]["sampled"], result["totals"]["missing"]),
                         (3, 1, 2))
        self.assertEqual(sorted(p.name for p in rounds.missing(test_round, w.grid_a_worker)), ["赵一", "钱二"])
        with self.assertRaises(ValidationError):
            rounds.exempt(w.grid_a_worker, test_round, self.a_people[3], "away")

    def test_bedridden_makes_home_sampling_task(self):
        w = self.w
        test_round = self.start(area=w.grid_a)
        exemption = rounds.exempt(w.grid_a_worker, test_round, self.a_people[1], "bedridden", "瘫痪在床")
        task = Task.objects.get(pk=exemption.task_id)
        self.assertEqual((task.kind, task.role, task.area_id), ("home_sampling", Role.GRID_WORKER, w.grid_a.code))
        self.assertIn("赵一", task.title)
        # Again: the same exemption, no second task.
        rounds.exempt(w.grid_a_worker, test_round, self.a_people[1], "bedridden", "瘫痪在床")
        self.assertEqual(Task.objects.filter(kind="home_sampling").count(), 1)
        self.assertEqual(RoundExemption.objects.filter(round=test_round).count(), 1)
        with self.assertRaises(ValidationError):
            rounds.exempt(w.grid_a_worker, test_round, self.a_people[2], "other", "")
        with self.assertRaises(PermissionDenied):
            rounds.exempt(w.grid_b_worker, test_round, self.a_people[2], "away")

    def test_closing_a_zone_round_records_the_tracing_round(self):
        w = self.w
        zone = self.zone()
        test_round = self.start(zone=zone)
        self.sample(self.a_people[:4], "R0060")
        self.assertEqual(rounds.zone_rounds_done(zone), 0)
        rounds.close_round(w.hq, test_round)
        test_round.refresh_from_db()
        self.assertEqual(test_round.status, RoundStatus.CLOSED)
        self.assertEqual(rounds.zone_rounds_done(zone), 1)
        recorded = ZoneRound.objects.get(zone=zone)
        self.assertEqual((recorded.day, recorded.tested, recorded.positives),
                         (timezone.localdate(test_round.starts_at), 4, 0))
        # Closing twice changes nothing.
        rounds.close_round(w.hq, test_round)
        self.assertEqual(ZoneRound.objects.filter(zone=zone).count(), 1)

    def test_summary_counts_positives_and_pools_under_retest(self):
        w = self.w
        test_round = self.start(area=w.village_a)
        sampled = timezone.now() - timedelta(minutes=30)  # in the round, before the results
        self.sample(self.a_people[:3], "R0070", pool=5, at=sampled)
        self.sample(self.a2_people[:1], "R0071", pool=1, at=sampled)
        lab = make_user("lab", Role.LAB_OPERATOR, w.county)
        from fangkong.testing.models import Tube
        Tube.objects.filter(barcode__in=["R0070", "R0071"]).update(status="closed")
        now = timezone.now() - timedelta(minutes=5)
        services.ingest_results(lab, [{"barcode": "R0070", "result": "positive", "tested_at": now},
                                      {"barcode": "R0071", "result": "positive", "tested_at": now}])
        facts = rounds.summary(test_round)
        self.assertEqual((facts["tubes"], facts["people"], facts["positive_tubes"], facts["positive_pools"]),
                         (2, 4, 2, 1))
        self.assertEqual(facts["positives"], 1)
        self.assertEqual(facts["pools_retesting"], 1)

    def test_grid_worker_sees_only_their_grids_missing(self):
        w = self.w
        test_round = self.start(area=w.village_a)
        self.sample([w.person_a], "R0080")
        names = [p.name for p in rounds.missing(test_round, w.grid_a_worker)]
        self.assertEqual(sorted(names), ["孙三", "李四四", "赵一", "钱二"])
        self.assertEqual(rounds.missing(test_round, w.grid_b_worker).count(), 0)
        self.assertEqual(rounds.missing(test_round, w.village_a_officer).count(), 6)
        self.assertEqual(rounds.missing(test_round, w.outsider).count(), 0)


class RoundPageTests(RoundWorld):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.round = rounds.start_round(cls.w.hq, area=cls.w.village_a, name="甲村第一轮",
                                       starts_at=timezone.now() - timedelta(hours=1))

    def login(self, user):
        self.client.login(username=user.username, password=PASSWORD)

    def test_hq_starts_a_round_from_the_list(self):
        self.login(self.w.hq)
        response = self.client.get(reverse("testing:rounds"))
        self.assertContains(response, "甲村第一轮")
        self.assertContains(response, 'data-testid="round-form"')
        response = self.client.post(reverse("testing:rounds"), {"area": self.w.township_a.code, "name": "全镇第一轮",
                                                                "hours": 24})
        created = Round.objects.get(name="全镇第一轮")
        self.assertRedirects(response, reverse("testing:round", args=[created.pk]))

    def test_grid_worker_may_not_start(self):
        self.login(self.w.grid_a_worker)
        response = self.client.get(reverse("testing:rounds"))
        self.assertContains(response, "甲村第一轮")
        self.assertNotContains(response, 'data-testid="round-form"')
        response = self.client.post(reverse("testing:rounds"), {"area": self.w.grid_a.code, "name": "x", "hours": 24})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Round.objects.filter(name="x").exists())

    def test_detail_shows_coverage_per_grid_and_building(self):
        self.sample([self.w.person_a], "P0001")
        self.login(self.w.hq)
        response = self.client.get(reverse("testing:round", args=[self.round.pk]))
        self.assertContains(response, 'data-testid="coverage-grid"')
        self.assertContains(response, 'data-testid="coverage-building"')
        self.assertContains(response, "甲村一网格")
        self.assertContains(response, 'data-testid="close-round"')
        self.assertEqual(response.context["coverage"]["totals"]["sampled"], 1)

    def test_missing_list_names_for_the_grid_worker_masked_for_others(self):
        w = self.w
        self.login(w.grid_a_worker)
        response = self.client.get(reverse("testing:round_missing", args=[self.round.pk]))
        self.assertContains(response, "赵一")
        self.assertNotContains(response, "周五")  # grid A2: not theirs
        self.client.logout()
        supervisor = make_user("sup", Role.SUPERVISOR, w.county)
        self.login(supervisor)
        response = self.client.get(reverse("testing:round_missing", args=[self.round.pk]))
        self.assertContains(response, "赵*")
        self.assertNotContains(response, "赵一")

    def test_exempt_posts_and_redirects(self):
        w = self.w
        self.login(w.grid_a_worker)
        url = reverse("testing:round_exempt", args=[self.round.pk])
        self.assertEqual(self.client.get(url).status_code, 405)
        response = self.client.post(url, {"person": self.a_people[1].pk, "reason": "bedridden"})
        self.assertRedirects(response, reverse("testing:round_missing", args=[self.round.pk]))
        self.assertTrue(RoundExemption.objects.filter(round=self.round, person=self.a_people[1]).exists())
        response = self.client.post(url, {"person": self.a2_people[0].pk, "reason": "away"})
        self.assertEqual(response.status_code, 404)

    def test_close_from_the_page(self):
        self.login(self.w.hq)
        response = self.client.post(reverse("testing:round_close", args=[self.round.pk]))
        self.assertRedirects(response, reverse("testing:round", args=[self.round.pk]))
        self.round.refresh_from_db()
        self.assertEqual(self.round.status, RoundStatus.CLOSED)
