"""The outbreak board's figures on a small built scenario, and the cluster (chain) pages."""

from datetime import datetime, time, timedelta

from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.audit.models import AuditEvent
from fangkong.policy.models import PolicyPack
from fangkong.tasks.models import Task
from fangkong.tasks.services import create_task
from fangkong.tracing import chains
from fangkong.tracing.board import board
from fangkong.tracing.models import Case, Contact, ControlZone
from tests.base import WorldTestCase
from tests.factories import make_person, make_user

_numbers = iter(range(1, 10_000))


def make_case(person, classification="confirmed", *, created_at, **extra) -> Case:
    extra.setdefault("result_at", created_at)
    return Case.objects.create(number=f"BLTEST-{next(_numbers):03d}", person=person, area=person.area,
                               classification=classification, created_at=created_at, **extra)


def make_contact(case, person, status="proposed", **extra) -> Contact:
    return Contact.objects.create(case=case, person=person, area=person.area, kind="close", found_kind="close",
                                  status=status, summary="与病例同时段在甲村超市", evidence=[], **extra)


class BoardScenario(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.today = timezone.localdate()
        cls.noon = timezone.make_aware(datetime.combine(cls.today, time(12)))
        noon = cls.noon
        cls.epi = make_user("epi", Role.EPIDEMIOLOGIST, w.county)
        cls.epi_b = make_user("epi_b", Role.EPIDEMIOLOGIST, w.township_b)
        person_c = make_person(w.hq, w.grid_a, "王小明")
        # Today: one overdue (result 3 h ago), one due within the hour, one just registered; all unreported.
        cls.a = make_case(w.person_a, created_at=noon - timedelta(hours=3), onset_date=cls.today - timedelta(days=2))
        cls.b = make_case(w.person_b, "asymptomatic", created_at=noon - timedelta(minutes=90),
                          sampled_at=noon - timedelta(hours=6))
        cls.c = make_case(person_c, created_at=noon - timedelta(minutes=30), onset_date=cls.today)
        # Earlier: reported, one closed; and one registered by mistake (excluded: counted nowhere).
        days_ago = noon - timedelta(days=3)
        cls.d = make_case(make_person(w.hq, w.grid_a, "赵六"), created_at=days_ago, reported_at=days_ago,
                          status="closed", onset_date=cls.today - timedelta(days=4))
        long_ago = noon - timedelta(days=20)
        cls.e = make_case(make_person(w.hq, w.grid_a, "钱七"), "suspected", created_at=long_ago, reported_at=long_ago)
        make_case(make_person(w.hq, w.grid_a, "孙八"), created_at=noon - timedelta(hours=5), status="excluded")

        # Contacts of A: waiting for review 5 h (late) and 1 h, confirmed, dispatched late / in time / done, dismissed.
        def person(name):
            return make_person(w.hq, w.grid_a, name)

        make_contact(cls.a, person("密接一"), found_at=noon - timedelta(hours=5))
        make_contact(cls.a, person("密接二"), found_at=noon - timedelta(hours=1))
        make_contact(cls.a, person("密接三"), "confirmed")
        make_contact(cls.a, person("密接四"), "dispatched", deadline=noon - timedelta(days=2))
        make_contact(cls.a, person("密接五"), "dispatched", deadline=noon + timedelta(days=2))
        done = create_task(kind="contact_control", title="管控", area=w.grid_a, role=Role.GRID_WORKER,
                           deadline=noon - timedelta(days=2))
        Task.objects.filter(pk=done.pk).update(status="done")
        make_contact(cls.a, person("密接六"), "dispatched", deadline=noon - timedelta(days=2), task=done)
        make_contact(cls.a, person("密接七"), "dismissed")

        pack = PolicyPack.objects.get(code="ed9-7-3")
        for level, status in [("high", "published"), ("high", "proposed"), ("medium", "published"),
                              ("low", "lifted")]:
            ControlZone.objects.create(name=f"{level}-{status}", area=w.grid_a, level=level, status=status, pack=pack)

        # A infected B (a close contact found at the supermarket): one cluster of two.
        cls.link = make_contact(cls.a, w.person_b, "confirmed", is_case=True)
        Case.objects.filter(pk=cls.b.pk).update(infected_by=cls.a)
        cls.b.refresh_from_db()
        cls.cluster = chains.join(cls.a, cls.b)

    def board(self, user):
        return board(user, today=self.today, now=self.noon)


class BoardFigureTests(BoardScenario):
    def test_cases(self):
        data = self.board(self.epi)
        cases = data["cases"]
        self.assertEqual(cases["today"], 3)
        self.assertEqual({c["value"]: c["today"] for c in cases["by_classification"]},
                         {"confirmed": 2, "asymptomatic": 1, "suspected": 0})
        self.assertEqual(cases["open"], 4)  # a, b, c, e: D is closed, the excluded one counts nowhere
        self.assertEqual((cases["report_overdue"], cases["report_due_soon"], cases["report_pending"]), (1, 1, 2))
        self.assertEqual([(c["number"], c["overdue"]) for c in data["report_cases"]],
                         [(self.a.number, True), (self.b.number, False)])
        self.assertEqual(data["report_cases"][0]["name"], "张*")  # masked

    def test_series_of_fourteen_days(self):
        series = self.board(self.epi)["series"]
        self.assertEqual(len(series["days"]), 14)
        self.assertEqual(series["days"][-1], self.today.isoformat())
        by_class = {s["value"]: s["data"] for s in series["series"]}
        self.assertEqual(by_class["confirmed"][-1], 2)
        self.assertEqual(by_class["asymptomatic"][-1], 1)
        self.assertEqual(by_class["confirmed"][-4], 1)  # D, three days ago
        self.assertEqual(sum(series["total"]), 4)  # E is 20 days old, the excluded one is not counted

    def test_contacts_against_the_clock(self):
        data = self.board(self.epi)
        contacts = data["contacts"]
        self.assertEqual(contacts["found"], 7)  # the dismissed one is not
        self.assertEqual((contacts["proposed"], contacts["confirmed"], contacts["dispatched"]), (2, 2, 3))
        self.assertEqual((contacts["controlled"], contacts["overdue"], contacts["unreviewed"]), (1, 1, 1))
        self.assertEqual([(c["id"], c["count"]) for c in data["unreviewed_cases"]], [(self.a.pk, 1)])
        self.assertEqual([(c["id"], c["count"]) for c in data["overdue_contact_cases"]], [(self.a.pk, 1)])

    def test_zones_and_clusters(self):
        data = self.board(self.epi)
        zones = data["zones"]
        self.assertEqual((zones["published"], zones["proposed"]), (2, 1))
        self.assertEqual([(z["value"], z["published"], z["proposed"]) for z in zones["levels"]],
                         [("high", 1, 1), ("medium", 1, 0)])
        [cluster] = data["clusters"]
        self.assertEqual(cluster.case_count, 2)
        self.assertEqual(cluster.first_date, self.a.anchor_date)
        self.assertEqual(cluster.last_date, self.b.anchor_date)

    def test_scoped_to_the_users_area(self):
        data = self.board(self.epi_b)  # township B: only B (and nothing of grid A)
        self.assertEqual(data["cases"]["today"], 1)
        self.assertEqual([c["number"] for c in data["report_cases"]], [self.b.number])
        self.assertEqual(data["contacts"]["found"], 1)  # B as A's contact lives in grid B
        self.assertEqual(data["zones"]["published"], 0)
        self.assertEqual(data["clusters"], [])  # the cluster belongs to A's area

    def test_grid_worker_sees_nothing(self):
        data = self.board(self.w.grid_a_worker)
        self.assertEqual(data["cases"]["today"], 0)
        self.assertEqual(data["contacts"]["found"], 0)

    def test_a_handful_of_queries(self):
        self.board(self.epi)  # warm the permission caches
        with self.assertNumQueries(7):
            self.board(self.epi)


class BoardPageTests(BoardScenario):
    def test_board_page(self):
        self.client.force_login(self.epi)
        response = self.client.get(reverse("tracing:board"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "疫情态势")
        self.assertContains(response, 'data-testid="stat-cases-open">4<')
        self.assertContains(response, 'data-testid="stat-contacts-overdue">1<')
        self.assertContains(response, reverse("tracing:contacts", args=[self.a.pk]))
        self.assertContains(response, reverse("tracing:zones"))
        self.assertContains(response, reverse("tracing:cluster", args=[self.cluster.pk]))
        self.assertContains(response, 'id="board-chart-data"')
        self.assertContains(response, "vendor/echarts/echarts.min.js")
        self.assertNotContains(response, "李四")  # names masked

    def test_empty_board(self):
        self.client.force_login(make_user("epi_empty", Role.EPIDEMIOLOGIST, self.w.grid_a2))
        response = self.client.get(reverse("tracing:board"))
        self.assertContains(response, "暂无聚集性疫情")
        self.assertContains(response, "暂无管控区域")

    def test_grid_worker_forbidden(self):
        self.client.force_login(self.w.grid_a_worker)
        for url in (reverse("tracing:board"), reverse("tracing:clusters"),
                    reverse("tracing:cluster", args=[self.cluster.pk])):
            self.assertEqual(self.client.get(url).status_code, 403, url)

    def test_anonymous_goes_to_login(self):
        for url in (reverse("tracing:board"), reverse("tracing:clusters"),
                    reverse("tracing:cluster", args=[self.cluster.pk])):
            response = self.client.get(url)
            self.assertRedirects(response, reverse("login") + "?next=" + url, fetch_redirect_response=False)

    def test_cluster_list(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("tracing:clusters"))
        self.assertContains(response, self.cluster.name)
        self.assertContains(response, self.cluster.code)
        self.assertContains(response, self.a.anchor_date.isoformat())

    def test_cluster_list_empty_and_scoped(self):
        self.client.force_login(self.epi_b)
        response = self.client.get(reverse("tracing:clusters"))
        self.assertContains(response, "暂无聚集性疫情")
        self.assertNotContains(response, self.cluster.code)

    def test_cluster_page_renders_the_graph(self):
        self.client.force_login(self.epi)
        url = reverse("tracing:cluster", args=[self.cluster.pk])
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        graph = response.context["graph"]
        self.assertEqual([n["number"] for n in graph["nodes"]], [self.a.number, self.b.number])
        self.assertEqual(graph["edges"], [{"source": self.a.pk, "target": self.b.pk, "kind": "close",
                                           "kind_label": "密切接触者", "summary": "与病例同时段在甲村超市"}])
        self.assertContains(response, 'id="chain-data"')
        self.assertContains(response, 'data-testid="chain-graph"')
        self.assertContains(response, "tracing/chain.js")
        self.assertContains(response, "与病例同时段在甲村超市")  # the table under the chart
        self.assertContains(response, reverse("tracing:case", args=[self.b.pk]))
        self.assertContains(response, "李*")
        self.assertNotContains(response, "李四")
        self.assertTrue(AuditEvent.objects.filter(action="view", object_type="tracing.cluster",
                                                  object_id=str(self.cluster.pk), user=self.epi).exists())

    def test_root_filter(self):
        self.client.force_login(self.epi)
        url = reverse("tracing:cluster", args=[self.cluster.pk])
        response = self.client.get(url, {"root": self.b.pk})
        self.assertEqual([n["id"] for n in response.context["graph"]["nodes"]], [self.b.pk])
        self.assertEqual(response.context["graph"]["edges"], [])
        self.assertContains(response, "按源头病例")
        self.assertContains(response, f'<option value="{self.b.pk}" selected>')
        response = self.client.get(url, {"root": self.a.pk})
        self.assertEqual(len(response.context["graph"]["nodes"]), 2)
        response = self.client.get(url, {"root": self.c.pk})  # not in the cluster: everything, with a warning
        self.assertEqual(len(response.context["graph"]["nodes"]), 2)
        self.assertContains(response, "所选病例不在该聚集性疫情中")

    def test_cluster_out_of_scope_is_404(self):
        self.client.force_login(self.epi_b)
        self.assertEqual(self.client.get(reverse("tracing:cluster", args=[self.cluster.pk])).status_code, 404)


class ChainJoinTests(WorldTestCase):
    def test_a_stale_case_object_does_not_split_the_cluster(self):
        w = self.w
        now = timezone.now()
        a = make_case(w.person_a, created_at=now - timedelta(days=3))
        b = make_case(w.person_b, created_at=now - timedelta(days=2))
        c = make_case(make_person(w.hq, w.grid_a, "王小明"), created_at=now - timedelta(days=1))
        cluster = chains.join(a, Case.objects.get(pk=b.pk))  # B's object here is another one: it goes stale
        self.assertIsNone(b.cluster_id)
        self.assertEqual(chains.join(b, c), cluster)
        self.assertEqual(set(cluster.cases.values_list("pk", flat=True)), {a.pk, b.pk, c.pk})
