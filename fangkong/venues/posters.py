"""Place-code posters: an A4 page per venue (name, QR, "请扫码登记 逢进必扫"), as HTML to print or as PDF.

The PDF is WeasyPrint rendering the same template as the printable page,
with the Debian fonts-noto-cjk fonts. WeasyPrint needs the system Pango
library, so it is imported only when a PDF is asked for; without it
``render_pdf`` raises PosterUnavailable and the pages offer the HTML poster.
"""

from dataclasses import dataclass

import segno
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area

from . import services
from .models import Venue

MAX_AREA_POSTERS = 1000  # about 40 ms a page: a whole township in well under a minute


class PosterUnavailable(RuntimeError):
    """The PDF cannot be made on this server (WeasyPrint or Pango missing); str() says so in Chinese."""


def scan_url(request, venue: Venue) -> str:
    """What the venue's QR holds: the absolute scan page URL with the venue's signed place code."""
    return request.build_absolute_uri(reverse("scan:scan")) + "?c=" + services.code_of(venue)


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


def posters_for(request, venues) -> list[Poster]:
    return [Poster(venue, url, qr_svg(url)) for venue in venues for url in [scan_url(request, venue)]]


def render_html(request, venues, *, for_pdf: bool = False, title: str = "") -> str:
    return render_to_string("venues/poster.html", {
        "posters": posters_for(request, venues), "county": county_name(), "for_pdf": for_pdf,
        "title": title, "printed_at": timezone.localtime(),
    }, request=request)


def render_pdf(request, venues, *, title: str = "") -> bytes:
    """One A4 page per venue, as PDF bytes."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango shared library is missing
        raise PosterUnavailable(
            _("本服务器未安装 PDF 组件（WeasyPrint / Pango），暂不能生成 PDF，请使用可打印的网页版海报。")) from exc
    html = render_html(request, venues, for_pdf=True, title=title)
    return weasyprint.HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
