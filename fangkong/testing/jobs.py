"""The nightly testing job (`fangkong testing_day`): schedules, overdue tasks, scan colours, unmatched results."""

from datetime import date

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from fangkong.policy.choices import Colour
from fangkong.policy.models import PersonStatus
from fangkong.policy.services import refresh_statuses

from . import schedules, services
from .models import RosterEntry

CHUNK = 2000


def stale_colours(today: date) -> list[int]:
    """Roster members whose stored scan colour may be wrong: none stored yet, or green while overdue."""
    stored = PersonStatus.objects.filter(person_id=OuterRef("person_id"))
    green = stored.filter(colour=Colour.GREEN)
    entries = (RosterEntry.objects.filter(is_active=True)
               .filter(~Exists(stored) | (Q(next_due__lt=today) & Exists(green))))
    return list(entries.order_by().values_list("person_id", flat=True).distinct())


def run_day(today: date | None = None) -> dict:
    """Everything testing does once a day, safe to run again (each step is idempotent):

    * every active roster entry's last sample and next due date recomputed from the samples
      (a repair: samples move them as they come in);
    * one reminder task per key group and area with overdue members (not twice a day);
    * the stored scan colour of members that fell due, so the scan's fast path shows them yellow;
    * lab results that arrived before their tube was sealed, matched now.
    """
    today = today or timezone.localdate()
    schedules_fixed = schedules.refresh_all(RosterEntry.objects.filter(is_active=True))
    tasks = schedules.create_overdue_tasks(RosterEntry.objects.filter(is_active=True, next_due__lt=today), today)
    people = stale_colours(today)
    for start in range(0, len(people), CHUNK):
        refresh_statuses(people[start:start + CHUNK])
    return {"schedules": schedules_fixed, "overdue": tasks["members"], "tasks": tasks["created"],
            "colours": len(people), "matched": services.match_unmatched()}
