"""Mass-testing round coverage on a 1M-person county: rounds.coverage() for county, township and village rounds.

Run against a demo county (FANGKONG_VAR_DIR / DATABASE_URL point at it):

    FANGKONG_VAR_DIR=/tmp/fk1m .venv/bin/fangkong demo --no-serve --people 1000000 --checkin-days 0
    FANGKONG_VAR_DIR=/tmp/fk1m .venv/bin/python benchmarks/testing_rounds.py

The first run adds the benchmark's samples (``--share`` of the current
people, 0.8 by default, about 2% of them sampled twice) in 10-in-1 tubes
inside a 24-hour window, and a county round over that window; later runs
reuse them (the round named ``基准测试全县核酸``). Prints JSON: per query
n, p50, p95, max (ms). Target: coverage of the county round < 1 s.
"""

import argparse
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Timer, ensure_data, machine_info, now_iso, print_json, setup_django, summarize  # noqa: E402

ROUND_NAME = "基准测试全县核酸"
KEY_PREFIX = "bench-round-"
BATCH = 20_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_samples(share: float, seed: int):
    """The benchmark's county round, and its samples (added on the first run)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from fangkong.accounts.models import User
    from fangkong.areas.models import Area
    from fangkong.people.models import Person
    from fangkong.testing.models import Sample, SamplingPoint, SamplingSession, TestRound, Tube

    county = Area.objects.filter(level="county").order_by("code").first()
    hq = User.objects.filter(role="hq_admin", area=county).order_by("pk").first() or User.objects.filter(
        is_superuser=True).first()
    test_round = TestRound.objects.filter(name=ROUND_NAME).first()
    if test_round is not None and Sample.objects.filter(client_key=f"{KEY_PREFIX}0").exists():
        return test_round, county, hq, 0
    starts_at = timezone.now() - timedelta(hours=25)
    deadline = starts_at + timedelta(hours=24)
    test_round = TestRound.objects.create(name=ROUND_NAME, area=county, number=1, starts_at=starts_at,
                                          deadline=deadline, created_by=hq)
    rng = random.Random(seed)
    point = SamplingPoint.objects.create(name="基准测试采样点", area=county)
    session = SamplingSession.objects.create(point=point, area=county, operator=hq, pool_size=10,
                                             started_at=starts_at)
    window = int((deadline - starts_at).total_seconds())
    added = tubes_made = 0
    tube = None
    in_tube = 10
    pending_tubes, pending_samples = [], []
    started = time.perf_counter()
    people = Person.objects.current().order_by("pk").values_list("pk", "area_id").iterator(chunk_size=BATCH)

    def flush():
        nonlocal pending_tubes, pending_samples
        with transaction.atomic():
            Tube.objects.bulk_create(pending_tubes, batch_size=2000)
            Sample.objects.bulk_create(pending_samples, batch_size=2000)
        pending_tubes, pending_samples = [], []

    for person_id, area_id in people:
        if rng.random() >= share:
            continue
        times = 2 if rng.random() < 0.02 else 1
        for copy in range(times):
            if in_tube >= 10:
                tube = Tube(barcode=f"BENCH{tubes_made:08d}", session=session, area=county, capacity=10,
                            status="closed", created_at=starts_at)
                pending_tubes.append(tube)
                tubes_made += 1
                in_tube = 0
            at = starts_at + timedelta(seconds=rng.randrange(window))
            pending_samples.append(Sample(tube=tube, person_id=person_id, area_id=area_id, sampled_at=at,
                                          client_key=f"{KEY_PREFIX}{added}", duplicate=copy == 1,
                                          recorded_by=hq))
            added += 1
            in_tube += 1
        if len(pending_samples) >= BATCH:
            flush()
            log(f"  {added:,} samples, {tubes_made:,} tubes ({added / (time.perf_counter() - started):,.0f}/s)")
    if pending_samples:
        flush()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return test_round, county, hq, added


def timed(fn, n: int) -> tuple[dict, object]:
    values, result = [], None
    for _ in range(n):
        with Timer() as t:
            result = fn()
        values.append(t.ms)
    return summarize(values), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5, help="runs per query (default 5)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--share", type=float, default=0.8, help="share of people sampled in the round")
    parser.add_argument("--people", type=int, default=None, help="generate a demo county of N people if empty")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fangkong.accounts.models import User
    from fangkong.areas.models import Area
    from fangkong.testing import rounds
    from fangkong.testing.models import Sample, TestRound

    scale = ensure_data(args.people)
    with Timer() as load:
        county_round, county, hq, added = ensure_samples(args.share, args.seed)
    samples = Sample.objects.filter(client_key__startswith=KEY_PREFIX).count() if added == 0 else added
    # Rounds of a township and a village over the same window (not saved twice).
    township = Area.objects.filter(level="township", parent=county).order_by("code").first()
    village = Area.objects.filter(level="village", parent=township).order_by("code").first()
    grid = Area.objects.filter(level="grid", parent=village).order_by("code").first()
    extra = {}
    for label, area in (("township", township), ("village", village)):
        extra[label] = TestRound.objects.filter(name=f"{ROUND_NAME}-{label}").first() or TestRound.objects.create(
            name=f"{ROUND_NAME}-{label}", area=area, number=1, starts_at=county_round.starts_at,
            deadline=county_round.deadline, created_by=hq)
    grid_worker = User.objects.filter(role="grid_worker", area=grid).first()

    queries = {}

    def run(name, fn):
        with CaptureQueriesContext(connection) as captured:
            fn()
        stats, result = timed(fn, args.n)
        stats["queries"] = len(captured.captured_queries)
        queries[name] = stats
        return result

    county_cov = run("coverage_county_by_grid", lambda: rounds.coverage(county_round, by="grid"))
    run("coverage_county_by_village", lambda: rounds.coverage(county_round, by="village"))
    run("coverage_county_by_township", lambda: rounds.coverage(county_round, by="township"))
    town_cov = run("coverage_township_by_grid", lambda: rounds.coverage(extra["township"], by="grid"))
    run("coverage_village_by_building", lambda: rounds.coverage(extra["village"], by="building"))
    run("summary_county", lambda: rounds.summary(county_round))
    if grid_worker is not None:
        run("missing_grid_page_and_count", lambda: (list(rounds.missing(county_round, grid_worker)[:50]),
                                                    rounds.missing(county_round, grid_worker).count()))
    run("missing_county_page_hq", lambda: list(rounds.missing(county_round, hq)[:50]))
    run("missing_county_count_hq", lambda: rounds.missing(county_round, hq).count())
    result = {
        "benchmark": "testing_rounds", "date": now_iso(), "people": scale, "samples": samples,
        "samples_added_s": round(load.ms / 1000, 1) if added else None, "machine": machine_info(),
        "target": "coverage of a 1M-person county round < 1 s",
        "county_totals": county_cov["totals"], "county_rows": len(county_cov["rows"]),
        "township": {"code": township.code, "rows": len(town_cov["rows"]), "totals": town_cov["totals"]},
        "queries": queries,
    }
    print_json(result)


if __name__ == "__main__":
    main()
