"""Venue pages: the list and its export, register and change, the venue page with its place code, posters, import.

Every read starts from selectors.venues_for (out of scope is a 404; a venue
manager sees only their venues); every write is a call to venues.services.
Visitors are shown as counts only, never by name.
"""

import copy

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.jobs import start_job
from fangkong.core.pagination import paginate
from fangkong.policy.forms import attach_errors

from . import imports, posters, selectors, services
from .filtersets import VenueFilterSet
from .forms import ImportForm, VenueForm
from .models import Venue

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# The list and its export -------------------------------------------------------------------------
def _filterset(request, data=None):
    return VenueFilterSet(data if data is not None else request.GET, queryset=selectors.venues_for(request.user))


def _type_counts(request, filterset) -> list[dict]:
    """How many venues of each type the list holds, the type filter left aside."""
    data = request.GET.copy()
    data.pop("type", None)
    data.pop("page", None)
    others = _filterset(request, data)
    if not others.is_valid():
        return []
    rows = (others.qs.order_by().values("type__code", "type__name", "type__sort_order")
            .annotate(n=Count("id")).order_by("type__sort_order", "type__code"))
    return [{"code": r["type__code"], "name": r["type__name"], "count": r["n"]} for r in rows]


@require_GET
@permission_required("venues.view_venue", raise_exception=True)
def venue_list(request):
    filterset = _filterset(request)
    venues = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page_obj = paginate(request, venues.select_related("type", "area__parent", "supervisor"))
    areas = (Area.objects.restrict(request.user, "view").exclude(level=AreaLevel.GRID)
             .order_by("code").values_list("code", "name")[:500])
    return render(request, "venues/list.html", {
        "filter": filterset, "page_obj": page_obj, "type_counts": _type_counts(request, filterset),
        "areas": areas, "can_add": request.user.has_perm("venues.add_venue"),
        "area_code": request.GET.get("area", ""),
    })


@require_GET
@permission_required("venues.view_venue", raise_exception=True)
def venue_export(request):
    filterset = _filterset(request)
    venues = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    data, written = imports.export_xlsx(venues.order_by("area_id", "name", "id"))
    record_event(request.user, AuditAction.EXPORT, object_type="venues.venue",
                 object_repr=_("场所名单 %(n)d 条") % {"n": written}, request=request,
                 changes={"query": request.GET.urlencode(), "rows": written})
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, f"场所名单_{timezone.localdate():%Y%m%d}.xlsx")
    return response


# Register and change -----------------------------------------------------------------------------
def _get_venue(request, pk, action="view") -> Venue:
    venues = selectors.venues_for(request.user, action).select_related("type", "area", "supervisor")
    return get_object_or_404(venues, pk=pk)


@permission_required("venues.add_venue", raise_exception=True)
def venue_create(request):
    form = VenueForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            venue = services.register_venue(request.user, form.cleaned_data, request=request)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已登记场所：%(name)s。可在本页打印场所码海报。") % {"name": venue.name})
            return redirect("venues:detail", pk=venue.pk)
    return render(request, "venues/form.html", {"form": form, "title": _("登记场所")},
                  status=400 if form.errors else 200)


