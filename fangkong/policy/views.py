"""Pages for the risk-area list and the policy packs. Everyone reads; HQ writes (services check again)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from fangkong.audit.choices import AuditAction
from fangkong.audit.models import AuditEvent
from fangkong.core.pagination import paginate
from fangkong.people.identity import mask_name
from fangkong.venues.models import VenueType

from . import imports, places, services
from .choices import SEVERITY, STAGE_ORDER, Category, Measure, RiskLevel, Stage
from .filtersets import RiskAreaFilterSet
from .forms import (
    ActivateForm,
    CopyPackForm,
    ImportForm,
    LiftForm,
    RiskAreaForm,
    RuleForm,
    ScanRulesForm,
    TracingRulesForm,
    attach_errors,
)
from .models import PolicyPack, PolicyRule, RiskArea

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEVEL_BADGES = {3: "text-bg-danger", 2: "text-bg-warning", 1: "text-bg-info"}


# Risk areas --------------------------------------------------------------------------------------
def _risk_filter(request, action="view"):
    """The list's filterset; with no active_on in the query the list shows the areas in force today."""
    data = request.GET.copy()
    if "active_on" not in data:
        data["active_on"] = timezone.localdate().isoformat()
    return RiskAreaFilterSet(data, queryset=RiskArea.objects.restrict(request.user, action))


def _level_counts(filterset) -> list[dict]:
    """How many areas of each level the list holds, the level filter left aside."""
    data = filterset.data.copy()
    data.pop("level", None)
    rows = (RiskAreaFilterSet(data, queryset=filterset.queryset).qs.order_by()
            .values("level").annotate(n=Count("id")))
    counts = {row["level"]: row["n"] for row in rows}
    return [{"level": value, "label": label, "count": counts.get(value, 0),
             "badge": LEVEL_BADGES[SEVERITY[value]]} for value, label in RiskLevel.choices if counts.get(value)]


def _decorate(area: RiskArea, today) -> RiskArea:
    area.badge = LEVEL_BADGES.get(SEVERITY.get(area.level), "text-bg-secondary")
    if area.effective_from > today:
        area.status, area.status_badge = _("未生效"), "text-bg-light"
    elif area.effective_to and area.effective_to < today:
        area.status, area.status_badge = _("已解除"), "text-bg-secondary"
    else:
        area.status, area.status_badge = _("有效"), "text-bg-success"
    return area


@permission_required("policy.view_riskarea", raise_exception=True)
def risk_area_list(request):
    filterset = _risk_filter(request)
    areas = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page_obj = paginate(request, areas)
    today = timezone.localdate()
    for area in page_obj:
        _decorate(area, today)
    return render(request, "policy/risk_area_list.html", {
        "filter": filterset, "page_obj": page_obj, "level_counts": _level_counts(filterset) if filterset.is_valid()
        else [], "active_on": parse_date(filterset.data.get("active_on") or ""), "today": today,
        "can_add": request.user.has_perm("policy.add_riskarea"),
    })


@require_GET
@permission_required("policy.view_riskarea", raise_exception=True)
def risk_area_export(request):
    filterset = _risk_filter(request)
    areas = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    response = HttpResponse(imports.export_xlsx(areas), content_type=XLSX)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = f"attachment; filename=\"risk-areas-{stamp}.xlsx\""
    return response


@require_GET
@permission_required("policy.view_riskarea", raise_exception=True)
@cache_control(private=True, max_age=3600)
def place_tree(request):
    """The province -> city -> county tree for the place picker (the same for everyone)."""
    return JsonResponse(places.picker_tree(), safe=False, json_dumps_params={"ensure_ascii": False})


def _get_area(request, pk, action="view") -> RiskArea:
    return get_object_or_404(RiskArea.objects.restrict(request.user, action), pk=pk)


FIELD_LABELS = {"place_code": _("地区编码"), "township": _("乡镇（街道）"), "level": _("风险等级"),
                "effective_from": _("生效日期"), "effective_to": _("解除日期"), "note": _("备注")}


def _history(events) -> list[dict]:
    """Audit events of a risk area with their changes in words: [(field, before, after)]."""
    levels = dict(RiskLevel.choices)
    empty = _("（空）")
    rows = []
    for event in events:
        changes = []
        for name, values in (event.changes or {}).items():
            if not isinstance(values, list) or len(values) != 2:
                continue
            before, after = values
            if name == "level":
                before, after = levels.get(before, before), levels.get(after, after)
            before = None if event.action == AuditAction.CREATE else (before or empty)
            changes.append((FIELD_LABELS.get(name, name), before, after or empty))
        rows.append({"event": event, "changes": changes})
    return rows


