"""The staff side of arrivals: the list, one declaration and its follow-up, the checkpoint page.

Every read starts from a restricted queryset (out of scope is a 404); every
write is a call to declarations.services.
"""

import io
from datetime import datetime, time

import xlsxwriter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.core.scope import in_scope
from fangkong.policy import places
from fangkong.policy.choices import Category, Measure, RiskLevel, Stage
from fangkong.tasks.models import Task

from . import services
from .choices import DeclarationStatus, HealthCode, Source, Symptom, TestResult, Transport
from .filtersets import DeclarationFilterSet
from .forms import (
    ArriveForm,
    CheckpointForm,
    FirstTestForm,
    NotArrivedForm,
    OnSiteForm,
    ReceiptCheckForm,
)
from .models import Checkpoint, CheckpointPassage, Declaration


# The list and its export -------------------------------------------------------------------------
@permission_required("declarations.view_declaration", raise_exception=True)
def declaration_list(request):
    scoped = services.declarations_for(request.user)
    filterset = DeclarationFilterSet(request.GET or None, queryset=scoped)
    rows = filterset.qs.select_related("area__parent")
    # Counts by status under the other filters, for the status tabs.
    others = request.GET.copy()
    others.pop("status", None)
    others.pop("page", None)
    counted = DeclarationFilterSet(others or None, queryset=scoped).qs.order_by().values("status")
    counts = {row["status"]: row["n"] for row in counted.annotate(n=Count("id"))}
    tabs = [("", _("全部"), sum(counts.values()))]
    tabs += [(value, label, counts.get(value, 0)) for value, label in DeclarationStatus.choices]
    return render(request, "declarations/list.html", {
        "filter": filterset, "page_obj": paginate(request, rows), "tabs": tabs,
        "status": request.GET.get("status", ""),
        "risk_labels": _labels(RiskLevel.choices), "measure_labels": _labels(Measure.choices),
        "can_export": request.user.has_perm("declarations.export_declaration"),
        "can_checkpoint": request.user.has_perm("declarations.add_checkpointpassage"),
        "can_manage_checkpoints": request.user.has_perm("declarations.change_checkpoint"),
    })


EXPORT_HEADERS = ["回执码", "姓名", "身份证号码", "联系电话", "出发地", "出发地风险等级", "人员类别", "管控措施",
                  "交通方式", "车次/航班号", "车牌号", "计划到达时间", "目的地区划代码", "目的地", "目的地详细地址",
                  "状态", "到达时间", "落地检采样时间", "抗原结果", "核酸结果", "检测日期", "来源", "申报时间"]


def _labels(choices) -> dict:
    return {value: str(label) for value, label in choices}


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _export_rows(declarations):
    status, transport, source = _labels(DeclarationStatus.choices), _labels(Transport.choices), _labels(Source.choices)
    levels, categories = _labels(RiskLevel.choices), _labels(Category.choices)
    measures, results = _labels(Measure.choices), _labels(TestResult.choices)
    for d in declarations.iterator(chunk_size=2000):
        yield [
            d.receipt, d.name, d.doc_masked, d.phone_masked, d.origin_name, levels.get(d.risk_level, ""),
            categories.get(d.category, ""), measures.get(d.measure, ""), transport.get(d.transport, ""),
            d.transport_number, d.plate, _local(d.planned_arrival), d.area_id,
            f"{d.area.parent.name if d.area.parent else ''} {d.area.name}".strip(), d.address,
            status.get(d.status, ""), _local(d.arrived_at), _local(d.first_test_at), results.get(d.antigen_result, ""),
            results.get(d.pcr_result, ""), "、".join(d.test_dates), source.get(d.source, ""), _local(d.created_at),
        ]


@require_POST
@permission_required("declarations.export_declaration", raise_exception=True)
def declaration_export(request):
    """The filtered list as xlsx, masked; the export is audited. Large lists: narrow the filter first."""
    query = request.POST.get("query", "")
    filterset = DeclarationFilterSet(QueryDict(query), queryset=services.declarations_for(request.user, "export"))
    declarations = filterset.qs.select_related("area__parent").order_by("planned_arrival", "id")
    total = declarations.count()
    limit = settings.FANGKONG_EXPORT_INLINE_MAX_ROWS
    if total > limit:
        messages.error(request, _("筛选结果共 %(total)d 条，超过单次导出上限 %(limit)d 条，请按日期、状态或区划缩小范围后分批导出。")
                       % {"total": total, "limit": limit})
        return redirect(f"{reverse('declarations:list')}?{query}")
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("入返报备")
    sheet.write_row(0, 0, EXPORT_HEADERS, workbook.add_format({"bold": True}))
    written = 0
    for written, row in enumerate(_export_rows(declarations), start=1):
        sheet.write_row(written, 0, row)
    sheet.freeze_panes(1, 0)
    workbook.close()
    record_event(request.user, AuditAction.EXPORT, object_type="declarations.declaration",
                 object_repr=f"入返报备 {written} 条", changes={"query": query, "rows": written},
                 request=request, area_code=request.user.area_id or "")
    response = HttpResponse(buffer.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, f"入返报备_{timezone.localdate():%Y%m%d}.xlsx")
    return response


