"""Case, trajectory and contact pages: for epidemiologists and HQ only.

Every read starts from a restricted queryset (out of scope is a 404, a role
without the permission a 403); every write is a call to tracing.services;
every look at a case, its trajectory or its contacts is audited.
"""

import io
from collections import OrderedDict
from datetime import datetime, timedelta

import xlsxwriter
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.core.views import visible_jobs
from fangkong.people.selectors import people_for, search_people

from . import services
from .choices import KIND_RANK, CaseStatus, Classification, ContactKind, ContactStatus, Rule
from .filtersets import CaseFilterSet, ContactFilterSet
from .forms import CaseForm, EntryForm, NamedContactForm, ReviewForm, WithdrawForm
from .models import REPORT_HOURS, Case, Contact, TrajectoryEntry

PERSON_MATCHES = 20


# Helpers -------------------------------------------------------------------------------------------
def _cases(user, action="view"):
    return Case.objects.restrict(user, action)


def _get_case(request, pk, action="view") -> Case:
    return get_object_or_404(_cases(request.user, action).select_related(
        "person", "area__parent", "infected_by", "cluster", "created_by"), pk=pk)


def _contacts(user, action="view"):
    return Contact.objects.restrict(user, action)


def _get_contact(request, pk, action="view") -> Contact:
    contact = get_object_or_404(_contacts(request.user, action).select_related(
        "case", "person", "area__parent", "via__person", "reviewed_by", "order", "task"), pk=pk)
    # Contact evidence is the case's movements: the case must be the user's too.
    if not _cases(request.user, "view").filter(pk=contact.case_id).exists():
        raise Http404
    return contact


