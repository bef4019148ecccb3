"""Venue pages: register, change, scope, the venue manager's view (counts only), import, export."""

import io
from datetime import datetime, time, timedelta

import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from fangkong.accounts.choices import OrganizationKind, Role
from fangkong.accounts.models import Organization
from fangkong.audit.models import AuditEvent
from fangkong.venues import services
from fangkong.venues.models import CheckIn, Venue, VenueType
from tests.base import WorldTestCase
from tests.factories import make_user, make_venue


def venue_form(area, **overrides):
    data = {"name": "甲村农贸市场", "type": VenueType.objects.get(code="farmers_market").pk, "area": area.code,
            "address": "甲村大街8号", "manager_name": "王经理", "manager_phone": "13800001111", "supervisor": "",
            "expected_daily_visitors": "300", "dwell_minutes": "", "is_active": "on"}
    data.update(overrides)
    return data


def xlsx(rows) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for index, row in enumerate(rows):
        sheet.write_row(index, 0, row)
    workbook.close()
    return SimpleUploadedFile("场所.xlsx", buffer.getvalue())


HEADER = ["场所名称", "场所类型", "所属区划编码", "地址", "负责人", "负责人电话", "主管部门", "预计日客流"]


class VenueViewTestCase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.market_bureau = Organization.objects.create(name="示范县市场监管局", kind=OrganizationKind.MARKET_REGULATION,
                                                        area=w.county)
        cls.venue_a = make_venue(w.grid_a, "甲村超市")
        cls.venue_b = make_venue(w.grid_b, "乙村超市")
        cls.manager = make_user("venue_a", Role.VENUE_MANAGER, w.grid_a)
        cls.venue_a.managers.add(cls.manager)
        cls.other_venue_a = make_venue(w.grid_a, "甲村饭店", "restaurant")


class VenueListTest(VenueViewTestCase):
    def names(self, user, **params):
        self.client.force_login(user)
        response = self.client.get(reverse("venues:list"), params)
        self.assertEqual(response.status_code, 200)
        return [v.name for v in response.context["page_obj"]]

    def test_grid_worker_cannot_see_other_grid(self):
        self.assertEqual(self.names(self.w.grid_b_worker), ["乙村超市"])
        self.assertCountEqual(self.names(self.w.grid_a_worker), ["甲村超市", "甲村饭店"])

    def test_county_sees_all_and_filters(self):
        self.assertEqual(len(self.names(self.w.hq)), 3)
        self.assertEqual(self.names(self.w.hq, area=self.w.township_b.code), ["乙村超市"])
        self.assertEqual(self.names(self.w.hq, type="restaurant"), ["甲村饭店"])
        self.assertEqual(self.names(self.w.hq, q="饭店"), ["甲村饭店"])
        Venue.objects.filter(pk=self.venue_b.pk).update(is_active=False)
        self.assertEqual(self.names(self.w.hq, active="false"), ["乙村超市"])

    def test_venue_manager_sees_only_their_venue(self):
        self.assertEqual(self.names(self.manager), ["甲村超市"])

    def test_outsider_is_refused(self):
        self.client.force_login(self.w.outsider)
        self.assertEqual(self.client.get(reverse("venues:list")).status_code, 403)

    def test_export_is_scoped_and_audited(self):
        self.client.force_login(self.w.grid_b_worker)
        response = self.client.get(reverse("venues:export"))
        self.assertEqual(response.status_code, 200)
        rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
        self.assertEqual(rows[0][0], "场所名称")
        self.assertEqual([r[0] for r in rows[1:]], ["乙村超市"])
        self.assertTrue(AuditEvent.objects.filter(action="export", object_type="venues.venue").exists())


