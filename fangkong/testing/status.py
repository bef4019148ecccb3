"""What testing adds to the colour a scan shows: a pooled positive awaiting its re-test, an overdue test."""

from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from .choices import FollowupStatus
from .models import PoolFollowup, RosterEntry

OPEN_FOLLOWUP = [FollowupStatus.PENDING, FollowupStatus.SAMPLED]


def testing_status(person, now, rules) -> list[tuple]:
    found = []
    if PoolFollowup.objects.filter(person=person, status__in=OPEN_FOLLOWUP).exists():
        found.append((rules.get("pool_retest"), {"stage": "pool_retest", "label": _("混管阳性待单采复核")}, None))
    today = timezone.localdate(now)
    due = (RosterEntry.objects.filter(person=person, is_active=True, next_due__isnull=False)
           .order_by("next_due").values_list("next_due", "group__name").first())
    if due is not None:
        next_due, group = due
        if next_due < today:
            found.append((rules.get("test_overdue"), {
                "stage": "test_overdue", "label": _("%(group)s核酸检测逾期") % {"group": group},
                "until": next_due.isoformat()}, None))
        else:  # the colour changes by itself the day after the due date
            found.append((None, None, timezone.make_aware(datetime.combine(next_due + timedelta(days=1), time.min))))
    return found
