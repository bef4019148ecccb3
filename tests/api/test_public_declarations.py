"""POST /api/v1/public/declarations and GET …/{receipt}: no account, and every kind of bad input and abuse."""

import json
from datetime import timedelta

from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from fangkong.declarations import services
from fangkong.declarations.models import Declaration
from fangkong.people import identity
from fangkong.people.services import update_person

from ..factories import declaration_data, make_resident_id, make_risk_area
from .base import API, ApiTestCase

URL = f"{API}/public/declarations"
SCRIPT = "<script>alert(1)</script>"


@override_settings(FANGKONG_DECLARE_RATE_PER_MINUTE=0, FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR=0)
class PublicDeclarationApiTestCase(ApiTestCase):
    def setUp(self):
        cache.clear()

    def data(self, area=None, **overrides) -> dict:
        return declaration_data(area or self.w.grid_a, **overrides)

    def declare(self, data=None, client=None, **extra):
        client = client or self.client
        return client.post(URL, data if data is not None else self.data(), content_type="application/json", **extra)

    def lookup(self, receipt, digits, client=None):
        return (client or self.client).get(f"{URL}/{receipt}", {"phone_last4": digits})


class DeclareTests(PublicDeclarationApiTestCase):
    def test_declaring_needs_no_account_and_answers_receipt_measure_instructions(self):
        response = self.declare()
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        declaration = Declaration.objects.get()
        self.assertEqual(body["receipt"], declaration.receipt)
        self.assertEqual(body["measure"], "arrival_tests")
        self.assertEqual(body["measure_label"], "落地检")
        self.assertEqual(body["instructions"], declaration.instructions)
        self.assertEqual(body["test_dates"], declaration.test_dates)
        self.assertTrue(body["created"])
        self.assertEqual(body["status_url"], f"http://testserver/declare/status/?receipt={declaration.receipt}")
        self.assertIsNone(declaration.created_by)

    def test_medium_risk_history_answers_home_isolation(self):
        make_risk_area("110101", "medium")
        body = self.declare().json()
        self.assertEqual(body["measure"], "home_isolation")
        self.assertTrue(body["test_dates"])

    def test_the_same_id_for_the_same_trip_is_one_declaration_updated(self):
        data = self.data()
        first = self.declare(data).json()
        response = self.declare({**data, "address": "甲村4组1号"})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.json()["created"])
        self.assertEqual(response.json()["receipt"], first["receipt"])
        self.assertEqual(Declaration.objects.count(), 1)
        self.assertEqual(Declaration.objects.get().address, "甲村4组1号")

    def test_the_same_id_with_another_phone_is_409_in_chinese(self):
        data = self.data()
        self.declare(data)
        body = self.assertError(self.declare({**data, "phone": "13700000000"}), 409, "duplicate", "手机号不同")
        self.assertIn("document_number", body["errors"])
        self.assertEqual(Declaration.objects.count(), 1)

    def test_malformed_bodies_are_refused_in_the_error_format(self):
        response = self.client.post(URL, "{not json", content_type="application/json")
        self.assertIn(response.status_code, (400, 422))
        self.assertIn("message", response.json())
        body = self.assertError(self.declare({**self.data(), "stops": "abc", "vaccine_doses": "many"}), 422,
                                "invalid")
        self.assertIn("stops", body["errors"])
        self.assertIn("vaccine_doses", body["errors"])
        body = self.assertError(self.declare({"name": "王五"}), 422, "invalid")
        self.assertIn("document_number", body["errors"])
        self.assertError(self.declare([1, 2]), 422, "invalid")
        self.assertFalse(Declaration.objects.exists())

    def test_wrong_id_checksum_is_refused_on_its_field(self):
        number = make_resident_id(place="110101")
        wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
        body = self.assertError(self.declare(self.data(document_number=wrong)), 400, "invalid")
        self.assertIn("document_number", body["errors"])

    def test_arrival_in_the_past_or_more_than_three_days_ahead_is_refused(self):
        today = timezone.localdate()
        for day in (today - timedelta(days=1), today + timedelta(days=4)):
            body = self.assertError(self.declare(self.data(planned_arrival=f"{day}T10:00:00")), 400, "invalid")
            self.assertIn("planned_arrival", body["errors"])
        self.assertEqual(self.declare(self.data(planned_arrival=f"{today + timedelta(days=3)}T10:00:00"))
                         .status_code, 201)

    def test_unknown_places_are_refused_by_field(self):
        today = timezone.localdate().isoformat()
        data = self.data(origin_code="999999",
                         stops=[{"place_code": "110101", "date_from": today, "date_to": today},
                                {"place_code": "000000", "date_from": today, "date_to": "2022-02-30"}])
        data["area"] = "370923999999"
        body = self.assertError(self.declare(data), 400, "invalid")
        for field in ("origin_code", "area", "stops.1.place_code", "stops.1.date_from"):
            self.assertIn(field, body["errors"])
        self.assertNotIn("stops.0.place_code", body["errors"])

    def test_script_in_every_text_field_is_stored_as_text_and_shown_escaped(self):
        today = timezone.localdate().isoformat()
        data = self.data(name=SCRIPT, origin_detail=SCRIPT, address=SCRIPT, transport_number=SCRIPT,
                         plate=SCRIPT, stops=[{"place_code": "110101", "township": SCRIPT, "date_from": today,
                                               "date_to": today}],
                         companions=[{"name": SCRIPT, "relation": SCRIPT}])
        body = self.declare(data).json()
        view = self.lookup(body["receipt"], data["phone"][-4:])
        self.assertEqual(view["Content-Type"], "application/json; charset=utf-8")
        self.assertIn(SCRIPT, view.json()["destination"])
        page = Client()
        page.post(reverse("declare:status"), {"receipt": body["receipt"], "phone_last4": data["phone"][-4:]})
        for url in (reverse("declare:status"), reverse("declare:receipt"), reverse("declare:edit")):
            html = page.get(url).content.decode()
            self.assertNotIn("<script>alert", html, url)
            self.assertNotIn("<SCRIPT>", html, url)
            self.assertIn("&lt;script&gt;", html, url)

    def test_oversized_bodies_are_413_before_parsing(self):
        with override_settings(FANGKONG_DECLARE_MAX_BYTES=2048):
            response = self.declare(self.data(origin_detail="长" * 2000))
            self.assertError(response, 413, "too_large", "内容过大")
            response = self.client.post(URL, "x" * 4096, content_type="application/json")
            self.assertError(response, 413, "too_large")
            self.assertEqual(self.declare().status_code, 201)

    def test_public_endpoint_ignores_a_staff_session(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.hq)
        self.assertEqual(self.declare(client=client).status_code, 201)
        declaration = Declaration.objects.get()
        self.assertIsNone(declaration.created_by)
        self.assertEqual(declaration.source, "public")

    def test_staff_endpoints_still_need_csrf_with_a_session(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.hq)
        response = client.post(f"{API}/people", {"name": "王五", "area": self.w.grid_a.code},
                               content_type="application/json")
        self.assertEqual(response.status_code, 403)


