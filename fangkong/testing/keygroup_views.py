"""Key-group pages (应检尽检): the groups, one group's coverage and overdue list, roster import, HQ's edit.

Every read goes through testing.schedules (restricted querysets: the user's
area, and a department officer only their department's entries); every write
is a POST calling testing.schedules.
"""

import io

import xlsxwriter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.core.tabular import ImportFileError
from fangkong.people.identity import mask_name
from fangkong.people.models import KeyGroup

from . import schedules
from .keygroup_forms import KeyGroupForm, RosterImportForm

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VIEW = "testing.view_rosterentry"
TABS = (("department", _lazy("按责任部门"), _lazy("责任部门")), ("employer", _lazy("按工作单位"), _lazy("工作单位")),
        ("township", _lazy("按乡镇"), _lazy("乡镇（街道）")))
EXPORT_HEADERS = ["重点人群", "姓名", "身份证号码", "工作单位", "单位所在乡镇", "现住地网格", "责任部门", "最近采样时间",
                  "应检日期", "逾期天数"]


def _group(pk) -> KeyGroup:
    return get_object_or_404(KeyGroup.objects.select_related("department"), pk=pk)


def _overdue_rows(entries, today):
    for e in entries:
        yield {"entry": e, "name": mask_name(e.person.name), "days": (today - e.next_due).days}


@require_GET
@permission_required(VIEW, raise_exception=True)
def group_list(request):
    return render(request, "testing/keygroup_list.html", {
        "groups": schedules.group_summaries(request.user),
        "can_create_tasks": request.user.has_perm("tasks.add_task"),
    })


@require_GET
@permission_required(VIEW, raise_exception=True)
def group_detail(request, pk):
    group = _group(pk)
    by = request.GET.get("by", "department")
    if by not in schedules.BY_CHOICES:
        by = "department"
    today = timezone.localdate()
    result = schedules.coverage(request.user, group, today=today, by=by)
    page_obj = paginate(request, schedules.overdue(request.user, group, today=today))
    return render(request, "testing/keygroup_detail.html", {
        "group": group, "coverage": result, "by": by, "tabs": TABS,
        "page_obj": page_obj, "overdue_rows": list(_overdue_rows(page_obj, today)), "today": today,
        "can_create_tasks": request.user.has_perm("tasks.add_task"),
        "can_import": request.user.has_perm("testing.add_rosterentry"),
        "can_edit": request.user.has_perm("people.change_keygroup"),
    })


@require_POST
@permission_required(VIEW, raise_exception=True)
def overdue_export(request, pk):
    """The overdue list of the group as xlsx (names and IDs masked); audited."""
    group = _group(pk)
    today = timezone.localdate()
    entries = schedules.overdue(request.user, group, today=today)
    limit = settings.FANGKONG_EXPORT_INLINE_MAX_ROWS
    total = entries.count()
    if total > limit:
        messages.error(request, _("逾期名单共 %(total)d 条，超过单次导出上限 %(limit)d 条，请按部门分批导出。")
                       % {"total": total, "limit": limit})
        return redirect("testing:keygroup", pk=group.pk)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet(_("逾期未检"))
    sheet.write_row(0, 0, EXPORT_HEADERS, workbook.add_format({"bold": True}))
    written = 0
    for written, e in enumerate(entries.iterator(chunk_size=2000), start=1):
        last = timezone.localtime(e.last_sampled_at).strftime("%Y-%m-%d %H:%M") if e.last_sampled_at else ""
        sheet.write_row(written, 0, [
            group.name, mask_name(e.person.name), e.person.doc_masked, e.employer,
            e.employer_area.name if e.employer_area else "", e.area.name, e.department.name if e.department else "",
            last, e.next_due.isoformat(), (today - e.next_due).days])
    sheet.freeze_panes(1, 0)
    workbook.close()
    record_event(request.user, AuditAction.EXPORT, group, object_repr=f"{group.name} 逾期未检 {written} 条",
                 changes={"rows": written, "date": today.isoformat()}, request=request,
                 area_code=request.user.area_id or "")
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, f"{group.name}_逾期未检_{today:%Y%m%d}.xlsx")
    return response


@require_POST
@permission_required(VIEW, raise_exception=True)
@permission_required("tasks.add_task", raise_exception=True)
def overdue_tasks(request, pk):
    group = _group(pk)
    result = schedules.overdue_tasks(request.user, group)
    if result["created"]:
        messages.success(request, _("已为 %(members)d 名逾期人员生成 %(created)d 条督促任务。") % result)
    elif result["existing"]:
        messages.info(request, _("今天已生成过督促任务，未重复生成。"))
    else:
        messages.info(request, _("没有逾期未检的人员。"))
    return redirect("testing:keygroup", pk=group.pk)


@permission_required("testing.add_rosterentry", raise_exception=True)
def roster_import(request, pk):
    """Upload a roster; on success the counts, else the problems row by row (and nothing written)."""
    group = _group(pk)
    form = RosterImportForm(request.POST or None, request.FILES or None)
    row_errors = None
    if request.method == "POST" and form.is_valid():
        try:
            report = schedules.roster_import(request.user, form.cleaned_data["file"], group)
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            if report.ok:
                messages.success(request, _("已导入名单：新增 %(created)d 人，更新 %(updated)d 人，未变 %(unchanged)d 人。")
                                 % {"created": report.created, "updated": report.updated,
                                    "unchanged": report.unchanged})
                return redirect("testing:keygroup", pk=group.pk)
            row_errors = report.errors
    status = 400 if row_errors or form.errors else 200
    return render(request, "testing/keygroup_import.html", {
        "group": group, "form": form, "row_errors": row_errors, "columns": schedules.TEMPLATE_COLUMNS,
    }, status=status)


@require_GET
@permission_required("testing.add_rosterentry", raise_exception=True)
def import_template(request):
    response = HttpResponse(schedules.template_xlsx(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "重点人群名单导入模板.xlsx")
    return response


@permission_required("people.change_keygroup", raise_exception=True)
def group_edit(request, pk):
    group = _group(pk)
    form = KeyGroupForm(request.POST or None, instance=KeyGroup.objects.get(pk=group.pk))
    if request.method == "POST" and form.is_valid():
        try:
            schedules.update_group(request.user, group, form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("已保存重点人群设置。"))
            return redirect(reverse("testing:keygroup", args=[group.pk]))
    return render(request, "testing/keygroup_edit.html", {"group": group, "form": form},
                  status=400 if form.errors else 200)
