"""GET /scan/?c=<place code>: the page a phone camera opens from a venue's poster."""

from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from fangkong.audit.models import AuditEvent
from fangkong.venues import services
from tests.base import WorldTestCase
from tests.factories import make_venue


@override_settings(FANGKONG_SCAN_RATE_PER_MINUTE=0)
class ScanPageTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.venue = make_venue(cls.w.grid_a)

    def setUp(self):
        cache.clear()

    def open(self, code, client=None, **extra):
        return (client or self.client).get(reverse("scan:scan") + "?c=" + code, **extra)

    def test_the_poster_url_opens_without_an_account_and_names_the_venue(self):
        code = services.code_of(self.venue)
        response = self.open(code)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(reverse("scan:scan"), "/scan/")
        self.assertContains(response, "甲村超市")
        self.assertContains(response, f'data-code="{code}"')
        self.assertContains(response, 'data-scan-url="/api/v1/scan"')
        self.assertContains(response, 'data-identify-url="/api/v1/scan/identify"')
        self.assertContains(response, "venues/scan.js")
        self.assertContains(response, "重新登记本人信息")
        self.assertIn("no-cache", response["Cache-Control"])
        self.assertEqual(response["Referrer-Policy"], "no-referrer")

    def test_the_page_sets_no_cookie_and_shows_no_one_even_to_a_signed_in_user(self):
        self.client.force_login(self.w.grid_a_worker)
        response = self.open(services.code_of(self.venue))
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.cookies)
        body = response.content.decode()
        for bit in (self.w.person_a.name, self.w.person_a.doc_masked, self.w.grid_a_worker.get_username(),
                    "csrfmiddlewaretoken"):
            self.assertNotIn(bit, body)

    def test_a_forged_code_gives_a_clear_error_and_is_logged(self):
        response = self.open(f"{self.venue.pk}.1.AAAAAAAAAAAAAAAAAAAAAAAA")
        self.assertContains(response, "场所码无效", status_code=400)
        self.assertNotContains(response, "甲村超市", status_code=400)
        self.assertTrue(AuditEvent.objects.filter(reason="伪造或无效的场所码").exists())

    def test_a_revoked_code_gives_a_clear_error_and_is_logged(self):
        old = services.code_of(self.venue)
        services.reissue_code(self.w.hq, self.venue)
        response = self.open(old)
        self.assertContains(response, "已作废", status_code=400)
        self.assertTrue(AuditEvent.objects.filter(reason="已作废的场所码").exists())
        self.assertEqual(self.open(services.code_of(self.venue)).status_code, 200)

    def test_a_closed_venue_code_is_refused(self):
        code = services.code_of(self.venue)
        self.venue.is_active = False
        self.venue.save(update_fields=["is_active"])
        self.assertEqual(self.open(code).status_code, 400)

    def test_no_code_asks_to_scan_the_poster(self):
        before = AuditEvent.objects.count()
        response = self.client.get(reverse("scan:scan"))
        self.assertContains(response, "请用手机相机扫描场所张贴的场所码", status_code=400)
        self.assertEqual(AuditEvent.objects.count(), before)

    def test_markup_in_the_code_is_not_echoed(self):
        response = self.open("<script>alert(1)</script>")
        self.assertEqual(response.status_code, 400)
        self.assertNotIn("<script>alert", response.content.decode())

    def test_only_get_is_allowed(self):
        response = self.client.post(reverse("scan:scan") + "?c=" + services.code_of(self.venue))
        self.assertEqual(response.status_code, 405)

    @override_settings(FANGKONG_SCAN_RATE_PER_MINUTE=1)
    def test_floods_are_throttled(self):
        code = services.code_of(self.venue)
        self.assertEqual(self.open(code).status_code, 200)
        self.assertContains(self.open(code), "扫码过于频繁", status_code=429)
