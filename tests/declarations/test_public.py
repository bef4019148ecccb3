"""The returnee's pages (no account): declare, receipt, status, correction, poster."""

from datetime import timedelta

from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from fangkong.declarations import services
from fangkong.declarations.models import Declaration
from fangkong.people import identity
from fangkong.people.services import update_person
from tests.base import WorldTestCase
from tests.factories import declaration_data, make_resident_id

SCRIPT = "<script>alert(1)</script>"
SCALARS = ("name", "document_number", "phone", "origin_code", "origin_detail", "transport", "transport_number",
           "plate", "area", "grid", "address", "vaccine_doses")


def form_post(data: dict) -> dict:
    """A declaration dict (as the API takes it) as the HTML form posts it."""
    post = {key: data.get(key, "") for key in SCALARS}
    post["planned_arrival"] = str(data["planned_arrival"])[:16]
    post["symptoms"] = data.get("symptoms", [])
    for group, keys in (("stops", ("place_code", "township", "date_from", "date_to")),
                        ("companions", ("name", "relation", "document_number"))):
        rows = data.get(group, [])
        post.update({f"{group}-TOTAL_FORMS": len(rows), f"{group}-INITIAL_FORMS": 0,
                     f"{group}-MIN_NUM_FORMS": 0, f"{group}-MAX_NUM_FORMS": 20})
        for index, row in enumerate(rows):
            for key in keys:
                post[f"{group}-{index}-{key}"] = row.get(key, "")
    return post


@override_settings(FANGKONG_DECLARE_RATE_PER_MINUTE=0, FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR=0)
class PublicPageTestCase(WorldTestCase):
    def setUp(self):
        cache.clear()

    def data(self, area=None, **overrides) -> dict:
        return declaration_data(area or self.w.village_a, **overrides)

    def declare(self, client=None, area=None, **overrides):
        client = client or self.client
        data = self.data(area, **overrides)
        return data, client.post(reverse("declare:form"), form_post(data))


