"""POST /api/v1/scan/identify and POST /api/v1/scan: no account, bound to the device, and every kind of bad input."""

from django.core.cache import cache
from django.test import Client, override_settings

from fangkong.audit.models import AuditEvent
from fangkong.declarations import services as declarations
from fangkong.people.models import Person
from fangkong.venues import services, tokens
from fangkong.venues.models import CheckIn
from fangkong.warning.models import Signal

from ..factories import declaration_data, make_resident_id, make_risk_area, make_venue
from .base import API, ApiTestCase

SCAN = f"{API}/scan"
IDENTIFY = f"{API}/scan/identify"
DEVICE = "0123456789abcdef0123456789abcdef"
OTHER_DEVICE = "fedcba9876543210fedcba9876543210"


@override_settings(FANGKONG_SCAN_RATE_PER_MINUTE=0)
class ScanApiTestCase(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.venue = make_venue(cls.w.grid_a)

    def setUp(self):
        cache.clear()
        self.code = services.code_of(self.venue)

    def call(self, url, data, client=None, **extra):
        return (client or self.client).post(url, data, content_type="application/json", **extra)

    def identify(self, device=DEVICE, **fields):
        data = {"code": self.code, "name": "王五", "document_number": make_resident_id(), "phone": "13900000001",
                "device": device, **fields}
        return self.call(IDENTIFY, data)

    def scan(self, token, device=DEVICE, code=None, client=None):
        return self.call(SCAN, {"code": code or self.code, "token": token, "device": device}, client=client)

    def token_for(self, person, device=DEVICE):
        return tokens.personal_token(person.pk, device)


class IdentifyTests(ScanApiTestCase):
    def test_a_first_visitor_is_registered_and_gets_a_token_for_this_device(self):
        response = self.identify()
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["name_masked"], "王*")
        person = Person.objects.get(name="王五")
        self.assertEqual(person.area, self.w.grid_a)
        self.assertEqual(tokens.parse_personal_token(body["token"], DEVICE), person.pk)
        self.assertIsNone(tokens.parse_personal_token(body["token"], OTHER_DEVICE))

    def test_a_registered_person_with_the_right_name_gets_their_own_token(self):
        response = self.identify(name="张三", document_number=self.w.person_a.document_number)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(tokens.parse_personal_token(response.json()["token"], DEVICE), self.w.person_a.pk)

    def test_an_id_registered_under_another_name_is_refused_and_nothing_of_that_person_is_shown(self):
        person = self.w.person_a
        response = self.identify(name="冒名者", document_number=person.document_number)
        body = self.assertError(response, 400, "invalid")
        self.assertEqual(set(body["errors"]), {"name"})
        text = response.content.decode()
        for bit in (person.name, "张*", person.doc_masked, person.phone_masked, str(person.pk), "token"):
            self.assertNotIn(bit, text)
        self.assertFalse(Person.objects.filter(name="冒名者").exists())

    def test_missing_and_malformed_fields_are_named(self):
        body = self.assertError(self.call(IDENTIFY, {"code": self.code}), 400, "invalid")
        self.assertEqual(set(body["errors"]), {"name", "document_number", "phone", "device"})
        body = self.assertError(self.identify(document_number="110101199001011234", phone="12345", device="short"),
                                400, "invalid")
        self.assertEqual(set(body["errors"]), {"document_number", "phone", "device"})

    def test_a_forged_code_is_refused_before_anyone_is_registered(self):
        self.assertError(self.identify(code=f"{self.venue.pk}.1.AAAA"), 400, "invalid_code", "场所码无效")
        self.assertFalse(Person.objects.filter(name="王五").exists())


