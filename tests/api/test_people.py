from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangkong.audit.models import AuditEvent
from fangkong.people.models import KeyGroup

from ..factories import make_person, make_resident_id
from .base import ApiTestCase


class PeopleListTest(ApiTestCase):
    def names(self, user, **params):
        response = self.get(user, "/people", **params)
        self.assertEqual(response.status_code, 200, response.content)
        return [item["name"] for item in response.json()["items"]]

    def test_grid_worker_cannot_see_other_grid(self):
        self.assertEqual(self.names(self.w.grid_b_worker), ["李四"])
        self.assertEqual(self.names(self.w.grid_a_worker), ["张三"])

    def test_county_sees_everyone(self):
        body = self.get(self.w.hq, "/people").json()
        self.assertEqual(body["count"], 2)
        self.assertEqual({item["name"] for item in body["items"]}, {"张三", "李四"})

    def test_role_without_people_access_sees_nobody(self):
        self.assertEqual(self.names(self.w.outsider), [])

    def test_search_by_pinyin_initials(self):
        self.assertEqual(self.names(self.w.hq, q="zs"), ["张三"])

    def test_search_by_last_four_of_the_id_number(self):
        last4 = self.w.person_a.document_number[-4:]
        self.assertIn("张三", self.names(self.w.hq, q=last4))
        self.assertNotIn("李四", self.names(self.w.hq, q=last4))

    def test_same_filters_as_the_list_page(self):
        from fangkong.people.services import update_person

        update_person(self.w.hq, self.w.person_b, {"is_floating": True})
        self.assertEqual(self.names(self.w.hq, is_floating="true"), ["李四"])
        self.assertEqual(self.names(self.w.hq, is_floating="false"), ["张三"])
        sex = self.w.person_a.sex
        self.assertIn("张三", self.names(self.w.hq, sex=sex))

    def test_search_by_phone(self):
        self.assertEqual(self.names(self.w.hq, q=self.w.person_b.phone), ["李四"])

    def test_search_does_not_reach_outside_scope(self):
        self.assertEqual(self.names(self.w.grid_b_worker, q="zs"), [])

    def test_filter_by_area_code(self):
        self.assertEqual(self.names(self.w.hq, area=self.w.township_a.code), ["张三"])
        self.assertEqual(self.names(self.w.grid_b_worker, area=self.w.township_a.code), [])
        self.assertEqual(self.names(self.w.hq, area="999999999999"), [])

    def test_filter_by_key_group(self):
        group = KeyGroup.objects.create(code="cold_chain", name="冷链从业人员")
        self.w.person_b.key_groups.add(group)
        self.assertEqual(self.names(self.w.hq, key_group="cold_chain"), ["李四"])

    def test_items_are_masked(self):
        response = self.get(self.w.hq, "/people", q="zs")
        item = response.json()["items"][0]
        person = self.w.person_a
        self.assertEqual(item["document_number"], person.doc_masked)
        self.assertEqual(item["phone"], person.phone_masked)
        self.assertNotIn(person.document_number, response.content.decode())
        self.assertNotIn(person.phone, response.content.decode())
        self.assertEqual(item["area_code"], self.w.grid_a.code)
        self.assertEqual(item["area_name"], "甲村一网格")
        self.assertEqual(item["household_id"], person.household_id)
        self.assertEqual(item["birth_date"], "1985-06-15")
        self.assertEqual(
            set(item["flags"]), {"is_floating", "is_rental_tenant", "lives_alone_elderly"}
        )

    def test_pagination(self):
        body = self.get(self.w.hq, "/people", page_size=1, page=2).json()
        self.assertEqual(body["count"], 2)
        self.assertEqual([i["name"] for i in body["items"]], ["李四"])
        self.assertEqual(self.get(self.w.hq, "/people", page=9).json()["items"], [])
        self.assertError(self.get(self.w.hq, "/people", page=0), 422, "invalid")

    def test_page_size_is_capped(self):
        with self.settings(FANGKONG_MAX_PAGE_SIZE=1):
            body = self.get(self.w.hq, "/people", page_size=500).json()
        self.assertEqual(len(body["items"]), 1)

    def test_query_count_does_not_grow_with_the_page(self):
        group = KeyGroup.objects.create(code="elderly", name="老年人")
        self.get(self.w.hq, "/people")  # the token's last-used time is written once
        with CaptureQueriesContext(connection) as few:
            self.get(self.w.hq, "/people")
        for n in range(10):
            person = make_person(self.w.hq, self.w.grid_a2, f"王{n}")
            person.key_groups.add(group)
        with self.assertNumQueries(len(few)):
            body = self.get(self.w.hq, "/people").json()
        self.assertEqual(len(body["items"]), 12)
        # token + count + page + key groups
        self.assertLessEqual(len(few), 4)


