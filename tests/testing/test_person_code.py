"""我的个人码: the phone draws a dated, signed person code; a sampling point scans it instead of an ID number."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.choices import Role
from fangkong.testing.models import Sample, SamplingPoint, SamplingSession
from fangkong.venues import tokens
from tests.api.base import API, ApiTestCase
from tests.factories import make_person, make_resident_id, make_user

DEVICE = "0123456789abcdef0123456789abcdef"
CODE_API = f"{API}/scan/person-code"


class PersonCodeTokenTests(ApiTestCase):
    def test_a_code_is_good_for_thirty_minutes_from_when_it_was_drawn(self):
        drawn = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
        code = tokens.person_code(42, now=drawn)
        self.assertTrue(code.startswith("FKP1.42."))
        self.assertEqual(tokens.parse_person_code(code, drawn + timedelta(minutes=29)), (42, ""))
        self.assertEqual(tokens.parse_person_code(code, drawn + timedelta(minutes=31)), (None, "expired"))
        self.assertEqual(tokens.parse_person_code(code, drawn - timedelta(minutes=10)), (None, "expired"))

    def test_a_capitalising_scanner_does_not_spoil_it_and_a_changed_one_is_refused(self):
        code = tokens.person_code(42)
        self.assertEqual(tokens.parse_person_code(code.lower()), (42, ""))
        self.assertEqual(tokens.parse_person_code(f"  {code}\t"), (42, ""))
        forged = code.replace("FKP1.42.", "FKP1.43.")
        self.assertEqual(tokens.parse_person_code(forged), (None, "invalid"))
        for junk in ("FKP1.", "FKP1.x.y.z", "FKP1.42.ZZ", "37092319850615123X"):
            self.assertEqual(tokens.parse_person_code(junk)[0], None, junk)


@override_settings(FANGKONG_SCAN_RATE_PER_MINUTE=0)
class PersonCodeApiTests(ApiTestCase):
    def setUp(self):
        cache.clear()

    def test_the_device_draws_its_own_code_with_a_qr(self):
        token = tokens.personal_token(self.w.person_a.pk, DEVICE)
        response = self.client.post(CODE_API, {"token": token, "device": DEVICE}, content_type="application/json")
        self.assertEqual(response.status_code, 200, response.content)
        data = response.json()
        self.assertEqual(tokens.parse_person_code(data["code"]), (self.w.person_a.pk, ""))
        self.assertIn("<svg", data["svg"])
        self.assertEqual((data["person"], data["valid_minutes"]), ("张*", 30))
        self.assertEqual(response["Cache-Control"], "no-store")

    def test_a_token_from_another_device_or_a_forged_one_gets_nothing(self):
        token = tokens.personal_token(self.w.person_a.pk, DEVICE)
        for body in ({"token": token, "device": "f" * 32}, {"token": "forged", "device": DEVICE}, {}):
            response = self.client.post(CODE_API, body, content_type="application/json")
            self.assertEqual(response.status_code, 401, body)
            self.assertEqual(response.json()["code"], "invalid_token")

    @override_settings(FANGKONG_SCAN_RATE_PER_MINUTE=2)
    def test_floods_are_refused(self):
        token = tokens.personal_token(self.w.person_a.pk, DEVICE)
        codes = [self.client.post(CODE_API, {"token": token, "device": DEVICE},
                                  content_type="application/json").status_code for _ in range(3)]
        self.assertEqual(codes, [200, 200, 429])

    def test_the_page_knows_nobody(self):
        page = self.client.get(reverse("scan:person_code"))
        self.assertContains(page, "我的个人码")
        self.assertContains(page, "personcode.js")
        self.assertNotContains(page, self.w.person_a.name)
        self.assertNotIn("Set-Cookie", page.headers)


class SamplingByPersonCodeTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.site = make_user("site_code", Role.SITE_STAFF, w.township_a)
        cls.point = SamplingPoint.objects.create(name="甲村采样点", area=w.grid_a)
        cls.person = make_person(w.hq, w.grid_a, "刘个码", document_number=make_resident_id())

    def setUp(self):
        self.client.force_login(self.site)
        self.session = SamplingSession.objects.create(point=self.point, area=self.w.grid_a, operator=self.site,
                                                      pool_size=10)

    def scan(self, person_value, sampled_at=None):
        body = {"barcode": "CODE-0001", "person": person_value, "client_key": str(uuid.uuid4()),
                "sampled_at": (sampled_at or timezone.now()).isoformat()}
        return self.client.post(reverse("testing:session_scan", args=[self.session.pk]), json.dumps(body),
                                content_type="application/json")

    def test_the_operator_scans_the_code_instead_of_the_id_number(self):
        response = self.scan(tokens.person_code(self.person.pk))
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["person"], "刘*码")
        self.assertEqual(Sample.objects.get().person, self.person)

    def test_a_stale_or_forged_code_is_refused_with_what_to_do(self):
        stale = tokens.person_code(self.person.pk, now=timezone.now() - timedelta(minutes=45))
        response = self.scan(stale)
        self.assertEqual(response.status_code, 400)
        self.assertIn("个人码已过期", response.json()["error"])
        forged = tokens.person_code(self.person.pk)[:-3] + "AAA"
        self.assertIn("个人码无效", self.scan(forged).json()["error"])
        self.assertFalse(Sample.objects.exists())

    def test_a_scan_queued_offline_counts_from_when_it_was_taken(self):
        taken = timezone.now() - timedelta(hours=2)  # the phone was offline; the queue is sent now
        code = tokens.person_code(self.person.pk, now=taken - timedelta(minutes=5))
        self.assertEqual(self.scan(code, sampled_at=taken).status_code, 200)
        self.assertEqual(Sample.objects.get().sampled_at, taken)

    def test_the_api_takes_the_code_too(self):
        opened = self.post(self.site, "/sampling-sessions", {"point": self.point.pk, "pool_size": 1})
        body = {"session": opened.json()["id"], "barcode": "CODE-API-1", "person": tokens.person_code(self.person.pk),
                "client_key": "api-code-1"}
        response = self.post(self.site, "/samples", body)
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(Sample.objects.get(client_key="api-code-1").person, self.person)
        body.update(client_key="api-code-2", person="FKP1.1.2.AAAA", barcode="CODE-API-2")
        self.assertError(self.post(self.site, "/samples", body), 400, "invalid")
