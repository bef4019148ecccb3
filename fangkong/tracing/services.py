"""Tracing workflows: register a case, its trajectory, discover, review and dispatch contacts.

Pages, the API and jobs call these; each writes its audit row. Contact
discovery itself is ``engine`` (no web code); what a contact must do is the
active policy pack's (``policy.services.impose_measure``), never decided here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.choices import Role
from fangkong.audit.choices import AuditAction
from fangkong.audit.services import diff, record_event
from fangkong.core.jobs import start_job
from fangkong.people.models import Person
from fangkong.policy import services as policy
from fangkong.policy.models import PolicyPack
from fangkong.tasks.choices import OPEN_STATUSES
from fangkong.tasks.services import cancel_task, create_task
from fangkong.venues.models import CheckIn, Venue
from fangkong.warning.choices import Severity
from fangkong.warning.services import raise_signal

from . import chains, engine
from .choices import (
    CATEGORY_OF_KIND,
    KIND_RANK,
    CaseStatus,
    Classification,
    ContactKind,
    ContactStatus,
    Rule,
)
from .models import Case, Contact, TrajectoryEntry

TASK_KIND = "contact_control"
BULK_BATCH = 500
# What a re-run of discovery rewrites on a contact it found before.
UPDATED_FIELDS = ["found_kind", "evidence", "summary", "first_exposure", "last_exposure", "is_case", "area_id",
                  "kind"]
CASE_FIELDS = ["classification", "severity", "onset_date", "sampled_at", "result_at", "diagnosed_at",
               "isolated_at", "reported_at", "card_number", "reporting_unit", "reporting_doctor",
               "residence", "occupation", "note"]


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(_("无权进行此操作。"))


def _snapshot(case: Case) -> dict:
    return {name: str(getattr(case, name) or "") for name in CASE_FIELDS}


# cases ------------------------------------------------------------------------------------------
def clean_case(data: dict) -> dict:
    """Check the dates of a case against each other; returns the data to store."""
    errors = {}
    now = timezone.now()
    if data.get("classification") not in Classification.values:
        errors["classification"] = _("请选择病例分类。")
    onset = data.get("onset_date")
    if data.get("classification") == Classification.CONFIRMED and onset is None and not data.get("sampled_at"):
        errors["onset_date"] = _("确诊病例请填写发病日期或采样时间。")
    if onset and onset > timezone.localdate():
        errors["onset_date"] = _("发病日期不能晚于今天。")
    for name in ("sampled_at", "result_at", "diagnosed_at", "isolated_at", "reported_at"):
        value = data.get(name)
        if value and value > now + timedelta(minutes=5):
            errors[name] = _("时间不能晚于当前时间。")
    if data.get("sampled_at") and data.get("result_at") and data["result_at"] < data["sampled_at"]:
        errors["result_at"] = _("阳性结果时间不能早于采样时间。")
    if errors:
        raise ValidationError(errors)
    return {name: data[name] for name in CASE_FIELDS if name in data}


def _next_number(day) -> str:
    prefix = f"BL{day:%Y%m%d}"
    taken = Case.objects.filter(number__startswith=prefix).count()
    return f"{prefix}-{taken + 1:03d}"


def register_case(user, person: Person, data: dict, request=None, *, trace: bool = True) -> Case:
    """Make PERSON a case; the reporting clock starts. Links it to the case it was a contact of.

    Contact discovery starts by itself in the background (TRACE); the
    epidemiologist re-runs it after adding to the trajectory.
    """
    _require(user, "tracing.add_case")
    if not Person.objects.restrict(user, "view").filter(pk=person.pk).exists():
        raise PermissionDenied(_("该人员不在您的管辖范围内。"))
    if Case.objects.filter(person=person).exclude(status=CaseStatus.EXCLUDED).exists():
        raise ValidationError(_("该人员已登记为病例。"))
    values = clean_case(data)
    for attempt in range(5):
        try:
            with transaction.atomic():
                case = Case(person=person, area=person.area, created_by=user, **values)
                case.number = _next_number(timezone.localdate())
                if attempt:
                    case.number += f"-{attempt}"
                case.save()
                break
        except IntegrityError:
            continue
    else:  # pragma: no cover - five clashes in a row
        raise ValidationError(_("病例编号冲突，请重试。"))
    record_event(user, AuditAction.CREATE, case, changes=diff({}, _snapshot(case)), request=request)
    Contact.objects.filter(person=person).update(is_case=True)
    chains.link_to_source(case)
    raise_signal("new_case", title=_("新增%(kind)s %(number)s") % {
        "kind": case.get_classification_display(), "number": case.number},
        area=case.area, person=person, subject=case, severity=Severity.CRITICAL)
    if trace:
        start_trace(user, case)
    return case


def update_case(user, case: Case, data: dict, request=None) -> Case:
    _require(user, "tracing.change_case")
    before = _snapshot(case)
    values = clean_case({**{name: getattr(case, name) for name in CASE_FIELDS}, **data})
    for name, value in values.items():
        setattr(case, name, value)
    case.save()
    changes = diff(before, _snapshot(case))
    if changes:
        record_event(user, AuditAction.UPDATE, case, changes=changes, request=request)
    return case


def record_view(user, case: Case, what: str, request=None) -> None:
    """Trajectories and contact evidence are sensitive: every look is audited."""
    record_event(user, AuditAction.VIEW, case, reason=what, request=request)


def window_of(case: Case, pack: PolicyPack | None = None, now: datetime | None = None):
    pack = pack or policy.active_pack()
    return case.window(pack.contact_window_days, now)


# trajectory --------------------------------------------------------------------------------------
def trajectory(case: Case, pack: PolicyPack | None = None) -> list[dict]:
    """The case's movements in the window: check-ins (scan .. scan + dwell) and interview entries, by time."""
    start, end = window_of(case, pack)
    rows = (CheckIn.objects.filter(person_id=case.person_id, scanned_at__gte=start, scanned_at__lte=end)
            .order_by("scanned_at").values_list("venue_id", "scanned_at"))
    checkins = list(rows)
    entries = list(case.entries.select_related("venue", "venue__type", "venue__area"))
    venues = Venue.objects.select_related("type", "area").in_bulk({v for v, _ in checkins})
    items = []
    for venue_id, at in checkins:
        venue = venues.get(venue_id)
        if venue is None:
            continue
        items.append({"source": "scan", "start": at, "end": at + timedelta(minutes=venue.dwell),
                      "venue": venue, "place": venue.name, "activity": venue.type.name, "entry": None})
    for entry in entries:
        items.append({"source": "interview", "start": entry.start, "end": entry.end, "venue": entry.venue,
                      "place": entry.place or (entry.venue.name if entry.venue else ""),
                      "activity": entry.activity, "companions": entry.companions, "entry": entry})
    items.sort(key=lambda item: (item["start"], item["source"]))
    return items


