"""Tracing reads and venue compliance on ten million check-ins (issue "Places").

1. Tops the check-in table up to --checkins rows (default 10,000,000) of
   synthetic scans spread over the last --days days (default 14, 06:00-22:00
   local, 1% yellow/red), at --venues venues (default 2,000: the demo's
   venues, cloned when fewer) and the register's current people. PostgreSQL:
   the day partitions are made first (`partitions.ensure_partitions`), then
   one `INSERT … SELECT` over generate_series per million rows, server side
   (faster than COPY from Python, same end state); SQLite: `executemany` per
   200,000 rows. Then ANALYZE.
2. Times `list(CheckIn.objects.filter(venue_id=V, scanned_at__range=(t1, t2)))`
   for random venues, windows of --window-hours (default 2) and of one day,
   and the same for a person (one day, and the whole --days).
3. Times `compliance.compute(venues, day)` for one county day (a day with the
   7 days before it filled): all venues, and a venue subset holding about
   --compliance-rows check-ins that day (default 300,000); the aggregate
   query alone is timed too.

    createdb -h 127.0.0.1 -U postgres fk_venues_q
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fk_venues_q FANGKONG_VAR_DIR=/tmp/fkvenues_q \\
        .venv/bin/fangkong demo --no-serve --people 50000 --checkin-days 0
    DATABASE_URL=... FANGKONG_VAR_DIR=/tmp/fkvenues_q .venv/bin/python benchmarks/venues_queries.py
    FANGKONG_VAR_DIR=/tmp/fkvenues_q_sqlite .venv/bin/python benchmarks/venues_queries.py

Targets: p50 < 5 ms for the venue read; compliance for one county day < 1 s.
Note: the synthetic rows (and cloned venues) stay in the database.
"""

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Timer, ensure_data, machine_info, now_iso, print_json, setup_django, summarize  # noqa: E402


def top_up_venues(target: int, rng) -> int:
    from fangkong.venues.models import Venue

    venues = list(Venue.objects.all())
    have = len(venues)
    if have >= target:
        return have
    clones = []
    for n in range(target - have):
        v = rng.choice(venues[:have])
        clones.append(Venue(name=f"{v.name}分店{n}", type_id=v.type_id, area_id=v.area_id, address=v.address,
                            supervisor_id=v.supervisor_id, expected_daily_visitors=v.expected_daily_visitors))
    Venue.objects.bulk_create(clones, batch_size=1000)
    return Venue.objects.count()


def fill(target: int, days: int, rng) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from fangkong.people.models import Person
    from fangkong.venues.models import CheckIn
    from fangkong.venues.partitions import ensure_partitions

    have = CheckIn.objects.count()
    today = timezone.localdate()
    first = today - timedelta(days=days)
    if have >= target:
        with connection.cursor() as cursor:  # a fill cut short left no statistics
            cursor.execute("ANALYZE venues_checkin")
        return {"checkins": have, "added": 0, "seconds": 0}
    ensure_partitions(first, today + timedelta(days=1))
    venue_ids = list(CheckIn._meta.get_field("venue").related_model.objects.values_list("pk", flat=True))
    person_ids = list(Person.objects.current().values_list("pk", flat=True))
    need = target - have
    tz = timezone.get_current_timezone()
    start = time.perf_counter()
    if connection.vendor == "postgresql":
        midnight = datetime.combine(first, dtime.min, tzinfo=tz)
        with connection.cursor() as cursor:
            # Ids numbered 1..n in two temporary tables, joined to random numbers (hash joins, fast).
            for name, ids in (("bench_people", person_ids), ("bench_venues", venue_ids)):
                cursor.execute(f"CREATE TEMPORARY TABLE {name} (n int PRIMARY KEY, id bigint)")
                cursor.execute(f"INSERT INTO {name} SELECT row_number() OVER (), x FROM unnest(%s::bigint[]) x", [ids])
            done = 0
            while done < need:
                n = min(1_000_000, need - done)
                # Venue popularity skewed (square of a uniform), times 06:00-22:00 local on a random day.
                cursor.execute(
                    "INSERT INTO venues_checkin (person_id, venue_id, scanned_at, status_shown, source, idem_key) "
                    "SELECT p.id, v.id, g.at, g.status, 'scan', '' FROM ("
                    "  SELECT 1 + floor(random() * %s)::int AS pn, 1 + floor(random() ^ 2 * %s)::int AS vn, "
                    "  %s::timestamptz + (floor(random() * %s) * interval '1 day') "
                    "    + interval '6 hours' + random() * interval '16 hours' AS at, "
                    "  CASE WHEN random() < 0.01 THEN 'yellow' ELSE 'green' END AS status "
                    "  FROM generate_series(1, %s)) g "
                    "JOIN bench_people p ON p.n = g.pn JOIN bench_venues v ON v.n = g.vn",
                    [len(person_ids), len(venue_ids), midnight, days, n])
                done += n
                print(f"  {have + done:,} check-ins ({time.perf_counter() - start:.0f}s)", file=sys.stderr)
            cursor.execute("DROP TABLE bench_people, bench_venues")
            cursor.execute("ANALYZE venues_checkin")
    else:
        adapt = connection.ops.adapt_datetimefield_value
        sql = ("INSERT INTO venues_checkin (person_id, venue_id, scanned_at, status_shown, source, idem_key) "
               "VALUES (%s, %s, %s, %s, 'scan', '')")
        done = 0
        base = datetime.combine(first, dtime.min, tzinfo=tz)
        while done < need:
            n = min(200_000, need - done)
            rows = []
            for _ in range(n):
                at = base + timedelta(days=rng.randrange(days), seconds=21600 + rng.randrange(57600))
                rows.append((person_ids[rng.randrange(len(person_ids))],
                             venue_ids[int(rng.random() ** 2 * len(venue_ids))],
                             adapt(at), "yellow" if rng.random() < 0.01 else "green"))
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, rows)
            done += n
            print(f"  {have + done:,} check-ins ({time.perf_counter() - start:.0f}s)", file=sys.stderr)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"checkins": CheckIn.objects.count(), "added": need, "seconds": round(time.perf_counter() - start, 1),
            "rows_per_s": round(need / (time.perf_counter() - start))}