class VenueCreateEditTest(VenueViewTestCase):
    def test_township_registers_a_venue_with_the_default_supervisor(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("venues:create"), venue_form(self.w.village_a))
        venue = Venue.objects.get(name="甲村农贸市场")
        self.assertRedirects(response, reverse("venues:detail", kwargs={"pk": venue.pk}))
        self.assertEqual(venue.supervisor, self.market_bureau)
        self.assertEqual(venue.created_by, self.w.township_a_officer)
        self.assertEqual(venue.dwell, 40)
        event = AuditEvent.objects.get(action="create", object_type="venues.venue", object_id=str(venue.pk))
        self.assertEqual(event.changes["name"], [None, "甲村农贸市场"])

    def test_area_outside_scope_is_refused(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("venues:create"), venue_form(self.w.grid_b))
        self.assertEqual(response.status_code, 400)
        self.assertIn("area", response.context["form"].errors)
        self.assertFalse(Venue.objects.filter(name="甲村农贸市场").exists())

    def test_missing_fields_are_named_in_chinese(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("venues:create"), venue_form(self.w.village_a, name="", address=""))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.context["form"].errors["name"], ["此项必填。"])

    def test_venue_manager_becomes_manager_of_what_they_register(self):
        self.client.force_login(self.manager)
        self.client.post(reverse("venues:create"), venue_form(self.w.grid_a, name="甲村药店",
                                                             type=VenueType.objects.get(code="pharmacy").pk))
        venue = Venue.objects.get(name="甲村药店")
        self.assertIn(self.manager, venue.managers.all())
        self.assertEqual(self.client.get(reverse("venues:detail", kwargs={"pk": venue.pk})).status_code, 200)

    def test_edit_is_audited_with_the_change(self):
        self.client.force_login(self.w.grid_a_worker)
        data = venue_form(self.w.grid_a, name="甲村超市", type=self.venue_a.type_id, address="甲村新街1号")
        response = self.client.post(reverse("venues:edit", kwargs={"pk": self.venue_a.pk}), data)
        self.assertEqual(response.status_code, 302)
        self.venue_a.refresh_from_db()
        self.assertEqual(self.venue_a.address, "甲村新街1号")
        event = AuditEvent.objects.get(action="update", object_id=str(self.venue_a.pk))
        self.assertEqual(event.changes["address"], ["甲村一网格1号", "甲村新街1号"])

    def test_other_grid_cannot_open_or_edit(self):
        self.client.force_login(self.w.grid_b_worker)
        for name in ("detail", "edit", "poster", "poster_print"):
            url = reverse(f"venues:{name}", kwargs={"pk": self.venue_a.pk})
            self.assertEqual(self.client.get(url).status_code, 404, name)
        url = reverse("venues:reissue", kwargs={"pk": self.venue_a.pk})
        self.assertEqual(self.client.post(url).status_code, 404)

    def test_manager_cannot_open_a_venue_they_do_not_manage(self):
        self.client.force_login(self.manager)
        url = reverse("venues:detail", kwargs={"pk": self.other_venue_a.pk})
        self.assertEqual(self.client.get(url).status_code, 404)


class VenueDetailTest(VenueViewTestCase):
    def test_detail_shows_counts_only_never_visitor_names(self):
        now = timezone.now()
        # Today's, even just after midnight.
        today = max(now - timedelta(minutes=5), timezone.make_aware(datetime.combine(timezone.localdate(now), time.min)))
        CheckIn.objects.create(person=self.w.person_a, venue=self.venue_a, scanned_at=today)
        CheckIn.objects.create(person=self.w.person_b, venue=self.venue_a, scanned_at=today)
        CheckIn.objects.create(person=self.w.person_a, venue=self.venue_a, scanned_at=now - timedelta(days=3))
        for user in (self.manager, self.w.hq):
            self.client.force_login(user)
            response = self.client.get(reverse("venues:detail", kwargs={"pk": self.venue_a.pk}))
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.context["counts"]["today"], 2)
            self.assertEqual(response.context["counts"]["total"], 3)
            body = response.content.decode()
            for person in (self.w.person_a, self.w.person_b):
                self.assertNotIn(person.name, body)
                self.assertNotIn(person.phone_masked, body)

    def test_detail_shows_the_place_code_qr(self):
        self.client.force_login(self.manager)
        response = self.client.get(reverse("venues:detail", kwargs={"pk": self.venue_a.pk}))
        self.assertContains(response, "<svg")
        code = services.code_of(self.venue_a)
        self.assertEqual(response.context["scan_url"], f"http://testserver{reverse('scan:scan')}?c={code}")
        self.assertContains(response, "重新签发场所码")

    def test_reissue_revokes_the_old_code(self):
        old = services.code_of(self.venue_a)
        self.client.force_login(self.manager)
        response = self.client.post(reverse("venues:reissue", kwargs={"pk": self.venue_a.pk}), follow=True)
        self.assertContains(response, "此前打印的海报已失效")
        self.venue_a.refresh_from_db()
        self.assertEqual(self.venue_a.code_version, 2)
        with self.assertRaises(services.InvalidCode):
            services.venue_for_code(old)
        self.assertEqual(services.venue_for_code(services.code_of(self.venue_a)), self.venue_a)

    def test_reissue_needs_post(self):
        self.client.force_login(self.manager)
        self.assertEqual(self.client.get(reverse("venues:reissue", kwargs={"pk": self.venue_a.pk})).status_code, 405)


