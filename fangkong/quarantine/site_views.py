"""The site pages: the list with occupancy, one site's room grid, check-in and check-out (phone-friendly), a new
site (HQ) and the occupancy board.

Every read starts from sites.sites_for / access.orders_for (out of scope is a 404); every write is a POST to
quarantine.sites. Names on these pages are masked: staff find people by ID number.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.people.identity import mask_name
from fangkong.people.models import Person
from fangkong.people.selectors import search_q
from fangkong.policy.choices import OrderStatus, Stage

from . import sites
from .access import orders_for
from .models import QuarantineSite, Room, Stay
from .site_forms import CheckInForm, CheckOutForm, SiteForm

WAITING_SHOWN = 30


def _get_site(request, pk) -> QuarantineSite:
    return get_object_or_404(sites.sites_for(request.user).select_related("area"), pk=pk)


def _figures(user, site: QuarantineSite) -> dict:
    board = sites.occupancy(user, sites=QuarantineSite.objects.filter(pk=site.pk))
    return board["sites"][0] if board["sites"] else {}


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return _("提交的内容有误。")


# The list and the board --------------------------------------------------------------------------
@permission_required("quarantine.view_quarantinesite", raise_exception=True)
def site_list(request):
    user = request.user
    board = sites.occupancy(user, sites=sites.sites_for(user))
    return render(request, "quarantine/site_list.html", {
        "board": board, "can_add": user.has_perm("quarantine.add_quarantinesite"),
    })


@permission_required("quarantine.view_quarantinesite", raise_exception=True)
def occupancy_board(request):
    return render(request, "quarantine/occupancy.html", {"board": sites.occupancy(request.user)})


# One site ----------------------------------------------------------------------------------------
def _floors(site: QuarantineSite, user) -> list[dict]:
    """Floor by floor (top floor first), room by room, bed by bed: free, or who is in it (masked)."""
    today = timezone.localdate()
    show_people = user.has_perm("quarantine.view_stay")
    stays = {}
    for stay in sites.open_stays(site).select_related("person").order_by():
        stays[(stay.room_id, stay.bed)] = stay
    floors: dict[int, list] = {}
    for room in site.rooms.order_by("floor", "number"):
        beds = []
        for bed in range(1, room.beds + 1):
            stay = stays.pop((room.pk, bed), None)
            entry = {"bed": bed, "stay": None}
            if stay is not None:
                entry.update(stay=stay, day=sites.stay_day(stay, today),
                             name=mask_name(stay.person.name) if show_people else _("已入住"),
                             category=sites.category_label(stay.category) if show_people else "")
            beds.append(entry)
        floors.setdefault(room.floor, []).append({"room": room, "beds": beds,
                                                  "occupied": sum(1 for b in beds if b["stay"])})
    return [{"floor": floor, "rooms": rooms} for floor, rooms in sorted(floors.items(), reverse=True)]


@permission_required("quarantine.view_quarantinesite", raise_exception=True)
def site_detail(request, pk):
    user = request.user
    site = _get_site(request, pk)
    return render(request, "quarantine/site_detail.html", {
        "site": site, "floors": _floors(site, user), "figures": _figures(user, site),
        "can_check_in": user.has_perm("quarantine.add_stay") and site.is_active,
        "can_check_out": user.has_perm("quarantine.add_stay"),
        "can_change": user.has_perm("quarantine.change_quarantinesite") and sites.may_act_on(user, site, "change"),
    })


@require_POST
@permission_required("quarantine.change_quarantinesite", raise_exception=True)
def room_service(request, pk):
    room = get_object_or_404(Room.objects.filter(site__in=sites.sites_for(request.user, "change")), pk=pk)
    out = request.POST.get("out_of_service") == "1"
    try:
        sites.set_room_out_of_service(request.user, room, out, request.POST.get("note", ""), request=request)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, (_("房间 %(number)s 已停用。") if out else _("房间 %(number)s 已恢复使用。")) % {
            "number": room.number})
    return redirect("quarantine:site", pk=room.site_id)


# A new site (HQ) ---------------------------------------------------------------------------------
@permission_required("quarantine.add_quarantinesite", raise_exception=True)
def site_new(request):
    user = request.user
    if request.method == "POST":
        form = SiteForm(request.POST, user=user)
        if form.is_valid():
            try:
                site = sites.create_site(user, form.site_data(), form.rooms_spec(), request=request)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("已新增隔离点：%(name)s。") % {"name": site.name})
                return redirect("quarantine:site", pk=site.pk)
        messages.error(request, _("隔离点未保存：%(error)s") % {"error": _first_error(form)})
        return render(request, "quarantine/site_new.html", {"form": form}, status=400)
    return render(request, "quarantine/site_new.html", {"form": SiteForm(user=user)})


# Check-in ----------------------------------------------------------------------------------------
def waiting_orders(user):
    """Orders USER may see, in force, in centralized quarantine, whose person is not in a site yet."""
    in_site = Stay.objects.filter(checked_out_at__isnull=True).values("person_id")
    return (orders_for(user).filter(status=OrderStatus.ACTIVE, current_stage=Stage.CENTRALIZED)
            .exclude(person_id__in=in_site))


def _search(user, q: str):
    orders = waiting_orders(user).select_related("person")
    condition = search_q(q) if q else None
    if condition is not None:
        orders = orders.filter(person_id__in=Person.objects.filter(condition).values("id"))
    return orders.order_by("start_date", "id")


def _order_row(order) -> dict:
    return {"order": order, "name": mask_name(order.person.name), "doc": order.person.doc_masked,
            "category": sites.category_label(order.category)}


@permission_required("quarantine.add_stay", raise_exception=True)
def site_check_in(request, pk):
    user = request.user
    site = _get_site(request, pk)
    if not site.is_active:
        messages.error(request, _("该隔离点已停用，不能办理入住。"))
        return redirect("quarantine:site", pk=site.pk)
    q = request.GET.get("q", "").strip()
    status = 200
    form = None
    order = None
    if request.method == "POST":
        form = CheckInForm(request.POST, site=site)
        if form.is_valid():
            order = get_object_or_404(waiting_orders(user).select_related("person"), pk=form.cleaned_data["order"])
            try:
                stay = sites.check_in(user, site, order, form.cleaned_data["room"], form.cleaned_data["bed"],
                                      request=request)
            except ValidationError as exc:
                status = 409 if any(e.code == sites.DOUBLE_BOOKED for e in exc.error_list) else 400
                _apply_errors(form, exc)
            else:
                messages.success(request, _("%(name)s 已入住 %(number)s 房间 %(bed)d 号床。") % {
                    "name": mask_name(order.person.name), "number": stay.room.number, "bed": stay.bed})
                return redirect("quarantine:site", pk=site.pk)
        else:
            status = 400
            order_id = request.POST.get("order", "")
            if order_id.isdigit():
                order = waiting_orders(user).select_related("person").filter(pk=order_id).first()
    else:
        order_id = request.GET.get("order", "")
        if order_id.isdigit():
            order = get_object_or_404(waiting_orders(user).select_related("person"), pk=order_id)
            form = CheckInForm(initial={"order": order.pk}, site=site)
    suggestions = sites.suggest_rooms(site, order) if order is not None else []
    if form is not None and order is not None and not form.is_bound and suggestions:
        form.initial.update(room=suggestions[0].room.pk, bed=suggestions[0].bed)
    candidates = [] if order is not None else [_order_row(o) for o in _search(user, q)[:WAITING_SHOWN]]
    return render(request, "quarantine/site_check_in.html", {
        "site": site, "q": q, "candidates": candidates, "selected": _order_row(order) if order else None,
        "suggestions": suggestions, "form": form,
    }, status=status)


# Check-out ---------------------------------------------------------------------------------------
@permission_required("quarantine.add_stay", raise_exception=True)
def stay_check_out(request, pk):
    user = request.user
    stay = get_object_or_404(
        Stay.objects.filter(site__in=sites.sites_for(user)).select_related("site", "room", "person", "order"), pk=pk)
    if stay.checked_out_at is not None:
        messages.info(request, _("该人员已离开。"))
        return redirect("quarantine:site", pk=stay.site_id)
    status = 200
    if request.method == "POST":
        form = CheckOutForm(request.POST)
        if form.is_valid():
            try:
                sites.check_out(user, stay, form.cleaned_data["left_to"], form.cleaned_data["room_sample"] or None,
                                request=request)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("%(name)s 已离开 %(number)s 房间。") % {
                    "name": mask_name(stay.person.name), "number": stay.room.number})
                return redirect("quarantine:site", pk=stay.site_id)
        status = 400
    else:
        form = CheckOutForm()
    return render(request, "quarantine/site_check_out.html", {
        "stay": stay, "site": stay.site, "name": mask_name(stay.person.name), "form": form,
        "day": sites.stay_day(stay), "category": sites.category_label(stay.category),
    }, status=status)


@require_POST
@permission_required("quarantine.add_stay", raise_exception=True)
def stay_room_sample(request, pk):
    """The room's environment sample, recorded before the person leaves (release may need it negative)."""
    user = request.user
    stay = get_object_or_404(Stay.objects.filter(site__in=sites.sites_for(user)).select_related("room"), pk=pk)
    result = request.POST.get("room_sample", "")
    try:
        sites.record_room_sample(user, stay, result, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已记录 %(number)s 房间环境采样结果。") % {"number": stay.room.number})
    return redirect("quarantine:site", pk=stay.site_id)
