"""Tracing rules of a pack (contact window, contact rules per venue type, zone lift rules): shown, edited on a copy."""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from fangkong.audit.models import AuditEvent
from fangkong.policy import services
from fangkong.policy.models import PolicyPack
from fangkong.tracing import zones
from fangkong.tracing.engine import RuleSet, VenueRule
from tests.base import WorldTestCase


def form_data(form, **overrides) -> dict:
    """What a browser posts for FORM as it was rendered, with OVERRIDES (None = leave the box empty/unticked)."""
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name)
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    for name, value in overrides.items():
        if value is not None:
            data[name] = value
        elif isinstance(form.fields[name], forms.BooleanField):
            data.pop(name, None)
        else:
            data[name] = ""
    return data


class TracingRulesTests(WorldTestCase):
    def setUp(self):
        self.active = PolicyPack.objects.get(is_active=True)

    def copy(self) -> PolicyPack:
        return services.copy_pack(self.w.hq, self.active, name="本省版", code="local-1")

    def url(self, pack) -> str:
        return reverse("policy:tracing_rules_edit", kwargs={"pk": pack.pk})

    def test_detail_page_shows_the_rules(self):
        self.client.force_login(self.w.grid_a_worker)
        page = self.client.get(reverse("policy:pack_detail", kwargs={"pk": self.active.pk}))
        self.assertContains(page, "流调规则")
        self.assertContains(page, "发病（无症状感染者为采样）前 2 天起")
        self.assertContains(page, 'data-testid="contact-rule-restaurant"')
        self.assertContains(page, "餐馆、饭店")
        self.assertContains(page, "重叠满 15 分钟为密接", count=6)
        self.assertContains(page, "60 分钟")  # a restaurant's dwell time, for reference
        self.assertContains(page, "其他场所（默认）")
        self.assertContains(page, "不判密接")
        self.assertNotContains(page, 'data-testid="contact-rule-hospital"')  # follows the default
        self.assertContains(page, "管控区域规则")
        body = page.content.decode()
        self.assertLess(body.index('data-testid="zone-rule-sealed"'), body.index('data-testid="zone-rule-controlled"'))
        self.assertLess(body.index('data-testid="zone-rule-controlled"'), body.index('data-testid="zone-rule-precaution"'))
        self.assertContains(page, "连续 14 天无新增感染者", count=2)
        self.assertContains(page, "2 天内全员阴性", count=2)
        self.assertNotContains(page, 'data-testid="tracing-rules-edit"')
        ed9 = PolicyPack.objects.get(code="ed9-7-3")
        page = self.client.get(reverse("policy:pack_detail", kwargs={"pk": ed9.pk}))
        self.assertContains(page, "连续 7 天无新增感染者")
        self.assertContains(page, "<td>中风险</td>", html=False)
        self.assertNotContains(page, self.url(ed9))

    def test_edit_link_only_for_hq_on_an_editable_pack(self):
        copy = self.copy()
        self.client.force_login(self.w.hq)
        self.assertNotContains(self.client.get(reverse("policy:pack_detail", kwargs={"pk": self.active.pk})),
                               self.url(self.active))
        page = self.client.get(reverse("policy:pack_detail", kwargs={"pk": copy.pk}))
        self.assertContains(page, 'data-testid="tracing-rules-edit"')
        self.assertContains(page, self.url(copy))

    def test_hq_edits_a_copy_and_the_engine_follows(self):
        copy = self.copy()
        self.client.force_login(self.w.hq)
        response = self.client.get(self.url(copy))
        self.assertContains(response, 'data-testid="contact-row-restaurant"')
        self.assertContains(response, 'data-testid="zone-row-precaution"')
        data = form_data(response.context["form"], contact_window_days="3",
                         contact_restaurant_close_minutes="30", contact_supermarket_close_minutes="20",
                         contact_bank_companion=None, contact_cinema_close_minutes=None,
                         zone_sealed_lift_days="7", zone_sealed_test_within_days="3", zone_sealed_then="controlled",
                         zone_controlled_lift_days="10")
        self.assertRedirects(self.client.post(self.url(copy), data), reverse("policy:pack_detail", kwargs={"pk": copy.pk}))
        copy.refresh_from_db()
        self.assertEqual(copy.contact_window_days, 3)
        # Only the types that differ from the default are stored; the cinema now follows it.
        self.assertEqual(set(copy.contact_rules), {"default", "restaurant", "entertainment", "bath_beauty", "religious",
                                                   "elderly_care", "supermarket", "bank"})
        rules = RuleSet(copy.contact_rules)
        self.assertEqual(rules.for_type("restaurant"), VenueRule(30, True))
        self.assertEqual(rules.for_type("supermarket"), VenueRule(20, True))
        self.assertEqual(rules.for_type("bank"), VenueRule(None, False))
        self.assertEqual(rules.for_type("cinema"), rules.default)
        self.assertEqual(rules.for_type("hospital"), VenueRule(None, True))
        self.assertEqual(zones.levels_of(copy), ["sealed", "controlled", "precaution"])
        self.assertEqual(zones.level_rule(copy, "sealed"), {"lift_days": 7, "test_within_days": 3, "then": "controlled"})
        self.assertEqual(zones.level_rule(copy, "controlled")["lift_days"], 10)
        # The active pack is untouched.
        self.active.refresh_from_db()
        self.assertEqual(RuleSet(self.active.contact_rules).for_type("restaurant"), VenueRule(15, True))
        # One audit row with what changed; the detail page shows the new rules.
        event = AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(copy.pk),
                                          action="update").get()
        self.assertEqual(event.changes["contact_window_days"], [2, 3])
        self.assertEqual(event.changes["contact_rules.restaurant"],
                         [{"close_minutes": 15, "companion": True}, {"close_minutes": 30, "companion": True}])
        self.assertEqual(event.changes["contact_rules.cinema"], [{"close_minutes": 15, "companion": True}, None])
        self.assertEqual(event.changes["zone_rules.sealed.then"], ["", "controlled"])
        self.assertNotIn("zone_rules.precaution.lift_days", event.changes)
        page = self.client.get(reverse("policy:pack_detail", kwargs={"pk": copy.pk}))
        self.assertContains(page, "重叠满 30 分钟为密接")
        self.assertContains(page, "<td>管控区</td>", html=False)
        # Saving the form unchanged changes nothing and writes no further row.
        again = form_data(self.client.get(self.url(copy)).context["form"])
        self.assertEqual(self.client.post(self.url(copy), again).status_code, 302)
        self.assertEqual(AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(copy.pk),
                                                   action="update").count(), 1)

    def test_untouched_types_follow_a_changed_default(self):
        copy = self.copy()
        self.client.force_login(self.w.hq)
        form = self.client.get(self.url(copy)).context["form"]
        self.client.post(self.url(copy), form_data(form, contact_default_close_minutes="10"))
        copy.refresh_from_db()
        rules = RuleSet(copy.contact_rules)
        self.assertEqual(rules.default, VenueRule(10, True))
        self.assertEqual(rules.for_type("hospital"), VenueRule(10, True))
        self.assertEqual(rules.for_type("restaurant"), VenueRule(15, True))
        self.assertNotIn("hospital", copy.contact_rules)

    def test_the_active_pack_is_refused(self):
        before = (self.active.contact_window_days, self.active.contact_rules, self.active.zone_rules)
        with self.assertRaisesMessage(ValidationError, "启用中的策略不能直接修改"):
            services.update_tracing_rules(self.w.hq, self.active, {"contact_window_days": 5})
        self.client.force_login(self.w.hq)
        detail = reverse("policy:pack_detail", kwargs={"pk": self.active.pk})
        self.assertRedirects(self.client.get(self.url(self.active)), detail)
        self.assertRedirects(self.client.post(self.url(self.active), {"contact_window_days": "5"}), detail)
        self.active.refresh_from_db()
        self.assertEqual((self.active.contact_window_days, self.active.contact_rules, self.active.zone_rules), before)
        self.assertFalse(AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(self.active.pk),
                                                   action="update").exists())

    def test_invalid_input_is_shown_and_nothing_saved(self):
        copy = self.copy()
        self.client.force_login(self.w.hq)
        form = self.client.get(self.url(copy)).context["form"]
        response = self.client.post(self.url(copy), form_data(
            form, contact_window_days="30", contact_restaurant_close_minutes="0", zone_sealed_lift_days="61"))
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, 'data-testid="form-errors"', status_code=400)
        for name in ("contact_window_days", "contact_restaurant_close_minutes", "zone_sealed_lift_days"):
            self.assertContains(response, f'data-field="{name}"', status_code=400)
        # The form offers only lower levels; the service checks what the form cannot (tests need a clock).
        response = self.client.post(self.url(copy), form_data(form, zone_precaution_test_within_days="3"))
        self.assertContains(response, 'data-field="zone_precaution_test_within_days"', status_code=400)
        self.assertContains(response, "请同时填写解除天数", status_code=400)
        copy.refresh_from_db()
        self.assertEqual((copy.contact_window_days, copy.contact_rules, copy.zone_rules),
                         (self.active.contact_window_days, self.active.contact_rules, self.active.zone_rules))
        self.assertFalse(AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(copy.pk),
                                                   action="update").exists())

    def test_service_validates_every_value(self):
        copy = self.copy()
        zone = {"levels": ["sealed", "controlled", "precaution"],
                "sealed": {"lift_days": 14, "test_within_days": 2, "then": ""},
                "controlled": {"lift_days": 14, "test_within_days": 2, "then": ""},
                "precaution": {"lift_days": None, "test_within_days": None, "then": ""}}
        default = {"close_minutes": None, "companion": True}
        cases = [
            ({"contact_window_days": 0}, "contact_window_days"),
            ({"contact_window_days": "x"}, "contact_window_days"),
            ({"contact_rules": {"default": default, "restaurant": {"close_minutes": 601, "companion": True}}},
             "contact_restaurant_close_minutes"),
            ({"contact_rules": {"default": {"close_minutes": 1.5, "companion": True}}}, "contact_default_close_minutes"),
            ({"contact_rules": {"default": default, "bank": {"close_minutes": None, "companion": "no"}}},
             "contact_bank_companion"),
            ({"contact_rules": {"default": default, "spaceport": {"close_minutes": 5, "companion": True}}},
             "contact_rules"),
            ({"contact_rules": {"restaurant": {"close_minutes": 5, "companion": True}}}, "contact_rules"),
            ({"zone_rules": {**zone, "levels": ["high", "medium", "low"]}}, "zone_rules"),
            ({"zone_rules": {**zone, "high": {"lift_days": 7}}}, "zone_rules"),
            ({"zone_rules": {**zone, "sealed": {"lift_days": 0, "test_within_days": None, "then": ""}}},
             "zone_sealed_lift_days"),
            ({"zone_rules": {**zone, "sealed": {"lift_days": 7, "test_within_days": 15, "then": ""}}},
             "zone_sealed_test_within_days"),
            ({"zone_rules": {**zone, "controlled": {"lift_days": 7, "test_within_days": None, "then": "sealed"}}},
             "zone_controlled_then"),
            ({"zone_rules": {**zone, "controlled": {"lift_days": 7, "test_within_days": None, "then": "controlled"}}},
             "zone_controlled_then"),
            ({"zone_rules": {**zone, "sealed": {"lift_days": 7, "test_within_days": None, "then": "high"}}},
             "zone_sealed_then"),
        ]
        for data, field in cases:
            with self.subTest(data=data), self.assertRaises(ValidationError) as raised:
                services.update_tracing_rules(self.w.hq, copy, data)
            self.assertIn(field, raised.exception.message_dict)
        copy.refresh_from_db()
        self.assertEqual(copy.contact_rules, self.active.contact_rules)
        self.assertEqual(copy.zone_rules, self.active.zone_rules)
        # Valid input through the service directly (levels may be repeated as they are).
        services.update_tracing_rules(self.w.hq, copy, {"zone_rules": {
            **zone, "sealed": {"lift_days": "7", "test_within_days": "", "then": "precaution"}}})
        copy.refresh_from_db()
        self.assertEqual(copy.zone_rules["sealed"], {"lift_days": 7, "test_within_days": None, "then": "precaution"})

    def test_non_hq_is_forbidden(self):
        copy = self.copy()
        for user in (self.w.grid_a_worker, self.w.township_a_officer, self.w.auditor):
            self.client.force_login(user)
            self.assertEqual(self.client.get(self.url(copy)).status_code, 403, user)
            self.assertEqual(self.client.post(self.url(copy), {"contact_window_days": "5"}).status_code, 403, user)
            self.assertNotContains(self.client.get(reverse("policy:pack_detail", kwargs={"pk": copy.pk})),
                                   self.url(copy))
            with self.assertRaises(PermissionDenied):
                services.update_tracing_rules(user, copy, {"contact_window_days": 5})
        copy.refresh_from_db()
        self.assertEqual(copy.contact_window_days, 2)