def _detail(request, area, lift_form=None, status=200):
    can_change = request.user.has_perm("policy.change_riskarea")
    return render(request, "policy/risk_area_detail.html", {
        "area": _decorate(area, timezone.localdate()), "place": places.lookup(area.place_code),
        "history": _history(services.risk_area_history(area)[:50]), "can_change": can_change,
        "lift_form": lift_form or (LiftForm() if can_change and not area.effective_to else None),
    }, status=status)


@require_GET
@permission_required("policy.view_riskarea", raise_exception=True)
def risk_area_detail(request, pk):
    return _detail(request, _get_area(request, pk))


@permission_required("policy.add_riskarea", raise_exception=True)
def risk_area_create(request):
    form = RiskAreaForm(request.POST or None, initial={"effective_from": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            area = services.save_risk_area(request.user, form.cleaned_data, request=request)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已加入风险地区名单：%(name)s。") % {"name": area})
            return redirect("policy:risk_area_detail", pk=area.pk)
    return render(request, "policy/risk_area_form.html", {"form": form, "title": _("新增风险地区")})


@permission_required("policy.change_riskarea", raise_exception=True)
def risk_area_edit(request, pk):
    area = _get_area(request, pk, "change")
    form = RiskAreaForm(request.POST or None, initial=RiskAreaForm.initial_for(area))
    if request.method == "POST" and form.is_valid():
        try:
            services.save_risk_area(request.user, form.cleaned_data, instance=area, request=request)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已保存。"))
            return redirect("policy:risk_area_detail", pk=area.pk)
    return render(request, "policy/risk_area_form.html", {"form": form, "area": area, "title": _("修改风险地区")})


@require_POST
@permission_required("policy.change_riskarea", raise_exception=True)
def risk_area_lift(request, pk):
    area = _get_area(request, pk, "change")
    form = LiftForm(request.POST)
    if form.is_valid():
        try:
            services.lift_risk_area(request.user, area, form.cleaned_data["effective_to"], request=request)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已解除：%(name)s，%(date)s 起不再列为风险地区。") % {
                "name": area.name, "date": form.cleaned_data["effective_to"].isoformat()})
            return redirect("policy:risk_area_detail", pk=area.pk)
    return _detail(request, area, lift_form=form, status=400)


@permission_required("policy.add_riskarea", raise_exception=True)
def risk_area_import(request):
    """Upload a list; on success the counts, else the problems row by row (and nothing written)."""
    form = ImportForm(request.POST or None, request.FILES or None)
    result = row_errors = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            parsed = imports.parse(upload)
        except imports.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            if parsed.errors:
                row_errors = parsed.errors
            else:
                result = services.import_risk_areas(request.user, [data for _row, data in parsed.rows],
                                                    filename=upload.name, request=request)
    status = 400 if row_errors or form.errors else 200
    return render(request, "policy/risk_area_import.html", {
        "form": form, "result": result, "row_errors": row_errors, "columns": imports.TEMPLATE_COLUMNS,
    }, status=status)


@require_GET
@permission_required("policy.add_riskarea", raise_exception=True)
def risk_area_template(request):
    response = HttpResponse(imports.template_xlsx(), content_type=XLSX)
    response["Content-Disposition"] = "attachment; filename=\"risk-areas-template.xlsx\""
    return response


# Packs -------------------------------------------------------------------------------------------
def stage_rows(stages: list[dict]) -> list[dict]:
    """A rule's stages for display: label, days, test days ('1、4、7、14')."""
    labels = dict(Stage.choices)
    return [{"label": labels.get(s["stage"], s["stage"]), "days": s["days"],
             "tests": "、".join(str(d) for d in s.get("test_days") or [])} for s in stages if s.get("days")]


def rule_rows(pack: PolicyPack) -> list[dict]:
    order = {value: index for index, value in enumerate(Category.values)}
    measures = dict(Measure.choices)
    rows = []
    for rule in sorted(pack.rules.all(), key=lambda r: order.get(r.category, 99)):
        rows.append({"rule": rule, "stages": stage_rows(rule.stages), "label": rule.label,
                     "arrival": "、".join(str(d) for d in rule.arrival_test_days or []),
                     "measure": measures.get(rule.measure, rule.measure)})
    return rows


