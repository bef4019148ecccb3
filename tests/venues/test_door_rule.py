"""The door rule: venues that admit only people with a recent negative test ("凭 72 小时核酸阴性结果")."""

from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.policy import services as policy
from fangkong.policy.models import PolicyPack
from fangkong.testing.models import Sample, SamplingPoint, SamplingSession, Tube
from fangkong.venues import fastscan, services, tokens
from fangkong.venues.models import CheckIn
from fangkong.warning.models import Signal
from tests.base import WorldTestCase
from tests.factories import make_venue
from tests.policy.test_tracing_rules import form_data
from tests.venues.test_fastscan import call

DEVICE = "device-secret-0123456789abcdef"


def set_rule(hours: dict, colour: str = "yellow") -> None:
    """Put a door rule on the active pack (HQ edits a copy and activates it; the effect is the same)."""
    pack = PolicyPack.objects.get(is_active=True)
    pack.status_rules = {**pack.status_rules, "venue_test": {"colour": colour, "hours": hours}}
    pack.save()


class DoorRuleTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.hospital = make_venue(cls.w.grid_a, "甲村卫生院", type_code="hospital")
        cls.shop = make_venue(cls.w.grid_a, "甲村超市", type_code="supermarket")
        point = SamplingPoint.objects.create(name="甲村采样点", area=cls.w.grid_a)
        cls.session = SamplingSession.objects.create(point=point, area=cls.w.grid_a, operator=cls.w.hq, pool_size=10)

    def setUp(self):
        cache.clear()
        policy.forget_venue_test_rule()

    def sampled(self, person, hours_ago: float, result: str = "negative", barcode: str = "DOOR-1") -> None:
        tube = Tube.objects.create(barcode=barcode, session=self.session, area=self.w.grid_a, capacity=10,
                                   status="closed", result=result)
        Sample.objects.create(tube=tube, person=person, area=self.w.grid_a, client_key=f"{barcode}-{person.pk}",
                              sampled_at=timezone.now() - timedelta(hours=hours_ago))

    def scan(self, venue, person):
        return services.scan(services.code_of(venue), tokens.personal_token(person.pk, DEVICE), DEVICE)

    def test_no_rule_by_default_so_the_hospital_admits_green(self):
        self.assertEqual(policy.venue_test_rule()["hours"], {})
        self.assertEqual(self.scan(self.hospital, self.w.person_a).colour, "green")

    def test_without_a_recent_negative_test_the_hospital_shows_yellow_but_raises_no_signal(self):
        set_rule({"hospital": 72})
        result = self.scan(self.hospital, self.w.person_a)
        self.assertEqual(result.colour, "yellow")
        self.assertEqual(result.reasons[0]["stage"], "venue_test")
        self.assertIn("72 小时内核酸阴性", result.reasons[0]["label"])
        self.assertEqual(CheckIn.objects.get(venue=self.hospital).status_shown, "yellow")
        self.assertFalse(Signal.objects.exists())  # not tested is not a sign of infection
        self.assertEqual(self.scan(self.shop, self.w.person_a).colour, "green")  # the supermarket asks nothing

    def test_a_negative_sample_within_the_hours_admits_and_an_older_one_does_not(self):
        set_rule({"hospital": 72})
        self.sampled(self.w.person_a, hours_ago=10)
        self.assertEqual(self.scan(self.hospital, self.w.person_a).colour, "green")
        self.sampled(self.w.person_b, hours_ago=80, barcode="DOOR-2")
        self.assertEqual(self.scan(self.hospital, self.w.person_b).colour, "yellow")

    def test_a_pending_or_positive_result_does_not_count(self):
        set_rule({"hospital": 72})
        self.sampled(self.w.person_a, hours_ago=2, result="")
        self.assertEqual(self.scan(self.hospital, self.w.person_a).colour, "yellow")
        self.sampled(self.w.person_b, hours_ago=2, result="invalid", barcode="DOOR-2")
        self.assertEqual(self.scan(self.hospital, self.w.person_b).colour, "yellow")

    def test_the_default_row_covers_every_venue_and_the_colour_can_be_red(self):
        set_rule({"default": 48}, colour="red")
        self.assertEqual(self.scan(self.shop, self.w.person_a).colour, "red")
        self.assertFalse(Signal.objects.exists())

    def test_a_red_person_stays_red_with_their_own_reason(self):
        from fangkong.policy.services import impose_measure, refresh_status

        set_rule({"hospital": 72})
        impose_measure(self.w.person_a, "close_contact", "测试", timezone.localdate())
        refresh_status(self.w.person_a)
        result = self.scan(self.hospital, self.w.person_a)
        self.assertEqual(result.colour, "red")
        self.assertNotIn("venue_test", [r["stage"] for r in result.reasons])
        self.assertEqual(Signal.objects.get().kind, "scan_red")

    def test_the_fast_path_hands_a_rule_venue_to_the_full_api(self):
        set_rule({"hospital": 72})

        def full(environ, start_response):
            start_response("202 Accepted", [])
            return [b'{"full": true}']

        for venue, expected in ((self.hospital, "202 Accepted"), (self.shop, "200 OK")):
            body = {"code": services.code_of(venue), "token": tokens.personal_token(self.w.person_a.pk, DEVICE),
                    "device": DEVICE}
            status, _headers, _answer = call(fastscan.wrap(full), body)
            self.assertEqual(status, expected, venue.name)
        set_rule({"default": 72})
        body = {"code": services.code_of(self.shop), "token": tokens.personal_token(self.w.person_b.pk, DEVICE),
                "device": DEVICE}
        self.assertEqual(call(fastscan.wrap(full), body)[0], "202 Accepted")