def add_entry(user, case: Case, data: dict, request=None) -> TrajectoryEntry:
    _require(user, "tracing.change_case")
    if not data.get("venue") and not (data.get("place") or "").strip():
        raise ValidationError({"place": _("请选择场所或填写地点。")})
    if data["end"] < data["start"]:
        raise ValidationError({"end": _("结束时间不能早于开始时间。")})
    entry = TrajectoryEntry.objects.create(case=case, created_by=user, **{
        k: data.get(k) or ("" if k != "venue" else None)
        for k in ("venue", "place", "start", "end", "activity", "companions")})
    record_event(user, AuditAction.UPDATE, case, changes={"trajectory": ["", str(entry)]}, request=request)
    return entry


def delete_entry(user, entry: TrajectoryEntry, request=None) -> None:
    _require(user, "tracing.change_case")
    case = entry.case
    record_event(user, AuditAction.UPDATE, case, changes={"trajectory": [str(entry), ""]}, request=request)
    entry.delete()


# discovery ---------------------------------------------------------------------------------------------
def _summary(evidence: list[dict], secondary: bool) -> str:
    """The one line a grid worker sees: why, never who or the case's movements."""
    who = _("密接者") if secondary else _("病例")
    for wanted in (Rule.HOUSEHOLD, Rule.WORKPLACE, Rule.VENUE_CLOSE, Rule.VENUE_COMPANION, Rule.INTERVIEW):
        for item in evidence:
            if item["rule"] != wanted:
                continue
            if wanted == Rule.HOUSEHOLD:
                return _("与%(who)s同住") % {"who": who}
            if wanted == Rule.WORKPLACE:
                return _("与%(who)s同单位/同班级") % {"who": who}
            if wanted == Rule.INTERVIEW:
                return _("流调访谈中确认的密切接触者")
            return _("与%(who)s同时段在%(venue)s") % {"who": who, "venue": item["venue"]}
    return _("流调判定")


