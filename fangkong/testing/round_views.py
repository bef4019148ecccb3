"""The mass-testing round pages: the list and start form, one round's live coverage, the not-yet-sampled list.

Every read starts from a restricted queryset (out of scope is a 404); every
write is a POST to testing.rounds. On the not-yet-sampled list names follow
the people pages: field staff whose area holds the person (the grid worker
of that grid, the village and township officers above) see the name, the
others (supervisors, epidemiologists, site staff) a masked one.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields
from fangkong.core.pagination import paginate
from fangkong.core.scope import in_scope, prefix_q
from fangkong.people.identity import mask_name
from fangkong.tracing.models import ControlZone

from . import rounds
from .models import ExemptionReason, RoundStatus, TestRound

REQUIRED = {"required": _lazy("此项必填。")}
ACTIVE_ZONE_STATUSES = ("proposed", "published")


class AreaField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        parent = f"{obj.parent.name} " if obj.parent_id and obj.level == AreaLevel.VILLAGE else ""
        return f"{parent}{obj.name} · {obj.get_level_display()}"


class RoundForm(forms.Form):
    """Start a round: an area (county, township, village) or a control zone, a name and a time limit."""

    area = AreaField(label=_lazy("检测区域"), queryset=Area.objects.none(), to_field_name="code", required=False,
                     error_messages={"invalid_choice": _lazy("所选区划不在您的管辖范围内。")})
    zone = forms.ModelChoiceField(label=_lazy("或管控区域"), queryset=ControlZone.objects.none(), required=False,
                                  empty_label=_lazy("（不按管控区域）"),
                                  error_messages={"invalid_choice": _lazy("所选管控区域不存在或已解除。")})
    name = forms.CharField(label=_lazy("名称"), max_length=100, required=False,
                           help_text=_lazy("留空则按区域和轮次命名。"))
    hours = forms.IntegerField(label=_lazy("时限（小时）"), min_value=1, max_value=rounds.MAX_HOURS, initial=24,
                               error_messages=REQUIRED, help_text=_lazy("每轮一般须在 24 小时内完成。"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = Area.objects.restrict(user, "view").filter(
            level__in=[AreaLevel.COUNTY, AreaLevel.TOWNSHIP, AreaLevel.VILLAGE]).select_related("parent")
        self.fields["zone"].queryset = ControlZone.objects.restrict(user, "view").filter(
            status__in=ACTIVE_ZONE_STATUSES).order_by("area_id", "id")
        style_fields(self)

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("area") and not data.get("zone"):
            raise ValidationError(_("请选择检测区域或管控区域。"))
        return data


def _rounds(user):
    return rounds.rounds_for(user).select_related("area__parent", "zone", "created_by")


def _get_round(request, pk) -> TestRound:
    if not request.user.has_perm("testing.view_testround"):
        raise PermissionDenied
    return get_object_or_404(_rounds(request.user), pk=pk)


def _remaining(test_round: TestRound) -> dict:
    """Time left to the deadline: hours and minutes, or overdue."""
    seconds = int((test_round.deadline - timezone.now()).total_seconds())
    return {"overdue": seconds < 0, "hours": abs(seconds) // 3600, "minutes": abs(seconds) % 3600 // 60}


# The list and the start form ---------------------------------------------------------------------
@permission_required("testing.view_testround", raise_exception=True)
def round_list(request):
    user = request.user
    can_start = user.has_perm("testing.add_testround")
    form = None
    if request.method == "POST":
        if not can_start:
            raise PermissionDenied
        form = RoundForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                test_round = rounds.start_round(user, area=data["area"] if not data["zone"] else None,
                                                zone=data["zone"], name=data["name"], hours=data["hours"],
                                                request=request)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("已发起：%(name)s，截止 %(deadline)s。") % {
                    "name": test_round.name, "deadline": timezone.localtime(test_round.deadline).strftime("%m-%d %H:%M")})
                return redirect("testing:round", pk=test_round.pk)
        messages.error(request, _("未能发起检测轮次，请检查填写内容。"))
    elif can_start:
        form = RoundForm(user=user)
    status = request.GET.get("status", "")
    rows = _rounds(user)
    if status in RoundStatus.values:
        rows = rows.filter(status=status)
    return render(request, "testing/round_list.html", {
        "page_obj": paginate(request, rows), "form": form, "status": status, "statuses": RoundStatus.choices,
    }, status=400 if form is not None and form.is_bound else 200)


# One round ---------------------------------------------------------------------------------------
def _building_level(test_round: TestRound) -> bool:
    return bool(test_round.zone_id and test_round.zone.building_id) or test_round.area.level in (
        AreaLevel.VILLAGE, AreaLevel.GRID)


@permission_required("testing.view_testround", raise_exception=True)
def round_detail(request, pk):
    user = request.user
    test_round = _get_round(request, pk)
    coverage = rounds.coverage(test_round, by="grid")
    scope = user.scope_prefix
    if scope is not None and not in_scope(test_round.area_id, scope):
        # A worker inside a wider round sees the grids of their own area.
        coverage["rows"] = [r for r in coverage["rows"] if in_scope(r["key"], scope)]
    buildings = rounds.coverage(test_round, by="building") if _building_level(test_round) else None
    summary = rounds.summary(test_round)
    exemptions = [(label, summary["exemptions"][value]) for value, label in ExemptionReason.choices
                  if summary["exemptions"].get(value)]
    return render(request, "testing/round_detail.html", {
        "round": test_round, "coverage": coverage, "buildings": buildings, "summary": summary, "exemptions": exemptions,
        "remaining": _remaining(test_round), "is_open": test_round.status == RoundStatus.OPEN,
        "can_close": user.has_perm("testing.change_testround") and test_round.status == RoundStatus.OPEN
        and rounds.rounds_for(user, "change").filter(pk=test_round.pk).exists(),
        "can_exempt": user.has_perm("testing.add_roundexemption"),
    })


@require_POST
@permission_required("testing.change_testround", raise_exception=True)
def round_close(request, pk):
    test_round = _get_round(request, pk)
    try:
        rounds.close_round(request.user, test_round, request=request)
    except ValidationError as exc:
        messages.error(request, _("未能记录到管控区域：%(error)s") % {"error": "；".join(exc.messages)})
        return redirect("testing:round", pk=test_round.pk)
    messages.success(request, _("本轮检测已结束：%(name)s。") % {"name": test_round.name})
    return redirect("testing:round", pk=test_round.pk)


# Not yet sampled (不漏一人) -----------------------------------------------------------------------
def _may_see_names(user, person) -> bool:
    return user.has_perm("people.change_person") and in_scope(person.area_id, user.scope_prefix)


@permission_required("testing.view_testround", raise_exception=True)
def round_missing(request, pk):
    user = request.user
    test_round = _get_round(request, pk)
    people = rounds.missing(test_round, user)
    grid = request.GET.get("grid", "")
    if grid.isdigit():
        people = people.filter(prefix_q("area_id", grid))
    page_obj = paginate(request, people)
    for person in page_obj:
        person.shown_name = person.name if _may_see_names(user, person) else mask_name(person.name)
        person.shown_door = _may_see_names(user, person)
    grids = (Area.objects.filter(level=AreaLevel.GRID).filter(prefix_q("code", test_round.area.prefix))
             .filter(prefix_q("code", user.scope_prefix)).select_related("parent")
             if user.scope_prefix is None or len(user.scope_prefix) < 15 else Area.objects.none())
    return render(request, "testing/round_missing.html", {
        "round": test_round, "page_obj": page_obj, "grid": grid, "grids": grids[:300],
        "is_open": test_round.status == RoundStatus.OPEN, "remaining": _remaining(test_round),
        "can_exempt": user.has_perm("testing.add_roundexemption") and test_round.status == RoundStatus.OPEN,
        "reasons": ExemptionReason.choices,
    })


@require_POST
@permission_required("testing.add_roundexemption", raise_exception=True)
def round_exempt(request, pk):
    user = request.user
    test_round = _get_round(request, pk)
    person_id = request.POST.get("person", "")
    person = get_object_or_404(
        rounds.residents(test_round).filter(prefix_q("area_id", user.scope_prefix)),
        pk=person_id if person_id.isdigit() else 0)
    reason = request.POST.get("reason", "")
    try:
        exemption = rounds.exempt(user, test_round, person, reason, request.POST.get("note", ""), request=request)
    except ValidationError as exc:
        messages.error(request, _("未能记录：%(error)s") % {"error": "；".join(exc.messages)})
    else:
        label = ExemptionReason(exemption.reason).label
        name = person.name if _may_see_names(user, person) else mask_name(person.name)
        if exemption.task_id:
            messages.success(request, _("已记录 %(name)s：%(reason)s，已生成上门采样任务。") % {
                "name": name, "reason": label})
        else:
            messages.success(request, _("已记录 %(name)s：%(reason)s。") % {"name": name, "reason": label})
    target = redirect("testing:round_missing", pk=test_round.pk)
    grid = request.POST.get("grid", "")
    if grid.isdigit():
        target["Location"] += f"?grid={grid}"
    return target
