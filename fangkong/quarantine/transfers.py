"""Point-to-point transfers (点对点转运): planning, departure, arrival, the receiver's handover, escalation.

The receiving side answers for the people from the moment the vehicle
arrives (首接负责): arrival starts a clock (the active pack's
``transfer_ack_minutes``) and puts an acknowledgement task in the
receiver's inbox; a transfer still unacknowledged when the clock runs out
is escalated once, with a critical signal and a task one level up.

Who sees a transfer: the receiving area's staff (the transfer's ``area``),
the staff of the destination site, whoever planned it, and the staff of the
areas answering for its passengers' orders (the sending side).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.scope import prefix_q
from fangkong.people.identity import mask_name, normalize_document
from fangkong.people.models import Person, document_index
from fangkong.policy.choices import OrderStatus
from fangkong.policy.models import ControlOrder
from fangkong.tasks.choices import OPEN_STATUSES as OPEN_TASK_STATUSES
from fangkong.tasks.choices import TaskStatus
from fangkong.tasks.models import Task
from fangkong.tasks.services import OFFICER_ROLE_FOR_LEVEL, create_task
from fangkong.warning.choices import Severity, SignalKind

from .access import orders_for
from .choices import OPEN_TRANSFER_STATUSES, QuarantineTask, TransferKind, TransferStatus
from .models import QuarantineSite, Stay, Transfer, TransferPassenger

# A transfer still not on its way this long after its planned time is shown as late.
LATE_AFTER = timedelta(hours=2)
# How far in the past a transfer may be planned (recorded after the fact).
PLANNED_PAST_LIMIT = timedelta(days=1)
PLANNED_FUTURE_LIMIT = timedelta(days=30)
MAX_PASSENGERS = 60


class TransferConflict(ValidationError):
    """The transfer is not in a state that allows the step (answered 409 by the API)."""


# Who sees what ------------------------------------------------------------------------------------
def _active(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def transfers_for(user, action: str = "view"):
    """The transfers USER may see (view) or move on (change): receiving side, site staff, planner, sending side."""
    if not _active(user) or not user.has_perm(f"quarantine.{action}_transfer"):
        return Transfer.objects.none()
    prefix = user.scope_prefix
    sending = TransferPassenger.objects.filter(prefix_q("order__area_id", prefix)).values("transfer_id")
    site_staff = Transfer.objects.filter(to_site__staff=user).values("pk")
    return Transfer.objects.filter(
        prefix_q("area_id", prefix) | Q(created_by=user) | Q(pk__in=sending) | Q(pk__in=site_staff))


def receiving_transfers(user):
    """The transfers USER may acknowledge (首接负责): the receiving area in their scope, or their site."""
    if not _active(user) or not user.has_perm("quarantine.change_transfer"):
        return Transfer.objects.none()
    site_staff = Transfer.objects.filter(to_site__staff=user).values("pk")
    return Transfer.objects.filter(prefix_q("area_id", user.scope_prefix) | Q(pk__in=site_staff))


def may_move(user, transfer: Transfer) -> bool:
    """Whether USER may record departure and arrival, or cancel (either side, with the change permission)."""
    return transfers_for(user, "change").filter(pk=transfer.pk).exists()


def may_acknowledge(user, transfer: Transfer) -> bool:
    return receiving_transfers(user).filter(pk=transfer.pk).exists()


def eligible_people(user):
    """People USER may put on a transfer: in their area, under an order they see, or staying at their site."""
    if not _active(user):
        return Person.objects.none()
    orders = orders_for(user).filter(status=OrderStatus.ACTIVE).values("person_id")
    stays = Stay.objects.restrict(user, "view").filter(checked_out_at__isnull=True).values("person_id")
    in_area = Person.objects.restrict(user, "view").values("pk")
    return Person.objects.current().filter(Q(pk__in=in_area) | Q(pk__in=orders) | Q(pk__in=stays))


def find_by_document(queryset, value: str) -> Person | None:
    """The person of QUERYSET holding this ID number (any document type), else None."""
    number = normalize_document(value)
    if not number:
        return None
    from fangkong.people.choices import DocumentType

    indexes = [document_index(t, number) for t in DocumentType.values if t != DocumentType.NONE]
    return queryset.filter(doc_index__in=indexes).exclude(doc_index="").order_by("pk").first()


def active_order(person: Person) -> ControlOrder | None:
    return (ControlOrder.objects.filter(person=person, status=OrderStatus.ACTIVE)
            .select_related("area").order_by("-id").first())


def is_late(transfer: Transfer, now: datetime | None = None) -> bool:
    """Planned, and still not departed two hours after the planned time."""
    now = now or timezone.now()
    return transfer.status == TransferStatus.PLANNED and transfer.planned_at < now - LATE_AFTER


def is_overdue(transfer: Transfer, now: datetime | None = None) -> bool:
    """Arrived, and the receiver has not acknowledged within the time allowed."""
    now = now or timezone.now()
    return (transfer.status == TransferStatus.ARRIVED and transfer.ack_deadline is not None
            and transfer.ack_deadline < now)


def late_q(now: datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(status=TransferStatus.PLANNED, planned_at__lt=now - LATE_AFTER)


def overdue_q(now: datetime | None = None) -> Q:
    return Q(status=TransferStatus.ARRIVED, ack_deadline__lt=now or timezone.now())


# Helpers ----------------------------------------------------------------------------------------
def ack_minutes() -> int:
    from fangkong.policy.models import PolicyPack
    from fangkong.policy.services import quarantine_rules

    rules = quarantine_rules(PolicyPack.objects.filter(is_active=True).first())
    try:
        return max(1, int(rules.get("transfer_ack_minutes") or 60))
    except (TypeError, ValueError):
        return 60


def _label(transfer: Transfer) -> str:
    return _("%(kind)s #%(id)s") % {"kind": transfer.get_kind_display(), "id": transfer.pk}


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%m-%d %H:%M")


def _passenger_orders(transfer: Transfer) -> list[ControlOrder]:
    ids = transfer.passengers.exclude(order=None).values_list("order_id", flat=True)
    return list(ControlOrder.objects.filter(pk__in=list(ids)).order_by("pk"))


def _note_orders(transfer: Transfer, kind: str, text: str, user) -> None:
    from fangkong.policy.services import note_history

    for order in _passenger_orders(transfer):
        note_history(order, kind, text, user, transfer=transfer.pk)
        order.save(update_fields=["history", "updated_at"])


def _close_tasks(transfer: Transfer, user, status: str, note: str, now: datetime) -> None:
    tasks = Task.objects.filter(subject_type__app_label="quarantine", subject_type__model="transfer",
                                subject_id=str(transfer.pk), status__in=OPEN_TASK_STATUSES)
    for task in tasks:
        before = task.status
        task.status, task.result_note = status, note
        fields = ["status", "result_note"]
        if status == TaskStatus.DONE:
            task.completed_at, task.completed_by = now, user
            fields += ["completed_at", "completed_by"]
        task.save(update_fields=fields)
        record_event(user, AuditAction.UPDATE, task, object_repr=task.title, changes={"status": [before, status]})


def _receiver_role(transfer: Transfer) -> str:
    if transfer.kind == TransferKind.TO_SITE:
        return Role.SITE_STAFF
    if transfer.area.level == AreaLevel.TOWNSHIP:
        return Role.TOWNSHIP_OFFICER
    return OFFICER_ROLE_FOR_LEVEL.get(transfer.area.level, Role.TOWNSHIP_OFFICER)


def _passenger_summary(transfer: Transfer) -> str:
    names = [mask_name(p.person.name) for p in transfer.passengers.select_related("person")]
    return "、".join(names)


# Planning ---------------------------------------------------------------------------------------
def _text(data: dict, key: str, limit: int) -> str:
    return str(data.get(key) or "").strip()[:limit]


def _site(value) -> QuarantineSite | None:
    if value in (None, ""):
        return None
    if isinstance(value, QuarantineSite):
        return value
    try:
        return QuarantineSite.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        return None


def _clean_people(user, people, errors: dict) -> list[Person]:
    unique, seen = [], set()
    for person in people or ():
        if person is not None and person.pk not in seen:
            seen.add(person.pk)
            unique.append(person)
    if not unique:
        errors["people"] = _("请至少添加一名转运人员。")
        return []
    if len(unique) > MAX_PASSENGERS:
        errors["people"] = _("一趟转运最多 %(n)d 人。") % {"n": MAX_PASSENGERS}
        return []
    allowed = set(eligible_people(user).filter(pk__in=seen).values_list("pk", flat=True))
    outside = [p for p in unique if p.pk not in allowed]
    if outside:
        errors["people"] = _("人员不存在或不在您的管辖范围内：%(names)s。") % {
            "names": "、".join(mask_name(p.name) for p in outside)}
        return []
    busy = (TransferPassenger.objects.filter(person__in=unique, transfer__status__in=OPEN_TRANSFER_STATUSES)
            .select_related("person").order_by("transfer_id"))
    clashes = [_("%(name)s 已在另一趟未完成的转运中（#%(id)s）") % {"name": mask_name(b.person.name),
                                                             "id": b.transfer_id} for b in busy]
    if clashes:
        errors["people"] = "；".join(clashes) + _("。请先完成或取消那趟转运。")
        return []
    return unique


def _receiving_area(site: QuarantineSite | None, seats: list[tuple[Person, ControlOrder | None]],
                    errors: dict) -> Area | None:
    if site is not None:
        return site.area
    townships = {(order.area if order is not None else person.area).township() for person, order in seats}
    if len(townships) > 1:
        errors["people"] = _("这些人员分属不同乡镇（街道），接收方不同，请分开安排转运。")
        return None
    return townships.pop() if townships else None


@transaction.atomic
def plan_transfer(user, data: dict, people, *, request=None) -> Transfer:
    """Plan a transfer of PEOPLE (each with their active order, if any) as DATA describes.

    DATA: kind, from_place, to_place, to_site (a site or its id), vehicle, driver, driver_phone, escort,
    planned_at, note. The receiving area is the site's area for a transfer to a site, else the township
    of the passengers' orders (or homes).
    """
    if not _active(user) or not user.has_perm("quarantine.add_transfer"):
        raise PermissionDenied
    now = timezone.now()
    errors: dict = {}
    kind = str(data.get("kind") or "")
    if kind not in TransferKind.values:
        errors["kind"] = _("请选择转运类型。")
    site = _site(data.get("to_site"))
    if kind == TransferKind.TO_HOME:
        site = None
    elif data.get("to_site") not in (None, "") and site is None:
        errors["to_site"] = _("所选隔离点不存在。")
    if kind == TransferKind.TO_SITE and site is None and "to_site" not in errors:
        errors["to_site"] = _("送往隔离点须选择目的隔离点。")
    if site is not None and not site.is_active:
        errors["to_site"] = _("隔离点“%(name)s”已停用，不能接收人员。") % {"name": site.name}
    from_place = _text(data, "from_place", 200)
    to_place = _text(data, "to_place", 200) or (site.name if site is not None else "")
    if not from_place:
        errors["from_place"] = _("请填写出发地。")
    if not to_place:
        errors["to_place"] = _("请填写目的地。")
    vehicle = normalize_document(data.get("vehicle"))[:20]
    if not vehicle:
        errors["vehicle"] = _("请填写车辆号牌。")
    elif len(vehicle) < 5:
        errors["vehicle"] = _("车辆号牌不完整，请核对。")
    driver = _text(data, "driver", 50)
    if not driver:
        errors["driver"] = _("请填写驾驶员姓名。")
    driver_phone = ""
    if data.get("driver_phone"):
        from fangkong.people.identity import validate_phone

        try:
            driver_phone = validate_phone(data.get("driver_phone"))
        except ValidationError as exc:
            errors["driver_phone"] = exc.messages[0]
    planned_at = data.get("planned_at")
    if not isinstance(planned_at, datetime):
        errors["planned_at"] = _("请填写计划出发时间。")
    else:
        if timezone.is_naive(planned_at):
            planned_at = timezone.make_aware(planned_at)
        if planned_at < now - PLANNED_PAST_LIMIT:
            errors["planned_at"] = _("计划出发时间不能早于一天前。")
        elif planned_at > now + PLANNED_FUTURE_LIMIT:
            errors["planned_at"] = _("计划出发时间不能晚于30天后。")
    chosen = _clean_people(user, people, errors)
    seats = [(person, active_order(person)) for person in chosen]
    area = _receiving_area(site, seats, errors) if seats and "to_site" not in errors else None
    if seats and area is None and not errors:
        errors["people"] = _("无法确定接收方，请核对人员所属区划。")
    if errors:
        raise ValidationError(errors)
    transfer = Transfer.objects.create(
        kind=kind, area=area, from_place=from_place, to_place=to_place, to_site=site, vehicle=vehicle,
        driver=driver, driver_phone=driver_phone, escort=_text(data, "escort", 100), planned_at=planned_at,
        note=_text(data, "note", 200), created_by=user, updated_by=user)
    TransferPassenger.objects.bulk_create(
        [TransferPassenger(transfer=transfer, person=person, order=order) for person, order in seats])
    _note_orders(transfer, "transfer_planned", _("安排点对点转运 #%(id)s：%(from)s → %(to)s，车辆 %(vehicle)s，"
                                                  "计划 %(at)s 出发") % {
        "id": transfer.pk, "from": from_place, "to": to_place, "vehicle": vehicle, "at": _when(planned_at)}, user)
    record_event(user, AuditAction.CREATE, transfer, request=request, object_repr=_label(transfer), changes={
        "kind": kind, "area": area.code, "to_site": site.pk if site else None, "vehicle": vehicle,
        "planned_at": planned_at.isoformat(), "people": [p.pk for p in chosen]})
    return transfer


# Moving ---------------------------------------------------------------------------------------
def _lock(transfer: Transfer) -> Transfer:
    return Transfer.objects.select_for_update(of=("self",)).select_related("area", "to_site").get(pk=transfer.pk)


def _refresh(target: Transfer, source: Transfer) -> Transfer:
    for field in Transfer._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    return target


@transaction.atomic
def depart(user, transfer: Transfer, now: datetime | None = None, *, request=None) -> Transfer:
    """The vehicle left with the people."""
    if not may_move(user, transfer):
        raise PermissionDenied
    now = now or timezone.now()
    locked = _lock(transfer)
    if locked.status != TransferStatus.PLANNED:
        raise TransferConflict(_("只有待出发的转运可以登记出发（当前：%(status)s）。") % {
            "status": locked.get_status_display()}, code="conflict")
    locked.status, locked.departed_at, locked.updated_by = TransferStatus.DEPARTED, now, user
    locked.save(update_fields=["status", "departed_at", "updated_by", "updated_at"])
    record_event(user, AuditAction.UPDATE, locked, request=request, object_repr=_label(locked),
                 changes={"status": [TransferStatus.PLANNED, TransferStatus.DEPARTED],
                          "departed_at": [None, now.isoformat()]})
    return _refresh(transfer, locked)


def _arrive(user, locked: Transfer, now: datetime) -> None:
    minutes = ack_minutes()
    locked.status, locked.arrived_at, locked.updated_by = TransferStatus.ARRIVED, now, user
    locked.ack_deadline = now + timedelta(minutes=minutes)
    locked.save(update_fields=["status", "arrived_at", "ack_deadline", "updated_by", "updated_at"])
    create_task(
        kind=QuarantineTask.TRANSFER_ACK, area=locked.area,
        role=_receiver_role(locked), deadline=locked.ack_deadline, subject=locked, created_by=user,
        title=_("转运交接：%(to)s（%(n)d 人）") % {"to": locked.to_place[:60], "n": locked.passengers.count()},
        description=_("车辆 %(vehicle)s（驾驶员 %(driver)s）已于 %(at)s 到达，请在 %(minutes)d 分钟内确认交接"
                      "（首接负责）。人员：%(people)s。") % {
            "vehicle": locked.vehicle, "driver": locked.driver, "at": _when(now), "minutes": minutes,
            "people": _passenger_summary(locked)})


@transaction.atomic
def arrive(user, transfer: Transfer, now: datetime | None = None, *, request=None) -> Transfer:
    """The vehicle arrived: the receiver's clock starts and the handover task goes to their inbox."""
    if not may_move(user, transfer):
        raise PermissionDenied
    now = now or timezone.now()
    locked = _lock(transfer)
    if locked.status == TransferStatus.PLANNED:
        raise TransferConflict(_("转运尚未出发，请先登记出发。"), code="conflict")
    if locked.status != TransferStatus.DEPARTED:
        raise TransferConflict(_("只有转运中的转运可以登记到达（当前：%(status)s）。") % {
            "status": locked.get_status_display()}, code="conflict")
    if locked.departed_at and now < locked.departed_at:
        raise ValidationError({"arrived_at": _("到达时间不能早于出发时间。")})
    _arrive(user, locked, now)
    record_event(user, AuditAction.UPDATE, locked, request=request, object_repr=_label(locked),
                 changes={"status": [TransferStatus.DEPARTED, TransferStatus.ARRIVED],
                          "arrived_at": [None, now.isoformat()], "ack_deadline": [None, locked.ack_deadline.isoformat()]})
    return _refresh(transfer, locked)