def case_index(case: Case, pack: PolicyPack, now=None) -> engine.Index:
    start, end = window_of(case, pack, now)
    extra = tuple(
        engine.Presence(e.venue_id, e.start, e.end, "interview")
        for e in case.entries.filter(venue__isnull=False, end__gte=start, start__lte=end)
    )
    return engine.Index(case.pk, case.person_id, start, end, extra)


def discover(case: Case, pack: PolicyPack | None = None, now=None) -> dict[int, engine.Link]:
    """Close contacts and companions of the case, then the secondary contacts of its close contacts.

    Returns {person_id: link} with the secondary links' ``key`` set to the
    person id of the close contact they were reached through.
    """
    pack = pack or policy.active_pack()
    now = now or timezone.now()
    rules = engine.RuleSet(pack.contact_rules)
    first = {pid: link for (_key, pid), link in engine.close_and_companions([case_index(case, pack, now)],
                                                                         rules).items()}
    found = dict(first)
    if policy.rule_for(pack, CATEGORY_OF_KIND[ContactKind.SECONDARY]) is None:
        return found  # the pack no longer identifies secondary contacts (二十条)
    isolated = dict(Contact.objects.filter(case=case, dispatched_at__isnull=False)
                    .values_list("person_id", "dispatched_at"))
    indexes = [engine.Index(pid, pid, link.first, max(link.first, isolated.get(pid, now)))
               for pid, link in first.items() if link.kind == ContactKind.CLOSE]
    for (via, pid), link in engine.secondaries(indexes, rules).items():
        if pid == case.person_id:
            continue
        link.evidence = [{**item, "via": via} for item in link.evidence]
        if pid in found:
            found[pid].absorb(link)
        else:
            found[pid] = link
    return found


