"""Reads of venues, always scoped: staff by their area subtree, a venue manager by the venues they manage."""

from datetime import datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from fangkong.accounts.choices import Role

from .models import CheckIn, Venue


def venues_for(user, action: str = "view"):
    """The venues USER may ACTION: their area subtree; a venue manager only the venues they manage."""
    venues = Venue.objects.restrict(user, action)
    if getattr(user, "role", None) == Role.VENUE_MANAGER and not user.is_superuser:
        venues = venues.filter(managers=user)
    return venues


def checkin_counts(venue: Venue, days: int = 7, now=None) -> dict:
    """How many scans the venue had today and on each of the last DAYS days: counts only, never who."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    rows = (CheckIn.objects.filter(venue=venue, scanned_at__gte=start, scanned_at__lte=now)
            .annotate(day=TruncDate("scanned_at", tzinfo=timezone.get_current_timezone()))
            .order_by().values("day").annotate(n=Count("id")))
    by_day = {row["day"]: row["n"] for row in rows}
    series = [{"day": first + timedelta(days=i), "count": by_day.get(first + timedelta(days=i), 0)}
              for i in range(days)]
    return {"today": by_day.get(today, 0), "days": series, "total": sum(by_day.values())}
