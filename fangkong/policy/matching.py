"""Matching a travel history against the risk-area list as it stood on the days travelled.

Pure functions, no database: ``services.match_travel`` fetches the candidate
risk areas with one indexed query and hands them here.
"""

from dataclasses import dataclass, field
from datetime import date

from .choices import SEVERITY, Granularity


@dataclass(frozen=True)
class Stop:
    """One place in a travel history: a county code, an optional township, the days there."""

    place_code: str
    date_from: date
    date_to: date
    township: str = ""


@dataclass(frozen=True)
class Area:
    """A risk area as the matcher needs it."""

    id: int
    prefix: str
    granularity: str
    township: str
    level: str
    effective_from: date
    effective_to: date | None
    name: str = ""


@dataclass
class Match:
    stop: Stop
    area: Area
    overlap_from: date
    overlap_to: date
    assumed: bool = False  # the stop named no township and the area is one township of the county


@dataclass
class Result:
    severity: int = 0
    level: str = ""
    matches: list[Match] = field(default_factory=list)


def normalize_township(text: str) -> str:
    return "".join((text or "").split())


def stops_in_window(stops: list[Stop], window_from: date, window_to: date) -> list[Stop]:
    """The part of each stop inside the look-back window (stops wholly outside drop out)."""
    kept = []
    for stop in stops:
        start, end = max(stop.date_from, window_from), min(stop.date_to, window_to)
        if start <= end:
            kept.append(Stop(stop.place_code, start, end, stop.township))
    return kept


def _covers(area: Area, stop: Stop) -> tuple[bool, bool]:
    if not stop.place_code.startswith(area.prefix):
        return False, False
    if area.granularity != Granularity.TOWNSHIP:
        return True, False
    wanted = normalize_township(area.township)
    given = normalize_township(stop.township)
    if not given:
        # Somewhere in the county, township not said: judged the strict way, and flagged.
        return True, True
    return (given in wanted or wanted in given), False


def match(stops: list[Stop], areas: list[Area]) -> Result:
    """Every (stop, area) pair where the stop lies in the area while the area was in force."""
    result = Result()
    for stop in stops:
        for area in areas:
            start = max(stop.date_from, area.effective_from)
            end = stop.date_to if area.effective_to is None else min(stop.date_to, area.effective_to)
            if start > end:
                continue
            covered, assumed = _covers(area, stop)
            if not covered:
                continue
            result.matches.append(Match(stop, area, start, end, assumed))
            severity = SEVERITY.get(area.level, 0)
            if severity > result.severity:
                result.severity, result.level = severity, area.level
    result.matches.sort(key=lambda m: (-SEVERITY.get(m.area.level, 0), m.stop.date_from))
    return result
