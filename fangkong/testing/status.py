"""What testing adds to the colour a scan shows: a pooled positive awaiting its re-test, an overdue test,
and the recent negative result some venues ask for at the door."""

from datetime import datetime, time, timedelta

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from .choices import FollowupStatus, Result
from .models import PoolFollowup, RosterEntry, Sample

OPEN_FOLLOWUP = [FollowupStatus.PENDING, FollowupStatus.SAMPLED]


def testing_status(person_ids, now, rules) -> dict[int, list[tuple]]:
    found: dict[int, list[tuple]] = {}
    held = set(PoolFollowup.objects.filter(person_id__in=person_ids, status__in=OPEN_FOLLOWUP)
               .values_list("person_id", flat=True))
    for pid in held:
        found.setdefault(pid, []).append(
            (rules.get("pool_retest"), {"stage": "pool_retest", "label": _("混管阳性待单采复核")}, None))
    today = timezone.localdate(now)
    due = (RosterEntry.objects.filter(person_id__in=person_ids, is_active=True, next_due__isnull=False)
           .values("person_id").annotate(first=Min("next_due")).values_list("person_id", "first"))
    due = dict(due)
    if due:
        names = {}
        for pid, group, next_due in (RosterEntry.objects.filter(person_id__in=list(due), is_active=True)
                                     .values_list("person_id", "group__name", "next_due")):
            if next_due == due[pid]:
                names.setdefault(pid, group)
        for pid, next_due in due.items():
            if next_due < today:
                found.setdefault(pid, []).append((rules.get("test_overdue"), {
                    "stage": "test_overdue", "label": _("%(group)s核酸检测逾期") % {"group": names[pid]},
                    "until": next_due.isoformat()}, None))
            else:  # the colour changes by itself the day after the due date
                found.setdefault(pid, []).append(
                    (None, None, timezone.make_aware(datetime.combine(next_due + timedelta(days=1), time.min))))
    return found


def tested_negative_since(person_id: int, since) -> bool:
    """A sample of the person taken at or after SINCE whose tube (single or pooled) came back negative."""
    return Sample.objects.filter(person_id=person_id, sampled_at__gte=since, tube__result=Result.NEGATIVE).exists()
