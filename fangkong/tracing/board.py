"""The outbreak board (疫情态势): HQ's figures on cases, contacts, zones and clusters, no web code.

Everything is scoped by the user's permissions and area (``restrict``) and
computed with a handful of aggregate queries, whatever the outbreak's size:
the cases' figures, the 14-day series, the cases whose network report is
pending, the contacts' figures (``services.contact_counts``), the cases
with contacts waiting too long, the zones and the clusters.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import models
from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from fangkong.people.identity import mask_name
from fangkong.policy.choices import RiskLevel

from .choices import CaseStatus, Classification, ContactStatus, ZoneStatus
from .models import REPORT_HOURS, Case, Cluster, Contact, ControlZone
from .services import contact_counts

SERIES_DAYS = 14
# A contact proposed by discovery and still not reviewed after this many hours is flagged.
REVIEW_HOURS = 4
# A network report due within this many minutes is "due soon".
DUE_SOON_MINUTES = 60
LIST_LIMIT = 10


def clock_start():
    """The SQL form of ``Case.clock_start``: the positive result, else the registration."""
    return Coalesce("result_at", "created_at")


def anchor_date(through: str = ""):
    """The SQL form of ``Case.anchor_date`` (THROUGH: a relation prefix such as "cases__").

    Onset unless asymptomatic, else the local date of sampling, else of the result, else of registration.
    """
    tz = timezone.get_current_timezone()
    return models.Case(
        models.When(Q(**{f"{through}onset_date__isnull": False})
                    & ~Q(**{f"{through}classification": Classification.ASYMPTOMATIC}),
                    then=F(f"{through}onset_date")),
        default=Coalesce(*(TruncDate(f"{through}{name}", tzinfo=tz)
                           for name in ("sampled_at", "result_at", "created_at"))),
        output_field=models.DateField(),
    )


def clusters_with_counts(user):
    """Clusters in the user's scope with their case count and first / last case date (anchor dates)."""
    live = ~Q(cases__status=CaseStatus.EXCLUDED)
    return (Cluster.objects.restrict(user, "view")
            .annotate(case_count=Count("cases", filter=live),
                      first_date=Min(anchor_date("cases__"), filter=live),
                      last_date=Max(anchor_date("cases__"), filter=live))
            .order_by(F("last_date").desc(nulls_last=True), "-created_at", "-id"))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _classification_counts(prefix: str, base: Q) -> dict:
    counts = {f"{prefix}_{value}": Count("id", filter=base & Q(classification=value))
              for value in Classification.values}
    counts[f"{prefix}_total"] = Count("id", filter=base)
    return counts