# One declaration and its follow-up ---------------------------------------------------------------
def _get_declaration(request, pk, action="view") -> Declaration:
    declarations = services.declarations_for(request.user, action).select_related(
        "area__parent", "person", "control_order", "arrival_confirmed_by", "pack")
    return get_object_or_404(declarations, pk=pk)


def _may_follow_up(user, declaration: Declaration) -> bool:
    return user.has_perm("declarations.change_declaration") and in_scope(declaration.area_id, user.scope_prefix)


def _render_detail(request, declaration: Declaration, *, open_form: str = "", **forms):
    tasks = Task.objects.restrict(request.user, "view").filter(
        subject_type=ContentType.objects.get_for_model(Declaration), subject_id=str(declaration.pk),
    ).select_related("area").order_by("-created_at", "-id")
    order = declaration.control_order
    context = {
        "declaration": declaration, "stops": declaration.stops.all(), "tasks": tasks,
        "passages": declaration.passages.select_related("checkpoint", "officer"),
        "evidence": [{**e, "level_label": _labels(RiskLevel.choices).get(e.get("level"), e.get("level"))}
                     for e in declaration.evidence],
        "symptoms": [_labels(Symptom.choices).get(s, s) for s in declaration.symptoms],
        "risk_label": RiskLevel(declaration.risk_level).label if declaration.risk_level else "",
        "category_label": Category(declaration.category).label if declaration.category else "",
        "measure_label": Measure(declaration.measure).label if declaration.measure else "",
        "order": order if order and request.user.has_perm("policy.view_controlorder") else None,
        "stages": _stages(order.stages) if order else [],
        "can_follow_up": _may_follow_up(request.user, declaration),
        "arrive_form": forms.get("arrive_form") or ArriveForm(),
        "first_test_form": forms.get("first_test_form") or FirstTestForm(),
        "not_arrived_form": forms.get("not_arrived_form") or NotArrivedForm(),
        "open_form": open_form,
    }
    return render(request, "declarations/detail.html", context)


def _stages(stages: list[dict]) -> list[dict]:
    labels = _labels(Stage.choices)
    return [{**s, "label": labels.get(s.get("stage"), s.get("stage"))} for s in stages]


@permission_required("declarations.view_declaration", raise_exception=True)
def declaration_detail(request, pk):
    declaration = _get_declaration(request, pk)
    record_event(request.user, AuditAction.VIEW, declaration, request=request)
    return _render_detail(request, declaration)


def _attach_errors(form, exc: ValidationError, aliases: dict | None = None) -> None:
    aliases = aliases or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        field = aliases.get(field, field)
        form.add_error(field if field in form.fields else None, errors)


def _follow_up(request, pk, form_class, form_key, call, done_message):
    declaration = _get_declaration(request, pk, "change")
    form = form_class(request.POST)
    if form.is_valid():
        try:
            call(declaration, form.cleaned_data)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, done_message)
            return redirect("declarations:detail", pk=declaration.pk)
    declaration.refresh_from_db()
    return _render_detail(request, declaration, open_form=form_key, **{form_key: form})


@require_POST
@permission_required("declarations.change_declaration", raise_exception=True)
def declaration_arrive(request, pk):
    def call(declaration, data):
        services.confirm_arrival(request.user, declaration, at=data["arrived_at"], note=data["note"], request=request)

    return _follow_up(request, pk, ArriveForm, "arrive_form", call, _("已确认到达。"))


@require_POST
@permission_required("declarations.change_declaration", raise_exception=True)
def declaration_first_test(request, pk):
    def call(declaration, data):
        services.record_first_test(request.user, declaration, sampled_at=data["sampled_at"], antigen=data["antigen"],
                                   pcr=data["pcr"], request=request)

    return _follow_up(request, pk, FirstTestForm, "first_test_form", call, _("已记录落地检。"))


@require_POST
@permission_required("declarations.change_declaration", raise_exception=True)
def declaration_not_arrived(request, pk):
    def call(declaration, data):
        services.mark_not_arrived(request.user, declaration, new_arrival=data["new_arrival"], note=data["note"],
                                  request=request)

    return _follow_up(request, pk, NotArrivedForm, "not_arrived_form", call, _("已记录未返回/改期。"))


# The checkpoint page -----------------------------------------------------------------------------
def _start_of_today() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