@transaction.atomic
def trace_case(case: Case, user=None, now=None, progress=None) -> dict:
    """Run discovery for CASE and store the result as its contact list.

    A re-run updates the evidence and the system's kind; what the reviewer
    decided (status, a downgraded kind) stays; an automatic contact no longer
    found and not yet reviewed goes; interview contacts always stay.
    """
    pack = policy.active_pack()
    now = now or timezone.now()
    if progress:
        progress(0, 3)
    links = discover(case, pack, now)
    if progress:
        progress(1, 3, found=len(links))
    existing = {c.person_id: c for c in case.contacts.all()}
    people = Person.objects.in_bulk(links.keys())
    case_people = set(Case.objects.filter(person_id__in=links.keys()).exclude(status=CaseStatus.EXCLUDED)
                      .values_list("person_id", flat=True))
    via_contacts: dict[int, Contact] = {}
    created = updated = 0
    # Two passes, written in bulk: close contacts and companions first, so that the secondary
    # contacts of the second pass can point at the close contact they came through.
    for secondary in (False, True):
        new, changed = [], []
        for pid, link in links.items():
            person = people.get(pid)
            if (link.kind == ContactKind.SECONDARY) != secondary or person is None or person.merged_into_id:
                continue
            contact = existing.get(pid)
            manual_evidence = [e for e in (contact.evidence if contact else []) if e["rule"] == Rule.INTERVIEW]
            evidence = manual_evidence + engine.jsonable(link.evidence)
            values = {
                "found_kind": link.kind, "evidence": evidence, "summary": _summary(evidence, secondary)[:200],
                "first_exposure": link.first, "last_exposure": link.last, "is_case": pid in case_people,
                "area_id": person.area_id,
            }
            if secondary:
                via_pid = next((e["via"] for e in link.evidence if "via" in e), None)
                values["via"] = via_contacts.get(via_pid) or existing.get(via_pid)
            if contact is None:
                contact = Contact(case=case, person=person, kind=link.kind, found_at=now, **values)
                new.append(contact)
            else:
                for name, value in values.items():
                    setattr(contact, name, value)
                if contact.status == ContactStatus.PROPOSED:  # the reviewer's decision stays
                    contact.kind = ContactKind.CLOSE if manual_evidence else link.kind
                changed.append(contact)
            via_contacts[pid] = contact
        Contact.objects.bulk_create(new, batch_size=BULK_BATCH)
        Contact.objects.bulk_update(changed, [*UPDATED_FIELDS, "via"] if secondary else UPDATED_FIELDS,
                                    batch_size=BULK_BATCH)
        created += len(new)
        updated += len(changed)
    gone = [c.pk for pid, c in existing.items()
            if pid not in links and not c.manual and c.status == ContactStatus.PROPOSED]
    removed = Contact.objects.filter(pk__in=gone).delete()[0] if gone else 0
    case.traced_at = now
    case.save(update_fields=["traced_at", "updated_at"])
    chains.link_found_cases(case)
    counts = dict(case.contacts.values_list("kind").annotate(n=Count("id")))
    result = {"created": created, "updated": updated, "removed": removed,
              **{kind: counts.get(kind, 0) for kind in ContactKind.values}}
    record_event(user, AuditAction.UPDATE, case, changes={"contacts": ["", str(result)]},
                 reason=_("密接自动研判"))
    if progress:
        progress(3, 3, **result)
    return result


def start_trace(user, case: Case):
    """Contact discovery as a background job; returns the job (its id is what the API answers)."""
    _require(user, "tracing.change_case")
    # No area on the job: its title names the case, and jobs are visible to anyone in their area.
    job = start_job(user, "tracing.trace", _("密接研判：%(number)s") % {"number": case.number},
                    "fangkong.tracing.services.run_trace_job", area_code="", case_id=case.pk,
                    user_id=user.pk)
    Case.objects.filter(pk=case.pk).update(trace_job=job)
    return job


def run_trace_job(job, progress, case_id: int, user_id: int | None = None) -> dict:
    from fangkong.accounts.models import User

    case = Case.objects.get(pk=case_id)
    user = User.objects.filter(pk=user_id).first()
    result = trace_case(case, user=user, progress=progress)
    return {"url": case.get_absolute_url() + "#contacts", **result}


# review and dispatch ----------------------------------------------------------------------------------
def add_named_contact(user, case: Case, person: Person, note: str = "", request=None) -> Contact:
    """A close contact named in the interview (密接 by the investigator's judgement)."""
    _require(user, "tracing.change_case")
    if person.pk == case.person_id:
        raise ValidationError(_("不能把病例本人添加为其密接。"))
    evidence = {"rule": Rule.INTERVIEW, "text": note[:200]}
    contact = Contact.objects.filter(case=case, person=person).first()
    if contact is None:
        contact = Contact(case=case, person=person, area=person.area, kind=ContactKind.CLOSE,
                          found_kind=ContactKind.CLOSE, manual=True, evidence=[evidence],
                          last_exposure=case.isolated_at or timezone.now(),
                          is_case=Case.objects.filter(person=person).exists())
    else:
        contact.evidence = [evidence, *contact.evidence]
        contact.manual = True
        if contact.status == ContactStatus.PROPOSED or KIND_RANK[contact.kind] < KIND_RANK[ContactKind.CLOSE]:
            contact.kind = ContactKind.CLOSE
    contact.summary = _summary(contact.evidence, secondary=False)
    contact.save()
    record_event(user, AuditAction.UPDATE, case, changes={"named_contact": ["", person.audit_repr()]},
                 request=request)
    return contact


