"""Place-code posters: an A4 page per venue (name, QR, "请扫码登记 逢进必扫"), as HTML to print or as PDF.

The PDF is WeasyPrint rendering the same template as the printable page,
with the Debian fonts-noto-cjk fonts. WeasyPrint needs the system Pango
library, so it is imported only when a PDF is asked for; without it
``render_pdf`` raises PosterUnavailable and the pages offer the HTML poster.
The posters of a whole area are made by a background job (``area_posters_job``)
with progress, a chunk of pages at a time.
"""

import uuid
from dataclasses import dataclass

import segno
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.scope import prefix_q

from . import selectors, services
from .models import Venue

MAX_AREA_POSTERS = 1000  # 40-140 ms a page: a whole township in a few minutes at most
INLINE_AREA_POSTERS = 20  # up to this many the PDF comes with the answer; more are made in the background
PDF_CHUNK = 50  # pages rendered at once by the background job, between two progress reports


class PosterUnavailable(RuntimeError):
    """The PDF cannot be made on this server (WeasyPrint or Pango missing); str() says so in Chinese."""


def scan_page(request) -> str:
    """The absolute address of the scan page, as the phones that scan a poster will reach it."""
    return request.build_absolute_uri(reverse("scan:scan"))


def scan_url(page: str, venue: Venue) -> str:
    """What the venue's QR holds: the scan page's address with the venue's signed place code."""
    return page + "?c=" + services.code_of(venue)


def qr_svg(url: str, css_class: str = "fk-qr") -> str:
    # segno draws the code as paths; the URL itself is never written into the markup as text.
    return mark_safe(segno.make(url, error="m").svg_inline(scale=1, omitsize=True, svgclass=css_class))


def county_name() -> str:
    name = Area.objects.filter(level=AreaLevel.COUNTY).order_by("code").values_list("name", flat=True).first()
    return name or _("本县")


@dataclass
class Poster:
    venue: Venue
    url: str
    qr: str


def posters_for(page: str, venues) -> list[Poster]:
    return [Poster(venue, url, qr_svg(url)) for venue in venues for url in [scan_url(page, venue)]]


def render_html(page: str, venues, *, for_pdf: bool = False, title: str = "") -> str:
    """The posters as one HTML document (inline styles and SVG: nothing to fetch). PAGE: see scan_page."""
    return render_to_string("venues/poster.html", {
        "posters": posters_for(page, venues), "county": county_name(), "for_pdf": for_pdf,
        "title": title, "printed_at": timezone.localtime(),
    })


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango shared library is missing
        raise PosterUnavailable(
            _("本服务器未安装 PDF 组件（WeasyPrint / Pango），暂不能生成 PDF，请使用可打印的网页版海报。")) from exc
    return weasyprint


def check_pdf_available() -> None:
    """Raise PosterUnavailable now, rather than in a background job, if PDFs cannot be made here."""
    _weasyprint()


def render_pdf(page: str, venues, *, title: str = "", progress=None) -> bytes:
    """One A4 page per venue, as PDF bytes; PROGRESS(done, total) after each chunk of pages, when given."""
    weasyprint = _weasyprint()
    venues = list(venues)
    chunk = PDF_CHUNK if progress else max(len(venues), 1)
    documents = []
    for start in range(0, max(len(venues), 1), chunk):
        html = render_html(page, venues[start:start + chunk], for_pdf=True, title=title)
        documents.append(weasyprint.HTML(string=html).render())
        if progress:
            progress(min(start + chunk, len(venues)), len(venues))
    pages = [p for document in documents for p in document.pages]
    return documents[0].copy(pages).write_pdf()


def area_venues(user, area: Area):
    """The open venues of AREA that USER may see, in print order."""
    return (selectors.venues_for(user).filter(prefix_q("area_id", area.prefix), is_active=True)
            .select_related("type", "area").order_by("area_id", "name", "id"))


def area_posters_job(job, progress, area: str, scan_page: str) -> dict:
    """Background job: the posters of AREA's open venues as one PDF file, PDF_CHUNK pages per progress step."""
    user = get_user_model().objects.get(pk=job.created_by_id)
    area_obj = Area.objects.restrict(user, "view").get(code=area)
    venues = list(area_venues(user, area_obj)[:MAX_AREA_POSTERS])
    progress(0, len(venues))
    pdf = render_pdf(scan_page, venues, title=area_obj.name, progress=progress)
    folder = settings.MEDIA_ROOT / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.pdf"
    (folder / name).write_bytes(pdf)
    return {"file": name, "filename": f"场所码_{area_obj.name}.pdf", "pages": len(venues),
            "summary": [[_("海报页数"), len(venues)]]}