@permission_required("venues.change_venue", raise_exception=True)
def venue_edit(request, pk):
    venue = _get_venue(request, pk, "change")
    # The form writes into its instance while validating: give it a copy, the service compares with the original.
    form = VenueForm(request.POST or None, instance=copy.copy(venue), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_venue(request.user, venue, form.cleaned_data, request=request)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已保存。"))
            return redirect("venues:detail", pk=venue.pk)
    return render(request, "venues/form.html", {"form": form, "venue": venue, "title": _("修改场所")},
                  status=400 if form.errors else 200)


# The venue page ----------------------------------------------------------------------------------
@require_GET
@permission_required("venues.view_venue", raise_exception=True)
def venue_detail(request, pk):
    venue = _get_venue(request, pk)
    url = posters.scan_url(posters.scan_page(request), venue)
    can_change = selectors.venues_for(request.user, "change").filter(pk=venue.pk).exists()
    return render(request, "venues/detail.html", {
        "venue": venue, "scan_url": url, "qr": posters.qr_svg(url), "counts": selectors.checkin_counts(venue),
        "can_change": can_change,
    })


@require_POST
@permission_required("venues.change_venue", raise_exception=True)
def venue_reissue(request, pk):
    venue = _get_venue(request, pk, "change")
    services.reissue_code(request.user, venue, request=request)
    messages.warning(request, _("已重新签发场所码（第 %(version)d 版）：此前打印的海报已失效，请立即打印新海报张贴。")
                     % {"version": venue.code_version})
    return redirect("venues:detail", pk=venue.pk)


# Posters -----------------------------------------------------------------------------------------
def _pdf_response(request, venues, filename: str, html_url: str, title: str):
    try:
        pdf = posters.render_pdf(posters.scan_page(request), venues, title=title)
    except posters.PosterUnavailable as exc:
        return render(request, "venues/poster_unavailable.html", {"message": str(exc), "html_url": html_url},
                      status=503)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response


@require_GET
@permission_required("venues.view_venue", raise_exception=True)
def venue_poster(request, pk):
    venue = _get_venue(request, pk)
    return _pdf_response(request, [venue], f"场所码_{venue.name}.pdf",
                         reverse("venues:poster_print", kwargs={"pk": venue.pk}), venue.name)


@require_GET
@permission_required("venues.view_venue", raise_exception=True)
def venue_poster_print(request, pk):
    venue = _get_venue(request, pk)
    return HttpResponse(posters.render_html(posters.scan_page(request), [venue], title=venue.name))


def _area_venues(request):
    """The area of ?area= (default: the user's own; 404 outside their scope) and its open venues."""
    code = request.GET.get("area") or request.user.area_id or ""
    area = get_object_or_404(Area.objects.restrict(request.user, "view"), code=code)
    return area, posters.area_venues(request.user, area)


@require_http_methods(["GET", "POST"])
@permission_required("venues.view_venue", raise_exception=True)
def area_posters(request):
    """The posters of an area's open venues: a few come at once; more are made by a job the POST starts."""
    area, venues = _area_venues(request)
    total = venues.count()
    back = f"{reverse('venues:list')}?area={area.code}"
    if total > posters.MAX_AREA_POSTERS:
        messages.error(request, _("%(area)s共有 %(total)d 个场所，超过一次打印上限 %(max)d 个，请选择下一级区划分批打印。")
                       % {"area": area.name, "total": total, "max": posters.MAX_AREA_POSTERS})
        return redirect(back)
    html_url = f"{reverse('venues:area_posters_print')}?area={area.code}"
    if total <= posters.INLINE_AREA_POSTERS:
        return _pdf_response(request, list(venues), f"场所码_{area.name}.pdf", html_url, area.name)
    if request.method != "POST":  # a link or a bookmark: the button on the list starts the job
        messages.info(request, _("%(area)s共有 %(total)d 个场所，请点击“打印本区划全部海报（PDF）”在后台生成。")
                      % {"area": area.name, "total": total})
        return redirect(back)
    try:
        posters.check_pdf_available()
    except posters.PosterUnavailable as exc:
        return render(request, "venues/poster_unavailable.html", {"message": str(exc), "html_url": html_url},
                      status=503)
    job = start_job(request.user, "venues.area_posters",
                    _("场所码海报：%(area)s（%(n)d 个场所）") % {"area": area.name, "n": total},
                    "fangkong.venues.posters.area_posters_job", area_code=area.code, area=area.code,
                    scan_page=posters.scan_page(request))
    return redirect("core:job", pk=job.pk)


@require_GET
@permission_required("venues.view_venue", raise_exception=True)
def area_posters_print(request):
    area, venues = _area_venues(request)
    return HttpResponse(posters.render_html(posters.scan_page(request), venues[: posters.MAX_AREA_POSTERS],
                                            title=area.name))


# Import ------------------------------------------------------------------------------------------
@permission_required("venues.add_venue", raise_exception=True)
def venue_import(request):
    """Upload a list; on success the counts, else the problems row by row (and nothing written)."""
    form = ImportForm(request.POST or None, request.FILES or None)
    result = row_errors = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            parsed = imports.parse(upload, request.user)
        except imports.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            if parsed.errors:
                row_errors = parsed.errors
            else:
                try:
                    result = services.import_venues(request.user, [data for _row, data in parsed.rows],
                                                    filename=upload.name, request=request)
                except ValidationError as exc:
                    attach_errors(form, exc)
    status = 400 if row_errors or form.errors else 200
    return render(request, "venues/import.html", {
        "form": form, "result": result, "row_errors": row_errors, "columns": imports.TEMPLATE_COLUMNS,
    }, status=status)


@require_GET
@permission_required("venues.add_venue", raise_exception=True)
def venue_import_template(request):
    response = HttpResponse(imports.template_xlsx(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "场所导入模板.xlsx")
    return response
