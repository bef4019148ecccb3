"""The warning board's figures: townships coloured by open alerts, sentinel reporting, the queue.

Everything is read in a few grouped queries for the user's scope; the time series are fetched by the
page from ``GET /api/v1/series`` one township and signal at a time.
"""

from datetime import date

from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.utils import timezone

from fangkong.areas.boundaries import feature_collection
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area

from .choices import AlertStatus
from .models import Alert, DetectorConfig

OPEN = [AlertStatus.NEW, AlertStatus.VERIFIED, AlertStatus.RESPONDED]


def townships_for(user):
    """The townships the user's scope covers (all of them for the county)."""
    areas = Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code")
    prefix = user.scope_prefix or ""
    if len(prefix) >= 9:
        return areas.filter(code__startswith=prefix[:9])
    return areas.filter(code__startswith=prefix)


def board(user, day: date | None = None) -> dict:
    day = day or timezone.localdate()
    townships = list(townships_for(user))
    alerts = Alert.objects.restrict(user, "view")
    open_alerts = alerts.filter(status__in=OPEN)
    by_township = {row["township"]: row for row in (
        open_alerts.annotate(township=Substr("area_id", 1, 9)).values("township").annotate(
            total=Count("id"), red=Count("id", filter=Q(grade="red")), orange=Count("id", filter=Q(grade="orange")),
        ).order_by())}
    reporting = _reporting(user, day)
    rows = []
    for area in townships:
        counts = by_township.get(area.code[:9], {})
        sentinels = reporting.get(area.code[:9], {"total": 0, "reported": 0})
        rows.append({"code": area.code, "name": area.name, "open": counts.get("total", 0),
                     "red": counts.get("red", 0), "orange": counts.get("orange", 0),
                     "sentinels": sentinels["total"], "reported": sentinels["reported"],
                     "completeness": round(100 * sentinels["reported"] / sentinels["total"])
                     if sentinels["total"] else None})
    queue = list(open_alerts.select_related("area").order_by("status", "-raised_at")[:12])
    return {
        "day": day, "townships": rows,
        "geojson": feature_collection(townships),
        "map_data": [{"name": r["name"], "value": r["open"], "code": r["code"]} for r in rows],
        "queue": queue, "open_total": sum(r["open"] for r in rows),
        "signals": list(DetectorConfig.objects.filter(is_active=True).order_by("signal_type")
                        .values("signal_type", "label", "method")),
    }


def _reporting(user, day: date) -> dict:
    """{township prefix (9 digits): {total, reported}} for active sentinels that had joined by DAY."""
    try:
        from fangkong.sentinels.models import Sentinel
        from fangkong.sentinels.services import reported_ids
    except ImportError:  # the sentinels app is optional for the board
        return {}
    sentinels = Sentinel.objects.restrict(user, "view").filter(is_active=True, joined_on__lte=day)
    reported = set(reported_ids(day, sentinels))
    out: dict[str, dict] = {}
    for pk, area_id in sentinels.values_list("pk", "area_id"):
        row = out.setdefault(area_id[:9], {"total": 0, "reported": 0})
        row["total"] += 1
        row["reported"] += pk in reported
    return out