def contact_rule_rows(pack: PolicyPack) -> list[dict]:
    """The pack's contact rules for display: the venue types with a rule of their own, then the default."""
    rules = pack.contact_rules or {}
    codes = [code for code in rules if code != "default"]
    types = {t.code: t for t in VenueType.objects.filter(code__in=codes)}
    order = sorted(codes, key=lambda code: (code not in types, types[code].sort_order if code in types else 0, code))
    rows = [{"code": code, "name": types[code].name if code in types else code,
             "dwell": types[code].dwell_minutes if code in types else None, **_rule_cells(rules[code])}
            for code in order]
    default = rules.get("default") or {"close_minutes": None, "companion": True}
    rows.append({"code": "default", "name": _("其他场所（默认）"), "dwell": None, "default": True,
                 **_rule_cells(default)})
    return rows


def _rule_cells(rule) -> dict:
    rule = rule if isinstance(rule, dict) else {}
    return {"close_minutes": rule.get("close_minutes"), "companion": bool(rule.get("companion", True))}


def zone_rule_rows(pack: PolicyPack) -> list[dict]:
    """The pack's zone levels, most severe first, with when each is lifted and what it becomes."""
    zones = pack.zone_rules or {}
    labels = dict(RiskLevel.choices)
    rows = []
    for level in zones.get("levels") or []:
        rule = zones.get(level) if isinstance(zones.get(level), dict) else {}
        then = rule.get("then") or ""
        rows.append({"level": level, "label": labels.get(level, level), "lift_days": rule.get("lift_days"),
                     "test_within_days": rule.get("test_within_days"), "then": then,
                     "then_label": labels.get(then, then)})
    return rows


def _missing_categories(pack: PolicyPack) -> list[str]:
    present = {r.category for r in pack.rules.all()}
    return [label for value, label in Category.choices if value not in present]


def _get_pack(request, pk, action="view") -> PolicyPack:
    return get_object_or_404(PolicyPack.objects.restrict(request.user, action).prefetch_related("rules"), pk=pk)


@require_GET
@permission_required("policy.view_policypack", raise_exception=True)
def pack_list(request):
    packs = PolicyPack.objects.restrict(request.user).select_related("copied_from").prefetch_related("rules")
    return render(request, "policy/pack_list.html", {
        "packs": [{"pack": pack, "rules": rule_rows(pack)} for pack in packs],
        "can_change": request.user.has_perm("policy.change_policypack"),
    })


@require_GET
@permission_required("policy.view_policypack", raise_exception=True)
def pack_detail(request, pk):
    pack = _get_pack(request, pk)
    history = AuditEvent.objects.filter(object_type="policy.policypack", object_id=str(pack.pk)).order_by("-id")[:20]
    return render(request, "policy/pack_detail.html", {
        "pack": pack, "rules": rule_rows(pack), "missing": _missing_categories(pack), "history": history,
        "contact_rules": contact_rule_rows(pack), "zone_rules": zone_rule_rows(pack),
        "scan_rules": scan_rule_rows(pack), "scan_colour": services.status_rules(pack)["venue_test"].get("colour"),
        "can_copy": request.user.has_perm("policy.add_policypack"),
        "can_edit": pack.editable and request.user.has_perm("policy.change_policypack"),
        "can_activate": pack.editable and request.user.has_perm("policy.activate_policypack"),
    })