class DeclareFormTests(PublicPageTestCase):
    def test_form_opens_without_an_account_and_offers_villages_by_township(self):
        response = self.client.get(reverse("declare:form"))
        self.assertContains(response, "入（返）人员报备")
        self.assertContains(response, '<optgroup label="甲镇">')
        self.assertContains(response, f'value="{self.w.village_a.code}"')
        self.assertContains(response, "csrfmiddlewaretoken")
        self.assertContains(response, reverse("declare:places"))
        self.assertNotContains(response, "sidebar")

    def test_valid_declaration_redirects_to_the_receipt_with_the_measure(self):
        data, response = self.declare()
        self.assertRedirects(response, reverse("declare:receipt"), fetch_redirect_response=False)
        declaration = Declaration.objects.get()
        receipt = self.client.get(reverse("declare:receipt"))
        self.assertContains(receipt, declaration.receipt)
        self.assertContains(receipt, "落地检")
        self.assertContains(receipt, declaration.instructions[:20])
        for day in declaration.test_dates:
            self.assertContains(receipt, day)
        self.assertContains(receipt, "截图保存回执码")
        self.assertContains(receipt, "申报成功")
        self.assertNotContains(self.client.get(reverse("declare:receipt")), "申报成功")
        self.assertContains(receipt, "<svg")
        body = receipt.content.decode()
        self.assertNotIn(data["document_number"], body)
        self.assertNotIn(data["phone"], body)
        self.assertIn(declaration.doc_masked, body)

    def test_receipt_page_needs_the_session(self):
        self.declare()
        stranger = Client()
        response = stranger.get(reverse("declare:receipt"))
        self.assertRedirects(response, reverse("declare:status"))

    def test_same_id_same_trip_is_one_declaration_updated(self):
        data, _response = self.declare()
        again = {**data, "address": "甲村4组1号"}
        response = self.client.post(reverse("declare:form"), form_post(again), follow=True)
        self.assertContains(response, "已按本次填写更新")
        declaration = Declaration.objects.get()
        self.assertEqual(declaration.address, "甲村4组1号")
        self.assertEqual(declaration.submit_count, 2)

    def test_same_id_other_phone_is_refused_next_to_the_id_field(self):
        data, _response = self.declare()
        response = self.client.post(reverse("declare:form"), form_post({**data, "phone": "13700000000"}))
        self.assertContains(response, 'data-field="document_number"')
        self.assertContains(response, "手机号不同")
        self.assertEqual(Declaration.objects.count(), 1)

    def test_errors_are_shown_next_to_each_field_travel_rows_and_companions_included(self):
        past = (timezone.localdate() - timedelta(days=1)).isoformat()
        _data, response = self.declare(
            document_number="370923198506150011", planned_arrival=f"{past}T10:00", origin_code="999999",
            stops=[{"place_code": "110101", "date_from": past, "date_to": past},
                   {"place_code": "999999", "date_from": past, "date_to": past}],
            companions=[{"name": "", "relation": "配偶", "document_number": "123"}],
        )
        self.assertEqual(response.status_code, 200)
        for field in ("document_number", "planned_arrival", "origin_code", "stops-1-place_code",
                      "companions-0-name", "companions-0-document_number"):
            self.assertContains(response, f'data-field="{field}"')
        self.assertContains(response, "第2条旅居史的地区不存在")
        self.assertNotContains(response, 'data-field="stops-0-place_code"')
        self.assertFalse(Declaration.objects.exists())

    def test_arrival_more_than_three_days_ahead_is_refused(self):
        later = timezone.localdate() + timedelta(days=4)
        _data, response = self.declare(planned_arrival=f"{later.isoformat()}T10:00")
        self.assertContains(response, "最多只能提前3天申报")

    def test_blank_travel_rows_are_ignored(self):
        data = self.data()
        post = form_post(data)
        post.update({"stops-TOTAL_FORMS": 2, "stops-1-place_code": "", "stops-1-township": "",
                     "stops-1-date_from": "", "stops-1-date_to": ""})
        self.assertEqual(self.client.post(reverse("declare:form"), post).status_code, 302)
        self.assertEqual(Declaration.objects.get().stops.count(), 1)

    def test_tampered_rows_and_impossible_dates_are_errors_not_crashes(self):
        post = form_post(self.data(stops=[{"place_code": "110101", "date_from": "2022-02-30", "date_to": "x"}]))
        response = self.client.post(reverse("declare:form"), post)
        self.assertContains(response, 'data-field="stops-0-date_from"')
        del post["stops-TOTAL_FORMS"]
        response = self.client.post(reverse("declare:form"), post)
        self.assertContains(response, 'data-field="stops"')
        self.assertFalse(Declaration.objects.exists())

    def test_html_in_every_text_field_is_shown_escaped(self):
        data = self.data(name=SCRIPT, origin_detail=SCRIPT, address=SCRIPT, transport_number=SCRIPT,
                         stops=[{"place_code": "110101", "township": SCRIPT,
                                 "date_from": timezone.localdate().isoformat(),
                                 "date_to": timezone.localdate().isoformat()}],
                         companions=[{"name": SCRIPT, "relation": SCRIPT}])
        self.assertEqual(self.client.post(reverse("declare:form"), form_post(data)).status_code, 302)
        for url in (reverse("declare:receipt"), reverse("declare:status"), reverse("declare:edit")):
            body = self.client.get(url).content.decode()
            self.assertNotIn("<script>alert", body, url)
            self.assertNotIn("<SCRIPT>", body, url)
        edit = self.client.get(reverse("declare:edit")).content.decode()
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", edit)
        # Shown again after an error, still escaped.
        bad = form_post({**data, "document_number": "1"})
        body = self.client.post(reverse("declare:form"), bad).content.decode()
        self.assertNotIn("<script>alert", body)
        self.assertIn("&lt;script&gt;", body)

    def test_a_grid_inside_the_village_is_the_destination(self):
        self.declare(area=self.w.village_a, grid=self.w.grid_a2.code)
        self.assertEqual(Declaration.objects.get().area, self.w.grid_a2)

    def test_a_grid_outside_the_village_is_ignored(self):
        self.declare(area=self.w.village_a, grid=self.w.grid_b.code)
        self.assertEqual(Declaration.objects.get().area, self.w.village_a)

    def test_an_existing_persons_data_never_shows(self):
        person = self.w.person_a
        update_person(self.w.hq, person, {"address": "人民路88号"})
        data, _response = self.declare(document_number=person.document_number, name="冒名",
                                       area=self.w.village_b, address="乙村5组")
        self.assertEqual(Declaration.objects.get().person, person)
        for url in (reverse("declare:receipt"), reverse("declare:status"), reverse("declare:edit")):
            body = self.client.get(url).content.decode()
            for secret in ("张三", identity.mask_name("张三"), person.phone_masked, "人民路88号"):
                self.assertNotIn(secret, body, url)
            # The person's grid is an option of the public destination picker, never shown as theirs.
            self.assertNotIn('value="370923001001001" selected', body, url)
            self.assertNotIn(person.document_number, body, url)

    def test_oversized_post_is_refused(self):
        with override_settings(FANGKONG_DECLARE_MAX_BYTES=2000):
            _data, response = self.declare(origin_detail="长" * 1500)
        self.assertEqual(response.status_code, 413)
        self.assertContains(response, "内容过大", status_code=413)
        self.assertFalse(Declaration.objects.exists())

    def test_a_staff_member_using_the_public_form_declares_as_the_public(self):
        self.client.force_login(self.w.hq)
        self.declare()
        declaration = Declaration.objects.get()
        self.assertIsNone(declaration.created_by)
        self.assertEqual(declaration.source, "public")