@permission_required("declarations.add_checkpointpassage", raise_exception=True)
def checkpoint(request):
    """Phone-first: pick the checkpoint, scan the receipt (or register on the spot), record, see the result."""
    user = request.user
    checkpoints = list(Checkpoint.objects.restrict(user, "view").filter(is_active=True).select_related("area"))
    chosen = request.POST.get("checkpoint") or request.GET.get("checkpoint") or ""
    selected = next((c for c in checkpoints if str(c.pk) == chosen), None)
    if selected is None and len(checkpoints) == 1 and not chosen:
        selected = checkpoints[0]
    mode = request.POST.get("mode") if request.method == "POST" else ""
    receipt_form = ReceiptCheckForm(request.POST if mode == "receipt" else None)
    onsite_form = OnSiteForm(request.POST if mode == "onsite" else None, user=user)
    if request.method == "POST":
        if selected is None:
            messages.error(request, _("请先选择所在卡点。"))
            return redirect("declarations:checkpoint")
        form = onsite_form if mode == "onsite" else receipt_form
        if mode in ("receipt", "onsite") and form.is_valid():
            data = form.cleaned_data
            try:
                passage = services.checkpoint_check(
                    user, selected, temperature=data["temperature"], health_code=data["health_code"],
                    receipt=data["receipt"] if mode == "receipt" else "",
                    data=form.declaration_data() if mode == "onsite" else None, note=data["note"], request=request)
            except ValidationError as exc:
                _attach_errors(form, exc, {"origin_code": "origin_province"})
            else:
                return redirect(f"{reverse('declarations:checkpoint')}?checkpoint={selected.pk}&passage={passage.pk}")
    passages = CheckpointPassage.objects.restrict(user, "view")
    result = None
    today = []
    if selected is not None:
        passage_id = request.GET.get("passage", "")
        if passage_id.isdigit():
            result = passages.filter(pk=passage_id, checkpoint=selected).select_related(
                "declaration__area__parent", "declaration__control_order").first()
        today = passages.filter(checkpoint=selected, passed_at__gte=_start_of_today()).select_related(
            "declaration")[:50]
    result_context = {}
    if result is not None:
        declaration = result.declaration
        result_context = {
            "result": result, "result_view": services.public_view(declaration),
            "result_risk": RiskLevel(declaration.risk_level).label if declaration.risk_level else "",
            "result_stages": _stages(declaration.control_order.stages) if declaration.control_order else [],
            "result_alert": result.is_fever or result.health_code != HealthCode.GREEN,
            "result_link": services.declarations_for(user).filter(pk=declaration.pk).exists(),
        }
    return render(request, "declarations/checkpoint.html", {
        "checkpoints": checkpoints, "selected": selected, "mode": mode, "receipt_form": receipt_form,
        "onsite_form": onsite_form, "today": today, "provinces": places.children(None),
        "origin_cities": _place_children(onsite_form.data.get("origin_province")),
        "origin_counties": _place_children(onsite_form.data.get("origin_city")),
        "fever": settings.FANGKONG_FEVER_CELSIUS, **result_context,
    })


def _place_children(code) -> list:
    code = str(code or "").strip()
    return places.children(code) if code and places.lookup(code) else []


@require_GET
@permission_required("declarations.add_declaration", raise_exception=True)
def place_options(request):
    """The <option>s under one place (province → cities, city → counties) for the origin picker (htmx)."""
    code = request.GET.get("origin_city") or request.GET.get("origin_province") or request.GET.get("parent")
    return render(request, "declarations/_place_options.html", {"places": _place_children(code)})


# Checkpoint management ---------------------------------------------------------------------------
@permission_required("declarations.change_checkpoint", raise_exception=True)
def checkpoint_list(request):
    since = _start_of_today()
    checkpoints = (Checkpoint.objects.restrict(request.user, "change").select_related("area")
                   .annotate(today=Count("passages", filter=Q(passages__passed_at__gte=since)))
                   .order_by("area_id", "name", "id"))
    return render(request, "declarations/checkpoint_list.html", {"page_obj": paginate(request, checkpoints)})


def _checkpoint_form(request, instance=None):
    form = CheckpointForm(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.save_checkpoint(request.user, form.save(commit=False), request=request)
        messages.success(request, _("已保存卡点：%(name)s。") % {"name": form.instance.name})
        return redirect("declarations:checkpoint_list")
    title = _("修改卡点") if instance else _("新增卡点")
    return render(request, "declarations/checkpoint_form.html", {"form": form, "title": title,
                                                                 "checkpoint": instance})


@permission_required("declarations.change_checkpoint", raise_exception=True)
def checkpoint_create(request):
    return _checkpoint_form(request)


@permission_required("declarations.change_checkpoint", raise_exception=True)
def checkpoint_edit(request, pk):
    return _checkpoint_form(request, get_object_or_404(Checkpoint.objects.restrict(request.user, "change"), pk=pk))


@require_POST
@permission_required("declarations.change_checkpoint", raise_exception=True)
def checkpoint_toggle(request, pk):
    item = get_object_or_404(Checkpoint.objects.restrict(request.user, "change"), pk=pk)
    item.is_active = not item.is_active
    services.save_checkpoint(request.user, item, request=request)
    text = _("已启用卡点：%(name)s。") if item.is_active else _("已停用卡点：%(name)s。")
    messages.success(request, text % {"name": item.name})
    return redirect("declarations:checkpoint_list")