@transaction.atomic
def acknowledge(user, transfer: Transfer, now: datetime | None = None, *, note: str = "", request=None) -> Transfer:
    """The receiving side takes the people over (首接负责).

    Only staff of the receiving area (or of the destination site) may do it. A
    transfer to a site is only handed over here: checking in to rooms is the
    site's own step.
    """
    if not may_acknowledge(user, transfer):
        raise PermissionDenied
    now = now or timezone.now()
    locked = _lock(transfer)
    if locked.status == TransferStatus.CANCELLED:
        raise TransferConflict(_("该转运已取消，不能确认交接。"), code="conflict")
    if locked.status == TransferStatus.ACKNOWLEDGED:
        raise TransferConflict(_("该转运已确认交接，不能重复确认。"), code="conflict")
    if locked.status == TransferStatus.PLANNED:
        raise TransferConflict(_("车辆尚未出发，不能确认交接。"), code="conflict")
    before = locked.status
    if locked.status == TransferStatus.DEPARTED:
        # The receiver takes the people over before the escort recorded the arrival: it arrived now.
        locked.arrived_at, locked.ack_deadline = now, now + timedelta(minutes=ack_minutes())
    late = locked.ack_deadline is not None and now > locked.ack_deadline
    locked.status, locked.acknowledged_at, locked.acknowledged_by = TransferStatus.ACKNOWLEDGED, now, user
    locked.updated_by = user
    note = (note or "").strip()[:200]
    locked.save(update_fields=["status", "arrived_at", "ack_deadline", "acknowledged_at", "acknowledged_by",
                               "updated_by", "updated_at"])
    who = str(user)
    _close_tasks(locked, user, TaskStatus.DONE, _("已确认交接（%(who)s）。") % {"who": who}, now)
    _note_orders(locked, "transfer_acknowledged", _("点对点转运 #%(id)s 已交接：%(to)s，接收人 %(who)s，%(at)s%(late)s") % {
        "id": locked.pk, "to": locked.to_place, "who": who, "at": _when(now),
        "late": _("（超时）") if late else ""}, user)
    record_event(user, AuditAction.UPDATE, locked, request=request, object_repr=_label(locked), reason=note,
                 changes={"status": [before, TransferStatus.ACKNOWLEDGED], "acknowledged_at": [None, now.isoformat()],
                          "late": late})
    return _refresh(transfer, locked)