class FloodTests(PublicPageTestCase):
    @override_settings(FANGKONG_DECLARE_RATE_PER_MINUTE=2)
    def test_a_flood_from_one_address_gets_429_in_chinese(self):
        for _ in range(2):
            self.assertNotEqual(self.declare()[1].status_code, 429)
        response = self.declare()[1]
        self.assertContains(response, "提交过于频繁", status_code=429)

    @override_settings(FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR=2)
    def test_one_id_number_from_many_addresses_gets_429(self):
        data = self.data()
        for n in range(2):
            client = Client(REMOTE_ADDR=f"10.0.0.{n}")
            self.assertEqual(client.post(reverse("declare:form"), form_post(data)).status_code, 302)
        response = Client(REMOTE_ADDR="10.0.0.9").post(reverse("declare:form"), form_post(data))
        self.assertContains(response, "该身份证号提交次数过多", status_code=429)

    @override_settings(FANGKONG_DECLARE_RATE_PER_MINUTE=3)
    def test_guessing_phone_digits_is_slowed_down(self):
        for n in range(3):
            self.client.post(reverse("declare:status"), {"receipt": "ABCDEFGHJK", "phone_last4": f"{n:04d}"})
        response = self.client.post(reverse("declare:status"), {"receipt": "ABCDEFGHJK", "phone_last4": "0003"})
        self.assertContains(response, "提交过于频繁", status_code=429)