class PersonDetailTest(ApiTestCase):
    def test_other_grid_person_is_404(self):
        response = self.get(self.w.grid_b_worker, f"/people/{self.w.person_a.pk}")
        self.assertError(response, 404, "not_found", "未找到该人员或无权查看")

    def test_missing_person_gives_the_same_404(self):
        missing = self.get(self.w.hq, "/people/999999")
        forbidden = self.get(self.w.grid_b_worker, f"/people/{self.w.person_a.pk}")
        self.assertEqual(missing.json(), forbidden.json())

    def test_viewing_a_person_is_audited(self):
        response = self.get(self.w.grid_a_worker, f"/people/{self.w.person_a.pk}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["document_number"], self.w.person_a.doc_masked)
        self.assertTrue(
            AuditEvent.objects.filter(
                action="view",
                object_type="people.person",
                object_id=str(self.w.person_a.pk),
                user=self.w.grid_a_worker,
            ).exists()
        )


class RevealTest(ApiTestCase):
    def path(self, person):
        return f"/people/{person.pk}/reveal"

    def test_reveal_gives_plain_values_and_writes_an_audit_row(self):
        response = self.post(
            self.w.grid_a_worker, self.path(self.w.person_a), {"reason": "核实返乡人员身份"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {"document_number": self.w.person_a.document_number, "phone": self.w.person_a.phone},
        )
        event = AuditEvent.objects.get(action="reveal", object_id=str(self.w.person_a.pk))
        self.assertEqual(event.reason, "核实返乡人员身份")
        self.assertEqual(event.user, self.w.grid_a_worker)

    def test_reveal_without_reason_is_400_in_chinese(self):
        response = self.post(self.w.grid_a_worker, self.path(self.w.person_a), {})
        body = self.assertError(response, 400, "invalid", "事由")
        self.assertIn("reason", body["errors"])
        self.assertFalse(AuditEvent.objects.filter(action="reveal").exists())

    def test_role_without_reveal_permission_is_403(self):
        response = self.post(self.w.auditor, self.path(self.w.person_a), {"reason": "抽查"})
        self.assertError(response, 403, "forbidden")

    def test_reveal_out_of_scope_is_404(self):
        response = self.post(
            self.w.grid_b_worker, self.path(self.w.person_a), {"reason": "核实身份"}
        )
        self.assertError(response, 404, "not_found")


class CreatePersonTest(ApiTestCase):
    def create(self, user=None, **data):
        payload = {
            "name": "王五",
            "document_number": make_resident_id(),
            "phone": "13912345678",
            "area": self.w.grid_a.code,
            **data,
        }
        return self.post(user or self.w.grid_a_worker, "/people", payload)

    def test_create_person(self):
        KeyGroup.objects.create(code="returnee", name="返乡人员")
        response = self.create(
            household=self.w.person_a.household_id,
            address="甲村1号",
            flags={"is_floating": True},
            key_groups=["returnee"],
        )
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(body["name"], "王五")
        self.assertEqual(body["phone"], "139****5678")
        self.assertEqual(body["sex"], "M")
        self.assertTrue(body["flags"]["is_floating"])
        self.assertEqual(body["key_groups"], ["returnee"])
        self.assertEqual(body["household_id"], self.w.person_a.household_id)
        self.assertTrue(
            AuditEvent.objects.filter(action="create", object_id=str(body["id"])).exists()
        )

    def test_wrong_checksum_is_refused_in_chinese(self):
        number = make_resident_id()
        wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
        body = self.assertError(self.create(document_number=wrong), 400, "invalid", "校验位错误")
        self.assertIn("校验位错误", body["errors"]["document_number"][0])

    def test_impossible_birth_date_is_refused_in_chinese(self):
        body = self.assertError(
            self.create(document_number="370923199913320011"), 400, "invalid", "出生日期不存在"
        )
        self.assertIn("document_number", body["errors"])

    def test_duplicate_id_number_is_refused_in_chinese(self):
        response = self.create(document_number=self.w.person_b.document_number)
        body = self.assertError(response, 400, "invalid", "已登记为另一人员")
        self.assertIn("document_number", body["errors"])

    def test_area_outside_scope_is_refused(self):
        body = self.assertError(self.create(area=self.w.grid_b.code), 400, "invalid")
        self.assertIn("area", body["errors"])

    def test_unknown_key_group_is_refused(self):
        body = self.assertError(self.create(key_groups=["nope"]), 400, "invalid", "nope")
        self.assertIn("key_groups", body["errors"])

    def test_malformed_birth_date_is_invalid(self):
        body = self.assertError(
            self.create(doc_type="passport", document_number="E12345678", birth_date="1999-13-32"),
            422,
            "invalid",
            "YYYY-MM-DD",
        )
        self.assertIn("birth_date", body["errors"])

    def test_role_without_add_permission_is_403(self):
        self.assertError(
            self.create(user=self.w.auditor, area=self.w.grid_a.code), 403, "forbidden"
        )


class UpdatePersonTest(ApiTestCase):
    def test_patch_changes_only_what_is_sent(self):
        person = self.w.person_a
        response = self.patch(
            self.w.grid_a_worker,
            f"/people/{person.pk}",
            {"address": "甲村2号", "flags": {"lives_alone_elderly": True}},
        )
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["address"], "甲村2号")
        self.assertTrue(body["flags"]["lives_alone_elderly"])
        self.assertEqual(body["name"], "张三")
        self.assertEqual(body["document_number"], person.doc_masked)
        self.assertEqual(body["phone"], person.phone_masked)
        event = AuditEvent.objects.get(action="update", object_id=str(person.pk))
        self.assertEqual(event.changes["address"], ["", "甲村2号"])

    def test_patch_other_grid_is_404(self):
        response = self.patch(
            self.w.grid_b_worker, f"/people/{self.w.person_a.pk}", {"address": "x"}
        )
        self.assertError(response, 404, "not_found")

    def test_patch_with_bad_phone_is_400(self):
        response = self.patch(
            self.w.grid_a_worker, f"/people/{self.w.person_a.pk}", {"phone": "12345"}
        )
        body = self.assertError(response, 400, "invalid", "手机号码")
        self.assertIn("phone", body["errors"])

    def test_patch_household_null_clears_it(self):
        person = self.w.person_a
        response = self.patch(self.w.grid_a_worker, f"/people/{person.pk}", {"household": None})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertIsNone(response.json()["household_id"])
        person.refresh_from_db()
        self.assertIsNone(person.household_id)