def time_reads(n: int, days: int, window_hours: float, rng) -> dict:
    from django.utils import timezone

    from fangkong.people.models import Person
    from fangkong.venues.models import CheckIn, Venue

    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    venue_ids = list(Venue.objects.values_list("pk", flat=True))
    person_ids = list(Person.objects.current().values_list("pk", flat=True))

    def window(hours):
        day = today - timedelta(days=rng.randrange(1, days + 1))
        start = datetime.combine(day, dtime.min, tzinfo=tz) + timedelta(hours=6 + rng.random() * max(0, 16 - hours))
        return start, start + timedelta(hours=hours)

    out = {}
    cases = [
        ("venue_window", lambda: ("venue_id", rng.choice(venue_ids), window(window_hours))),
        ("venue_day", lambda: ("venue_id", rng.choice(venue_ids), window(24))),
        ("person_day", lambda: ("person_id", rng.choice(person_ids), window(24))),
        ("person_all_days", lambda: ("person_id", rng.choice(person_ids),
                                     (timezone.now() - timedelta(days=days + 1), timezone.now()))),
    ]
    for name, pick in cases:
        ms, rows = [], []
        for _ in range(n):
            field, value, (t1, t2) = pick()
            with Timer() as t:
                got = list(CheckIn.objects.filter(**{field: value}, scanned_at__range=(t1, t2)))
            ms.append(t.ms)
            rows.append(len(got))
        rows.sort()
        out[name] = {**summarize(ms), "rows_p50": rows[len(rows) // 2], "rows_max": rows[-1]}
    field, value, (t1, t2) = cases[0][1]()
    out["venue_window_sql"] = str(CheckIn.objects.filter(venue_id=value, scanned_at__range=(t1, t2)).query)[:400]
    out["venue_window_plan"] = CheckIn.objects.filter(venue_id=value, scanned_at__range=(t1, t2)).explain()[:1500]
    return out


def time_compliance(target_rows: int, reps: int, rng) -> dict:
    from django.db.models import Count
    from django.utils import timezone

    from fangkong.venues import compliance
    from fangkong.venues.models import CheckIn, Venue

    day = timezone.localdate() - timedelta(days=2)
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, dtime.min, tzinfo=tz)
    per_venue = dict(CheckIn.objects.filter(scanned_at__gte=start, scanned_at__lt=start + timedelta(days=1))
                     .values("venue_id").annotate(n=Count("id")).order_by().values_list("venue_id", "n"))
    out = {"day": day.isoformat(), "checkins_that_day": sum(per_venue.values())}
    ids = list(Venue.objects.values_list("pk", flat=True))
    rng.shuffle(ids)
    subset, rows = [], 0
    for pk in ids:
        if rows >= target_rows:
            break
        subset.append(pk)
        rows += per_venue.get(pk, 0)
    window = max(compliance.BASELINE_DAYS + 1, compliance.silent_days_setting())
    window_start = datetime.combine(day - timedelta(days=window - 1), dtime.min, tzinfo=tz)
    for label, venues in (("all_venues", Venue.objects.all()), ("subset", Venue.objects.filter(pk__in=subset))):
        count = venues.count()
        rows_day = sum(per_venue.get(pk, 0) for pk in venues.values_list("pk", flat=True))
        rows_window = CheckIn.objects.filter(venue_id__in=venues.values("pk"), scanned_at__gte=window_start,
                                             scanned_at__lt=start + timedelta(days=1)).count()
        ms = []
        for _ in range(reps):
            with Timer() as t:
                items = compliance.compute(venues, day)
                compliance.summary(items)
            ms.append(t.ms)
        out[label] = {"venues": count, "checkins_day": rows_day, "checkins_in_window": rows_window,
                      "window_days": window, **summarize(ms), "flagged": sum(1 for i in items if i.flags)}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--venues", type=int, default=2000)
    parser.add_argument("--n", type=int, default=200, help="reads per kind")
    parser.add_argument("--window-hours", type=float, default=2)
    parser.add_argument("--compliance-rows", type=int, default=300_000)
    parser.add_argument("--compliance-reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    setup_django()
    people = ensure_data(None)
    rng = random.Random(args.seed)
    from django.db import connection

    venues = top_up_venues(args.venues, rng)
    filled = fill(args.checkins, args.days, rng)
    result = {"benchmark": "venues_queries", "measured_at": now_iso(), "machine": machine_info(),
              "scale": {"people": people, "venues": venues, "days": args.days, **filled}}
    result["reads"] = time_reads(args.n, args.days, args.window_hours, rng)
    result["compliance"] = time_compliance(args.compliance_rows, args.compliance_reps, rng)
    result["machine"]["load_average_after"] = __import__("os").getloadavg()
    out = args.out or f"/tmp/bench_venues_queries_{connection.vendor}.json"
    Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print_json(result)


if __name__ == "__main__":
    main()