class StatusAndEditTests(PublicPageTestCase):
    def setUp(self):
        super().setUp()
        self.declaration, _created = services.submit_declaration(self.data(phone="13912345678"))

    def look_up(self, client, receipt=None, digits="5678"):
        return client.post(reverse("declare:status"), {"receipt": receipt or self.declaration.receipt,
                                                        "phone_last4": digits})

    def test_status_with_the_right_digits_shows_the_declaration(self):
        response = self.look_up(self.client, self.declaration.receipt.lower())
        self.assertRedirects(response, reverse("declare:status"))
        page = self.client.get(reverse("declare:status"))
        self.assertContains(page, self.declaration.receipt)
        self.assertContains(page, "落地检")
        self.assertContains(page, self.declaration.phone_masked)
        self.assertNotContains(page, "13912345678")
        self.assertEqual(self.client.get(reverse("declare:receipt")).status_code, 200)

    def test_wrong_digits_and_wrong_receipt_give_the_same_answer(self):
        wrong_digits = self.look_up(self.client, digits="0000")
        wrong_receipt = self.look_up(self.client, receipt="ZZZZZZZZZZ")
        for response in (wrong_digits, wrong_receipt):
            self.assertContains(response, "回执码或手机号后四位不正确")
            self.assertNotContains(response, "declaration-view")
            self.assertNotContains(response, "落地检")
        self.assertEqual(self.client.get(reverse("declare:receipt")).status_code, 302)

    def test_status_link_prefills_the_receipt_only(self):
        response = self.client.get(reverse("declare:status"), {"receipt": self.declaration.receipt})
        self.assertContains(response, f'value="{self.declaration.receipt}"')
        self.assertNotContains(response, "落地检")

    def test_edit_needs_the_receipt_and_digits_first(self):
        self.assertRedirects(self.client.get(reverse("declare:edit")), reverse("declare:status"))

    def test_edit_prefills_but_never_shows_the_id_or_phone(self):
        self.look_up(self.client)
        response = self.client.get(reverse("declare:edit"))
        self.assertContains(response, 'value="甲村3组12号"')
        self.assertContains(response, self.declaration.doc_masked)
        self.assertContains(response, self.declaration.phone_masked)
        body = response.content.decode()
        self.assertNotIn(services.declaration_document(self.declaration), body)
        self.assertNotIn("13912345678", body)
        self.assertIn('value="110101"', body)

    def test_correction_needs_the_same_id_retyped(self):
        self.look_up(self.client)
        post = form_post(self.data(document_number="", phone="", address="甲村9组"))
        response = self.client.post(reverse("declare:edit"), post)
        self.assertContains(response, 'data-field="document_number"')
        post["document_number"] = make_resident_id(place="110101")
        response = self.client.post(reverse("declare:edit"), post)
        self.assertContains(response, "身份证号码不能修改")
        post["document_number"] = services.declaration_document(self.declaration)
        response = self.client.post(reverse("declare:edit"), post)
        self.assertRedirects(response, reverse("declare:receipt"))
        self.declaration.refresh_from_db()
        self.assertEqual(self.declaration.address, "甲村9组")
        self.assertEqual(services.declaration_phone(self.declaration), "13912345678")
        self.assertEqual(Declaration.objects.count(), 1)

    def test_a_new_phone_is_proven_in_the_session(self):
        self.look_up(self.client)
        post = form_post(self.data(document_number=services.declaration_document(self.declaration),
                                   phone="13800001111"))
        response = self.client.post(reverse("declare:edit"), post, follow=True)
        self.assertContains(response, "1111")
        self.assertEqual(self.client.get(reverse("declare:receipt")).status_code, 200)
        self.assertEqual(self.look_up(Client(), digits="5678").status_code, 200)  # the old digits no longer work
        self.assertEqual(self.look_up(Client(), digits="1111").status_code, 302)

    def test_no_correction_after_arrival(self):
        self.look_up(self.client)
        services.confirm_arrival(self.w.hq, self.declaration)
        response = self.client.get(reverse("declare:edit"))
        self.assertContains(response, "不能再修改")
        self.assertNotContains(response, "<form method=\"post\" novalidate data-declaration-form")
        post = form_post(self.data(document_number=services.declaration_document(self.declaration)))
        self.assertContains(self.client.post(reverse("declare:edit"), post), "不能再修改")


class CsrfTests(PublicPageTestCase):
    def test_every_public_form_needs_the_csrf_token(self):
        declaration, _created = services.submit_declaration(self.data(phone="13912345678"))
        client = Client(enforce_csrf_checks=True)
        self.assertEqual(client.post(reverse("declare:form"), form_post(self.data())).status_code, 403)
        lookup = {"receipt": declaration.receipt, "phone_last4": "5678"}
        self.assertEqual(client.post(reverse("declare:status"), lookup).status_code, 403)
        self.assertEqual(Declaration.objects.count(), 1)

    def test_the_form_works_with_the_token_it_hands_out(self):
        client = Client(enforce_csrf_checks=True)
        client.get(reverse("declare:form"))
        post = {**form_post(self.data()), "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
        self.assertEqual(client.post(reverse("declare:form"), post).status_code, 302)

    def test_staff_pages_still_need_the_token(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.hq)
        response = client.post(reverse("people:create"), {"name": "王五", "area": self.w.grid_a.code})
        self.assertEqual(response.status_code, 403)


class PosterAndPlacesTests(PublicPageTestCase):
    def test_poster_is_public_and_points_at_the_form(self):
        response = self.client.get(reverse("declare:poster"))
        self.assertContains(response, "入（返）人员请扫码申报")
        self.assertContains(response, "示范县")
        self.assertContains(response, "http://testserver/declare/")
        self.assertContains(response, "<svg")
        self.assertContains(response, "@page", count=0)  # print rules live in the stylesheet
        self.assertContains(response, "declarations/public.css")

    def test_place_list_is_json_and_cacheable(self):
        response = self.client.get(reverse("declare:places"))
        self.assertEqual(response.status_code, 200)
        self.assertIn("max-age=86400", response["Cache-Control"])
        tree = response.json()
        beijing = next(p for p in tree if p[0] == "110000")
        self.assertIn("110101", [c[0] for city in beijing[2] for c in city[2]])