def board(user, today: date | None = None, now: datetime | None = None) -> dict:
    """The board's figures, lists and chart series for USER (see the module docstring)."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    cases = Case.objects.restrict(user, "view").exclude(status=CaseStatus.EXCLUDED)
    contacts = Contact.objects.restrict(user, "view")
    zones = ControlZone.objects.restrict(user, "view")
    report_cutoff = now - timedelta(hours=REPORT_HOURS)  # clock started before: the deadline has passed
    soon_cutoff = report_cutoff + timedelta(minutes=DUE_SOON_MINUTES)
    unreported = Q(reported_at__isnull=True)

    # 1. the cases' figures
    registered_today = Q(created_at__gte=_day_start(today), created_at__lt=_day_start(today + timedelta(days=1)))
    figures = cases.annotate(clock=clock_start()).aggregate(
        **_classification_counts("today", registered_today),
        **_classification_counts("open", Q(status=CaseStatus.OPEN)),
        report_overdue=Count("id", filter=unreported & Q(clock__lt=report_cutoff)),
        report_due_soon=Count("id", filter=unreported & Q(clock__gte=report_cutoff, clock__lt=soon_cutoff)),
        report_pending=Count("id", filter=unreported & Q(clock__gte=report_cutoff)),
    )
    labels = dict(Classification.choices)
    by_class = [{"value": value, "label": str(labels[value]), "today": figures[f"today_{value}"],
                 "open": figures[f"open_{value}"]} for value in Classification.values]

    # 2. new cases per day over the last 14 days, by classification (the chart)
    first_day = today - timedelta(days=SERIES_DAYS - 1)
    rows = (cases.filter(created_at__gte=_day_start(first_day), created_at__lt=_day_start(today + timedelta(days=1)))
            .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .values("day", "classification").annotate(n=Count("id")).order_by())
    days = [first_day + timedelta(days=i) for i in range(SERIES_DAYS)]
    per_day = {(row["day"], row["classification"]): row["n"] for row in rows}
    series = {
        "days": [d.isoformat() for d in days],
        "series": [{"value": value, "label": str(labels[value]),
                    "data": [per_day.get((d, value), 0) for d in days]} for value in Classification.values],
    }
    series["total"] = [sum(s["data"][i] for s in series["series"]) for i in range(SERIES_DAYS)]

    # 3. the cases whose network report (2 h) is overdue or due within the hour
    report_cases = [{
        "id": c.pk, "number": c.number, "name": mask_name(c.person_name),
        "classification": c.classification, "classification_label": str(labels[c.classification]),
        "deadline": c.clock + timedelta(hours=REPORT_HOURS), "overdue": c.clock < report_cutoff,
    } for c in (cases.filter(unreported).only("number", "classification", "result_at", "created_at")
                .annotate(clock=clock_start(), person_name=F("person__name"))
                .filter(clock__lt=soon_cutoff).order_by("clock", "id")[:LIST_LIMIT])]

    # 4. the contacts against the clock
    contact_figures = contact_counts(contacts)

    # 5. cases with contacts waiting for review too long, or dispatched and not controlled in time
    review_cutoff = now - timedelta(hours=REVIEW_HOURS)
    stale = Q(status=ContactStatus.PROPOSED, found_at__lt=review_cutoff)
    late = Q(status=ContactStatus.DISPATCHED, deadline__lt=now) & ~Q(task__status="done")
    per_case = list(
        contacts.filter(stale | late, case__in=cases.values("pk"))
        .values("case_id", "case__number", "case__classification", "case__person__name")
        .annotate(unreviewed=Count("id", filter=stale), overdue=Count("id", filter=late),
                  oldest=Min("found_at", filter=stale), latest_deadline=Min("deadline", filter=late))
        .order_by("case_id")
    )

    def case_row(row, count_key, since_key):
        return {"id": row["case_id"], "number": row["case__number"], "name": mask_name(row["case__person__name"]),
                "classification": row["case__classification"],
                "classification_label": str(labels.get(row["case__classification"], "")),
                "count": row[count_key], "since": row[since_key]}

    unreviewed_cases = sorted((case_row(r, "unreviewed", "oldest") for r in per_case if r["unreviewed"]),
                              key=lambda r: r["since"])
    overdue_contact_cases = sorted((case_row(r, "overdue", "latest_deadline") for r in per_case if r["overdue"]),
                                   key=lambda r: r["since"])
    contact_figures["unreviewed"] = sum(r["count"] for r in unreviewed_cases)

    # 6. the zones: published by level, proposed awaiting publication
    zone_rows = zones.filter(status__in=[ZoneStatus.PUBLISHED, ZoneStatus.PROPOSED]) \
        .values("status", "level").annotate(n=Count("id")).order_by()
    zone_counts = {(row["status"], row["level"]): row["n"] for row in zone_rows}
    levels = [(value, str(label)) for value, label in RiskLevel.choices
              if any((status, value) in zone_counts for status in (ZoneStatus.PUBLISHED, ZoneStatus.PROPOSED))]
    zone_summary = {
        "levels": [{"value": value, "label": label,
                    "published": zone_counts.get((ZoneStatus.PUBLISHED, value), 0),
                    "proposed": zone_counts.get((ZoneStatus.PROPOSED, value), 0)} for value, label in levels],
        "published": sum(n for (status, _), n in zone_counts.items() if status == ZoneStatus.PUBLISHED),
        "proposed": sum(n for (status, _), n in zone_counts.items() if status == ZoneStatus.PROPOSED),
    }

    # 7. the clusters, the most recently active first
    clusters = list(clusters_with_counts(user)[:LIST_LIMIT])

    return {
        "today": today, "now": now,
        "cases": {
            "today": figures["today_total"], "open": figures["open_total"], "by_classification": by_class,
            "report_overdue": figures["report_overdue"], "report_due_soon": figures["report_due_soon"],
            "report_pending": figures["report_pending"],
        },
        "report_cases": report_cases,
        "contacts": contact_figures,
        "unreviewed_cases": unreviewed_cases[:LIST_LIMIT],
        "overdue_contact_cases": overdue_contact_cases[:LIST_LIMIT],
        "zones": zone_summary,
        "clusters": clusters,
        "series": series,
        "review_hours": REVIEW_HOURS, "report_hours": REPORT_HOURS,
    }