class LookupTests(PublicDeclarationApiTestCase):
    def setUp(self):
        super().setUp()
        self.data_in = self.data(phone="13912345678")
        self.receipt = self.declare(self.data_in).json()["receipt"]

    def test_receipt_and_digits_give_the_public_view(self):
        response = self.lookup(self.receipt.lower(), "5678")
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        declaration = Declaration.objects.get()
        self.assertEqual(body["receipt"], self.receipt)
        self.assertEqual(body["status"], "submitted")
        self.assertEqual(body["name"], identity.mask_name("王五"))
        self.assertEqual(body["phone_masked"], declaration.phone_masked)
        self.assertEqual(body["measure_label"], "落地检")
        self.assertTrue(body["editable"])
        self.assertEqual(set(body), set(services.public_view(declaration)))
        text = response.content.decode()
        self.assertNotIn("13912345678", text)
        self.assertNotIn(self.data_in["document_number"], text)
        self.assertNotIn("sealed", text)

    def test_stages_are_named(self):
        make_risk_area("110101", "medium")
        data = self.data(phone="13911112222")
        receipt = self.declare(data).json()["receipt"]
        stages = self.lookup(receipt, "2222").json()["stages"]
        self.assertEqual(stages[0]["stage"], "home_isolation")
        self.assertEqual(stages[0]["label"], "居家隔离")

    def test_wrong_digits_and_wrong_receipt_are_the_same_404(self):
        answers = [self.lookup(self.receipt, "0000"), self.lookup("ZZZZZZZZZZ", "5678"),
                   self.lookup(self.receipt, ""), self.client.get(f"{URL}/{self.receipt}")]
        bodies = [self.assertError(r, 404, "not_found") for r in answers]
        self.assertEqual(len({b["message"] for b in bodies}), 1)
        self.assertIn("回执码或手机号后四位不正确", bodies[0]["message"])


