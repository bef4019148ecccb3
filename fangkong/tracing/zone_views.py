"""Control zone pages: the list with the lift countdowns, one zone with its criteria and testing rounds.

Every read starts from ``zones.zones_for`` (out of scope is a 404); every
write is a call to tracing.zones. Case identities (numbers, links) are shown
only to users with ``tracing.view_case``: grid workers see the zone, its
facts and a reason without case numbers.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.pagination import paginate
from fangkong.policy import services as policy
from fangkong.policy.choices import SEVERITY, RiskLevel

from . import zones
from .choices import ZoneStatus
from .models import Case
from .zone_forms import DiscardForm, LiftForm, RoundForm, ZoneForm

LEVEL_ORDER = {value: index for index, value in enumerate(
    [RiskLevel.SEALED, RiskLevel.HIGH, RiskLevel.CONTROLLED, RiskLevel.MEDIUM, RiskLevel.PRECAUTION, RiskLevel.LOW])}


def _labels(choices) -> dict:
    return {value: str(label) for value, label in choices}


def _attach_errors(form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _decorate(zone, user, facts=None):
    """What a row or the page shows about ZONE, identities removed for those who may not see cases."""
    zone.facts = facts if facts is not None else zones.zone_facts(zone)
    zone.severity = SEVERITY.get(zone.level, 0)
    zone.shown_reason = zones.public_reason(zone, user, [c.number for c in zone.cases.all()])
    return zone


# the list ---------------------------------------------------------------------------------------------
@permission_required("tracing.view_controlzone", raise_exception=True)
def zone_list(request):
    user = request.user
    scoped = zones.zones_for(user)
    level = request.GET.get("level", "")
    level = level if level in RiskLevel.values else ""
    status = request.GET.get("status", "")
    status = status if status in ZoneStatus.values else ""
    by_status = scoped.filter(status=status) if status else scoped
    counted = {row["level"]: row["n"] for row in by_status.order_by().values("level").annotate(n=Count("id"))}
    level_counts = [{"level": value, "label": label, "count": counted[value], "severity": SEVERITY[value]}
                    for value, label in sorted(RiskLevel.choices, key=lambda c: LEVEL_ORDER[c[0]])
                    if counted.get(value)]
    status_counted = {row["status"]: row["n"] for row in (scoped.filter(level=level) if level else scoped)
                      .order_by().values("status").annotate(n=Count("id"))}
    tabs = [("", _("全部"), sum(status_counted.values()))]
    tabs += [(value, label, status_counted.get(value, 0)) for value, label in ZoneStatus.choices
             if value in zones.PUBLIC_STATUSES or user.has_perm("tracing.add_controlzone")]
    rows = by_status.filter(level=level) if level else by_status
    rows = rows.select_related("area", "building", "pack").prefetch_related("cases", "rounds")
    page_obj = paginate(request, rows.order_by("status", "-last_case_at", "id"))
    facts = zones.facts_for(page_obj)  # the whole page at once: a fixed number of queries
    for zone in page_obj:
        _decorate(zone, user, facts[zone.pk])
    return render(request, "tracing/zone_list.html", {
        "page_obj": page_obj, "tabs": tabs, "status": status, "level": level, "level_counts": level_counts,
        "can_add": user.has_perm("tracing.add_controlzone"),
    })


@require_POST
@permission_required("tracing.add_controlzone", raise_exception=True)
def zone_propose(request):
    try:
        result = zones.propose_zones(request.user, request=request)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        text = _("新建议 %(n)s 个管控区域。") % {"n": len(result.created)}
        if result.updated:
            text += _("另有 %(n)s 个已有区域补充了病例。") % {"n": len(result.updated)}
        if not result.cases:
            text = _("近14天辖区内没有调查中的病例。") + text
        messages.success(request, text)
    return redirect("tracing:zones")


# drawing by hand -----------------------------------------------------------------------------------------
def _zone_form(request, zone=None):
    user = request.user
    try:
        pack = policy.active_pack()
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("tracing:zones")
    url = reverse("tracing:zone_edit", args=[zone.pk]) if zone else reverse("tracing:zone_new")
    if zone is not None:
        initial = {"level": zone.level, "area": zone.area_id, "building": zone.building_id, "name": zone.name,
                   "reason": zone.reason}
    else:
        initial = {"level": zones.levels_of(pack)[:1][0] if zones.levels_of(pack) else ""}
    if request.method == "GET" and request.GET.get("area"):
        initial["area"] = request.GET["area"]
    form = ZoneForm(request.POST if request.method == "POST" else None, initial=initial, user=user,
                    levels=zones.levels_of(pack), hx_url=url)
    if request.method == "POST" and form.is_valid():
        try:
            if zone is None:
                zone = zones.create_zone(user, form.cleaned_data, request=request)
                messages.success(request, _("已新建管控区域：%(name)s（待发布）。") % {"name": zone.name})
            else:
                zones.update_zone(user, zone, form.cleaned_data, request=request)
                messages.success(request, _("已保存管控区域：%(name)s。") % {"name": zone.name})
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            return redirect("tracing:zone", pk=zone.pk)
    title = _("修改管控区域") if zone else _("新建管控区域")
    return render(request, "tracing/zone_form.html", {"form": form, "title": title, "zone": zone, "pack": pack})


@permission_required("tracing.add_controlzone", raise_exception=True)
def zone_new(request):
    return _zone_form(request)


@permission_required("tracing.change_controlzone", raise_exception=True)
def zone_edit(request, pk):
    """Edit a zone; a POST with ``discard`` discards a proposed one instead."""
    zone = get_object_or_404(zones.zones_for(request.user, "change").select_related("area", "building"), pk=pk)
    if request.method == "POST" and "discard" in request.POST:
        form = DiscardForm(request.POST)
        form.is_valid()
        try:
            zones.discard_zone(request.user, zone, form.cleaned_data.get("reason", ""), request=request)
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, _("已放弃管控区域建议：%(name)s。") % {"name": zone.name})
        return redirect("tracing:zone", pk=zone.pk)
    if zone.status not in zones.ACTIVE_STATUSES:
        messages.error(request, _("已解除或已放弃的管控区域不能再修改。"))
        return redirect("tracing:zone", pk=zone.pk)
    return _zone_form(request, zone)


# one zone --------------------------------------------------------------------------------------------
def _get_zone(request, pk, action="view"):
    queryset = zones.zones_for(request.user, action).select_related("area", "building", "pack", "published_by")
    return get_object_or_404(queryset, pk=pk)


def _render_detail(request, zone, *, round_form=None, lift_form=None, status=200):
    user = request.user
    zone = _decorate(zone, user)
    can_change = user.has_perm("tracing.change_controlzone") and zones.zones_for(user, "change").filter(
        pk=zone.pk).exists()
    can_publish = user.has_perm("tracing.publish_controlzone") and zones.zones_for(user, "publish").filter(
        pk=zone.pk).exists()
    cases = None
    if user.has_perm("tracing.view_case"):
        cases = Case.objects.restrict(user, "view").filter(zones=zone).select_related("area").order_by("-created_at")
    return render(request, "tracing/zone_detail.html", {
        "zone": zone, "facts": zone.facts, "cases": cases, "rounds": zone.rounds.select_related("recorded_by"),
        "active": zone.status in zones.ACTIVE_STATUSES,
        "can_change": can_change, "can_publish": can_publish,
        "round_form": round_form or RoundForm(), "lift_form": lift_form or LiftForm(),
        "discard_form": DiscardForm(),
    }, status=status)


@permission_required("tracing.view_controlzone", raise_exception=True)
def zone_detail(request, pk):
    return _render_detail(request, _get_zone(request, pk))


@require_POST
@permission_required("tracing.publish_controlzone", raise_exception=True)
def zone_publish(request, pk):
    zone = _get_zone(request, pk, "publish")
    try:
        zones.publish_zone(request.user, zone, request=request)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("已发布管控区域：%(name)s。") % {"name": zone.name})
    return redirect("tracing:zone", pk=zone.pk)


@require_POST
@permission_required("tracing.publish_controlzone", raise_exception=True)
def zone_lift(request, pk):
    zone = _get_zone(request, pk, "publish")
    form = LiftForm(request.POST)
    if form.is_valid():
        before = zone.level
        try:
            zones.lift_zone(request.user, zone, reason=form.cleaned_data["reason"],
                            force=form.cleaned_data["force"], request=request)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            if zone.status == ZoneStatus.LIFTED:
                messages.success(request, _("已解除管控区域：%(name)s。") % {"name": zone.name})
            else:
                messages.success(request, _("%(name)s 已由%(old)s降为%(new)s。") % {
                    "name": zone.name, "old": zones.level_label(before), "new": zone.get_level_display()})
            return redirect("tracing:zone", pk=zone.pk)
    zone.refresh_from_db()
    return _render_detail(request, zone, lift_form=form)


@require_POST
@permission_required("tracing.change_controlzone", raise_exception=True)
def zone_round(request, pk):
    zone = _get_zone(request, pk, "change")
    form = RoundForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            zones.record_round(request.user, zone, data["day"], data["tested"], data["positives"], request=request)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("已记录 %(day)s 的区域核酸检测。") % {"day": data["day"].isoformat()})
            return redirect(reverse("tracing:zone", args=[zone.pk]) + "#rounds")
    return _render_detail(request, zone, round_form=form)