@transaction.atomic
def cancel(user, transfer: Transfer, reason: str, *, request=None) -> Transfer:
    """Call off a transfer not yet arrived, with a reason."""
    if not may_move(user, transfer):
        raise PermissionDenied
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写取消原因。")})
    locked = _lock(transfer)
    if locked.status == TransferStatus.CANCELLED:
        raise TransferConflict(_("该转运已取消。"), code="conflict")
    if locked.status in (TransferStatus.ARRIVED, TransferStatus.ACKNOWLEDGED):
        raise TransferConflict(_("车辆已到达，不能取消；请接收方确认交接。"), code="conflict")
    before = locked.status
    locked.status, locked.updated_by = TransferStatus.CANCELLED, user
    locked.note = _("已取消：%(reason)s") % {"reason": reason}
    locked.note = locked.note[:200]
    locked.save(update_fields=["status", "note", "updated_by", "updated_at"])
    _close_tasks(locked, user, TaskStatus.CANCELLED, reason, timezone.now())
    _note_orders(locked, "transfer_cancelled", _("点对点转运 #%(id)s 已取消：%(reason)s") % {
        "id": locked.pk, "reason": reason[:100]}, user)
    record_event(user, AuditAction.UPDATE, locked, request=request, object_repr=_label(locked), reason=reason,
                 changes={"status": [before, TransferStatus.CANCELLED]})
    return _refresh(transfer, locked)