class VenueImportTest(VenueViewTestCase):
    def upload(self, user, file):
        self.client.force_login(user)
        return self.client.post(reverse("venues:import"), {"file": file})

    def test_good_file_is_imported_and_audited(self):
        file = xlsx([HEADER,
                     ["甲村幼儿园", "幼儿园", self.w.village_a.code, "甲村2号", "李园长", "13900002222", "", 120],
                     ["甲村面馆", "restaurant", self.w.grid_a.code, "甲村3号", "", "", "市场监管局", ""],
                     ["甲村超市", "超市、商场", self.w.grid_a.code, "甲村1号", "", "", "", ""]])
        response = self.upload(self.w.township_a_officer, file)
        self.assertEqual(response.status_code, 200, response.content.decode())
        self.assertEqual(response.context["result"], {"created": 2, "skipped": 1})
        noodles = Venue.objects.get(name="甲村面馆")
        self.assertEqual(noodles.type.code, "restaurant")
        self.assertEqual(noodles.supervisor, self.market_bureau)
        self.assertEqual(Venue.objects.get(name="甲村幼儿园").expected_daily_visitors, 120)
        self.assertTrue(AuditEvent.objects.filter(action="import", object_type="venues.venue").exists())

    def test_area_by_name(self):
        csv = "场所名称,场所类型,所属区划,地址\n甲村银行,bank,甲村一网格,甲村5号\n".encode()
        response = self.upload(self.w.township_a_officer, SimpleUploadedFile("场所.csv", csv))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(Venue.objects.get(name="甲村银行").area, self.w.grid_a)

    def test_bad_file_writes_nothing_and_names_rows(self):
        file = xlsx([HEADER,
                     ["甲村幼儿园", "幼儿园", self.w.village_a.code, "甲村2号", "", "", "", 120],
                     ["乙村面馆", "饭馆", self.w.grid_b.code, "乙村3号", "", "12345", "", "很多"]])
        response = self.upload(self.w.township_a_officer, file)
        self.assertEqual(response.status_code, 400)
        errors = response.context["row_errors"]
        self.assertEqual([e.row for e in errors], [3])
        text = "；".join(errors[0].messages)
        for bit in ("场所类型“饭馆”", "不在您的管辖范围内", "负责人电话", "预计日客流"):
            self.assertIn(bit, text)
        self.assertContains(response, "第 3 行", status_code=400)
        self.assertFalse(Venue.objects.filter(name="甲村幼儿园").exists())

    def test_file_without_header(self):
        response = self.upload(self.w.township_a_officer, xlsx([["a", "b"], ["c", "d"]]))
        self.assertEqual(response.status_code, 400)
        self.assertIn("找不到表头", response.context["form"].errors["file"][0])

    def test_template_download(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("venues:import_template"))
        rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
        self.assertEqual(rows[0][:3], ["场所名称", "场所类型", "所属区划编码"])
