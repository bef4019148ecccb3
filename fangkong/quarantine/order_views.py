"""Control-order pages: the list, one order, advance and release by hand, the notices, the daily census.

Every read starts from ``access.orders_for(user)`` (out of scope is a 404);
advancing and releasing are POSTs to ``orders`` and need the order in
``orders_for(user, "change")``. Lists show masked names; the order page shows
the full name to those who may reveal people and to the person's care team.
"""

from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.core.scope import prefix_q
from fangkong.people.identity import mask_name
from fangkong.policy import planning
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.services import quarantine_rules

from . import census as census_service
from . import notices, orders
from .access import orders_for
from .choices import Symptom
from .models import CareMember, HealthCheck, QuarantineSite, Stay, TransferPassenger
from .order_forms import OrderFilterForm, filter_orders, stage_progress

HOME_STAGES = (Stage.HOME_ISOLATION, Stage.HOME_MONITORING)


def _url(name: str, **kwargs) -> str | None:
    """The URL of a page other parts of the app provide, or None while it does not exist."""
    try:
        return reverse(f"quarantine:{name}", kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _open_stays():
    return Prefetch("stays", queryset=Stay.objects.filter(checked_out_at__isnull=True).select_related("site", "room"),
                    to_attr="open_stays")


def _may_list(user) -> bool:
    return user.has_perm("policy.view_controlorder") or user.has_perm("quarantine.view_caremember")


def _decorate(order, today: date, roles_by_pack: dict) -> None:
    order.shown_name = mask_name(order.person.name)
    order.progress = stage_progress(order, today) if order.status == OrderStatus.ACTIVE else None
    stays = getattr(order, "open_stays", [])
    order.stay = stays[0] if stays else None
    members = list(order.care_members.all())
    order.care_count = sum(1 for m in members if m.name)
    if order.pack_id not in roles_by_pack:
        roles_by_pack[order.pack_id] = len(quarantine_rules(order.pack)["care_roles"])
    order.care_roles = roles_by_pack[order.pack_id]
    order.at_home = order.current_stage in HOME_STAGES


# The list ----------------------------------------------------------------------------------------
def index(request):
    user = request.user
    if not _may_list(user):
        raise PermissionDenied
    today = timezone.localdate()
    form = OrderFilterForm(request.GET or None, user=user)
    rows = filter_orders(orders_for(user), today=today, **form.filters())
    rows = (rows.select_related("person", "area", "pack").prefetch_related(_open_stays(), "care_members")
            .order_by("stage_end", "id"))
    page_obj = paginate(request, rows)
    roles_by_pack: dict = {}
    for order in page_obj:
        _decorate(order, today, roles_by_pack)
    links = [(label, url) for label, url in (
        (_("隔离点"), _url("sites")), (_("床位看板"), _url("occupancy")), (_("点对点转运"), _url("transfers")),
        (_("居家管控（五包一）"), _url("care_list")), (_("督导抽查"), _url("calls")),
    ) if url]
    if user.has_perm("quarantine.view_census"):
        links.append((_("每日统计"), reverse("quarantine:census")))
    return render(request, "quarantine/index.html", {
        "form": form, "page_obj": page_obj, "links": links, "today": today,
        "can_print": user.has_perm("policy.view_controlorder"),
    })


# One order ---------------------------------------------------------------------------------------
def _get_order(request, pk, action="view"):
    return get_object_or_404(orders_for(request.user, action).select_related(
        "person", "area", "pack", "rule", "merged_into"), pk=pk)


def _timeline(order, today: date, results: dict) -> list[dict]:
    """The planned stages with their test days, each test day with what the person's samples say."""
    current = planning.current_segment(order.stages, order.current_stage, order.stage_since)
    released = order.status == OrderStatus.RELEASED
    rows = []
    for index, segment in enumerate(order.stages):
        start, end = date.fromisoformat(segment["start"]), date.fromisoformat(segment["end"])
        tests = []
        for text in segment.get("test_dates", []):
            day = date.fromisoformat(text)
            tests.append({"day": day, "number": (day - order.start_date).days + 1,
                          "result": results.get(day, ""), "due": day <= today})
        done = released or (current is not None and index < current)
        rows.append({"label": Stage(segment["stage"]).label if segment["stage"] in Stage.values else segment["stage"],
                     "start": start, "end": end, "days": (end - start).days + 1, "tests": tests,
                     "current": index == current and order.status == OrderStatus.ACTIVE, "done": done})
    return rows


def _sample_results(order) -> dict[date, str]:
    """{sampling day: result}: negative, positive (single tube), pool_positive (awaiting the re-test) or pending."""
    from fangkong.testing.models import Sample

    results: dict[date, str] = {}
    since = timezone.make_aware(datetime.combine(order.start_date, time.min))
    samples = Sample.objects.filter(person_id=order.person_id, sampled_at__gte=since).order_by("sampled_at").values_list(
        "sampled_at", "tube__result", "tube__capacity")
    for sampled_at, result, capacity in samples:
        day = timezone.localdate(sampled_at)
        if result == "positive" and capacity != 1:
            result = "pool_positive"
        if result or day not in results:
            results[day] = result or "pending"
    return results


def _checks(order) -> list[HealthCheck]:
    labels = dict(Symptom.choices)
    checks = list(HealthCheck.objects.filter(order=order).order_by("-taken_at", "-id")[:10])
    for check in checks:
        check.symptom_labels = [str(labels.get(code, code)) for code in check.symptoms or []]
    return checks


def _may_see_name(user, order) -> bool:
    return user.has_perm("people.reveal_person") or order.care_members.filter(user=user).exists()


def order_detail(request, pk):
    user = request.user
    order = _get_order(request, pk)
    today = timezone.localdate()
    may_change = orders_for(user, "change").filter(pk=order.pk).exists()
    active = order.status == OrderStatus.ACTIVE
    progress = stage_progress(order, today) if active else None
    results = _sample_results(order)
    stays = Stay.objects.filter(order=order).select_related("site", "room").order_by("checked_in_at", "id")
    transfers = (TransferPassenger.objects.filter(order=order).select_related("transfer")
                 .order_by("transfer__planned_at", "id"))
    record_event(user, AuditAction.VIEW, order, request=request, object_repr=_("管控措施 #%(id)s") % {"id": order.pk})
    return render(request, "quarantine/order_detail.html", {
        "order": order, "person": order.person, "today": today, "progress": progress,
        "shown_name": order.person.name if _may_see_name(user, order) else mask_name(order.person.name),
        "may_view_person": user.has_perm("people.view_person"),
        "timeline": _timeline(order, today, results),
        "conditions": orders.conditions(order, today) if active else [],
        "history": [{**entry, "at": parse_datetime(entry.get("at") or "")} for entry in reversed(order.history)],
        "merged_orders": order.merged_orders.select_related("pack").order_by("id"),
        "stays": stays, "transfers": transfers,
        "care_team": CareMember.objects.filter(order=order).select_related("user").order_by("id"),
        "checks": _checks(order),
        "may_change": may_change and active, "is_active": active,
        "transfer_url": _url("transfer_new"),
        "may_print": user.has_perm("policy.view_controlorder"),
        "is_last_stage": progress is not None and progress["index"] == len(order.stages) - 1,
    })


@require_POST
def order_advance(request, pk):
    order = _get_order(request, pk, "change")
    try:
        order = orders.advance_order(request.user, order)
    except ValidationError as exc:
        messages.error(request, _("未能转段：%(reason)s") % {"reason": "；".join(exc.messages)})
    else:
        if order.status == OrderStatus.RELEASED:
            messages.success(request, _("已期满解除管控。"))
        else:
            messages.success(request, _("已转入%(stage)s。") % {"stage": order.get_current_stage_display()})
    return redirect("quarantine:order", pk=pk)


@require_POST
def order_release(request, pk):
    order = _get_order(request, pk, "change")
    try:
        orders.release_order(request.user, order)
    except ValidationError as exc:
        messages.error(request, _("未能解除：%(reason)s") % {"reason": "；".join(exc.messages)})
    else:
        messages.success(request, _("已解除管控。"))
    return redirect("quarantine:order", pk=pk)


# Notices (告知书) ---------------------------------------------------------------------------------
def _notice_response(request, rows: list, filename: str, title: str, scope: str):
    notices.record_notice_print(request.user, rows, scope=scope, request=request)
    try:
        pdf = notices.render_pdf(request, rows, title=title)
    except notices.NoticeUnavailable as exc:
        messages.warning(request, str(exc))
        return HttpResponse(notices.render_html(request, rows, title=title))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response


def _for_notices(queryset):
    return queryset.select_related("person", "rule").prefetch_related(_open_stays(), "care_members")


@require_GET
@permission_required("policy.view_controlorder", raise_exception=True)
def order_notice(request, pk):
    order = get_object_or_404(_for_notices(orders_for(request.user)), pk=pk)
    return _notice_response(request, [order], f"告知书_{order.pk}.pdf", notices.title_for(order), "")


@require_GET
@permission_required("policy.view_controlorder", raise_exception=True)
def bulk_notices(request):
    """The notices of the open orders of a site (?site=) or an area (?area=), a page each."""
    user = request.user
    rows = orders_for(user).filter(status=OrderStatus.ACTIVE)
    site_id, code = request.GET.get("site", ""), request.GET.get("area", "")
    if site_id:
        site = get_object_or_404(QuarantineSite.objects.restrict(user, "view"),
                                 pk=site_id if site_id.isdigit() else 0)
        rows = rows.filter(stays__site=site, stays__checked_out_at__isnull=True)
        label = site.name
    elif code:
        area = get_object_or_404(Area.objects.filter(prefix_q("code", user.scope_prefix)), code=code)
        rows = rows.filter(prefix_q("area_id", area.prefix))
        label = area.name
    else:
        messages.error(request, _("请选择隔离点或区划后再批量打印告知书。"))
        return redirect("quarantine:index")
    total = rows.count()
    if total > notices.MAX_NOTICES:
        messages.error(request, _("%(scope)s共有 %(total)d 人，超过一次打印上限 %(max)d 份，请按下一级区划或隔离点分批打印。")
                       % {"scope": label, "total": total, "max": notices.MAX_NOTICES})
        return redirect("quarantine:index")
    if not total:
        messages.info(request, _("%(scope)s没有在管控中的人员。") % {"scope": label})
        return redirect("quarantine:index")
    selected = list(_for_notices(rows).order_by("area_id", "person__name", "id").distinct())
    return _notice_response(request, selected, f"告知书_{label}.pdf", _("告知书：%(scope)s") % {"scope": label}, label)


# The daily census --------------------------------------------------------------------------------
@require_GET
@permission_required("quarantine.view_census", raise_exception=True)
def census(request):
    today = timezone.localdate()
    day, error = today, ""
    raw = request.GET.get("date", "")
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            error = _("日期格式应为 YYYY-MM-DD。")
        else:
            if day > today:
                day, error = today, _("不能统计未来的日期。")
    result = census_service.census(request.user, day)
    if request.GET.get("format") == "csv":
        response = HttpResponse(census_service.census_csv(result), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, f"隔离管控日报_{day.isoformat()}.csv")
        return response
    return render(request, "quarantine/census.html", {
        "census": result, "day": day, "today": today, "error": error,
        "yesterday": day - timedelta(days=1), "is_today": day == today,
    })
