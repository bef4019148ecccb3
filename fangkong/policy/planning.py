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


def merge_plans(*plans: list[dict]) -> list[dict]:
    """The stricter of several planned measures, day by day: on each day the strictest stage in force.

    A test date is kept when the plan it belongs to is the one that decides that day. Days that no plan
    covers stay uncovered (the result may then have two separate runs of the same stage).
    """
    from .choices import STAGE_RANK

    owner: dict[date, tuple[int, int, str]] = {}
    tests: dict[date, set[int]] = {}
    for index, plan in enumerate(plans):
        for stage in plan:
            day, end = date.fromisoformat(stage["start"]), date.fromisoformat(stage["end"])
            rank = STAGE_RANK.get(stage["stage"], 0)
            while day <= end:
                current = owner.get(day)
                if current is None or rank > current[0]:
                    owner[day] = (rank, index, stage["stage"])
                day += timedelta(days=1)
            for test in stage.get("test_dates", []):
                tests.setdefault(date.fromisoformat(test), set()).add(index)
    merged: list[dict] = []
    for day in sorted(owner):
        _, index, kind = owner[day]
        last = merged[-1] if merged else None
        if last and last["stage"] == kind and date.fromisoformat(last["end"]) + timedelta(days=1) == day:
            last["end"] = day.isoformat()
        else:
            last = {"stage": kind, "start": day.isoformat(), "end": day.isoformat(), "test_dates": []}
            merged.append(last)
        if index in tests.get(day, ()):
            last["test_dates"].append(day.isoformat())
    return merged



def current_segment(planned: list[dict], stage: str, since: date | None) -> int | None:
    """The index of the planned stage being served: STAGE, the first run of it not ended before SINCE."""
    runs = [i for i, s in enumerate(planned) if s["stage"] == stage]
    if not runs:
        return None
    if since is not None:
        for i in runs:
            if date.fromisoformat(planned[i]["end"]) >= since:
                return i
    return runs[-1]