# Escalation -------------------------------------------------------------------------------------
def escalate_unacknowledged(now: datetime | None = None) -> int:
    """Escalate, once, every arrived transfer not acknowledged by its deadline. Returns how many.

    Each gets a critical signal in the receiving area and a task for the
    officers one level up (HQ when the receiving area is the county).
    """
    from fangkong.warning.services import raise_signal

    now = now or timezone.now()
    due = (Transfer.objects.filter(status=TransferStatus.ARRIVED, ack_deadline__lt=now, escalated_at__isnull=True)
           .select_related("area__parent", "to_site").order_by("ack_deadline", "id"))
    count = 0
    for transfer in due:
        with transaction.atomic():
            claimed = Transfer.objects.filter(pk=transfer.pk, status=TransferStatus.ARRIVED,
                                              escalated_at__isnull=True).update(escalated_at=now)
            if not claimed:
                continue
            transfer.escalated_at = now
            area = transfer.area
            target = area.parent or area
            role = OFFICER_ROLE_FOR_LEVEL.get(target.level, Role.HQ_STAFF)
            minutes = int((now - transfer.ack_deadline).total_seconds() // 60) + ack_minutes()
            passengers = list(transfer.passengers.select_related("person"))
            title = _("转运超时未交接：%(to)s（%(n)d 人），车辆 %(vehicle)s") % {
                "to": transfer.to_place[:60], "n": len(passengers), "vehicle": transfer.vehicle}
            raise_signal(
                SignalKind.TRANSFER_UNACKNOWLEDGED, title=title, area=area, subject=transfer,
                person=passengers[0].person if len(passengers) == 1 else None, severity=Severity.CRITICAL,
                occurred_at=now, details={
                    "transfer": transfer.pk, "kind": transfer.kind, "arrived_at": transfer.arrived_at.isoformat(),
                    "ack_deadline": transfer.ack_deadline.isoformat(), "minutes_since_arrival": minutes,
                    "people": [p.person_id for p in passengers]})
            create_task(
                kind=QuarantineTask.TRANSFER_ACK, area=target, role=role, subject=transfer,
                deadline=now + timedelta(minutes=ack_minutes()),
                title=_("督办：%(title)s") % {"title": title},
                description=_("车辆于 %(at)s 到达%(area)s，超过交接时限（%(deadline)s）仍无人确认交接。"
                              "请督促接收方立即交接，防止漏管失控。人员：%(people)s。") % {
                    "at": _when(transfer.arrived_at), "area": area.name, "deadline": _when(transfer.ack_deadline),
                    "people": _passenger_summary(transfer)})
            record_event(None, AuditAction.UPDATE, transfer, object_repr=_label(transfer),
                         changes={"escalated_at": [None, now.isoformat()], "escalated_to": target.code},
                         reason=_("超时未交接，自动上报上一级"))
            count += 1
    return count