class ScanRulesEditTests(WorldTestCase):
    def setUp(self):
        self.active = PolicyPack.objects.get(is_active=True)
        policy.forget_venue_test_rule()

    def copy(self) -> PolicyPack:
        return policy.copy_pack(self.w.hq, self.active, name="本县版", code="local-door")

    def url(self, pack) -> str:
        return reverse("policy:scan_rules_edit", kwargs={"pk": pack.pk})

    def test_hq_sets_the_rule_on_a_copy_and_it_applies_once_activated(self):
        copy = self.copy()
        self.client.force_login(self.w.hq)
        page = self.client.get(self.url(copy))
        self.assertContains(page, "须持多少小时内核酸阴性结果")
        data = form_data(page.context["form"], hours_hospital="72", hours_elderly_care="48", colour="yellow")
        response = self.client.post(self.url(copy), data)
        self.assertRedirects(response, reverse("policy:pack_detail", kwargs={"pk": copy.pk}))
        copy.refresh_from_db()
        self.assertEqual(copy.status_rules["venue_test"], {"colour": "yellow",
                                                           "hours": {"hospital": 72, "elderly_care": 48}})
        event = AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(copy.pk)).latest("id")
        self.assertEqual(event.changes["venue_test.hours.hospital"], [None, 72])
        detail = self.client.get(reverse("policy:pack_detail", kwargs={"pk": copy.pk}))
        self.assertContains(detail, "须持 72 小时内核酸阴性结果")
        self.assertEqual(policy.venue_test_hours("hospital"), None)  # the active pack still asks nothing
        policy.activate_pack(self.w.hq, copy, reason="医院查验核酸")
        self.assertEqual(policy.venue_test_hours("hospital"), 72)
        self.assertEqual(policy.venue_test_hours("supermarket"), None)

    def test_bad_values_are_refused_with_the_field_named(self):
        copy = self.copy()
        self.client.force_login(self.w.hq)
        data = form_data(self.client.get(self.url(copy)).context["form"], hours_hospital="0")
        response = self.client.post(self.url(copy), data)
        self.assertEqual(response.status_code, 400)
        self.assertIn("hours_hospital", response.context["form"].errors)
        for data, field in (({"colour": "green"}, "colour"), ({"hours": {"nowhere": 5}}, "hours_nowhere"),
                            ({"hours": {"hospital": 1000}}, "hours_hospital"),
                            ({"hours": {"hospital": 2.5}}, "hours_hospital")):
            with self.assertRaises(ValidationError) as caught:
                policy.update_scan_rules(self.w.hq, copy, data)
            self.assertIn(field, caught.exception.message_dict)

    def test_the_active_pack_is_frozen_and_others_may_not_edit(self):
        self.client.force_login(self.w.hq)
        self.assertRedirects(self.client.get(self.url(self.active)),
                             reverse("policy:pack_detail", kwargs={"pk": self.active.pk}))
        with self.assertRaises(ValidationError):
            policy.update_scan_rules(self.w.hq, self.active, {"hours": {"hospital": 72}})
        copy = self.copy()
        for user in (self.w.grid_a_worker, self.w.township_a_officer):
            self.client.force_login(user)
            self.assertEqual(self.client.get(self.url(copy)).status_code, 403)
            with self.assertRaises(PermissionDenied):
                policy.update_scan_rules(user, copy, {"hours": {"hospital": 72}})

    def test_the_pack_page_says_when_no_venue_checks_tests(self):
        self.client.force_login(self.w.grid_a_worker)
        page = self.client.get(reverse("policy:pack_detail", kwargs={"pk": self.active.pk}))
        self.assertContains(page, "扫场所码不查验核酸")
