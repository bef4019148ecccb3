"""Raising signals, and the daily count series the statistical detectors read.

Domain apps call raise_signal; nothing else writes a Signal. Each signal goes
through the fixed-threshold rules in the same call (alerts.on_signal), so an
alert exists before raise_signal returns.
"""

import logging
import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Min
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.scope import prefix_q

from . import alerts
from .choices import FALLBACK_METHOD, SIGNAL_SERIES_KINDS, Severity
from .models import DetectorConfig, Signal

logger = logging.getLogger(__name__)


def raise_signal(kind: str, *, title: str, area, person=None, person_id=None, subject=None,
                 details: dict | None = None, severity: int = Severity.WARNING, occurred_at=None) -> Signal:
    signal = Signal(kind=kind, title=title[:200], area=area, person=person, details=details or {},
                    severity=severity, occurred_at=occurred_at or timezone.now())
    if person_id is not None:
        signal.person_id = person_id
    if subject is not None:
        signal.subject_type = ContentType.objects.get_for_model(subject)
        signal.subject_id = str(subject.pk)
    signal.save()
    _apply_rules(signal)
    return signal


def raise_signals(signals: list[Signal]) -> list[Signal]:
    """Many unsaved signals at once (a daily job's): one bulk insert, then the rules on each."""
    Signal.objects.bulk_create(signals, batch_size=500)
    try:
        with transaction.atomic():
            alerts.on_signals(signals)
    except Exception:  # noqa: BLE001 - the signals are recorded; the rules can be re-run on them
        logger.exception("alert rules failed for a batch of %s signals", len(signals))
    return signals


def _apply_rules(signal: Signal) -> None:
    try:
        # A savepoint: a fault in the rules must not undo the signal or the caller's work.
        with transaction.atomic():
            alerts.on_signal(signal)
    except Exception:  # noqa: BLE001 - the signal is recorded; the rules can be re-run on it
        logger.exception("alert rules failed for signal %s", signal.pk)


# Daily counts ------------------------------------------------------------------------------------
def _day_bounds(day_from: date, day_to: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day_from, time.min))
    end = timezone.make_aware(datetime.combine(day_to + timedelta(days=1), time.min))
    return start, end


def signal_counts(kinds, day_from: date, day_to: date, prefix: str | None = None) -> list[tuple[str, date, int]]:
    """(township code, day, count) of the signals of KINDS, by local day."""
    start, end = _day_bounds(day_from, day_to)
    rows = Signal.objects.filter(kind__in=list(kinds), occurred_at__gte=start, occurred_at__lt=end)
    if prefix:
        rows = rows.filter(prefix_q("area_id", prefix))
    grouped = (rows.annotate(town=Substr("area_id", 1, 9), day=TruncDate("occurred_at"))
               .values("town", "day").annotate(n=Count("id")).order_by("town", "day"))
    return [(row["town"] + "000", row["day"], row["n"]) for row in grouped]


def _sentinels():
    try:
        from fangkong.sentinels import services as sentinel_services
    except ImportError:
        return None
    return sentinel_services if hasattr(sentinel_services, "daily_counts") else None


def daily_counts(signal_type: str, day_from: date, day_to: date, prefix: str | None = None):
    """{township prefix (9 digits): {day: count}} for one series between two days."""
    counts: dict[str, dict[date, int]] = defaultdict(dict)
    if signal_type in SIGNAL_SERIES_KINDS:
        rows = ((code, day, n) for code, day, n in signal_counts(SIGNAL_SERIES_KINDS[signal_type], day_from,
                                                                   day_to, prefix))
    else:
        module = _sentinels()
        source = module.daily_counts(day_from, day_to) if module is not None else []
        rows = ((code, day, n) for code, kind, day, n in source if kind == signal_type)
    for code, day, n in rows:
        if prefix and not code[:9].startswith(prefix[:9]):
            continue
        counts[code[:9]][day] = counts[code[:9]].get(day, 0) + int(n)
    return counts


def start_finder(signal_type: str):
    """A function (township prefix, its counts by day) -> the first day its series exists (None: no data yet).

    Sentinel series start when their first sentinel joined (else at their first count): a day before is
    not a zero. Signal series (scans, positives) start with the installation's first such signal, anywhere.
    Reads what it needs once, so a county's townships cost no extra queries.
    """
    if signal_type in SIGNAL_SERIES_KINDS:
        first = Signal.objects.filter(kind__in=SIGNAL_SERIES_KINDS[signal_type]).aggregate(
            first=Min("occurred_at"))["first"]
        first_day = timezone.localdate(first) if first else None
        return lambda prefix, counts: first_day
    module = _sentinels()
    joined: dict[str, date] = {}
    if module is not None and hasattr(module, "sentinel_coverage"):
        for (code, kind), days in module.sentinel_coverage().items():
            if kind == signal_type and days:
                key = code[:9]
                joined[key] = min(joined.get(key, days[0]), days[0])

    def find(prefix: str, counts: dict[date, int]) -> date | None:
        if prefix[:9] in joined:
            return joined[prefix[:9]]
        return min(counts) if counts else None

    return find


