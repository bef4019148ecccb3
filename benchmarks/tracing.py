"""Contact tracing on 10^6 and 10^7 check-ins (issue "Rapid tracing", section Performance).

For each database (--db sqlite|pg|both) and each scale (--checkins 1e6,1e7)
this measures, in one child process per (database, scale) so that Django
points at that bench database only (the child refuses any other):

1. One case, 14-day window (--window-days): ``engine.close_and_companions``
   with ``engine.RuleSet(CONTACT_RULES)`` for --n different random index
   people (p50 / p95, after --warmup untimed cases); also ``co_presence``
   + ``merge`` alone (what the baseline computes).
2. An outbreak of --cases cases, at the largest scale only (--outbreak-at):
   ``close_and_companions`` over all their indexes in one call, then
   ``secondaries`` over their close contacts (one index per close contact,
   from its earliest first exposure to "now", as ``services.discover`` does
   per case), total seconds. The cases' windows are the pack's
   (``Case.window``: 00:00 two days before onset to isolation; onsets in the
   last 5 days, isolation 12-48 h into the onset day), or a fixed
   --outbreak-window-days. The engine builds a co-presence link's evidence
   items when they are first read: building them for every link (what
   storing the contacts needs) is timed apart ("evidence"), not counted.
3. A brute-force baseline on the same data in the same run: the check-ins
   exported once into a DuckDB file (export timed apart, not counted), then
   the same co-presence as one plain SQL join over all rows (no index), with
   the engine's interval math: presence = [scan, scan + dwell]; another
   check-in b matches when [b, b + dwell] meets the presence (closed
   intervals, touching counts); close when the overlap is at least the
   venue type's close_minutes. Households and workplaces are left out of
   both sides (engine side: ``engine.co_presence`` + ``engine.merge``). The
   result sets of (index key, person_id, kind) must be identical
   ("identical": true) and the JSON gives engine time / baseline time.

Data (generated once, kept under --dir, default /tmp/fk_tracing; --reuse
keeps what exists): a base database per engine holding the demo county
(`manage.py demo --people N --checkin-days 0` run in --demo-src, default
this checkout: --people people, 5 venues per 1,000 people, every type of
``venues/types.py`` with its dwell time), then one copy per scale (SQLite:
backup API; PostgreSQL: CREATE DATABASE ... TEMPLATE) filled with
--checkins rows over --days days (default 28) with daily rhythms (the
demo's routine: compound gate morning and evening, markets in the morning,
restaurants at meals, pupils and workers at school / work on weekdays at
07:18-08:12, ...): each scanning person scans 1-3 times a day, so an index
person has ~25 check-ins in 14 days. The scanning population and the venues
in use scale with the check-ins (10^7: ~190k scanning people at ~5,000
venues; 10^6: ~19k people at ~500 venues, a tenth of the county), so that
the density per venue (~72 check-ins a venue-day), and so the work per
case, is the same at both scales: what changes is the size of the table the
engine seeks in. 80% of errands are in the person's own township; venues
have a log-normal popularity. --shape handful (default) spreads errands
over wider hours and has pupils and workers scan at school / work on 20%
of weekdays, so that a co-presence finds ~15 people on average;
--shape demo keeps the demo's routine (meal-time peaks, daily scans at
school / work with 8-hour dwell: ~60 people per co-presence; databases
suffixed _demo). Rows are written with COPY (PostgreSQL, into day
partitions) or executemany in one transaction per million rows (SQLite),
the (venue, scanned_at) and (person, scanned_at) indexes dropped during the
load and built after it, then (VACUUM) ANALYZE.

    .venv/bin/python benchmarks/tracing.py --db both --checkins 1e6,1e7 --cases 1000 --reuse

PostgreSQL: postgres://postgres@127.0.0.1:5432 (--pg-url), databases
fk_tracing_base, fk_tracing_1e6, fk_tracing_1e7 (kept: drop them with
dropdb when done). SQLite: <dir>/sqlite_base, <dir>/sqlite_1e6, ... (each
a FANGKONG_VAR_DIR). The JSON goes to stdout and to --out
(default /tmp/bench_tracing.json). --engine-file measures another
engine.py (e.g. `git show HEAD:fangkong/tracing/engine.py`): before/after.

Targets: one case p50 < 50 ms (and barely moving from 10^6 to 10^7);
1,000-case outbreak with secondaries < 10 s at 10^7.
"""

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Timer, cpu_model, memory_gb, now_iso, percentile, print_json, summarize  # noqa: E402

PYTHON = sys.executable

