"""The printed notice (告知书) of a control order: an A4 page per person, as PDF (WeasyPrint) or HTML.

A notice holds personal data (name, masked ID, where the person stays), so
every print is audited with the orders it covered. Bulk prints (a site, an
area) are capped at MAX_NOTICES pages.
"""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.policy.choices import Stage
from fangkong.policy.models import ControlOrder
from fangkong.venues.posters import county_name

MAX_NOTICES = 500
PRINT_REASON = "打印告知书"


class NoticeUnavailable(RuntimeError):
    """The PDF cannot be made on this server (WeasyPrint or Pango missing); str() says so in Chinese."""


@dataclass
class Notice:
    order: ControlOrder
    title: str
    stages: list[dict]
    test_dates: list[str]
    instructions: str
    care_team: list
    stay: object


def title_for(order: ControlOrder) -> str:
    if order.current_stage == Stage.HOME_MONITORING:
        return _("居家健康监测告知书")
    return _("隔离医学观察告知书")


def notices_for(orders) -> list[Notice]:
    """One notice per order; ORDERS should come with person, rule, care_members and open stays loaded."""
    notices = []
    for order in orders:
        stages = [{"label": Stage(s["stage"]).label if s["stage"] in Stage.values else s["stage"],
                   "start": date.fromisoformat(s["start"]), "end": date.fromisoformat(s["end"]),
                   "days": (date.fromisoformat(s["end"]) - date.fromisoformat(s["start"])).days + 1,
                   "current": s["stage"] == order.current_stage} for s in order.stages]
        tests = sorted({t for s in order.stages for t in s.get("test_dates", [])})
        stays = getattr(order, "open_stays", None)
        notices.append(Notice(
            order=order, title=title_for(order), stages=stages,
            test_dates=[date.fromisoformat(t) for t in tests],
            instructions=order.rule.instructions if order.rule_id and order.rule else "",
            care_team=list(order.care_members.all()), stay=stays[0] if stays else None,
        ))
    return notices


def render_html(request, orders, *, for_pdf: bool = False, title: str = "") -> str:
    return render_to_string("quarantine/notice.html", {
        "notices": notices_for(orders), "county": county_name(), "for_pdf": for_pdf, "title": title,
        "printed_at": timezone.localtime(),
    }, request=request)


def render_pdf(request, orders, *, title: str = "") -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango shared library is missing
        raise NoticeUnavailable(
            _("本服务器未安装 PDF 组件（WeasyPrint / Pango），暂不能生成 PDF，请使用可打印的网页版告知书。")) from exc
    html = render_html(request, orders, for_pdf=True, title=title)
    return weasyprint.HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()


@transaction.atomic
def record_notice_print(user, orders: list[ControlOrder], *, scope: str = "", request=None) -> None:
    """Audit a print: the order's own row for a single notice; for a bulk print (SCOPE: the site or area),
    one row listing the orders."""
    if not scope:
        record_event(user, AuditAction.EXPORT, orders[0], reason=PRINT_REASON, request=request)
        return
    record_event(user, AuditAction.EXPORT, None, object_type="policy.controlorder", object_id="*",
                 object_repr=_("告知书 %(scope)s（%(n)s 份）") % {"scope": scope, "n": len(orders)},
                 changes={"orders": [None, [o.pk for o in orders]]}, reason=PRINT_REASON, request=request)