# Series and detection ----------------------------------------------------------------------------
# Methods whose threshold is on the scale of the last 7 days' sum rather than the day's count.
WEEKLY_STATISTIC_METHODS = ("mpm", "farrington")


def statistic(method: str, counts: list[int]) -> list[int]:
    """What the method compares with its threshold: the day's count, or the 7-day sum (MPM, Farrington)."""
    if method not in WEEKLY_STATISTIC_METHODS:
        return list(counts)
    sums, running = [], 0
    for index, value in enumerate(counts):
        running += value - (counts[index - 7] if index >= 7 else 0)
        sums.append(running)
    return sums


def _clean(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else round(value, 4)


def evaluate(config: DetectorConfig, counts: list[int], history_days: int, evaluate_from: int) -> dict:
    """Run CONFIG's detector on COUNTS (daily, oldest first) from index EVALUATE_FROM.

    A series shorter than the method needs (with its configured baseline) falls back to the
    short-history method and says so. Weekly methods (Farrington) run on 7-day sums, each week
    ending on a day of the series that is evaluated, so their threshold is on the 7-day scale.
    """
    method = config.method
    params = alerts.method_params(method, config.baseline_days, config.params)
    notes = []
    need = alerts.min_history_days(method, config.baseline_days, config.params)
    labels = alerts.detector_methods()
    fallback = FALLBACK_METHOD
    if history_days < need and method != fallback:
        notes.append(_("历史数据仅 %(have)d 天，不足%(method)s所需的 %(need)d 天，改用短历史方法 %(fallback)s。") % {
            "have": history_days, "method": labels.get(method, method), "need": need,
            "fallback": labels.get(fallback, fallback)})
        method, params = fallback, {}
    elif config.baseline_days > history_days:
        notes.append(_("配置的基线 %(baseline)d 天长于现有历史 %(have)d 天，按现有历史计算。") % {
            "baseline": config.baseline_days, "have": history_days})
    from . import detectors as module

    n = len(counts)
    empty = {"method": method, "upper": [None] * n, "expected": [None] * n, "alarm": [False] * n}
    import numpy as np

    y = np.asarray(counts, dtype=float)
    if method in alerts.WEEKLY_METHODS:
        result, days = _run_weekly(module, method, y, evaluate_from, params)
    else:
        result = module.run(method, y, start=min(evaluate_from, n), **params)
        days = list(range(n))
    if result.note:
        notes.append(result.note)
    method = result.method or method
    if method in WEEKLY_STATISTIC_METHODS:
        notes.append(_("该方法的阈值针对近 7 天合计。"))
    out = dict(empty, method=method)
    for index, day in enumerate(days):
        out["upper"][day] = _clean(result.upper[index])
        out["expected"][day] = _clean(result.expected[index])
        out["alarm"][day] = bool(result.alarm[index])
    out["note"] = " ".join(notes)
    return out


def _run_weekly(module, method: str, y, evaluate_from: int, params: dict):
    """Run a weekly method on 7-day sums ending on each evaluated day: one run per weekday alignment."""
    import numpy as np

    n = y.size
    upper, expected, alarm = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool)
    note, used = "", method
    for shift in range(min(7, max(n - evaluate_from, 0))):
        end = n - shift  # weeks end on day end - 1, end - 8, ...
        weeks = module.weekly_sums(y[:end])
        if weeks.size == 0:
            continue
        last_days = [end - 1 - 7 * (weeks.size - 1 - k) for k in range(weeks.size)]
        start = next((k for k, day in enumerate(last_days) if day >= evaluate_from), weeks.size)
        result = module.run(method, weeks, start=start, **params)
        note, used = result.note or note, result.method or used
        for k in range(start, weeks.size):
            upper[last_days[k]] = result.upper[k]
            expected[last_days[k]] = result.expected[k]
            alarm[last_days[k]] = result.alarm[k]
    return SimpleNamespace(upper=upper, expected=expected, alarm=alarm, method=used, note=note), list(range(n))


def series(township: Area, signal_type: str, *, day_to: date | None = None, days: int = 90) -> dict:
    """The daily counts of one township and series over DAYS, with the detector's threshold and alarms."""
    config = DetectorConfig.objects.get(signal_type=signal_type)
    day_to = day_to or timezone.localdate()
    shown_from = day_to - timedelta(days=days - 1)
    fetch_from = shown_from - timedelta(days=max(config.baseline_days, alerts.min_history_days(
        config.method, config.baseline_days, config.params)))
    by_day = daily_counts(signal_type, fetch_from, day_to, township.prefix).get(township.code[:9], {})
    start = min(start_finder(signal_type)(township.prefix, by_day) or day_to, day_to)
    begin = max(fetch_from, start)
    counts = [by_day.get(begin + timedelta(days=i), 0) for i in range((day_to - begin).days + 1)]
    history_days = (day_to - start).days + 1
    first_shown = max(0, (shown_from - begin).days)
    result = evaluate(config, counts, history_days, first_shown)
    lead = max(0, (begin - shown_from).days)
    shown = slice(first_shown, None)
    pad = [None] * lead
    return {
        "township": township.code, "township_name": township.name, "signal": signal_type, "label": config.label,
        "method": result["method"], "method_label": str(alerts.detector_methods().get(result["method"], result["method"])),
        "configured_method": config.method, "baseline_days": config.baseline_days,
        "history_days": max(history_days, 0), "note": result["note"],
        "days": [shown_from + timedelta(days=i) for i in range(days)],
        "counts": [0] * lead + counts[shown],
        "statistic": [0] * lead + statistic(result["method"], counts)[shown],
        "upper": pad + result["upper"][shown], "expected": pad + result["expected"][shown],
        "alarm": [False] * lead + result["alarm"][shown],
    }