# (type code, local hour windows, weight): the demo's routine (fangkong/demo/venues.py) as it was when the
# figures in RESULTS.md were taken (restaurants 22, since lowered to 6 in the demo). Kept here, not imported,
# so that the benchmark's data stays the same whatever the demo does.
ROUTINE = [
    ("compound_gate", [(7.0, 8.5), (17.5, 19.5)], 30),
    ("farmers_market", [(6.0, 9.5)], 8),
    ("restaurant", [(11.5, 13.0), (17.5, 20.0)], 22),
    ("supermarket", [(9.0, 21.0), (18.0, 20.0)], 22),
    ("pharmacy", [(8.0, 20.0)], 5),
    ("clinic", [(8.0, 17.0)], 3),
    ("hospital", [(8.0, 17.0)], 2),
    ("express", [(10.0, 19.0)], 4),
    ("bath_beauty", [(10.0, 21.0)], 2),
    ("entertainment", [(19.0, 23.0)], 2),
    ("cinema", [(18.5, 22.0)], 1),
    ("bank", [(9.0, 16.5)], 2),
    ("station", [(6.5, 19.0)], 1),
    ("hotel", [(18.0, 23.0)], 1),
    ("scenic_spot", [(9.0, 17.0)], 1),
    ("religious", [(7.0, 11.0)], 1),
    ("elderly_care", [(9.0, 17.0)], 1),
]
# The "handful" shape (default): the same errands over wider hours (closer to the spread of a real day),
# so that one co-presence finds a handful to a few dozen people at ~72 check-ins per venue-day.
WIDE_HOURS = {
    "compound_gate": [(6.5, 9.0), (16.5, 21.0)], "farmers_market": [(5.5, 11.0)],
    "restaurant": [(10.5, 14.0), (16.5, 21.0)], "supermarket": [(8.0, 21.5)], "pharmacy": [(8.0, 21.0)],
    "clinic": [(7.5, 18.0)], "hospital": [(7.5, 18.0)], "express": [(9.0, 20.0)], "bath_beauty": [(9.0, 22.0)],
    "entertainment": [(14.0, 23.5)], "cinema": [(10.0, 22.5)], "bank": [(8.5, 17.0)], "station": [(6.0, 20.0)],
    "hotel": [(12.0, 23.5)], "scenic_spot": [(8.0, 18.0)], "religious": [(6.0, 17.0)],
    "elderly_care": [(8.0, 18.0)],
}
# shape -> (share of weekdays a pupil / worker scans at school / work, venue popularity sigma,
#           whether schools and workplaces are popularity-weighted, wide hours)
SHAPES = {
    "handful": (0.2, 0.4, False, True),
    "demo": (0.95, 0.7, True, False),  # the demo generator's routine as it is: ~60 people per co-presence
}
WORKPLACES = ["factory", "office", "construction_site"]
# Errands a day: on a weekday with a school / workplace scan, and otherwise.
ERRANDS_WITH_PLACE = ([0, 1, 2], [0.2, 0.5, 0.3])
ERRANDS = ([0, 1, 2, 3], [0.05, 0.3, 0.35, 0.3])
LOCAL_SHARE = 0.8  # errands in the person's own township
# Venues in use: as many as give this density (10^7 rows over 28 days at the 1M county's 5,000 venues).
CHECKINS_PER_VENUE_DAY = 72
PACK_DAYS_BEFORE = 2  # contact_window_days of the shipped packs
CHECKIN_INDEXES = ("checkin_venue_time_idx", "checkin_person_time_idx")
PG_INDEX_SQL = [
    "CREATE INDEX checkin_venue_time_idx ON venues_checkin (venue_id, scanned_at)",
    "CREATE INDEX checkin_person_time_idx ON venues_checkin (person_id, scanned_at)",
]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def scale_tag(n: int) -> str:
    exp = len(str(n)) - 1
    return f"1e{exp}" if n == 10 ** exp else str(n)


