"""The point-to-point transfer pages: the list, planning one, one transfer with its steps.

Reads go through ``transfers.transfers_for`` (out of scope is a 404); every
write is a POST calling a function of ``transfers``. Drivers and escorts use
these pages on phones: one column, big buttons.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.pagination import paginate
from fangkong.people.identity import mask_name
from fangkong.policy.choices import OrderStatus, Stage

from . import transfers
from .access import orders_for
from .choices import TransferKind, TransferStatus
from .models import Stay, Transfer
from .transfer_forms import AcknowledgeForm, CancelForm, TransferForm

FLAGS = {"late": transfers.late_q, "overdue": transfers.overdue_q}


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return _("提交的内容有误。")


def _flag(rows, now) -> None:
    for row in rows:
        row.is_late = transfers.is_late(row, now)
        row.is_overdue = transfers.is_overdue(row, now)


@permission_required("quarantine.view_transfer", raise_exception=True)
def transfer_list(request):
    user = request.user
    now = timezone.now()
    visible = transfers.transfers_for(user)
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    flag = request.GET.get("flag", "")
    rows = visible.select_related("area", "to_site").annotate(people=Count("passengers"))
    if status in TransferStatus.values:
        rows = rows.filter(status=status)
    else:
        status = ""
    if kind in TransferKind.values:
        rows = rows.filter(kind=kind)
    else:
        kind = ""
    if flag in FLAGS:
        rows = rows.filter(FLAGS[flag](now))
    else:
        flag = ""
    page_obj = paginate(request, rows.order_by("-planned_at", "-id"))
    page_obj.object_list = list(page_obj.object_list)
    _flag(page_obj.object_list, now)
    return render(request, "quarantine/transfer_list.html", {
        "page_obj": page_obj, "status": status, "kind": kind, "flag": flag,
        "statuses": TransferStatus.choices, "kinds": TransferKind.choices,
        "counts": {"late": visible.filter(transfers.late_q(now)).count(),
                   "overdue": visible.filter(transfers.overdue_q(now)).count()},
        "can_add": user.has_perm("quarantine.add_transfer"),
    })


def _prefill(user, order_id) -> dict:
    """Initial values from a control order (?order=): the person, and where they are likely going."""
    order = orders_for(user).filter(pk=order_id, status=OrderStatus.ACTIVE).select_related("person").first() \
        if str(order_id).isdigit() else None
    if order is None:
        return {}
    person = order.person
    initial = {"people": [person.pk], "planned_at": timezone.localtime().replace(second=0, microsecond=0)}
    stay = (Stay.objects.restrict(user, "view").filter(person=person, checked_out_at__isnull=True)
            .select_related("site").first())
    if stay is not None:
        initial["from_place"] = stay.site.name
        if order.current_stage != Stage.CENTRALIZED:
            initial.update(kind=TransferKind.TO_HOME, to_place=person.address)
    else:
        initial["from_place"] = person.address
        if order.current_stage == Stage.CENTRALIZED:
            initial["kind"] = TransferKind.TO_SITE
    return initial


@permission_required("quarantine.add_transfer", raise_exception=True)
def transfer_new(request):
    user = request.user
    if request.method == "POST":
        form = TransferForm(request.POST, user=user)
        if form.is_valid():
            try:
                transfer = transfers.plan_transfer(user, form.service_data(), form.passengers(), request=request)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已安排转运 #%(id)s，计划 %(at)s 出发。") % {
                    "id": transfer.pk, "at": timezone.localtime(transfer.planned_at).strftime("%m-%d %H:%M")})
                return redirect("quarantine:transfer", pk=transfer.pk)
        messages.error(request, _("转运未保存：%(error)s") % {"error": _first_error(form)})
    else:
        form = TransferForm(user=user, initial=_prefill(user, request.GET.get("order", "")))
    shown = [{"pk": p.pk, "name": mask_name(p.name), "doc": p.doc_masked, "area": p.area.name}
             for p in form.shown_people()]
    return render(request, "quarantine/transfer_new.html", {"form": form, "shown_people": shown},
                  status=400 if form.is_bound else 200)


def _get(request, pk) -> Transfer:
    return get_object_or_404(transfers.transfers_for(request.user).select_related(
        "area", "to_site", "acknowledged_by", "created_by"), pk=pk)


@permission_required("quarantine.view_transfer", raise_exception=True)
def transfer_detail(request, pk):
    user = request.user
    transfer = _get(request, pk)
    now = timezone.now()
    _flag([transfer], now)
    seats = transfer.passengers.select_related("person__area", "order")
    passengers = [{"name": mask_name(s.person.name), "doc": s.person.doc_masked, "area": s.person.area.name,
                   "order": s.order, "stage": s.order.get_current_stage_display() if s.order else ""}
                  for s in seats]
    movable = transfers.may_move(user, transfer)
    receiver = transfers.may_acknowledge(user, transfer)
    status = transfer.status
    remaining = None
    if status == TransferStatus.ARRIVED and transfer.ack_deadline:
        seconds = int((transfer.ack_deadline - now).total_seconds())
        remaining = {"overdue": seconds < 0, "minutes": abs(seconds) // 60}
    return render(request, "quarantine/transfer_detail.html", {
        "transfer": transfer, "passengers": passengers, "remaining": remaining,
        "can_depart": movable and status == TransferStatus.PLANNED,
        "can_arrive": movable and status == TransferStatus.DEPARTED,
        "can_acknowledge": receiver and status in (TransferStatus.DEPARTED, TransferStatus.ARRIVED),
        "can_cancel": movable and status in (TransferStatus.PLANNED, TransferStatus.DEPARTED),
        "ack_form": AcknowledgeForm(), "cancel_form": CancelForm(),
    })


def _step(request, pk, action, done: str):
    transfer = _get(request, pk)
    try:
        action(transfer)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("quarantine:transfer", pk=transfer.pk)


@require_POST
@permission_required("quarantine.change_transfer", raise_exception=True)
def transfer_depart(request, pk):
    return _step(request, pk, lambda t: transfers.depart(request.user, t, request=request),
                 _("已登记出发。"))


@require_POST
@permission_required("quarantine.change_transfer", raise_exception=True)
def transfer_arrive(request, pk):
    return _step(request, pk, lambda t: transfers.arrive(request.user, t, request=request),
                 _("已登记到达，等待接收方确认交接。"))


@require_POST
@permission_required("quarantine.change_transfer", raise_exception=True)
def transfer_acknowledge(request, pk):
    form = AcknowledgeForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    return _step(request, pk, lambda t: transfers.acknowledge(request.user, t, note=note, request=request),
                 _("已确认交接（首接负责）。"))


@require_POST
@permission_required("quarantine.change_transfer", raise_exception=True)
def transfer_cancel(request, pk):
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _step(request, pk, lambda t: transfers.cancel(request.user, t, reason, request=request),
                 _("已取消转运。"))

