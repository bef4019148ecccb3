"""Turning a rule's stages into dates. Pure functions: day 1 is the start date."""

from datetime import date, timedelta

from .choices import STAGE_ORDER, Measure


def plan_stages(stages: list[dict], start: date) -> list[dict]:
    """[{stage, days, test_days}] from START -> [{stage, start, end, test_dates}] (ISO dates).

    Counting from the start date (the last exposure, or the arrival) is what
    makes "缺几天补几天" hold: someone found late serves only the days left.
    """
    planned = []
    day = start
    for stage in stages:
        days = int(stage["days"])
        if days <= 0:
            continue
        end = day + timedelta(days=days - 1)
        tests = [day + timedelta(days=int(n) - 1) for n in stage.get("test_days", []) if 1 <= int(n) <= days]
        planned.append({
            "stage": stage["stage"], "start": day.isoformat(), "end": end.isoformat(),
            "test_dates": [d.isoformat() for d in tests],
        })
        day = end + timedelta(days=1)
    return planned


def planned_end(planned: list[dict]) -> date | None:
    return date.fromisoformat(planned[-1]["end"]) if planned else None


def stage_on(planned: list[dict], day: date) -> str:
    """The stage in force on DAY ('' before the first or after the last)."""
    for stage in planned:
        if date.fromisoformat(stage["start"]) <= day <= date.fromisoformat(stage["end"]):
            return stage["stage"]
    return ""


def measure_of(stages: list[dict], arrival_test_days: list[int]) -> str:
    kinds = [s["stage"] for s in stages if int(s.get("days", 0)) > 0]
    if kinds:
        return min(kinds, key=STAGE_ORDER.index)
    return Measure.ARRIVAL_TESTS if arrival_test_days else Measure.NONE


def arrival_test_dates(test_days: list[int], arrival: date) -> list[date]:
    return [arrival + timedelta(days=int(n) - 1) for n in test_days]


def describe(stages: list[dict]) -> str:
    """'14+7' style label: the stage lengths joined by '+'."""
    return "+".join(str(int(s["days"])) for s in stages if int(s.get("days", 0)) > 0)
