"""The home-care pages (五包一): my people, one person's care page, its POSTs, the supervisors' random calls.

Every order is looked up through ``access.orders_for`` (area staff by scope,
a care member through the team): anything else is a 404. Names and phones
are in full for the person's team and the area's field staff; others (a
supervisor, site staff) see the name masked. Writes are calls to
quarantine.care.
"""

import random
from datetime import datetime, time

import segno
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.choices import Role
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.people.identity import mask_name
from fangkong.people.models import Person
from fangkong.people.selectors import search_q
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder
from fangkong.policy.services import quarantine_rules

from . import care
from .access import orders_for
from .care_forms import CallForm, CheckForm, MemberForm, VisitForm
from .choices import CheckSource, Symptom, VisitKind
from .models import CareMember, HomeVisit, MissedCheck

CALL_SAMPLE_SIZE = 20
CALLS_SESSION_KEY = "quarantine_calls_seed"


def _start_of_today() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _sees_in_full(user, order: ControlOrder, on_team: bool | None = None) -> bool:
    """The team and the area's field staff see the name, address and phone; others a masked name."""
    if on_team is None:
        on_team = care.on_team(user, order)
    return on_team or (user.has_perm("people.change_person")
                       and ControlOrder.objects.restrict(user, "view").filter(pk=order.pk).exists())


def _first_error(exc: ValidationError) -> str:
    return exc.messages[0] if exc.messages else _("提交的内容有误。")


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _get_order(request, pk, action: str = "view") -> ControlOrder:
    if not request.user.has_perm("quarantine.view_caremember"):
        raise PermissionDenied
    return get_object_or_404(orders_for(request.user, action).select_related("person__household__building", "area",
                                                                            "pack"), pk=pk)


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


# My people ---------------------------------------------------------------------------------------
@permission_required("quarantine.view_caremember", raise_exception=True)
def care_list(request):
    user = request.user
    query = request.GET.get("q", "").strip()[:40]
    mine = request.GET.get("mine") == "1"
    stage = request.GET.get("stage", "")
    since = _start_of_today()
    rows = ControlOrder.objects.filter(pk__in=care.home_orders(user).values("pk"))
    if query:
        condition = search_q(query)
        if condition is not None:
            rows = rows.filter(person_id__in=Person.objects.filter(condition).values("id"))
    if mine:
        rows = rows.filter(care_members__user=user)
    if stage in care.HOME_STAGES:
        rows = rows.filter(current_stage=stage)
    rows = rows.select_related("person", "area", "pack").annotate(
        checks_today=Count("health_checks", filter=Q(health_checks__taken_at__gte=since), distinct=True),
        fevers_today=Count("health_checks", filter=Q(health_checks__taken_at__gte=since, health_checks__fever=True),
                           distinct=True),
        missed_today=Exists(MissedCheck.objects.filter(order=OuterRef("pk"), day=timezone.localdate())),
        on_team=Exists(CareMember.objects.filter(order=OuterRef("pk"), user=user)),
    ).order_by("area_id", "person__name", "id")
    page_obj = paginate(request, rows)
    staff = user.has_perm("people.change_person")
    rules = {}
    for order in page_obj:
        expected = rules.setdefault(order.pack_id, len(quarantine_rules(order.pack).get("check_hours") or []))
        order.checks_expected = expected
        order.display_name = order.person.name if (order.on_team or staff) else mask_name(order.person.name)
    return render(request, "quarantine/care_list.html", {
        "page_obj": page_obj, "q": query, "mine": mine, "stage": stage,
        "stages": [(s, Stage(s).label) for s in care.HOME_STAGES],
        "can_call": user.has_perm("quarantine.add_homevisit") and user.role == Role.SUPERVISOR,
    })


# One person's care page --------------------------------------------------------------------------
def _visit_kinds(user) -> list[str]:
    if user.role == Role.SUPERVISOR:
        return [VisitKind.CALL]
    return [VisitKind.DOOR_CHECK, VisitKind.VIOLATION]


def _care_page(request, order: ControlOrder, *, check_form=None, visit_form=None, member_form=None, status=200):
    user = request.user
    members = care.team(order)
    on_team = any(m.user_id == user.pk for m in members)
    full = _sees_in_full(user, order, on_team)
    person = order.person
    if full:
        record_event(user, AuditAction.VIEW, person, request=request, reason=_("五包一包保页面"))
    may_record = order.status == OrderStatus.ACTIVE
    can_check = may_record and user.has_perm("quarantine.add_healthcheck")
    can_visit = may_record and user.has_perm("quarantine.add_homevisit")
    can_team = may_record and user.has_perm("quarantine.change_caremember") and orders_for(user, "change").filter(
        pk=order.pk).exists()
    link = qr = ""
    if full and may_record:
        link = request.build_absolute_uri(reverse("quarantine_self_check", args=[care.self_check_token(order)]))
        qr = mark_safe(segno.make(link, error="m").svg_inline(scale=1, omitsize=True, svgclass="fk-qr"))
    rules = quarantine_rules(order.pack)
    today = care.checks_today(order)
    stages = [{**s, "label": Stage(s["stage"]).label if s["stage"] in Stage.values else s["stage"],
               "current": s["stage"] == order.current_stage} for s in order.stages]
    household = person.household
    return render(request, "quarantine/care_detail.html", {
        "order": order, "person": person, "full": full, "on_team": on_team,
        "name": person.name if full else mask_name(person.name),
        "phone": person.phone if full else person.phone_masked,
        "address": (person.address or (str(household) if household else "")) if full else "",
        "members": members, "stages": stages,
        "checks": order.health_checks.select_related("recorded_by")[:40],
        "today_count": today.count(), "expected": len(rules.get("check_hours") or []),
        "check_hours": rules.get("check_hours") or [], "fever_celsius": rules.get("fever_celsius"),
        "missed": order.missed_checks.all()[:10],
        "visits": order.visits.select_related("recorded_by")[:10],
        "symptom_labels": dict(Symptom.choices),
        "check_form": check_form or (CheckForm() if can_check else None),
        "visit_form": visit_form or (VisitForm(kinds=_visit_kinds(user)) if can_visit else None),
        "member_form": member_form or (MemberForm(roles=care.care_roles(order), accounts=care.team_accounts(order))
                                       if can_team else None),
        "self_link": link, "self_qr": qr,
    }, status=status)