class ExistingPersonTests(PublicDeclarationApiTestCase):
    def test_an_id_matching_a_person_reveals_nothing_of_that_person(self):
        person = self.w.person_a
        update_person(self.w.hq, person, {"address": "人民路88号"})
        data = self.data(self.w.grid_b, document_number=person.document_number, name="冒名",
                         phone="13911112222", address="乙村5组")
        posted = self.declare(data)
        self.assertEqual(posted.status_code, 201, posted.content)
        self.assertEqual(Declaration.objects.get().person, person)
        looked_up = self.lookup(posted.json()["receipt"], "2222")
        person.refresh_from_db()
        for response in (posted, looked_up):
            text = json.dumps(response.json(), ensure_ascii=False)
            for secret in ("张三", identity.mask_name("张三"), person.phone_masked, person.phone, "人民路88号",
                           "甲村一网格", person.document_number):
                self.assertNotIn(secret, text)
        body = looked_up.json()
        self.assertEqual(body["name"], identity.mask_name("冒名"))
        self.assertEqual(body["destination"], "乙村一网格 乙村5组")
        # The masked ID is the masked form of the number the declarant typed, nothing taken from the person.
        self.assertEqual(body["doc_masked"], identity.mask_document(data["document_number"]))


class FloodTests(PublicDeclarationApiTestCase):
    @override_settings(FANGKONG_DECLARE_RATE_PER_MINUTE=3)
    def test_a_flood_from_one_address_is_429_in_chinese(self):
        for _ in range(3):
            self.assertEqual(self.declare().status_code, 201)
        response = self.declare()
        self.assertError(response, 429, "throttled", "提交过于频繁")
        self.assertEqual(Declaration.objects.count(), 3)
        self.assertEqual(self.declare(client=Client(REMOTE_ADDR="10.0.0.2")).status_code, 201)

    @override_settings(FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR=2)
    def test_one_id_number_from_many_addresses_is_429(self):
        data = self.data()
        for n in range(2):
            self.assertIn(self.declare(data, client=Client(REMOTE_ADDR=f"10.0.1.{n}")).status_code, (200, 201))
        response = self.declare(data, client=Client(REMOTE_ADDR="10.0.1.9"))
        self.assertError(response, 429, "throttled", "该身份证号提交次数过多")
        self.assertEqual(self.declare(client=Client(REMOTE_ADDR="10.0.1.9")).status_code, 201)

    @override_settings(FANGKONG_DECLARE_RATE_PER_MINUTE=3)
    def test_guessing_the_phone_digits_is_429(self):
        for n in range(3):
            self.assertEqual(self.lookup("ABCDEFGHJK", f"{n:04d}").status_code, 404)
        self.assertError(self.lookup("ABCDEFGHJK", "0003"), 429, "throttled", "提交过于频繁")


class SchemaTests(PublicDeclarationApiTestCase):
    def test_public_endpoints_are_in_the_schema_without_security(self):
        schema = self.client.get(f"{API}/openapi.json").json()
        post = schema["paths"]["/api/v1/public/declarations"]["post"]
        get = schema["paths"]["/api/v1/public/declarations/{receipt}"]["get"]
        for operation in (post, get):
            self.assertNotIn("security", operation)
        self.assertTrue({"201", "409", "413", "429"} <= set(post["responses"]))
        self.assertIn("requestBody", post)
        self.assertIn("phone_last4", [p["name"] for p in get["parameters"]])