@permission_required("policy.add_policypack", raise_exception=True)
def pack_copy(request, pk):
    pack = _get_pack(request, pk)
    initial = {"name": _("%(name)s（副本）") % {"name": pack.name}, "code": f"{pack.code}-copy"[:40]}
    form = CopyPackForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            copy = services.copy_pack(request.user, pack, **form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已复制为“%(name)s”，可修改其规则后预览、启用。") % {"name": copy.name})
            return redirect("policy:pack_detail", pk=copy.pk)
    return render(request, "policy/pack_copy.html", {"form": form, "pack": pack})


@permission_required("policy.change_policypack", raise_exception=True)
def rule_edit(request, pk):
    rule = get_object_or_404(PolicyRule.objects.select_related("pack").filter(
        pack__in=PolicyPack.objects.restrict(request.user, "change")), pk=pk)
    if not rule.pack.editable:
        messages.warning(request, _("启用中的策略不能直接修改，请先复制为新策略再编辑。"))
        return redirect("policy:pack_detail", pk=rule.pack_id)
    form = RuleForm(request.POST or None, initial=RuleForm.initial_for(rule))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_rule(request.user, rule, form.service_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已保存“%(category)s”的规则。") % {"category": rule.get_category_display()})
            return redirect("policy:pack_detail", pk=rule.pack_id)
    return render(request, "policy/rule_form.html", {"form": form, "rule": rule, "pack": rule.pack,
                                                     "stage_order": STAGE_ORDER})


@permission_required("policy.change_policypack", raise_exception=True)
def tracing_rules_edit(request, pk):
    """The pack's contact window, contact rules per venue type and zone lift rules (editable packs only)."""
    pack = _get_pack(request, pk, "change")
    if not pack.editable:
        messages.warning(request, _("启用中的策略不能直接修改，请先复制为新策略再编辑。"))
        return redirect("policy:pack_detail", pk=pack.pk)
    venue_types = VenueType.objects.filter(is_active=True).order_by("sort_order", "code")
    form = TracingRulesForm(request.POST or None, pack=pack, venue_types=venue_types)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_tracing_rules(request.user, pack, form.service_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已保存“%(name)s”的流调规则。") % {"name": pack.name})
            return redirect("policy:pack_detail", pk=pack.pk)
    return render(request, "policy/tracing_rules_form.html", {"form": form, "pack": pack},
                  status=400 if form.errors else 200)


@permission_required("policy.change_policypack", raise_exception=True)
def scan_rules_edit(request, pk):
    """The pack's door rule: which venue types admit only people with a recent negative test."""
    pack = _get_pack(request, pk, "change")
    if not pack.editable:
        messages.warning(request, _("启用中的策略不能直接修改，请先复制为新策略再编辑。"))
        return redirect("policy:pack_detail", pk=pack.pk)
    venue_types = VenueType.objects.filter(is_active=True).order_by("sort_order", "code")
    form = ScanRulesForm(request.POST or None, pack=pack, venue_types=venue_types)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_scan_rules(request.user, pack, form.service_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已保存“%(name)s”的场所查验规则。") % {"name": pack.name})
            return redirect("policy:pack_detail", pk=pack.pk)
    return render(request, "policy/scan_rules_form.html", {"form": form, "pack": pack},
                  status=400 if form.errors else 200)


def scan_rule_rows(pack: PolicyPack) -> list[dict]:
    """The venue types (and the default) that ask for a recent negative test at the door."""
    hours = services.status_rules(pack)["venue_test"].get("hours") or {}
    types = {t.code: t for t in VenueType.objects.filter(code__in=list(hours))}
    rows = [{"code": code, "name": types[code].name if code in types else code, "hours": value,
             "order": types[code].sort_order if code in types else 0}
            for code, value in hours.items() if code != "default" and value]
    rows.sort(key=lambda row: (row["order"], row["code"]))
    if hours.get("default"):
        rows.append({"code": "default", "name": _("其他场所（默认）"), "hours": hours["default"], "default": True})
    return rows


def _summary_message(pack, summary: dict) -> str:
    return _("已启用“%(name)s”。在管措施 %(orders)d 项：解除日期提前 %(earlier)d 项、延后 %(later)d 项、不变 "
             "%(unchanged)d 项、不再管控 %(ended)d 项。") % {"name": pack.name, **summary}


@permission_required("policy.activate_policypack", raise_exception=True)
def pack_activate(request, pk):
    """GET: what switching to this pack would do to every open measure; POST (with a reason): switch."""
    pack = _get_pack(request, pk, "activate")
    if not pack.editable:
        messages.info(request, _("该策略已是当前启用的策略。"))
        return redirect("policy:pack_detail", pk=pack.pk)
    form = ActivateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        summary = services.activate_pack(request.user, pack, reason=form.cleaned_data["reason"], request=request)
        messages.success(request, _summary_message(pack, summary))
        return redirect("policy:pack_detail", pk=pack.pk)
    preview = services.preview_pack(request.user, pack)
    outcomes = {"earlier": _("提前"), "later": _("延后"), "ended": _("不再管控"), "unchanged": _("不变")}
    categories = dict(Category.choices)
    for sample in preview["samples"]:
        sample["name_masked"] = mask_name(sample["person"])
        sample["outcome_label"] = outcomes.get(sample["outcome"], sample["outcome"])
        sample["category_label"] = categories.get(sample["category"], sample["category"])
    current = PolicyPack.objects.filter(is_active=True).first()
    return render(request, "policy/pack_activate.html", {
        "pack": pack, "current": current, "preview": preview, "form": form,
    }, status=400 if form.errors else 200)