def parse_counts(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


# ------------------------------------------------------------------------------------------------
# parent: databases, children, the combined JSON
# ------------------------------------------------------------------------------------------------
def pg_admin(args, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def pg_exists(args, name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def env_for(args, engine: str, var_dir: Path, dbname: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["FANGKONG_VAR_DIR"] = str(var_dir)
    env["FANGKONG_DB_CONN_MAX_AGE"] = "0"
    if engine == "pg":
        env["DATABASE_URL"] = f"{args.pg_url}/{dbname}"
    return env


def ensure_base(args, engine: str) -> Path:
    """The demo county without check-ins: generated once, the template of every scale."""
    var_dir = Path(args.dir) / f"{engine}_base"
    if (var_dir / "demo-accounts.json").exists() and (engine == "sqlite" or pg_exists(args, f"{args.pg_prefix}_base")):
        return var_dir
    log(f"[{engine}] generating the base county ({args.people:,} people) in {var_dir}")
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    if engine == "pg":
        pg_admin(args, f"DROP DATABASE IF EXISTS {args.pg_prefix}_base")
        pg_admin(args, f"CREATE DATABASE {args.pg_prefix}_base")
    src = Path(args.demo_src or ROOT)
    subprocess.run([PYTHON, "manage.py", "demo", "--no-serve", "--people", str(args.people), "--checkin-days", "0"],
                   cwd=src, env=env_for(args, engine, var_dir, f"{args.pg_prefix}_base"), check=True,
                   stdout=sys.stderr)
    return var_dir


def copy_keys(base: Path, var_dir: Path) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    for name in ("secret.key", "data.key", "demo-accounts.json"):
        if (base / name).exists():
            shutil.copy2(base / name, var_dir / name)


def prepare_scale(args, engine: str, base: Path, checkins: int) -> tuple[Path, str | None, bool]:
    """The database of one scale: (var dir, PostgreSQL database name, whether it must be filled)."""
    tag = scale_tag(checkins) + ("" if args.shape == "handful" else f"_{args.shape}")
    var_dir = Path(args.dir) / f"{engine}_{tag}"
    dbname = f"{args.pg_prefix}_{tag}" if engine == "pg" else None
    meta = var_dir / "bench-meta.json"
    facts = json.loads(meta.read_text()) if meta.exists() else {}
    if (args.reuse and facts.get("checkins") == checkins and facts.get("shape") == args.shape
            and (engine == "sqlite" or pg_exists(args, dbname))):
        return var_dir, dbname, False
    log(f"[{engine} {tag}] copying the base county")
    if var_dir.exists():
        shutil.rmtree(var_dir)
    copy_keys(base, var_dir)
    if engine == "sqlite":
        src = sqlite3.connect(str(base / "fangkong.sqlite3"))
        dst = sqlite3.connect(str(var_dir / "fangkong.sqlite3"))
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.close()
        src.close()
    else:
        pg_admin(args, f"DROP DATABASE IF EXISTS {dbname}")
        pg_admin(args, f"CREATE DATABASE {dbname} TEMPLATE {args.pg_prefix}_base")
    return var_dir, dbname, True


def run_child(args, engine: str, checkins: int) -> dict:
    base = ensure_base(args, engine)
    var_dir, dbname, fill = prepare_scale(args, engine, base, checkins)
    out = var_dir / "bench-result.json"
    cmd = [PYTHON, str(Path(__file__).resolve()), "--child", "--engine", engine, "--checkins", str(checkins),
           "--result", str(out), "--expect-db", dbname or str(var_dir / "fangkong.sqlite3")]
    for name in ("days", "window_days", "n", "warmup", "cases", "outbreak_window_days", "contact_isolation_hours",
                 "seed", "baseline_cases",
                 "shape"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if fill:
        cmd.append("--fill")
    if args.no_baseline:
        cmd.append("--no-baseline")
    if args.no_outbreak or checkins < max(parse_counts(args.outbreak_at or args.checkins)):
        cmd.append("--no-outbreak")
    if args.fill_only:
        cmd.append("--fill-only")
    if args.engine_file:
        cmd += ["--engine-file", str(Path(args.engine_file).resolve())]
    log(f"[{engine} {scale_tag(checkins)}] {'filling and ' if fill else ''}measuring")
    subprocess.run(cmd, cwd=ROOT, env=env_for(args, engine, var_dir, dbname), check=True)
    return json.loads(out.read_text())


def parent(args) -> None:
    engines = ["sqlite", "pg"] if args.db == "both" else [args.db]
    result = {
        "benchmark": "tracing", "measured_at": now_iso(),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "memory_gb": memory_gb(),
                    "load_average_before": os.getloadavg(),
                    "note": "2 cores shared with other work during the run (see each run's load averages)"},
        "targets": {"one_case_p50_ms": 50, "outbreak_seconds": 10},
        "runs": {},
    }
    for engine in engines:
        for checkins in parse_counts(args.checkins):
            run = run_child(args, engine, checkins)
            shape = "" if args.shape == "handful" else f"_{args.shape}"
            result["runs"][f"{engine}_{scale_tag(checkins)}{shape}"] = run
    if args.fill_only:
        print_json(result)
        return
    result["summary"] = summary(result["runs"])
    result["machine"]["load_average_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print_json(result)


def summary(runs: dict) -> dict:
    out = {}
    for name, run in runs.items():
        one = run["one_case"]["close_and_companions"]
        row = {"checkins": run["scale"]["checkins"], "one_case_p50_ms": one["p50_ms"], "one_case_p95_ms": one["p95_ms"],
               "one_case_target_met": one["p50_ms"] < 50}
        if "baseline" in run["one_case"]:
            row["one_case_baseline_p50_ms"] = run["one_case"]["baseline"]["p50_ms"]
            row["one_case_identical"] = run["one_case"]["identical"]
        ob = run.get("outbreak")
        if ob:
            row["outbreak_seconds"] = ob["total_seconds"]
            row["outbreak_target_met"] = ob["total_seconds"] < 10
            for level in ("first", "secondary"):
                cmp = ob.get(f"compare_{level}")
                if cmp:
                    row[f"outbreak_{level}_ratio"] = cmp["ratio_engine_over_baseline"]
                    row[f"outbreak_{level}_identical"] = cmp["identical"]
        out[name] = row
    return out


# ------------------------------------------------------------------------------------------------
# child: fill one database, measure
# ------------------------------------------------------------------------------------------------
def child_setup(args) -> None:
    from common import setup_django

    setup_django()
    from django.conf import settings

    name = str(settings.DATABASES["default"]["NAME"])
    if name != args.expect_db:  # never write into the development database
        raise SystemExit(f"refusing to run: the database is {name!r}, expected {args.expect_db!r}")


def local_midnight(day: date) -> datetime:
    from django.utils import timezone

    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.get_current_timezone())


def generate_rows(args, rng_seed: int):
    """The check-ins as numpy arrays (person, venue, epoch seconds), sorted by time, exactly --checkins rows."""
    import numpy as np
    from django.utils import timezone

    from fangkong.people.models import Person
    from fangkong.venues.models import Venue

    rng = np.random.default_rng(rng_seed)
    today = timezone.localdate()
    first = today - timedelta(days=args.days)
    # Venues: a random subset in proportion to the check-ins (all of them at 10^7 in the 1M county).
    venues = list(Venue.objects.order_by("pk").values_list("pk", "type__code", "area_id"))
    share = min(1.0, args.checkins / (args.days * CHECKINS_PER_VENUE_DAY * len(venues)))
    order = rng.permutation(len(venues))
    keep = sorted(order[:max(1, round(len(venues) * share))].tolist())
    venues = [venues[i] for i in keep]
    codes = sorted({c for _, c, _ in venues})
    code_ix = {c: i for i, c in enumerate(codes)}
    townships = sorted({a[:9] for _, _, a in venues})
    town_ix = {t: i for i, t in enumerate(townships)}
    n_town = len(townships)
    v_id = np.array([v[0] for v in venues], dtype=np.int64)
    v_group = np.array([code_ix[c] * n_town + town_ix[a[:9]] for _, c, a in venues], dtype=np.int64)
    sort = np.argsort(v_group, kind="stable")
    v_id, v_group = v_id[sort], v_group[sort]
    place_share, sigma, weighted_places, wide = SHAPES[args.shape]
    weight = rng.lognormal(0.0, sigma, len(v_id))
    cum = np.cumsum(weight)
    before = cum - weight
    n_groups = len(codes) * n_town
    g_lo = np.searchsorted(v_group, np.arange(n_groups), "left")
    g_hi = np.searchsorted(v_group, np.arange(n_groups), "right")
    t_lo = g_lo[::n_town] if n_town else g_lo
    t_hi = np.searchsorted(v_group, (np.arange(len(codes)) + 1) * n_town, "left")

    def pick(type_idx, town_idx, local, weighted=True):
        """A venue of each (type, township), popularity-weighted; county-wide when not local or none there."""
        grp = type_idx * n_town + town_idx
        lo = np.where(local & (g_hi[grp] > g_lo[grp]), g_lo[grp], t_lo[type_idx])
        hi = np.where(local & (g_hi[grp] > g_lo[grp]), g_hi[grp], t_hi[type_idx])
        ok = hi > lo
        lo_c, hi_c = np.where(ok, lo, 0), np.where(ok, hi, 1)
        if weighted:
            target = before[lo_c] + rng.random(len(lo_c)) * (cum[hi_c - 1] - before[lo_c])
            idx = np.clip(np.searchsorted(cum, target, "right"), lo_c, hi_c - 1)
        else:
            idx = np.minimum(lo_c + (rng.random(len(lo_c)) * (hi_c - lo_c)).astype(np.int64), hi_c - 1)
        return np.where(ok, v_id[idx], -1)

    # The scanning population: a random sample of the register, with its daily place.
    people = list(Person.objects.current().values_list("pk", "area_id", "birth_date"))
    routine_codes = [c for c, _, _ in ROUTINE]
    mean = 1.95
    a_count = min(len(people), int(args.checkins / (args.days * mean) * 1.06))
    sample = rng.choice(len(people), a_count, replace=False)
    p_id = np.array([people[i][0] for i in sample], dtype=np.int64)
    p_town = np.array([town_ix.get(people[i][1][:9], 0) for i in sample], dtype=np.int64)
    ages = np.array([(first.year - people[i][2].year) if people[i][2] else 40 for i in sample])
    place_code = np.full(a_count, -1)
    for code, mask in (("kindergarten", (ages >= 3) & (ages < 6)), ("school", (ages >= 6) & (ages <= 18))):
        if code in code_ix:
            place_code[mask] = code_ix[code]
    workers = (ages >= 19) & (ages <= 60) & (rng.random(a_count) < 0.5)
    avail = [code_ix[c] for c in WORKPLACES if c in code_ix]
    if avail:
        place_code[workers] = rng.choice(avail, workers.sum())
    place = np.full(a_count, -1, dtype=np.int64)
    has = place_code >= 0
    place[has] = pick(place_code[has], p_town[has], np.ones(has.sum(), bool), weighted_places)
    has = place >= 0
    # The routine's types that exist, their windows (up to 2) and weights.
    r_types = [i for i, c in enumerate(routine_codes) if c in code_ix]
    r_code = np.array([code_ix[ROUTINE[i][0]] for i in r_types])
    r_w = np.array([ROUTINE[i][2] for i in r_types], float)
    r_w /= r_w.sum()
    hours = [WIDE_HOURS[ROUTINE[i][0]] if wide else ROUTINE[i][1] for i in r_types]
    win = np.array([[h[0], h[-1]] for h in hours], float)  # (types, 2 windows, lo/hi)
    n_win = np.array([len(h) for h in hours])
    chunks = []
    for d in range(args.days):
        day = first + timedelta(days=d)
        midnight = int(local_midnight(day).timestamp())
        weekday = day.weekday() < 5
        parts_p, parts_v, parts_t = [], [], []
        with_place = has & (rng.random(a_count) < place_share) if weekday else np.zeros(a_count, bool)
        if with_place.any():
            parts_p.append(p_id[with_place])
            parts_v.append(place[with_place])
            parts_t.append(midnight + ((7.3 + rng.random(with_place.sum()) * 0.9) * 3600).astype(np.int64))
        errands = rng.choice(ERRANDS[0], a_count, p=ERRANDS[1])
        if weekday:
            errands = np.where(with_place, rng.choice(ERRANDS_WITH_PLACE[0], a_count, p=ERRANDS_WITH_PLACE[1]),
                               errands)
        who = np.repeat(np.arange(a_count), errands)
        kind = rng.choice(len(r_types), len(who), p=r_w)
        w = (rng.random(len(who)) * n_win[kind]).astype(int)
        lo, hi = win[kind, w, 0], win[kind, w, 1]
        at = midnight + ((lo + rng.random(len(who)) * (hi - lo)) * 3600).astype(np.int64)
        venue = pick(r_code[kind], p_town[who], rng.random(len(who)) < LOCAL_SHARE)
        ok = venue >= 0
        parts_p.append(p_id[who][ok])
        parts_v.append(venue[ok])
        parts_t.append(at[ok])
        chunks.append((np.concatenate(parts_p), np.concatenate(parts_v), np.concatenate(parts_t)))
    person = np.concatenate([c[0] for c in chunks])
    venue = np.concatenate([c[1] for c in chunks])
    at = np.concatenate([c[2] for c in chunks])
    if len(at) < args.checkins:
        raise SystemExit(f"generated only {len(at):,} rows for {args.checkins:,}: raise the people sample")
    generated = len(at)
    keep = np.sort(rng.choice(len(at), args.checkins, replace=False))
    person, venue, at = person[keep], venue[keep], at[keep]
    order = np.argsort(at, kind="stable")
    info = {"first_day": first.isoformat(), "end": int(local_midnight(today).timestamp()),
            "scanning_people": int(a_count), "venues_used": len(v_id), "venues_in_county": Venue.objects.count(),
            "shape": args.shape, "people_with_daily_place": int(has.sum()), "generated_before_trim": generated,
            "index_pool": rng.choice(p_id, min(20000, a_count), replace=False).tolist()}
    return person[order], venue[order], at[order], info


def fill(args) -> dict:
    """Write the generated check-ins into this scale's database; returns the data facts."""
    import numpy as np
    from django.db import connection

    from fangkong.venues.models import CheckIn
    from fangkong.venues.partitions import ensure_partitions

    if CheckIn.objects.exists():
        raise SystemExit("the scale database already holds check-ins")
    started = time.perf_counter()
    person, venue, at, info = generate_rows(args, args.seed)
    info["generate_seconds"] = round(time.perf_counter() - started, 1)
    log(f"  generated {len(at):,} rows in {info['generate_seconds']} s; writing")
    stamps = np.char.replace(np.datetime_as_string(at.astype("datetime64[s]")), "T", " ")
    step = 1_000_000
    write_start = time.perf_counter()
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "sqlite":
        sqls = dict(raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'venues_checkin'"))
        raw.execute("PRAGMA cache_size = -1000000")
        for name in CHECKIN_INDEXES:
            raw.execute(f'DROP INDEX "{name}"')
        insert = ("INSERT INTO venues_checkin (person_id, venue_id, scanned_at, status_shown, source, idem_key) "
                  "VALUES (?, ?, ?, 'green', 'scan', '')")
        for lo in range(0, len(at), step):
            rows = list(zip(person[lo:lo + step].tolist(), venue[lo:lo + step].tolist(), stamps[lo:lo + step].tolist(),
                            strict=True))
            raw.execute("BEGIN")
            raw.executemany(insert, rows)
            raw.execute("COMMIT")
            log(f"  {lo + len(rows):,} rows ({time.perf_counter() - write_start:.0f} s)")
        info["insert_seconds"] = round(time.perf_counter() - write_start, 1)
        for name in CHECKIN_INDEXES:
            raw.execute(sqls[name])
        info["index_seconds"] = round(time.perf_counter() - write_start - info["insert_seconds"], 1)
        raw.execute("ANALYZE")
    else:
        first = date.fromisoformat(info["first_day"])
        ensure_partitions(first - timedelta(days=1), first + timedelta(days=args.days + 1))
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("DROP INDEX " + ", ".join(CHECKIN_INDEXES))
        copy_sql = "COPY venues_checkin (person_id, venue_id, scanned_at, status_shown, source, idem_key) FROM STDIN"
        for lo in range(0, len(at), step):
            block = "".join(f"{p}\t{v}\t{s}+00\tgreen\tscan\t\n" for p, v, s in zip(
                person[lo:lo + step].tolist(), venue[lo:lo + step].tolist(), stamps[lo:lo + step].tolist(),
                strict=True))
            with raw.cursor() as cur, cur.copy(copy_sql) as copy:
                copy.write(block)
            log(f"  {min(lo + step, len(at)):,} rows ({time.perf_counter() - write_start:.0f} s)")
        info["insert_seconds"] = round(time.perf_counter() - write_start, 1)
        with connection.cursor() as cursor:
            for sql in PG_INDEX_SQL:
                cursor.execute(sql)
            info["index_seconds"] = round(time.perf_counter() - write_start - info["insert_seconds"], 1)
            cursor.execute("VACUUM ANALYZE venues_checkin")
    info["write_seconds"] = round(time.perf_counter() - write_start, 1)
    info["checkins"] = CheckIn.objects.count()
    info["rows_per_s"] = round(len(at) / info["write_seconds"])
    return info


# ------------------------------------------------------------------------------------------------
# measurement
# ------------------------------------------------------------------------------------------------
def kinds(merged: dict) -> set:
    return {(key, pid, str(link.kind)) for (key, pid), link in merged.items()}


def as_dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def one_case(args, meta, rules, rng, baseline) -> dict:
    from fangkong.tracing import engine

    pool = meta["index_pool"]
    first = int(local_midnight(date.fromisoformat(meta["first_day"])).timestamp())
    end_max = meta["end"]
    width = args.window_days * 86400
    picks = rng.sample(pool, args.n + args.warmup)
    ms, ms_co, found, close, presences, base_ms, identical = [], [], [], [], [], [], True
    rows_found = []
    mismatches = []
    for number, pid in enumerate(picks):
        end = rng.randrange(first + width, end_max + 1)
        ix = engine.Index(1, pid, as_dt(end - width), as_dt(end))
        with Timer() as t:
            links = engine.close_and_companions([ix], rules)
        with Timer() as t_co:
            rows = engine.co_presence([ix], rules)
            co = engine.merge(rows)
        if number < args.warmup:
            continue
        ms.append(t.ms)
        ms_co.append(t_co.ms)
        found.append(len(links))
        rows_found.append(len(rows))
        close.append(sum(1 for link in links.values() if link.kind == "close"))
        presences.append(len(engine.presences([ix])[1]))
        if baseline is not None and number - args.warmup < args.baseline_cases:
            got, b_ms = baseline.co_presence([(1, pid, end - width, end)], close_only=False)
            base_ms.append(b_ms)
            if got != kinds(co):
                identical = False
                mismatches.append({"person": pid, "engine_only": sorted(kinds(co) - got)[:5],
                                   "baseline_only": sorted(got - kinds(co))[:5]})
    out = {
        "window_days": args.window_days,
        "close_and_companions": summarize(ms),
        "co_presence_only": summarize(ms_co),
        "per_case": {"check_ins_in_window_p50": percentile(presences, 50), "check_ins_in_window_max": max(presences),
                     "contacts_p50": percentile(found, 50), "contacts_p95": percentile(found, 95),
                     "close_p50": percentile(close, 50), "close_max": max(close),
                     "co_presence_rows_p50": percentile(rows_found, 50),
                     "rows_per_seek_mean": round(sum(rows_found) / max(1, sum(presences)), 1)},
    }
    if baseline is not None:
        out["baseline"] = summarize(base_ms)
        out["ratio_engine_over_baseline_p50"] = round(percentile(ms_co, 50) / percentile(base_ms, 50), 4)
        out["identical"] = identical
        out["compared_cases"] = len(base_ms)
        if mismatches:
            out["mismatches"] = mismatches[:5]
    return out


def outbreak(args, meta, rules, rng, baseline) -> dict:
    from fangkong.tracing import engine

    pool = meta["index_pool"]
    end_max = meta["end"]
    from django.utils import timezone

    last_day = timezone.localtime(as_dt(end_max - 1)).date()
    people = rng.sample(pool, args.cases)
    windows = []
    for key, pid in enumerate(people, 1):
        if args.outbreak_window_days:  # a fixed window ending in the last two days
            end = end_max - rng.randrange(0, 2 * 86400)
            windows.append((key, pid, end - args.outbreak_window_days * 86400, end))
        else:  # the pack's: from 00:00 two days before onset to isolation (Case.window), onsets in the last 5 days
            onset = last_day - timedelta(days=rng.randrange(5))
            start = int(local_midnight(onset - timedelta(days=PACK_DAYS_BEFORE)).timestamp())
            isolated = int(local_midnight(onset).timestamp()) + rng.randrange(12 * 3600, 48 * 3600)
            windows.append((key, pid, start, min(isolated, end_max)))
    indexes = [engine.Index(key, pid, as_dt(lo), as_dt(hi)) for key, pid, lo, hi in windows]
    now = as_dt(end_max)
    started = time.perf_counter()
    first = engine.close_and_companions(indexes, rules)
    t_first = time.perf_counter() - started
    # Secondary contacts: each close contact once, from its earliest first exposure until its isolation:
    # "now" (not yet isolated, as services.discover has it for contacts not dispatched), or with
    # --contact-isolation-hours, that many hours after its case was isolated (dispatched in time).
    earliest: dict[int, tuple[datetime, datetime]] = {}
    ends = {key: hi for key, _pid, _lo, hi in windows}
    for (key, pid), link in first.items():
        if link.kind == "close" and (pid not in earliest or link.first < earliest[pid][0]):
            isolated = now
            if args.contact_isolation_hours:
                isolated = min(now, as_dt(ends[key] + args.contact_isolation_hours * 3600))
            earliest[pid] = (link.first, isolated)
    sec_indexes = [engine.Index(pid, pid, at, max(at, end)) for pid, (at, end) in earliest.items()]
    t_sec_start = time.perf_counter()
    second = engine.secondaries(sec_indexes, rules)
    t_second = time.perf_counter() - t_sec_start
    total = time.perf_counter() - started
    # The engine builds a co-presence link's evidence items when they are first read (trace_case reads them
    # to store the contact): not in the figures above, timed here for every link of both levels.
    with Timer() as t_evidence:
        items = sum(len(link.evidence) for links in (first, second) for link in links.values())
    by_kind = {}
    for link in first.values():
        by_kind[str(link.kind)] = by_kind.get(str(link.kind), 0) + 1
    out = {
        "cases": args.cases,
        "window": (f"{args.outbreak_window_days} days" if args.outbreak_window_days else
                   f"the pack's: 00:00 {PACK_DAYS_BEFORE} days before onset (onsets in the last 5 days) "
                   "to isolation 12-48 h after the onset day began"),
        "window_days_mean": round(sum(hi - lo for _k, _p, lo, hi in windows) / len(windows) / 86400, 2),
        "close_contacts_isolated": (f"{args.contact_isolation_hours} h after their case"
                                    if args.contact_isolation_hours else "not yet: traced until now"),
        "first_level_seconds": round(t_first, 3), "secondaries_seconds": round(t_second, 3),
        "total_seconds": round(total, 3),
        "evidence": {"items": items, "seconds": round(t_evidence.ms / 1000, 3),
                     "note": "building every link's evidence, as storing them would (not in total_seconds)"},
        "links": {**by_kind, "distinct_people": len({pid for _k, pid in first}),
                  "close_contacts_traced": len(sec_indexes), "secondary_links": len(second),
                  "secondary_distinct_people": len({pid for _k, pid in second})},
        "seeks": {"first_level_presences": sum(len(v) for v in engine.presences(indexes).values())},
    }
    if baseline is None:
        return out
    with Timer() as t:
        co = engine.merge(engine.co_presence(indexes, rules))
    got, b_ms = baseline.co_presence(windows, close_only=False)
    out["compare_first"] = compare(kinds(co), got, t.ms, b_ms, "co_presence of the cases (close + companion)")
    sec_windows = [(ix.key, ix.person_id, int(ix.start.timestamp()), int(ix.end.timestamp())) for ix in sec_indexes]
    with Timer() as t:
        co2 = engine.merge(engine.co_presence(sec_indexes, rules, close_only=True))
    got2, b_ms2 = baseline.co_presence(sec_windows, close_only=True)
    out["compare_secondary"] = compare(kinds(co2), got2, t.ms, b_ms2,
                                       "close-only co_presence of the close contacts (what secondaries seeks)")
    return out


def compare(engine_set, base_set, engine_ms, base_ms, what) -> dict:
    out = {"what": what, "engine_seconds": round(engine_ms / 1000, 3), "baseline_seconds": round(base_ms / 1000, 3),
           "ratio_engine_over_baseline": round(engine_ms / base_ms, 4), "links": len(engine_set),
           "identical": engine_set == base_set}
    if engine_set != base_set:
        out["engine_only"] = [list(x) for x in sorted(engine_set - base_set)[:10]]
        out["baseline_only"] = [list(x) for x in sorted(base_set - engine_set)[:10]]
        out["engine_only_count"] = len(engine_set - base_set)
        out["baseline_only_count"] = len(base_set - engine_set)
    return out


class Baseline:
    """Brute force in DuckDB: the check-ins exported once, every query a join over all rows, no index."""

    def __init__(self, path: Path, rules):
        import duckdb

        self.path = path
        self.rules = rules
        self.export = self._export_if_needed()
        self.db = duckdb.connect(str(path), read_only=True)
        self.threads = self.db.execute("SELECT current_setting('threads')").fetchone()[0]

    def _export_if_needed(self) -> dict:
        import duckdb
        from django.db import connection

        from fangkong.venues.models import CheckIn, Venue

        count = CheckIn.objects.count()
        if self.path.exists():
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                have = con.execute("SELECT count(*) FROM checkins").fetchone()[0]
            except duckdb.Error:
                have = -1
            con.close()
            if have == count:
                return {"reused": True, "rows": count}
            self.path.unlink()
        started = time.perf_counter()
        csv = self.path.with_suffix(".csv")
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            with connection.connection.cursor() as cur, open(csv, "wb") as out, cur.copy(
                    "COPY (SELECT person_id, venue_id, extract(epoch FROM scanned_at)::bigint FROM venues_checkin) "
                    "TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    out.write(block)
        else:
            with connection.cursor() as cursor, open(csv, "w") as out:
                cursor.execute("SELECT person_id, venue_id, CAST(strftime('%s', scanned_at) AS INTEGER) "
                               "FROM venues_checkin")
                while rows := cursor.fetchmany(200_000):
                    out.write("".join(f"{p},{v},{t}\n" for p, v, t in rows))
        con = duckdb.connect(str(self.path))
        con.execute("CREATE TABLE checkins AS SELECT * FROM read_csv(?, header = false, "
                    "columns = {'person_id': 'BIGINT', 'venue_id': 'BIGINT', 'ts': 'BIGINT'})", [str(csv)])
        rows = [(pk, 60 * (own or default), code) for pk, own, default, code in
                Venue.objects.values_list("pk", "dwell_minutes", "type__dwell_minutes", "type__code")]
        con.execute("CREATE TABLE venues (id BIGINT, dwell BIGINT, close BIGINT, companion BOOLEAN)")
        con.executemany("INSERT INTO venues VALUES (?, ?, ?, ?)", [
            (pk, dwell, None if self.rules.for_type(code).close_minutes is None
             else 60 * self.rules.for_type(code).close_minutes, self.rules.for_type(code).companion)
            for pk, dwell, code in rows])
        con.close()
        csv.unlink()
        return {"reused": False, "rows": count, "export_seconds": round(time.perf_counter() - started, 1)}

    SQL = """
        WITH presence AS (
            SELECT i.key, i.person_id AS index_person, c.venue_id, c.ts AS s, c.ts + v.dwell AS e,
                   v.dwell, v.close, v.companion
            FROM idx i
            JOIN checkins c ON c.person_id = i.person_id AND c.ts BETWEEN i.lo AND i.hi
            JOIN venues v ON v.id = c.venue_id
        ), hit AS (
            SELECT p.key, o.person_id,
                   p.close IS NOT NULL AND least(p.e, o.ts + p.dwell) - greatest(p.s, o.ts) >= p.close AS is_close,
                   p.companion
            FROM presence p
            JOIN checkins o ON o.venue_id = p.venue_id AND o.ts <= p.e AND o.ts + p.dwell >= p.s
            WHERE o.person_id <> p.index_person
        )
        SELECT key, person_id, CASE WHEN bool_or(is_close) THEN 'close' ELSE 'companion' END
        FROM hit WHERE is_close OR (companion AND NOT ?)
        GROUP BY key, person_id
    """

    def co_presence(self, windows, *, close_only: bool) -> tuple[set, float]:
        """WINDOWS: (key, person_id, lo, hi) in epoch seconds. Returns ({(key, person, kind)}, ms)."""
        import pandas as pd

        frame = pd.DataFrame(windows, columns=["key", "person_id", "lo", "hi"]).astype("int64")
        con = self.db.cursor()
        con.register("idx", frame)
        with Timer() as t:
            rows = con.execute(self.SQL, [close_only]).fetchall()
        con.close()
        return {(int(k), int(p), kind) for k, p, kind in rows}, t.ms


def explain_seek(args, meta, rules) -> dict:
    """The plan of the engine's co-presence statement for one case (range scans at the venues); PostgreSQL: EXPLAIN ANALYZE.

    The statement is a UNION ALL of range scans (SQLite, and engines before the LATERAL join on PostgreSQL) or
    the ranges as arrays joined LATERAL to the check-ins (PostgreSQL).
    """
    from django.db import connection

    from fangkong.tracing import engine

    pid = meta["index_pool"][0]
    end = meta["end"]
    ix = engine.Index(1, pid, as_dt(end - args.window_days * 86400), as_dt(end))
    captured = []

    def capture(execute, sql, params, many, context):
        if '"venue_id" = ' in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        engine.co_presence([ix], rules)
    if not captured:
        return {}
    sql, params = captured[0]
    ranges = len(params[0]) if "unnest(" in sql else sql.count("UNION ALL") + 1
    out = {"ranges_in_statement": ranges, "sql_head": sql[:600]}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            out["plan"] = [row[-1] for row in cursor.fetchall()][:8]
        else:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            lines = [row[0] for row in cursor.fetchall()]
            out["plan"] = lines[:12]
            out["plan_tail"] = lines[-4:]
    return out


def load_engine(path: str) -> None:
    """Measure another version of the engine (e.g. `git show HEAD:fangkong/tracing/engine.py`): before/after."""
    import importlib.util

    import fangkong.tracing

    spec = importlib.util.spec_from_file_location("fangkong.tracing.engine", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fangkong.tracing.engine"] = module
    spec.loader.exec_module(module)
    fangkong.tracing.engine = module


def child(args) -> None:
    child_setup(args)
    if args.engine_file:
        load_engine(args.engine_file)
    from common import machine_info
    from django.conf import settings
    from django.db import connection

    from fangkong.people.models import Person
    from fangkong.policy.packs import CONTACT_RULES
    from fangkong.tracing import engine

    var_dir = Path(settings.VAR_DIR)
    meta_path = var_dir / "bench-meta.json"
    if args.fill:
        info = fill(args)
        meta_path.write_text(json.dumps(info))
    meta = json.loads(meta_path.read_text())
    if args.fill_only:
        Path(args.result).write_text(json.dumps({"scale": {k: v for k, v in meta.items() if k != "index_pool"}}))
        return
    rules = engine.RuleSet(CONTACT_RULES)
    rng = random.Random(args.seed)
    scale = {k: v for k, v in meta.items() if k != "index_pool"}
    scale["people_registered"] = Person.objects.current().count()
    scale["days"] = args.days
    result = {"measured_at": now_iso(), "machine": machine_info(), "scale": scale,
              "engine_file": args.engine_file or "fangkong/tracing/engine.py",
              "engine_settings": {name: getattr(engine, name) for name in
                                  ("RANGES_PER_STATEMENT", "SEEKS_PER_STATEMENT", "PEOPLE_PER_QUERY")
                                  if hasattr(engine, name)}}
    baseline = None
    if not args.no_baseline:
        name = f"checkins_{connection.vendor}.duckdb"
        baseline = Baseline(var_dir / name, rules)
        result["baseline"] = {"engine": "duckdb " + __import__("duckdb").__version__, "threads": baseline.threads,
                              **baseline.export}
    log("  one case")
    result["one_case"] = one_case(args, meta, rules, rng, baseline)
    log(f"  {result['one_case']['close_and_companions']}")
    result["explain"] = explain_seek(args, meta, rules)
    if not args.no_outbreak:
        log("  outbreak")
        result["outbreak"] = outbreak(args, meta, rules, rng, baseline)
        log(f"  outbreak {result['outbreak']['total_seconds']} s")
    result["machine"]["load_average_after"] = os.getloadavg()
    Path(args.result).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", default="1e6,1e7", help="scales, comma-separated (1e6,1e7)")
    parser.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--cases", type=int, default=1000, help="cases in the outbreak")
    parser.add_argument("--reuse", action="store_true", help="keep the generated databases that exist")
    parser.add_argument("--people", type=int, default=1_000_000, help="people in the base county")
    parser.add_argument("--days", type=int, default=28, help="days of check-ins")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="handful",
                        help="handful: wide hours, few scan at school/work (default); demo: the demo's routine")
    parser.add_argument("--window-days", type=int, default=14, help="the one case's window")
    parser.add_argument("--contact-isolation-hours", type=int, default=0,
                        help="close contacts isolated this many hours after their case (0: traced until now)")
    parser.add_argument("--outbreak-window-days", type=int, default=0,
                        help="a fixed window for the outbreak's cases (0: the pack's window, as discover uses)")
    parser.add_argument("--n", type=int, default=50, help="one-case runs (different index people)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--baseline-cases", type=int, default=50, help="one-case runs also done by DuckDB")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-outbreak", action="store_true")
    parser.add_argument("--outbreak-at", default="", help="the scale the outbreak runs at (default: the largest)")
    parser.add_argument("--fill-only", action="store_true", help="generate the databases, measure nothing")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--dir", default="/tmp/fk_tracing")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-prefix", default="fk_tracing", help="PostgreSQL databases <prefix>_base, <prefix>_1e7 …")
    parser.add_argument("--demo-src", default="", help="checkout whose `manage.py demo` makes the base county")
    parser.add_argument("--out", default="/tmp/bench_tracing.json")
    parser.add_argument("--engine-file", default="", help="measure this engine.py instead (before/after)")
    # internal: one child per (database, scale)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--fill", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--expect-db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.checkins = parse_counts(args.checkins)[0]
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
