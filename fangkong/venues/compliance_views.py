"""The compliance page (查验后台): per venue for a day, scans, non-green admissions, silent days; export; flag."""

import io
from datetime import date

import xlsxwriter
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from fangkong.accounts.models import Organization
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import page_size_from

from . import compliance
from .models import VenueType


class ComplianceFilterForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("日期"), required=False,
                           widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}))
    area = forms.ChoiceField(label=gettext_lazy("区划"), required=False,
                             widget=forms.Select(attrs={"class": "form-select"}))
    type = forms.ChoiceField(label=gettext_lazy("场所类型"), required=False,
                             widget=forms.Select(attrs={"class": "form-select"}))
    department = forms.ChoiceField(label=gettext_lazy("主管部门"), required=False,
                                   widget=forms.Select(attrs={"class": "form-select"}))
    flagged = forms.BooleanField(label=gettext_lazy("只看有问题的场所"), required=False,
                                 widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))

    def __init__(self, data, user):
        super().__init__(data)
        self.user = user
        # Townships (and the county) the user may see; deeper areas by code in the URL.
        areas = Area.objects.restrict(user, "view").filter(level__in=["county", "township"]).order_by("code")
        self.fields["area"].choices = [("", _("全部"))] + [(a.code, a.name) for a in areas]
        self.fields["type"].choices = [("", _("全部"))] + list(
            VenueType.objects.filter(is_active=True).values_list("code", "name"))
        orgs = Organization.objects.filter(supervised_venues__isnull=False).distinct().order_by("name")
        self.fields["department"].choices = [("", _("全部"))] + [(str(o.pk), o.name) for o in orgs]

    def clean_area(self):
        code = self.cleaned_data.get("area") or ""
        return Area.objects.restrict(self.user, "view").filter(code=code).first() if code else None


def _query(request):
    """(form, day, items, summary) for the filters in the query string."""
    params = request.GET.copy()
    if not params.get("date"):
        params["date"] = compliance.default_day().isoformat()  # the day shown is the day in the date box
    form = ComplianceFilterForm(params, request.user)
    form.is_valid()  # a bad field is named on the page; the others still filter
    data = form.cleaned_data
    day: date = data.get("date") or compliance.default_day()
    department = data.get("department")
    venues = compliance.filter_venues(compliance.compliance_venues(request.user), area=data.get("area"),
                                      type_code=data.get("type") or "",
                                      department=int(department) if department else None)
    items = compliance.compute(venues, day)
    totals = compliance.summary(items)
    if data.get("flagged"):
        items = [i for i in items if i.flags]
    return form, day, items, totals


@require_GET
@permission_required("venues.view_compliance", raise_exception=True)
def compliance_index(request):
    form, day, items, totals = _query(request)
    page_obj = Paginator(items, page_size_from(request.GET.get("page_size"))).get_page(request.GET.get("page"))
    return render(request, "venues/compliance/index.html", {
        "form": form, "day": day, "page_obj": page_obj, "summary": totals,
        "silent_days": compliance.silent_days_setting(), "drop_percent": round(compliance.drop_ratio_setting() * 100),
        "can_flag": request.user.has_perm("tasks.add_task"),
    })


EXPORT_HEADERS = ["场所编号", "场所名称", "区划代码", "所属区划", "场所类型", "主管部门", "营业中", "日期", "预计客流（人次）",
                  "扫码人次", "扫码率", "前7日日均", "非绿码放行人次", "其中红码", "非绿码占比", "近7日无扫码天数",
                  "连续无扫码天数", "问题"]


@require_GET
@permission_required("venues.view_compliance", raise_exception=True)
def compliance_export(request):
    """The filtered table as xlsx (counts only, no personal data); the export is audited."""
    _form, day, items, _totals = _query(request)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("场所查验")
    bold = workbook.add_format({"bold": True})
    percent = workbook.add_format({"num_format": "0.0%"})
    sheet.write_row(0, 0, EXPORT_HEADERS, bold)
    for row, item in enumerate(items, start=1):
        venue = item.venue
        sheet.write_row(row, 0, [
            venue.pk, venue.name, venue.area_id, venue.area.name, venue.type.name,
            venue.supervisor.name if venue.supervisor else "", "是" if venue.is_active else "否", day.isoformat(),
            item.expected, item.scans,
        ])
        sheet.write(row, 10, item.coverage if item.coverage is not None else "", percent)
        sheet.write_row(row, 11, [round(item.average, 1), item.nongreen, item.red])
        sheet.write(row, 14, item.nongreen_share if item.nongreen_share is not None else "", percent)
        sheet.write_row(row, 15, [item.zero_days, item.silent_days, "、".join(item.flag_labels)])
    sheet.freeze_panes(1, 0)
    workbook.close()
    record_event(request.user, AuditAction.EXPORT, object_type="venues.venue",
                 object_repr=f"场所查验 {day.isoformat()} {len(items)} 个场所",
                 changes={"query": request.GET.urlencode(), "rows": len(items)}, request=request)
    response = HttpResponse(buffer.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, f"场所查验_{day:%Y%m%d}.xlsx")
    return response


@require_POST
@permission_required("venues.view_compliance", raise_exception=True)
def compliance_flag(request):
    """Create the inspection tasks for the flagged venues of the day, in the user's scope."""
    if not request.user.has_perm("tasks.add_task"):
        raise PermissionDenied
    try:
        day = date.fromisoformat(request.POST.get("date", ""))
    except ValueError:
        day = compliance.default_day()
    created = compliance.flag_venues(day, user=request.user)
    messages.success(request, _("已为 %(n)d 个有问题的场所派发查验任务（已派发过的不重复派发）。") % {"n": len(created)})
    return redirect(f"{reverse('compliance:index')}?date={day.isoformat()}&flagged=on")