def detect_day(day: date | None = None) -> list:
    """Run every active detector for every township on DAY; raise an alert for each alarm on that day.

    Idempotent (one alert per detector, township and day): a daily job may run it more than once.
    """
    day = day or timezone.localdate()
    townships = {area.code[:9]: area for area in Area.objects.filter(level=AreaLevel.TOWNSHIP)}
    raised = []
    for config in DetectorConfig.objects.filter(is_active=True):
        need = max(config.baseline_days, alerts.min_history_days(config.method, config.baseline_days,
                                                                   config.params))
        fetch_from = day - timedelta(days=need)
        counts = daily_counts(config.signal_type, fetch_from, day)
        find_start = start_finder(config.signal_type)
        for code, township in townships.items():
            by_day = counts.get(code, {})
            if not by_day.get(day):
                continue  # no cases today: nothing to alarm on
            start = min(find_start(code, by_day) or day, day)
            begin = max(fetch_from, start)
            values = [by_day.get(begin + timedelta(days=i), 0) for i in range((day - begin).days + 1)]
            history_days = (day - start).days + 1
            result = evaluate(config, values, history_days, len(values) - 1)
            if result["alarm"] and result["alarm"][-1]:
                alert, created = alerts.raise_detector_alert(
                    config, township, day, statistic(result["method"], values)[-1], result["upper"][-1],
                    details={"expected": result["expected"][-1], "used_method": result["method"],
                             "note": result["note"]})
                if created:
                    raised.append(alert)
    return raised


# The space-time scan ---------------------------------------------------------------------------------
SCAN_STUDY_DAYS = 60
SCAN_P_VALUE = 0.01  # act on clusters expected by chance less than once in 100 days


def scan_day(day: date | None = None, *, replicates: int = 999) -> list:
    """The daily space-time permutation scan across townships, per signal type: an alert per significant cluster.

    The cluster's alert is filed on its central township (one statistical alert per detector, township and
    day: a township that already alarmed on its own series that day keeps that alert). Townships without an
    outline are left out (their centroid is unknown); a township's days before its first sentinel joined
    do not count as zeros, so a new sentinel does not read as a cluster.
    """
    import numpy as np

    from fangkong.areas.boundaries import centroid, outlines

    from .detectors.scan import scan

    day = day or timezone.localdate()
    townships = list(Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code"))
    found = outlines(townships)
    townships = [a for a in townships if a.code in found]
    if len(townships) < 3:
        return []
    points = [centroid(found[a.code]) for a in townships]
    mean_lat = math.radians(sum(lat for _lon, lat in points) / len(points))
    coords = np.array([(lon * math.cos(mean_lat), lat) for lon, lat in points])
    start = day - timedelta(days=SCAN_STUDY_DAYS - 1)
    dates = [start + timedelta(days=i) for i in range(SCAN_STUDY_DAYS)]
    raised = []
    for config in DetectorConfig.objects.filter(is_active=True).order_by("signal_type"):
        counts = daily_counts(config.signal_type, start, day)
        matrix = np.array([[counts.get(a.code[:9], {}).get(d, 0) for d in dates] for a in townships])
        if not matrix[:, -1].any():
            continue  # a cluster must end today
        find_start = start_finder(config.signal_type)
        firsts = [find_start(a.code[:9], counts.get(a.code[:9], {})) or start for a in townships]
        reporting = np.array([[d >= first for d in dates] for first in firsts])
        clusters = scan(matrix, coords, study_days=SCAN_STUDY_DAYS, replicates=replicates, seed=day.toordinal(),
                        reporting=reporting)
        for cluster in clusters:
            if cluster.p_value > SCAN_P_VALUE:
                continue
            centre = townships[cluster.center]
            found = {"zones": [townships[z].name for z in cluster.zones], "days": len(cluster.days),
                     "p_value": round(cluster.p_value, 4), "observed": int(cluster.observed),
                     "expected": round(float(cluster.expected), 1),
                     "recurrence_interval": round(cluster.recurrence_interval, 1), "llr": round(cluster.llr, 2)}
            alert, created = alerts.raise_detector_alert(
                config, centre, day, cluster.observed, cluster.expected, details={"used_method": "scan", **found})
            if created:
                raised.append(alert)
            elif alert.details.get("used_method") != "scan" and "scan" not in alert.details:
                # The township already alarmed on its own series today: that alert also says it is the
                # centre of a cluster, and which townships the cluster spans.
                alert.details = {**alert.details, "scan": found}
                alert.save(update_fields=["details"])
    return raised