class ScanTests(ScanApiTestCase):
    def test_identify_then_scan_shows_green_with_masked_name_venue_and_time(self):
        token = self.identify().json()["token"]
        response = self.scan(token)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        checkin = CheckIn.objects.get()
        self.assertEqual(body["colour"], "green")
        self.assertEqual(body["label"], "通行")
        self.assertEqual(body["venue"], "甲村超市")
        self.assertEqual(body["person"], "王*")
        self.assertEqual(body["reasons"], [])
        self.assertFalse(body["duplicate"])
        self.assertTrue(body["time"].endswith("+08:00"), body["time"])
        self.assertEqual(checkin.venue, self.venue)
        self.assertEqual(checkin.person.name, "王五")
        self.assertEqual(response["Cache-Control"], "no-store")
        self.assertFalse(Signal.objects.exists())

    def test_a_second_scan_within_a_minute_is_the_same_check_in(self):
        token = self.token_for(self.w.person_a)
        first = self.scan(token).json()
        again = self.scan(token).json()
        self.assertTrue(again["duplicate"])
        self.assertEqual(again["time"], first["time"])
        self.assertEqual(CheckIn.objects.count(), 1)

    def test_a_token_replayed_from_another_device_is_refused(self):
        token = self.token_for(self.w.person_a)
        response = self.scan(token, device=OTHER_DEVICE)
        body = self.assertError(response, 401, "invalid_token", "重新登记")
        self.assertNotIn("张", response.content.decode())
        self.assertNotIn("person", body)
        self.assertFalse(CheckIn.objects.exists())

    def test_a_forged_or_empty_token_is_refused(self):
        for token in ("", "forged", self.token_for(self.w.person_a)[:-2] + "xx"):
            self.assertError(self.scan(token), 401, "invalid_token")
        self.assertFalse(CheckIn.objects.exists())

    def test_forged_and_revoked_codes_are_refused_and_logged(self):
        token = self.token_for(self.w.person_a)
        self.assertError(self.scan(token, code=f"{self.venue.pk}.1.AAAAAAAAAAAAAAAAAAAAAAAA"), 400, "invalid_code")
        services.reissue_code(self.w.hq, self.venue)
        self.assertError(self.scan(token, code=self.code), 400, "invalid_code", "场所码无效")
        reasons = list(AuditEvent.objects.filter(object_type="venues.venue").values_list("reason", flat=True))
        self.assertIn("伪造或无效的场所码", reasons)
        self.assertIn("已作废的场所码", reasons)
        self.assertFalse(CheckIn.objects.exists())
        self.assertEqual(self.scan(token, code=services.code_of(self.venue)).status_code, 200)

    def test_a_person_under_home_isolation_shows_red_and_writes_a_signal(self):
        make_risk_area("110101", "medium")
        declaration, _ = declarations.submit_declaration(declaration_data(self.w.grid_a))
        body = self.scan(self.token_for(declaration.person)).json()
        self.assertEqual(body["colour"], "red")
        self.assertEqual(body["label"], "禁止")
        self.assertTrue(body["reasons"])
        signal = Signal.objects.get()
        self.assertEqual(signal.kind, "scan_red")
        self.assertEqual(signal.person, declaration.person)

    def test_the_answer_only_shows_the_token_holder(self):
        body = self.scan(self.token_for(self.w.person_b)).json()
        self.assertEqual(body["person"], "李*")
        text = str(body)
        for bit in (self.w.person_a.name, "张*", self.w.person_b.name, self.w.person_b.doc_masked,
                    self.w.person_b.phone_masked):
            self.assertNotIn(bit, text)

    def test_no_session_no_csrf_and_no_cookie(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.hq)  # a signed-in browser changes nothing: the token says who scans
        response = self.scan(self.token_for(self.w.person_a), client=client)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["person"], "张*")
        self.assertFalse(response.cookies)
        identify = self.call(IDENTIFY, {"code": self.code, "name": "赵六", "document_number": make_resident_id(),
                                        "phone": "13900000002", "device": DEVICE}, client=client)
        self.assertEqual(identify.status_code, 200, identify.content)
        self.assertFalse(identify.cookies)

    def test_an_oversized_body_is_refused(self):
        response = self.call(SCAN, {"code": self.code, "token": "x" * 5000, "device": DEVICE})
        self.assertError(response, 413, "too_large")

    @override_settings(FANGKONG_SCAN_RATE_PER_MINUTE=2)
    def test_floods_from_one_address_are_throttled(self):
        token = self.token_for(self.w.person_a)
        self.assertEqual(self.scan(token).status_code, 200)
        self.assertEqual(self.scan(token).status_code, 200)
        self.assertError(self.scan(token), 429, "throttled", "扫码过于频繁")
        other = self.call(SCAN, {"code": self.code, "token": token, "device": DEVICE}, REMOTE_ADDR="10.0.0.9")
        self.assertEqual(other.status_code, 200)

    def test_the_endpoints_are_in_the_openapi_schema_without_auth(self):
        schema = self.client.get(f"{API}/openapi.json").json()
        for path in ("/api/v1/scan", "/api/v1/scan/identify"):
            operation = schema["paths"][path]["post"]
            self.assertNotIn("security", operation)