def review_contact(user, contact: Contact, action: str, *, reason: str = "", kind: str = "",
                   jurisdiction: str = "", request=None) -> Contact:
    """confirm / downgrade (to KIND) / dismiss (REASON required) / transfer (to JURISDICTION) / reopen."""
    _require(user, "tracing.change_contact")
    if contact.status in (ContactStatus.DISPATCHED, ContactStatus.TRANSFERRED) and action != "reopen":
        raise ValidationError(_("已推送或移交的密接不能再修改研判结果。"))
    before = {"status": contact.status, "kind": contact.kind}
    if action == "confirm":
        contact.status = ContactStatus.CONFIRMED
    elif action == "downgrade":
        if kind not in ContactKind.values or KIND_RANK[kind] >= KIND_RANK[contact.kind]:
            raise ValidationError({"kind": _("只能降为更低的类别。")})
        contact.kind = kind
        contact.status = ContactStatus.CONFIRMED
    elif action == "dismiss":
        if not reason.strip():
            raise ValidationError({"reason": _("排除须说明理由。")})
        contact.status = ContactStatus.DISMISSED
    elif action == "transfer":
        if not jurisdiction.strip():
            raise ValidationError({"jurisdiction": _("请填写移交的地区。")})
        contact.jurisdiction = jurisdiction.strip()[:100]
        contact.status = ContactStatus.TRANSFERRED
    elif action == "reopen":
        if contact.status == ContactStatus.DISPATCHED:
            raise ValidationError(_("已推送管控的密接请在管控措施中解除。"))
        contact.status = ContactStatus.PROPOSED
        contact.jurisdiction = ""
    else:
        raise ValidationError(_("未知的操作。"))
    contact.review_note = reason.strip()[:300]
    contact.reviewed_by = user
    contact.reviewed_at = timezone.now()
    contact.save()
    record_event(user, AuditAction.UPDATE, contact, object_repr=str(contact), request=request, reason=reason,
                 changes=diff(before, {"status": contact.status, "kind": contact.kind}))
    return contact


def to_dispatch(case: Case) -> int:
    """How many contacts the next dispatch would put under control."""
    return case.contacts.filter(status=ContactStatus.CONFIRMED, is_case=False).count()


def dispatch_runs_inline(case: Case) -> bool:
    """A few hundred contacts go in the request; more go to a background job."""
    return to_dispatch(case) <= getattr(settings, "FANGKONG_DISPATCH_INLINE_MAX", 200)


def start_dispatch(user, case: Case):
    _require(user, "tracing.change_contact")
    return start_job(user, "tracing.dispatch", _("推送管控：%(number)s") % {"number": case.number},
                     "fangkong.tracing.services.run_dispatch_job", area_code="", case_id=case.pk,
                     user_id=user.pk)


def run_dispatch_job(job, progress, case_id: int, user_id: int | None = None) -> dict:
    from fangkong.accounts.models import User

    case = Case.objects.get(pk=case_id)
    user = User.objects.get(pk=user_id)
    result = dispatch(user, case, progress=progress)
    return {"url": case.get_absolute_url(),
            "summary": [(_("已推送管控"), result["dispatched"]), (_("本人也是病例，未推送"), result["skipped_cases"])],
            **result}


def confirm_all(user, case: Case, contacts, request=None) -> int:
    """全部确认: the proposed CONTACTS of CASE (a scoped queryset) confirmed in one statement, one audit row."""
    _require(user, "tracing.change_contact")
    now = timezone.now()
    ids = list(contacts.filter(case=case, status=ContactStatus.PROPOSED).values_list("pk", flat=True))
    done = Contact.objects.filter(pk__in=ids, status=ContactStatus.PROPOSED).update(
        status=ContactStatus.CONFIRMED, reviewed_by=user, reviewed_at=now, review_note=_("批量确认"))
    if done:
        record_event(user, AuditAction.UPDATE, case, request=request, reason=_("批量确认密接"),
                     changes={"confirmed": ["", str(done)]})
    return done


