"""Walk every page URL with every persona: what lies outside a user's area is never shown.

New URL patterns are picked up automatically; a pattern with an argument this
walk cannot fill fails the test, so whoever adds one extends OBJECT_ARGS.
"""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from fangkong.core.jobs import start_job
from fangkong.people.register.services import upload_register
from fangkong.tasks.services import create_task
from tests.base import WorldTestCase

SKIP_PREFIXES = ("api/", "i18n/", "static/", "admin/")  # the API and admin have their own tests
PUBLIC = {"login", "declare:form", "declare:receipt", "declare:status", "declare:edit", "declare:poster",
          "declare:places", "scan:scan", "scan:person_code", "quarantine_self_check"}
# Reference data every signed-in user may read: the risk-area list and the policy packs.
READABLE_BY_ALL = {"policy:risk_area_detail", "policy:pack_detail"}


def iter_patterns(resolver=None, prefix="", namespace=None):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from iter_patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield prefix + str(entry.pattern), name, list(entry.pattern.converters)


class UrlWalkTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.task_a = create_task(kind="visit", title="甲网格走访任务", area=w.grid_a, role="grid_worker",
                                 deadline=timezone.now() + timedelta(days=1), subject=w.person_a)
        cls.job_a = start_job(w.grid_a_worker, "people.export", "甲网格导出", "fangkong.people.jobs.export_people_job",
                              area_code=w.grid_a.code, query="")
        household = w.person_a.household
        cls.batch_a = upload_register(w.grid_a_worker, SimpleUploadedFile(
            "甲网格.csv", "姓名,公民身份号码\n张三,370923198506150011\n".encode()), w.grid_a)
        from fangkong.declarations.models import Checkpoint
        from fangkong.declarations.services import submit_declaration
        from fangkong.policy.models import PolicyPack
        from tests.factories import declaration_data, make_risk_area

        cls.declaration_a, _ = submit_declaration(declaration_data(w.grid_a, name="甲网格返乡人"))
        checkpoint_a = Checkpoint.objects.create(name="甲镇卡点", area=w.township_a)
        risk_area = make_risk_area("110101", "medium")
        pack = PolicyPack.objects.get(code="ed9-7-3")
        from tests.factories import make_venue

        venue_a = make_venue(w.grid_a, name="甲网格小超市")
        from fangkong.tracing.models import Case, Cluster, Contact, ControlZone, TrajectoryEntry

        cls.case_a = Case.objects.create(number="BL-URLWALK-1", person=w.person_a, area=w.grid_a,
                                         classification="confirmed", onset_date=timezone.localdate())
        entry_a = TrajectoryEntry.objects.create(case=cls.case_a, place="甲网格某处", start=timezone.now(),
                                                 end=timezone.now())
        from tests.factories import make_person

        neighbour = make_person(w.hq, w.grid_a, "甲网格密接")
        contact_a = Contact.objects.create(case=cls.case_a, person=neighbour, area=w.grid_a, kind="close",
                                           found_kind="close", summary="与病例同住", evidence=[])
        zone_a = ControlZone.objects.create(name="甲网格封控区", area=w.grid_a, level="sealed", pack=pack)
        cluster_a = Cluster.objects.create(code="JJ-URLWALK", name="甲网格聚集", area=w.grid_a)
        from fangkong.testing.models import SamplingPoint, SamplingSession, Tube

        point_a = SamplingPoint.objects.create(name="甲网格采样点", area=w.grid_a)
        session_a = SamplingSession.objects.create(point=point_a, area=w.grid_a, operator=w.grid_a_worker,
                                                   pool_size=10)
        tube_a = Tube.objects.create(barcode="URLWALK-T1", session=session_a, area=w.grid_a, capacity=10)
        from fangkong.people.models import KeyGroup
        from fangkong.testing.models import RosterEntry

        keygroup_a = KeyGroup.objects.create(code="urlwalk", name="甲网格重点人群", test_interval_days=3)
        RosterEntry.objects.create(group=keygroup_a, person=w.person_a, area=w.grid_a, employer="甲网格单位",
                                   next_due=timezone.localdate())
        from fangkong.testing.models import TestRound as Round

        round_a = Round.objects.create(name="甲网格核酸筛查", area=w.grid_a, starts_at=timezone.now(),
                                       deadline=timezone.now() + timedelta(hours=24))
        from fangkong.policy.services import impose_measure
        from fangkong.quarantine.models import QuarantineSite, Room, Stay
        from fangkong.quarantine.transfers import plan_transfer

        order_a = impose_measure(w.person_a, "close_contact", "甲网格密接管控", timezone.localdate(), user=w.hq)
        site_a = QuarantineSite.objects.create(name="甲镇隔离点", area=w.township_a)
        room_a = Room.objects.create(site=site_a, floor=3, number="301")
        stay_a = Stay.objects.create(order=order_a, person=w.person_a, site=site_a, room=room_a, area=w.township_a,
                                     category=order_a.category)
        transfer_a = plan_transfer(w.township_a_officer, {
            "kind": "to_home", "from_place": "甲镇隔离点", "to_place": "甲村", "vehicle": "鲁J12345", "driver": "赵",
            "planned_at": timezone.now()}, [w.person_a])
        from fangkong.warning.models import Alert, AlertRule, DetectorConfig
        from fangkong.warning.services import raise_signal

        raise_signal("positive_result", title="核酸检测阳性：张三", area=w.grid_a, person=w.person_a)
        alert_a = Alert.objects.get(area=w.township_a)
        detector = DetectorConfig.objects.first()
        from fangkong.sentinels.services import record_purchase, register_sentinel

        sentinel_a = register_sentinel(w.hq, {"kind": "pharmacy", "name": "甲村哨点药房", "area": w.village_a})
        purchase_a, _ = record_purchase(w.hq, sentinel_a, {
            "client_key": "urlwalk-sale", "buyer_name": "甲网格购药人", "document_number": "",
            "items": [{"product": "paracetamol-tab", "quantity": 1}]})
        case_views = ("case", "case_edit", "trajectory", "entry_new", "trace", "contacts", "contact_add",
                      "dispatch", "transfers_export")
        zone_views = ("zone", "zone_edit", "zone_publish", "zone_lift", "zone_round")
        # One object in grid A for every argument name a URL may take.
        cls.object_args = {
            "people:detail": {"pk": w.person_a.pk}, "people:edit": {"pk": w.person_a.pk},
            "people:reveal": {"pk": w.person_a.pk},
            "areas:detail": {"code": w.grid_a.code}, "areas:building": {"pk": household.building_id},
            "areas:household": {"pk": household.pk},
            "tasks:detail": {"pk": cls.task_a.pk}, "tasks:start": {"pk": cls.task_a.pk},
            "tasks:complete": {"pk": cls.task_a.pk},
            "core:job": {"pk": cls.job_a.pk}, "core:job_file": {"pk": cls.job_a.pk},
            "people:import_detail": {"pk": cls.batch_a.pk}, "people:import_commit": {"pk": cls.batch_a.pk},
            "people:import_errors": {"pk": cls.batch_a.pk},
            "declarations:detail": {"pk": cls.declaration_a.pk}, "declarations:arrive": {"pk": cls.declaration_a.pk},
            "declarations:first_test": {"pk": cls.declaration_a.pk},
            "declarations:not_arrived": {"pk": cls.declaration_a.pk},
            "declarations:checkpoint_edit": {"pk": checkpoint_a.pk},
            "declarations:checkpoint_toggle": {"pk": checkpoint_a.pk},
            "policy:risk_area_detail": {"pk": risk_area.pk}, "policy:risk_area_edit": {"pk": risk_area.pk},
            "policy:risk_area_lift": {"pk": risk_area.pk},
            "policy:pack_detail": {"pk": pack.pk}, "policy:pack_copy": {"pk": pack.pk},
            "policy:pack_activate": {"pk": pack.pk}, "policy:rule_edit": {"pk": pack.rules.first().pk},
            "policy:tracing_rules_edit": {"pk": pack.pk}, "policy:scan_rules_edit": {"pk": pack.pk},
            "venues:detail": {"pk": venue_a.pk}, "venues:edit": {"pk": venue_a.pk},
            "venues:reissue": {"pk": venue_a.pk}, "venues:poster": {"pk": venue_a.pk},
            "venues:poster_print": {"pk": venue_a.pk},
            **{f"tracing:{name}": {"pk": cls.case_a.pk} for name in case_views},
            "tracing:entry_delete": {"pk": entry_a.pk},
            **{f"tracing:{name}": {"pk": contact_a.pk} for name in ("contact", "contact_review", "contact_withdraw")},
            **{f"tracing:{name}": {"pk": zone_a.pk} for name in zone_views},
            "tracing:cluster": {"pk": cluster_a.pk},
            **{f"testing:{name}": {"pk": session_a.pk}
               for name in ("session", "session_scan", "session_seal", "session_close")},
            "testing:tube": {"pk": tube_a.pk},
            **{f"testing:{name}": {"pk": keygroup_a.pk} for name in (
                "keygroup", "keygroup_overdue_export", "keygroup_tasks", "keygroup_import", "keygroup_edit")},
            **{f"testing:{name}": {"pk": round_a.pk}
               for name in ("round", "round_missing", "round_exempt", "round_close")},
            **{f"quarantine:{name}": {"pk": order_a.pk}
               for name in ("order", "order_advance", "order_release", "order_notice")},
            **{f"quarantine:{name}": {"pk": site_a.pk} for name in ("site", "site_check_in")},
            "quarantine:stay_check_out": {"pk": stay_a.pk}, "quarantine:stay_room_sample": {"pk": stay_a.pk}, "quarantine:room_service": {"pk": room_a.pk},
            **{f"quarantine:{name}": {"pk": transfer_a.pk}
               for name in ("transfer", "transfer_depart", "transfer_arrive", "transfer_acknowledge",
                            "transfer_cancel")},
            **{f"quarantine:{name}": {"order_pk": order_a.pk}
               for name in ("care", "care_check", "care_visit", "care_member")},
            "quarantine_self_check": {"token": "not-a-token"},
            **{f"sentinels:{name}": {"pk": sentinel_a.pk}
               for name in ("detail", "edit", "zero", "fever", "counts", "absences", "sale")},
            "sentinels:purchase": {"pk": purchase_a.pk},
            **{f"warning:{name}": {"pk": alert_a.pk}
               for name in ("alert", "alert_verify", "alert_respond", "alert_close")},
            "warning:detector_edit": {"pk": detector.pk},
            "warning:rule_edit": {"pk": AlertRule.objects.first().pk},
        }

    def urls(self):
        for route, name, args in iter_patterns():
            if route.startswith(SKIP_PREFIXES):
                continue
            kwargs = self.object_args.get(name, {}) if args else {}
            self.assertEqual(set(kwargs), set(args), f"extend object_args for {name} ({route})")
            yield name, reverse(name, kwargs=kwargs), bool(args)

    def test_outsiders_never_see_grid_a_records(self):
        secret_bits = [self.w.person_a.name, self.w.person_a.doc_masked, "甲网格走访任务", "甲网格导出", "甲网格.csv",
                       "甲网格返乡人", self.declaration_a.receipt, self.declaration_a.doc_masked, "甲网格小超市",
                       self.case_a.number, "甲网格密接", "甲网格封控区", "甲网格聚集", "甲镇隔离点",
                       "甲网格密接管控", "鲁J12345"]
        for user in (self.w.grid_b_worker, self.w.outsider):
            for name, url, has_object in self.urls():
                for method in ("get", "post"):
                    self.client.force_login(user)  # the walk passes the logout URL too
                    response = getattr(self.client, method)(url)
                    if has_object and name not in READABLE_BY_ALL:
                        self.assertIn(response.status_code, (403, 404, 405), f"{user} {method} {url}")
                    elif response.status_code == 200:
                        body = response.content.decode(errors="replace")
                        for bit in secret_bits:
                            self.assertNotIn(bit, body, f"{user} {method} {url} shows {bit}")

    def test_grid_a_worker_opens_own_records(self):
        self.client.force_login(self.w.grid_a_worker)
        for name in ("people:detail", "areas:detail", "areas:household", "tasks:detail", "core:job"):
            url = reverse(name, kwargs=self.object_args[name])
            self.assertEqual(self.client.get(url).status_code, 200, url)

    def test_county_sees_everything(self):
        self.client.force_login(self.w.hq)
        for name in ("people:detail", "areas:detail", "areas:household", "tasks:detail"):
            url = reverse(name, kwargs=self.object_args[name])
            self.assertEqual(self.client.get(url).status_code, 200, url)

    def test_anonymous_gets_login_everywhere(self):
        for name, url, _ in self.urls():
            if name in PUBLIC:
                continue
            response = self.client.get(url)
            self.assertEqual(response.status_code, 302, url)
            self.assertTrue(response["Location"].startswith(reverse("login")), url)
