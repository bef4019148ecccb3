"""Place-code posters: the PDF is A4 with the venue's name, the slogan and a QR that decodes to the scan URL.

The QR is checked by rendering the PDF page to pixels (pypdfium2) and decoding
it (zxing-cpp), both test-only wheels; without them those checks are skipped.
"""

from unittest import mock

import pytest
from django.urls import reverse

from fangkong.venues import posters, services
from tests.factories import make_venue

from .test_views import VenueViewTestCase

pypdfium2 = pytest.importorskip("pypdfium2")
zxingcpp = pytest.importorskip("zxingcpp")
pytest.importorskip("weasyprint")


def pdf_pages(data: bytes) -> list[tuple[str, list[str]]]:
    """(text, decoded QR payloads) of every page."""
    document = pypdfium2.PdfDocument(data)
    pages = []
    for page in document:
        text = page.get_textpage().get_text_range()
        image = page.render(scale=2).to_pil()
        pages.append((text, [r.text for r in zxingcpp.read_barcodes(image)]))
        width, height = page.get_size()
        assert (round(width), round(height)) == (595, 842)  # A4 in points
    return pages


class PosterTest(VenueViewTestCase):
    def test_venue_poster_pdf_holds_name_slogan_and_scan_url(self):
        self.client.force_login(self.manager)
        response = self.client.get(reverse("venues:poster", kwargs={"pk": self.venue_a.pk}))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF"))
        [(text, codes)] = pdf_pages(response.content)
        self.assertIn("甲村超市", text)
        self.assertIn("请扫码登记", text)
        self.assertIn("示范县", text)
        url = f"http://testserver{reverse('scan:scan')}?c={services.code_of(self.venue_a)}"
        self.assertEqual(codes, [url])

    def test_area_posters_one_page_per_venue_within_scope(self):
        make_venue(self.w.grid_a2, "甲村二网格饭店", "restaurant")
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("venues:area_posters"), {"area": self.w.village_a.code})
        self.assertEqual(response.status_code, 200)
        pages = pdf_pages(response.content)
        self.assertEqual(len(pages), 3)
        self.assertNotIn("乙村超市", "".join(text for text, _codes in pages))
        self.assertTrue(all(len(codes) == 1 for _text, codes in pages))

    def test_many_posters_are_made_by_a_job_with_progress(self):
        from fangkong.core.models import Job

        make_venue(self.w.grid_a2, "甲村二网格饭店", "restaurant")
        self.client.force_login(self.w.township_a_officer)
        url = reverse("venues:area_posters")
        area = {"area": self.w.village_a.code}
        with mock.patch.object(posters, "INLINE_AREA_POSTERS", 1), mock.patch.object(posters, "PDF_CHUNK", 2):
            # A link (GET) starts nothing: the list's button posts.
            response = self.client.get(url, area)
            self.assertRedirects(response, f"{reverse('venues:list')}?area={self.w.village_a.code}")
            self.assertFalse(Job.objects.exists())
            with self.captureOnCommitCallbacks(execute=True):
                response = self.client.post(f"{url}?area={self.w.village_a.code}")
        job = Job.objects.get()
        self.assertRedirects(response, reverse("core:job", kwargs={"pk": job.pk}))
        self.assertEqual((job.status, job.processed, job.total, job.area_code),
                         ("succeeded", 3, 3, self.w.village_a.code))
        self.assertContains(self.client.get(reverse("core:job", kwargs={"pk": job.pk})), "海报页数：3")
        download = self.client.get(reverse("core:job_file", kwargs={"pk": job.pk}))
        self.assertEqual(download.status_code, 200)
        pages = pdf_pages(b"".join(download.streaming_content))
        texts = "".join(text for text, _codes in pages)
        self.assertEqual(len(pages), 3)
        self.assertIn("甲村二网格饭店", texts)
        self.assertNotIn("乙村超市", texts)
        scan = f"http://testserver{reverse('scan:scan')}?c="
        self.assertTrue(all(len(codes) == 1 and codes[0].startswith(scan) for _text, codes in pages))

    def test_area_outside_scope_is_404(self):
        self.client.force_login(self.w.grid_b_worker)
        response = self.client.get(reverse("venues:area_posters"), {"area": self.w.grid_a.code})
        self.assertEqual(response.status_code, 404)

    def test_too_many_venues_for_one_pdf(self):
        self.client.force_login(self.w.hq)
        with mock.patch.object(posters, "MAX_AREA_POSTERS", 2):
            response = self.client.get(reverse("venues:area_posters"), {"area": self.w.county.code})
        self.assertEqual(response.status_code, 302)

    def test_without_weasyprint_a_clear_503_and_the_printable_page(self):
        self.client.force_login(self.manager)
        with mock.patch.dict("sys.modules", {"weasyprint": None}):
            response = self.client.get(reverse("venues:poster", kwargs={"pk": self.venue_a.pk}))
        self.assertEqual(response.status_code, 503)
        self.assertContains(response, "WeasyPrint", status_code=503)
        html_url = reverse("venues:poster_print", kwargs={"pk": self.venue_a.pk})
        self.assertContains(response, html_url, status_code=503)
        page = self.client.get(html_url)
        self.assertContains(page, "请扫码登记 逢进必扫")
        self.assertContains(page, "<svg")

    def test_poster_after_reissue_carries_the_new_code(self):
        services.reissue_code(self.manager, self.venue_a)
        self.client.force_login(self.manager)
        response = self.client.get(reverse("venues:poster", kwargs={"pk": self.venue_a.pk}))
        [(text, codes)] = pdf_pages(response.content)
        self.assertTrue(codes[0].endswith(services.code_of(self.venue_a)))
        self.assertIn("第 2 版", text)