def dispatch(user, case: Case, request=None, progress=None) -> dict:
    """Every confirmed contact of CASE gets the active pack's measure and a task to their grid worker."""
    _require(user, "tracing.change_contact")
    pack = policy.active_pack()
    now = timezone.now()
    done = skipped = 0
    contacts = list(case.contacts.filter(status=ContactStatus.CONFIRMED)
                    .select_related("person", "person__area", "area"))
    for number, contact in enumerate(contacts, 1):
        if contact.is_case:
            skipped += 1
            continue
        _dispatch_one(user, contact, pack, now)
        done += 1
        if progress and number % 50 == 0:
            progress(number, len(contacts))
    record_event(user, AuditAction.UPDATE, case, changes={"dispatched": ["", str(done)]}, request=request,
                 reason=_("推送密接管控"))
    return {"dispatched": done, "skipped_cases": skipped}


@transaction.atomic
def _dispatch_one(user, contact: Contact, pack: PolicyPack, now) -> None:
    category = CATEGORY_OF_KIND[contact.kind]
    rule = policy.rule_for(pack, category)
    start = timezone.localtime(contact.last_exposure or now).date()
    order = policy.impose_measure(contact.person, category, contact.summary, start, subject=contact, user=user,
                                  pack=pack)
    hours = rule.followup_hours if rule else 24
    deadline = now + timedelta(hours=hours)
    instructions = rule.instructions if rule else ""
    task = create_task(
        kind=TASK_KIND, area=contact.person.area, role=Role.GRID_WORKER, deadline=deadline,
        subject=contact.person, created_by=user,
        title=_("%(kind)s管控：%(name)s") % {"kind": contact.get_kind_display(), "name": contact.person.name},
        description="\n".join(filter(None, [
            contact.summary,
            _("措施：%(label)s（%(start)s 起）") % {"label": order.label, "start": order.start_date}
            if order else _("措施：按要求完成核酸检测"),
            _("请在 %(hours)s 小时内落实管控并在任务中反馈。") % {"hours": hours},
            instructions,
        ])),
    )
    contact.order = order
    contact.task = task
    contact.deadline = deadline
    contact.dispatched_at = now
    contact.status = ContactStatus.DISPATCHED
    contact.save(update_fields=["order", "task", "deadline", "dispatched_at", "status"])


def withdraw_contact(user, contact: Contact, reason: str, request=None) -> Contact:
    """Undo a dispatch found wrong: the measure is cancelled, the open task too; the contact is dismissed."""
    _require(user, "tracing.change_contact")
    if not reason.strip():
        raise ValidationError({"reason": _("撤回须说明理由。")})
    with transaction.atomic():
        policy.cancel_measures_from(contact, user, reason)
        if contact.task_id and contact.task.status in OPEN_STATUSES:
            cancel_task(user, contact.task, reason)
        contact.status = ContactStatus.DISMISSED
        contact.review_note = reason[:300]
        contact.reviewed_by = user
        contact.reviewed_at = timezone.now()
        contact.save()
    record_event(user, AuditAction.UPDATE, contact, object_repr=str(contact), reason=reason, request=request,
                 changes={"status": [ContactStatus.DISPATCHED, ContactStatus.DISMISSED]})
    return contact


def contact_counts(queryset) -> dict:
    """Found / confirmed / controlled / overdue for a set of contacts (the board and the case page)."""
    now = timezone.now()
    return queryset.aggregate(
        found=Count("id", filter=~Q(status=ContactStatus.DISMISSED)),
        proposed=Count("id", filter=Q(status=ContactStatus.PROPOSED)),
        confirmed=Count("id", filter=Q(status=ContactStatus.CONFIRMED)),
        dispatched=Count("id", filter=Q(status=ContactStatus.DISPATCHED)),
        controlled=Count("id", filter=Q(status=ContactStatus.DISPATCHED, task__status="done")),
        overdue=Count("id", filter=Q(status=ContactStatus.DISPATCHED, deadline__lt=now)
                      & ~Q(task__status="done")),
        transferred=Count("id", filter=Q(status=ContactStatus.TRANSFERRED)),
    )