def care_detail(request, order_pk):
    order = _get_order(request, order_pk)
    return _care_page(request, order)


@require_POST
def care_check(request, order_pk):
    order = _get_order(request, order_pk)
    if not request.user.has_perm("quarantine.add_healthcheck"):
        raise PermissionDenied
    form = CheckForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        source = CheckSource.STAFF if request.user.role == Role.SITE_STAFF else CheckSource.CARE
        try:
            check = care.record_check(request.user, order, data["temperature"], data["symptoms"], data["note"],
                                      source=source)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if check.fever:
                messages.warning(request, _("已记录：%(t)s℃，发热！已向包保医生（或村社区）发出处置任务。") % {
                    "t": check.temperature})
            else:
                messages.success(request, _("已记录：%(t)s℃。") % {"t": check.temperature})
            return redirect(_safe_next(request, reverse("quarantine:care", args=[order.pk])))
    messages.error(request, _("未能记录健康监测，请检查填写内容。"))
    return _care_page(request, order, check_form=form, status=400)


@require_POST
def care_visit(request, order_pk):
    order = _get_order(request, order_pk)
    user = request.user
    if not user.has_perm("quarantine.add_homevisit"):
        raise PermissionDenied
    back = reverse("quarantine:care", args=[order.pk])
    target = _safe_next(request, back)
    form = VisitForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            visit = care.record_visit(user, order, data["kind"], data["outcome"], data["note"], photo=data["photo"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if visit.kind == VisitKind.VIOLATION:
                messages.warning(request, _("已记录违规外出，已发出预警并通知村（社区）处置。"))
            else:
                messages.success(request, _("已记录：%(kind)s，%(outcome)s。") % {
                    "kind": visit.get_kind_display(), "outcome": visit.get_outcome_display()})
            return redirect(target)
    if target != back:
        errors = [e for errors in form.errors.values() for e in errors]
        messages.error(request, _("未能记录：%(error)s") % {"error": errors[0] if errors else ""})
        return redirect(target)
    messages.error(request, _("未能记录，请检查填写内容。"))
    return _care_page(request, order, visit_form=form, status=400)


@require_POST
def care_member(request, order_pk):
    if not request.user.has_perm("quarantine.change_caremember"):
        raise PermissionDenied
    order = _get_order(request, order_pk, "change")
    form = MemberForm(request.POST, roles=care.care_roles(order), accounts=care.team_accounts(order))
    if form.is_valid():
        data = form.cleaned_data
        try:
            member = care.set_member(request.user, order, data["role"], data["name"], data["phone"],
                                     account=data["account"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("已指定%(role)s：%(name)s。") % {"role": member.role_label, "name": member.name})
            return redirect("quarantine:care", order.pk)
    messages.error(request, _("未能指定包保人员，请检查填写内容。"))
    return _care_page(request, order, member_form=form, status=400)


# Random calls ------------------------------------------------------------------------------------
def _calls_seed(request) -> int:
    """One sample per supervisor per day, until they ask for another batch."""
    today = timezone.localdate().isoformat()
    saved = request.session.get(CALLS_SESSION_KEY) or {}
    if request.GET.get("new") == "1" or saved.get("day") != today:
        saved = {"day": today, "seed": random.SystemRandom().randrange(1, 2**31)}
        request.session[CALLS_SESSION_KEY] = saved
    return saved["seed"]


@permission_required("quarantine.add_homevisit", raise_exception=True)
def calls(request):
    user = request.user
    if not user.has_perm("quarantine.view_caremember"):
        raise PermissionDenied
    sample = care.sample_for_calls(user, size=CALL_SAMPLE_SIZE, seed=_calls_seed(request))
    called = {}
    for visit in HomeVisit.objects.filter(order__in=[o.pk for o in sample], kind=VisitKind.CALL,
                                          happened_at__gte=_start_of_today()).order_by("happened_at"):
        called[visit.order_id] = visit
    staff = user.has_perm("people.change_person")
    rows = [{"order": o, "name": o.person.name if staff else mask_name(o.person.name), "phone": o.person.phone,
             "call": called.get(o.pk)} for o in sample]
    if sample:
        record_event(user, AuditAction.VIEW, object_type="policy.controlorder", object_repr=_("督导抽查名单"),
                     request=request, changes={"orders": [None, [o.pk for o in sample]]},
                     reason=_("督导组随机抽查"))
    return render(request, "quarantine/care_calls.html", {
        "rows": rows, "form": CallForm(), "done": len(called), "total": len(rows),
        "calls_url": reverse("quarantine:calls"),
    })