def _attach_errors(form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


def _span(minutes: int) -> str:
    hours, minutes = divmod(max(0, minutes), 60)
    if hours and minutes:
        return _("%(h)d小时%(m)d分") % {"h": hours, "m": minutes}
    if hours:
        return _("%(h)d小时") % {"h": hours}
    return _("%(m)d分钟") % {"m": minutes}


def _clock(label: str, deadline: datetime, done_at: datetime | None, now: datetime, *,
           applies: bool = True) -> dict:
    """One reporting clock: done (with when), overdue (by how long) or due (how long is left)."""
    if done_at:
        state, text = "done", _("已完成 %(at)s") % {"at": timezone.localtime(done_at).strftime("%m-%d %H:%M")}
    elif not applies:
        state, text = "na", "—"
    elif now > deadline:
        state, text = "overdue", _("已超时 %(span)s") % {"span": _span(int((now - deadline).total_seconds() // 60))}
    else:
        state, text = "due", _("剩余 %(span)s") % {"span": _span(int((deadline - now).total_seconds() // 60))}
    return {"label": label, "deadline": deadline, "state": state, "text": text}


def _report_clock(case: Case, now: datetime) -> dict:
    return _clock(_("网络直报（2小时）"), case.report_deadline, case.reported_at, now,
                  applies=case.status != CaseStatus.EXCLUDED)


def _clocks(case: Case, now: datetime) -> list[dict]:
    open_case = case.status == CaseStatus.OPEN
    return [
        _report_clock(case, now),
        # No report-card field marks these two: the first discovery run stands for the core
        # information (trajectory and close contacts); the full report is due while the case is open.
        _clock(_("核心信息（4小时）"), case.core_info_deadline, case.traced_at, now, applies=open_case),
        _clock(_("流调报告（24小时）"), case.full_report_deadline, None, now, applies=open_case),
    ]


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _parse(value) -> datetime | None:
    if not value:
        return None
    return timezone.localtime(datetime.fromisoformat(value))


def _between(start, end) -> str:
    start, end = _parse(start), _parse(end)
    if not start or not end:
        return ""
    return f"{start:%m-%d %H:%M}–{end.strftime('%H:%M' if end.date() == start.date() else '%m-%d %H:%M')}"


# Evidence in words ---------------------------------------------------------------------------------
RULE_ORDER = [Rule.HOUSEHOLD, Rule.WORKPLACE, Rule.VENUE_CLOSE, Rule.VENUE_COMPANION, Rule.INTERVIEW]


def describe(item: dict, via_names: dict | None = None) -> str:
    """One piece of evidence in a line: "甲村饭店 11-19 12:10–13:00 重叠50分钟", "同住", "访谈 …"."""
    rule = item.get("rule")
    if rule in (Rule.VENUE_CLOSE, Rule.VENUE_COMPANION):
        case_from, case_to = _parse(item.get("case_from")), _parse(item.get("case_to"))
        other_from, other_to = _parse(item.get("contact_from")), _parse(item.get("contact_to"))
        text = item.get("venue", "")
        if case_from and other_from:
            start, end = max(case_from, other_from), min(case_to, other_to)
            end_format = "%H:%M" if end.date() == start.date() else "%m-%d %H:%M"
            text += f" {start:%m-%d %H:%M}–{end.strftime(end_format)}"
            text += " " + _("重叠%(n)d分钟") % {"n": item.get("overlap_minutes", 0)}
    elif rule == Rule.HOUSEHOLD:
        text = _("同住")
    elif rule == Rule.WORKPLACE:
        text = _("同单位") + (f"（{item['text']}）" if item.get("text") else "")
    elif rule == Rule.INTERVIEW:
        text = _("访谈") + (f"：{item['text']}" if item.get("text") else "")
    else:
        text = item.get("text", "")
    if "via" in item:
        name = (via_names or {}).get(item["via"]) or _("密接")
        text = _("经%(name)s：%(text)s") % {"name": name, "text": text}
    return text


def _first_line(contact: Contact, via_names: dict) -> str:
    """The evidence that weighs most, in a line; "等N条" when there is more."""
    evidence = contact.evidence or []
    if not evidence:
        return ""

    def weight(item):
        rule = item.get("rule")
        return ("via" in item, RULE_ORDER.index(rule) if rule in RULE_ORDER else len(RULE_ORDER))

    line = describe(min(evidence, key=weight), via_names)
    if len(evidence) > 1:
        line += " " + _("等%(n)d条") % {"n": len(evidence)}
    return line


def _via_names(user, case: Case, contacts) -> dict:
    """Person id -> name of the close contacts (of the same case) the secondary ones were reached through."""
    ids = {item["via"] for c in contacts for item in (c.evidence or []) if "via" in item}
    if not ids:
        return {}
    return dict(_contacts(user).filter(case=case, person_id__in=ids).values_list("person_id", "person__name"))


# The case list -------------------------------------------------------------------------------------
@permission_required("tracing.view_case", raise_exception=True)
def case_list(request):
    scoped = _cases(request.user)
    filterset = CaseFilterSet(request.GET or None, queryset=scoped)
    live = ~Q(contacts__status=ContactStatus.DISMISSED)
    rows = filterset.qs.select_related("person", "area__parent").annotate(
        n_contacts=Count("contacts", filter=live),
        n_close=Count("contacts", filter=live & Q(contacts__kind=ContactKind.CLOSE)),
        n_proposed=Count("contacts", filter=Q(contacts__status=ContactStatus.PROPOSED)),
    ).order_by("-created_at", "-id")
    page_obj = paginate(request, rows)
    now = timezone.now()
    for case in page_obj:
        case.report_clock = _report_clock(case, now)
    counted = filterset.qs.order_by().values("classification").annotate(n=Count("id"))
    by_class = {row["classification"]: row["n"] for row in counted}
    counts = [(value, label, by_class.get(value, 0)) for value, label in Classification.choices]
    overdue = (filterset.qs.filter(reported_at__isnull=True).exclude(status=CaseStatus.EXCLUDED)
               .annotate(clock_start=Coalesce("result_at", "created_at"))
               .filter(clock_start__lt=now - timedelta(hours=REPORT_HOURS)).count())
    return render(request, "tracing/case_list.html", {
        "filter": filterset, "page_obj": page_obj, "counts": counts, "total": sum(by_class.values()),
        "report_overdue": overdue, "can_add": request.user.has_perm("tracing.add_case"),
    })


# New case, edit -------------------------------------------------------------------------------------
@permission_required("tracing.add_case", raise_exception=True)
def case_new(request):
    person_id = request.POST.get("person") or request.GET.get("person") or ""
    person = None
    if person_id:
        if not person_id.isdigit():
            raise Http404
        person = get_object_or_404(people_for(request.user).select_related("area__parent"), pk=person_id)
    if person is None:
        q = request.GET.get("q", "").strip()
        matches = []
        if q:
            matches = list(search_people(request.user, q)[:PERSON_MATCHES])
            existing = dict(_cases(request.user).filter(person__in=matches).exclude(status=CaseStatus.EXCLUDED)
                            .values_list("person_id", "pk"))
            for match in matches:
                match.case_pk = existing.get(match.pk)
        return render(request, "tracing/case_pick.html", {"q": q, "matches": matches})
    existing = _cases(request.user).filter(person=person).exclude(status=CaseStatus.EXCLUDED).first()
    # Opened from a positive result (the testing tube page): the times it knows come filled in.
    initial = {name: request.GET[name] for name in ("sampled_at", "result_at", "onset_date") if request.GET.get(name)}
    form = CaseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.register_case(request.user, person, form.cleaned_data, request=request)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("已登记病例 %(number)s，2小时网络直报时限已开始计时，密接研判已在后台开始。") % {"number": case.number})
            return redirect(case)
    return render(request, "tracing/case_form.html", {
        "form": form, "person": person, "existing": existing, "title": _("登记病例"),
    })


@permission_required("tracing.change_case", raise_exception=True)
def case_edit(request, pk):
    case = _get_case(request, pk, "change")
    form = CaseForm(request.POST or None, initial=CaseForm.initial_from(case))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_case(request.user, case, form.cleaned_data, request=request)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("已保存病例 %(number)s。") % {"number": case.number})
            return redirect(case)
    return render(request, "tracing/case_form.html", {
        "form": form, "person": case.person, "case": case, "title": _("修改病例信息"),
    })


# The case page --------------------------------------------------------------------------------------
def _kind_status_table(contacts) -> list[dict]:
    cells = {(row["kind"], row["status"]): row["n"]
             for row in contacts.order_by().values("kind", "status").annotate(n=Count("id"))}
    table = []
    for kind, label in ContactKind.choices:
        counts = [(status, cells.get((kind, status), 0)) for status in ContactStatus.values]
        table.append({"kind": kind, "label": label, "counts": counts, "total": sum(n for _s, n in counts)})
    return table


@permission_required("tracing.view_case", raise_exception=True)
def case_detail(request, pk):
    case = _get_case(request, pk)
    services.record_view(request.user, case, _("查看病例"), request=request)
    user = request.user
    contacts = _contacts(user).filter(case=case)
    job = None
    if case.trace_job_id:
        job = visible_jobs(user).filter(pk=case.trace_job_id).first()
        if job is not None:
            job.apply_live_progress()
    window = services.window_of(case)
    return render(request, "tracing/case_detail.html", {
        "case": case, "clocks": _clocks(case, timezone.now()), "window": window,
        "summary": services.contact_counts(contacts) if user.has_perm("tracing.view_contact") else None,
        "table": _kind_status_table(contacts), "statuses": ContactStatus.choices,
        "infected": _cases(user).filter(infected_by=case).only("pk", "number", "classification"),
        "entries": case.entries.count(), "job": job,
        "can_change": user.has_perm("tracing.change_case"),
        "can_dispatch": user.has_perm("tracing.change_contact"),
        "to_dispatch": contacts.filter(status=ContactStatus.CONFIRMED, is_case=False).count(),
    })


@require_POST
@permission_required("tracing.change_case", raise_exception=True)
def case_trace(request, pk):
    case = _get_case(request, pk, "change")
    services.start_trace(request.user, case)
    messages.info(request, _("已开始密接研判，进度见下方；完成后刷新页面查看密接名单。"))
    return redirect(reverse("tracing:case", args=[case.pk]) + "#trace")


@require_POST
@permission_required("tracing.change_contact", raise_exception=True)
def case_dispatch(request, pk):
    case = _get_case(request, pk, "change")
    if not services.dispatch_runs_inline(case):
        job = services.start_dispatch(request.user, case)
        messages.info(request, _("待推送的密接较多，已转入后台推送，完成后可在消息中查看结果。"))
        return redirect("core:job", pk=job.pk)
    result = services.dispatch(request.user, case, request=request)
    if result["dispatched"]:
        messages.success(request, _("已向 %(n)d 名密接推送管控措施和网格任务。") % {"n": result["dispatched"]})
    else:
        messages.warning(request, _("没有待推送的已确认密接。"))
    if result["skipped_cases"]:
        messages.info(request, _("%(n)d 名已确认密接本人也是病例，未推送管控。") % {"n": result["skipped_cases"]})
    return redirect(_back(request, reverse("tracing:contacts", args=[case.pk])))


# The trajectory --------------------------------------------------------------------------------------
def _trajectory_context(request, case: Case, form=None) -> dict:
    items = services.trajectory(case)
    days: OrderedDict = OrderedDict()
    for item in items:
        days.setdefault(timezone.localtime(item["start"]).date(), []).append(item)
    places: OrderedDict = OrderedDict()  # one point per venue, its visits in time order
    path, no_coords = [], []
    for item in items:
        venue = item["venue"]
        if venue is None or venue.longitude is None or venue.latitude is None:
            name = venue.name if venue else item["place"]
            if name and name not in no_coords:
                no_coords.append(name)
            continue
        point = [float(venue.longitude), float(venue.latitude)]
        entry = places.setdefault(venue.pk, {"name": venue.name, "value": point, "times": [],
                                             "source": item["source"]})
        # Numbered in time order, so that the map reads as a route.
        number = sum(len(p["times"]) for p in places.values()) + 1
        entry["times"].append(f"{number}. {timezone.localtime(item['start']):%m-%d %H:%M}")
        if not path or path[-1] != point:
            path.append(point)
    return {
        "case": case, "window": services.window_of(case), "days": list(days.items()), "count": len(items),
        "scans": sum(1 for i in items if i["source"] == "scan"),
        "map_data": {"points": list(places.values()), "path": path},
        "no_coords": no_coords,
        "form": form or EntryForm(user=request.user),
        "can_change": request.user.has_perm("tracing.change_case"),
    }


@permission_required("tracing.view_case", raise_exception=True)
def case_trajectory(request, pk):
    case = _get_case(request, pk)
    services.record_view(request.user, case, _("查看轨迹"), request=request)
    return render(request, "tracing/trajectory.html", _trajectory_context(request, case))


@require_POST
@permission_required("tracing.change_case", raise_exception=True)
def entry_new(request, pk):
    case = _get_case(request, pk, "change")
    form = EntryForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.add_entry(request.user, case, form.cleaned_data, request=request)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("已添加访谈轨迹。如涉及登记场所，请重新运行密接研判。"))
            return redirect("tracing:trajectory", pk=case.pk)
    return render(request, "tracing/trajectory.html", _trajectory_context(request, case, form), status=400)


@require_POST
@permission_required("tracing.change_case", raise_exception=True)
def entry_delete(request, pk):
    entries = TrajectoryEntry.objects.filter(case__in=_cases(request.user, "change"))
    entry = get_object_or_404(entries.select_related("case"), pk=pk)
    case_pk = entry.case_id
    services.delete_entry(request.user, entry, request=request)
    messages.success(request, _("已删除一条访谈轨迹。"))
    return redirect("tracing:trajectory", pk=case_pk)


# Contacts ----------------------------------------------------------------------------------------------
def _bulk_confirm(request, case: Case):
    """全部确认: every proposed contact of one kind, in one statement (one audit row on the case)."""
    if not request.user.has_perm("tracing.change_contact"):
        raise PermissionDenied
    kind = request.POST.get("kind", "")
    if kind not in ContactKind.values:
        messages.error(request, _("请选择要确认的密接类别。"))
        return redirect("tracing:contacts", pk=case.pk)
    done = services.confirm_all(request.user, case, _contacts(request.user, "change").filter(kind=kind),
                                request=request)
    messages.success(request, _("已确认 %(n)d 名%(kind)s。") % {"n": done, "kind": ContactKind(kind).label})
    return redirect(_back(request, reverse("tracing:contacts", args=[case.pk])))


@permission_required("tracing.view_case", raise_exception=True)
@permission_required("tracing.view_contact", raise_exception=True)
def contact_list(request, pk):
    if request.method == "POST":
        return _bulk_confirm(request, _get_case(request, pk, "change"))
    case = _get_case(request, pk)
    services.record_view(request.user, case, _("查看密接名单"), request=request)
    scoped = _contacts(request.user).filter(case=case)
    filterset = ContactFilterSet(request.GET or None, queryset=scoped)
    rank = models.Case(*(models.When(kind=k, then=models.Value(-r)) for k, r in KIND_RANK.items()),
                       output_field=models.IntegerField())
    rows = filterset.qs.select_related("person", "area__parent", "via__person").order_by(
        rank, "status", "first_exposure", "id")
    page_obj = paginate(request, rows)
    via_names = _via_names(request.user, case, page_obj)
    for contact in page_obj:
        contact.evidence_line = _first_line(contact, via_names)
        contact.lower_kinds = [(k, label) for k, label in ContactKind.choices
                               if KIND_RANK[k] < KIND_RANK[contact.kind]]
    # Counts per kind and per status under the search, each ignoring its own filter (for the tabs).
    search_only = ContactFilterSet({"q": request.GET.get("q", "")}, queryset=scoped).qs.order_by()
    by_kind = dict(search_only.filter(**_only(request, "status")).values_list("kind").annotate(n=Count("id")))
    by_status = dict(search_only.filter(**_only(request, "kind")).values_list("status").annotate(n=Count("id")))
    proposed = dict(scoped.filter(status=ContactStatus.PROPOSED).order_by().values_list("kind")
                    .annotate(n=Count("id")))
    return render(request, "tracing/contact_list.html", {
        "case": case, "filter": filterset, "page_obj": page_obj,
        "kind": request.GET.get("kind", ""), "status": request.GET.get("status", ""),
        "kind_tabs": [("", _("全部类别"), sum(by_kind.values()))]
        + [(k, label, by_kind.get(k, 0)) for k, label in ContactKind.choices],
        "status_tabs": [("", _("全部状态"), sum(by_status.values()))]
        + [(s, label, by_status.get(s, 0)) for s, label in ContactStatus.choices],
        "bulk": [(k, label, proposed[k]) for k, label in ContactKind.choices if proposed.get(k)],
        "to_dispatch": scoped.filter(status=ContactStatus.CONFIRMED, is_case=False).count(),
        "transferred": by_status.get(ContactStatus.TRANSFERRED, 0),
        "can_review": request.user.has_perm("tracing.change_contact"),
        "can_add": request.user.has_perm("tracing.change_case"),
        "can_export": request.user.has_perm("tracing.export_contact"),
        "next": request.get_full_path(),
    })


def _only(request, name: str) -> dict:
    """The list's filter NAME (kind or status) as ORM kwargs, if valid."""
    value = request.GET.get(name, "")
    valid = ContactKind.values if name == "kind" else ContactStatus.values
    return {name: value} if value in valid else {}


@permission_required("tracing.change_case", raise_exception=True)
def contact_add(request, pk):
    case = _get_case(request, pk, "change")
    if request.method == "POST":
        form = NamedContactForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                contact = services.add_named_contact(request.user, case, form.cleaned_data["person"],
                                                     form.cleaned_data["note"], request=request)
            except ValidationError as exc:
                messages.error(request, "；".join(exc.messages))
            else:
                messages.success(request, _("已将 %(name)s 添加为密切接触者。") % {"name": contact.person.name})
                return redirect("tracing:contacts", pk=case.pk)
        else:
            for errors in form.errors.values():
                messages.error(request, "；".join(errors))
    q = request.GET.get("q", "").strip()
    matches = []
    if q:
        matches = [p for p in search_people(request.user, q)[:PERSON_MATCHES] if p.pk != case.person_id]
        known = dict(_contacts(request.user).filter(case=case, person__in=matches)
                     .values_list("person_id", "kind"))
        for match in matches:
            match.contact_kind = ContactKind(known[match.pk]).label if match.pk in known else ""
    return render(request, "tracing/contact_add.html", {"case": case, "q": q, "matches": matches})


TRANSFER_HEADERS = ["姓名", "证件号码", "联系电话", "移交地区", "类别", "首次暴露时间", "末次暴露时间", "管控原因",
                    "研判说明"]


@permission_required("tracing.export_contact", raise_exception=True)
def transfers_export(request, pk):
    """外地协查名单: the contacts handed to another jurisdiction, masked, as xlsx; the export is audited."""
    case = _get_case(request, pk)
    contacts = (_contacts(request.user, "export").filter(case=case, status=ContactStatus.TRANSFERRED)
                .select_related("person").order_by("jurisdiction", "kind", "id"))
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("外地协查名单")
    sheet.write_row(0, 0, TRANSFER_HEADERS, workbook.add_format({"bold": True}))
    written = 0
    for written, c in enumerate(contacts, start=1):
        sheet.write_row(written, 0, [
            c.person.name, c.person.doc_masked, c.person.phone_masked, c.jurisdiction, c.get_kind_display(),
            _local(c.first_exposure), _local(c.last_exposure), c.summary, c.review_note,
        ])
    sheet.freeze_panes(1, 0)
    workbook.close()
    record_event(request.user, AuditAction.EXPORT, object_type="tracing.contact", object_id=str(case.pk),
                 object_repr=f"外地协查名单 {case.number} {written} 人", changes={"case": case.number, "rows": written},
                 request=request, area_code=case.area_id)
    response = HttpResponse(buffer.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    filename = f"外地协查名单_{case.number}_{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# One contact ----------------------------------------------------------------------------------------
@permission_required("tracing.view_contact", raise_exception=True)
def contact_detail(request, pk):
    contact = _get_contact(request, pk)
    services.record_view(request.user, contact.case, _("查看密接 %(name)s") % {"name": contact.person.audit_repr()},
                         request=request)
    via_names = _via_names(request.user, contact.case, [contact])
    evidence = [{**item, "line": describe(item, via_names),
                 "rule_label": Rule(item["rule"]).label if item.get("rule") in Rule.values else item.get("rule"),
                 "case_span": _between(item.get("case_from"), item.get("case_to")),
                 "contact_span": _between(item.get("contact_from"), item.get("contact_to"))}
                for item in contact.evidence or []]
    return render(request, "tracing/contact_detail.html", {
        "contact": contact, "case": contact.case, "evidence": evidence,
        "lower_kinds": [(k, label) for k, label in ContactKind.choices
                        if KIND_RANK[k] < KIND_RANK[contact.kind]],
        "can_review": request.user.has_perm("tracing.change_contact"),
        "withdraw_form": WithdrawForm(),
    })


@require_POST
@permission_required("tracing.change_contact", raise_exception=True)
def contact_review(request, pk):
    contact = _get_contact(request, pk, "change")
    form = ReviewForm(request.POST)
    back = _back(request, reverse("tracing:contacts", args=[contact.case_id]))
    if not form.is_valid():
        messages.error(request, _("研判操作不正确。"))
        return redirect(back)
    data = form.cleaned_data
    try:
        services.review_contact(request.user, contact, data["action"], reason=data["reason"], kind=data["kind"],
                                jurisdiction=data["jurisdiction"], request=request)
    except ValidationError as exc:
        messages.error(request, _("%(name)s：%(error)s") % {"name": contact.person.name,
                                                          "error": "；".join(exc.messages)})
    else:
        messages.success(request, _("%(name)s：%(status)s（%(kind)s）") % {
            "name": contact.person.name, "status": contact.get_status_display(), "kind": contact.get_kind_display()})
    return redirect(back)


@require_POST
@permission_required("tracing.change_contact", raise_exception=True)
def contact_withdraw(request, pk):
    contact = _get_contact(request, pk, "change")
    form = WithdrawForm(request.POST)
    back = _back(request, reverse("tracing:contact", args=[contact.pk]))
    if contact.status != ContactStatus.DISPATCHED:
        messages.error(request, _("只有已推送管控的密接可以撤回。"))
    elif not form.is_valid():
        messages.error(request, "；".join(form.errors["reason"]))
    else:
        try:
            services.withdraw_contact(request.user, contact, form.cleaned_data["reason"], request=request)
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, _("已撤回 %(name)s 的管控措施和任务。") % {"name": contact.person.name})
    return redirect(back)
