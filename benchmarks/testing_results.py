"""Lab result batches (issue "Testing"): `testing.services.ingest_results` for 100,000 tubes of 10-in-1 pools.

Each engine gets its own database, built here (no demo county of 1M people
needed): a small demo county (accounts, grids, sampling points; --demo-people
people, no check-ins), then, server-side in SQL (generate_series on
PostgreSQL, a recursive CTE on SQLite), --people bare Person rows spread over
the grids, one closed sampling session, --people/--pool sealed tubes
(barcodes BT00000001 …) and one Sample per person. The batch is --people/--pool
rows, one per tube, ~--positive-share of them positive (each positive pool
puts its members under 单采复核: one PoolFollowup and one grid task each,
plus a signal per pool), the rest negative.

Timed, per engine:

* ``first``: ``ingest_results(lab, rows)``, every row new and matched;
* ``resent``: the same rows again (all duplicates: nothing stored);
* ``parse_file``: ``rows_from_file`` of the same batch as a UTF-8 csv (what
  the upload page adds before ``ingest_results``).

Follow-ups, pool_retest tasks and signals are counted after the first pass.
A rerun with --reuse keeps the people, tubes and samples and deletes the
results, follow-ups, tasks and signals of the last run first.

    .venv/bin/python benchmarks/testing_results.py --db both --reuse > testing.json

PostgreSQL database ``fk_testing_bench`` on postgres://postgres@127.0.0.1:5432
(--pg-url; created with createdb if missing), SQLite under
/tmp/fk_testing_bench/sqlite. Drop them with
``dropdb -h 127.0.0.1 -U postgres fk_testing_bench`` and ``rm -r /tmp/fk_testing_bench``.
The JSON goes to stdout and /tmp/bench_testing.json.

Target: the 100,000-row batch matched and stored in < 30 s.
"""

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine_info, now_iso, print_json, setup_django  # noqa: E402

BENCH_POINT = "基准测试采样点"
PREFIX = "BT"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Building the database ---------------------------------------------------------------------------
def ensure_county(demo_people: int) -> None:
    from django.core.management import call_command

    from fangkong.accounts.models import User
    from fangkong.core import crypto

    crypto.write_key_file_if_missing()
    call_command("migrate", interactive=False, verbosity=0)
    if not User.objects.filter(username="lab").exists():
        log(f"demo county ({demo_people} people, no check-ins)")
        call_command("demo", "--no-serve", "--people", str(demo_people), "--checkin-days", "0", stdout=sys.stderr)


def _ts(connection, at):
    """A datetime parameter for raw SQL: SQLite stores aware datetimes as naive UTC text."""
    from datetime import UTC

    if connection.vendor == "sqlite":
        return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return at


def _series(connection, count_param: str) -> str:
    """A FROM clause yielding n = 1..count."""
    if connection.vendor == "postgresql":
        return f"generate_series(1, {count_param}) AS s(n)"
    return f"(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {count_param}) SELECT n FROM c) s"


def fill(people: int, pool: int) -> dict:
    """People, one session, sealed tubes and samples, all written in SQL; returns the counts and seconds."""
    from django.db import connection, transaction
    from django.utils import timezone

    from fangkong.accounts.models import User
    from fangkong.areas.choices import AreaLevel
    from fangkong.areas.models import Area
    from fangkong.testing.models import Sample, SamplingPoint, SamplingSession, Tube

    tubes = -(-people // pool)
    point = SamplingPoint.objects.filter(name=BENCH_POINT).first()
    if point is not None and Tube.objects.filter(session__point=point).count() == tubes \
            and Sample.objects.filter(tube__session__point=point).count() == people:
        log("reusing the bench people, tubes and samples")
        return {"reused": True}
    if point is not None:
        raise SystemExit("the bench database holds another scale: drop it first (see the docstring)")
    started = time.perf_counter()
    grids = list(Area.objects.filter(level=AreaLevel.GRID).order_by("code").values_list("code", flat=True))
    site = User.objects.get(username="site")
    township = Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code").first()
    now = timezone.now()
    sampled = now - timedelta(hours=3)
    with transaction.atomic():
        point = SamplingPoint.objects.create(name=BENCH_POINT, area=township, address="基准测试")
        session = SamplingSession.objects.create(point=point, area=township, operator=site, pool_size=pool,
                                                 started_at=sampled, closed_at=now - timedelta(hours=2))
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE bench_grid (i integer PRIMARY KEY, code varchar(20))")
            cursor.executemany("INSERT INTO bench_grid (i, code) VALUES (%s, %s)", list(enumerate(grids)))
            cursor.execute("SELECT coalesce(max(id), 0) FROM people_person")
            before = cursor.fetchone()[0]
            log(f"{people:,} people")
            ts = _ts(connection, now)
            cursor.execute(
                "INSERT INTO people_person (created_at, updated_at, name, name_pinyin, name_initials, sex, doc_type, "
                "doc_sealed, doc_index, doc_masked, doc_last4, phone_sealed, phone_index, phone_masked, area_id, "
                "relation, address, is_floating, is_rental_tenant, vulnerable_group, lives_alone_elderly, workplace) "
                f"SELECT %s, %s, '基准' || n, '', '', 'U', 'none', '', '', '', '', '', '', '', g.code, '', '', "
                f"false, false, '', false, '' FROM {_series(connection, '%s')} "
                f"JOIN bench_grid g ON g.i = n %% {len(grids)}",
                [ts, ts, people])
            log(f"{tubes:,} tubes")
            barcode = ("%s || lpad(n::text, 8, '0')" if connection.vendor == "postgresql"
                       else "%s || printf('%%08d', n)")
            cursor.execute(
                "INSERT INTO testing_tube (barcode, session_id, area_id, capacity, status, result, needs_review, "
                f"created_at, closed_at) SELECT {barcode}, %s, %s, %s, 'closed', '', false, %s, %s "
                f"FROM {_series(connection, '%s')}",
                [PREFIX, session.pk, township.pk, pool, _ts(connection, sampled),
                 _ts(connection, now - timedelta(hours=2)), tubes])
            log(f"{people:,} samples")
            number = ("%s || lpad(((p.rn - 1) / %s + 1)::text, 8, '0')" if connection.vendor == "postgresql"
                      else "%s || printf('%%08d', (p.rn - 1) / %s + 1)")
            cursor.execute(
                "INSERT INTO testing_sample (tube_id, person_id, area_id, sampled_at, client_key, duplicate, "
                "recorded_by_id) SELECT t.id, p.id, p.area_id, %s, 'bench-' || p.id, false, %s "
                "FROM (SELECT id, area_id, row_number() OVER (ORDER BY id) AS rn FROM people_person "
                f"WHERE id > %s) p JOIN testing_tube t ON t.barcode = {number}",
                [_ts(connection, sampled), site.pk, before, PREFIX, pool])
            cursor.execute("DROP TABLE bench_grid")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"reused": False, "seconds": round(time.perf_counter() - started, 1)}


def reset() -> dict:
    """Forget the results of a previous run: results, follow-ups, retest tasks, signals; tubes back to sealed."""
    from django.db import transaction

    from fangkong.tasks.models import Task
    from fangkong.testing import services
    from fangkong.testing.choices import TubeStatus
    from fangkong.testing.models import LabResult, PoolFollowup, Tube
    from fangkong.warning.models import Signal

    with transaction.atomic():
        counts = {
            "followups": PoolFollowup.objects.all().delete()[0],
            "lab_results": LabResult.objects.all().delete()[0],
            "tasks": Task.objects.filter(kind=services.TASK_KIND).delete()[0],
            "signals": Signal.objects.filter(kind__in=[services.SIGNAL_POOL, services.SIGNAL_SINGLE]).delete()[0],
            "tubes": Tube.objects.filter(barcode__startswith=PREFIX).exclude(status=TubeStatus.CLOSED, result="")
            .update(status=TubeStatus.CLOSED, result="", resulted_at=None, needs_review=False),
        }
    from django.db import connection

    with connection.cursor() as cursor:  # a fresh start: no dead rows of the last run in the tables
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return counts


# The batch ---------------------------------------------------------------------------------------
def make_rows(tubes: int, share: float, seed: int) -> tuple[list[dict], set[str]]:
    from django.utils import timezone

    rng = random.Random(seed)
    positives = {f"{PREFIX}{n:08d}" for n in rng.sample(range(1, tubes + 1), max(1, round(tubes * share)))}
    tested = timezone.localtime() - timedelta(minutes=90)  # + up to an hour: all in the past
    rows = []
    for n in range(1, tubes + 1):
        barcode = f"{PREFIX}{n:08d}"
        positive = barcode in positives
        rows.append({
            "barcode": barcode, "result": "阳性" if positive else "阴性",
            "tested_at": (tested + timedelta(seconds=n % 3600)).strftime("%Y-%m-%d %H:%M:%S"),
            "ct_values": {"ORF1ab": round(rng.uniform(22, 35), 1), "N": round(rng.uniform(22, 35), 1)}
            if positive else {},
        })
    return rows, positives


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["管码", "检测结果", "检测时间", "ORF1ab", "N"])
    for row in rows:
        ct = row["ct_values"]
        writer.writerow([row["barcode"], row["result"], row["tested_at"], ct.get("ORF1ab", ""), ct.get("N", "")])
    return out.getvalue().encode("utf-8")


SPLIT = ("_clean_rows", "_save_tubes", "_retest_outcomes", "refresh_statuses", "create_task", "raise_signal")


def install_timers(spent: dict) -> None:
    """Wrap the helpers ingest_results calls (module attributes of testing.services) to add up their seconds."""
    from fangkong.testing import services

    for name in SPLIT:
        original = getattr(services, name, None)
        if original is None:
            continue

        def wrapper(*args, _original=original, _name=name, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0) + time.perf_counter() - start

        setattr(services, name, wrapper)


def split_of(spent: dict, total: float) -> dict:
    out = {name: round(spent.get(name, 0), 3) for name in SPLIT}
    out["of_which_in_retest_outcomes"] = ["refresh_statuses", "create_task", "raise_signal"]
    out["lookup_bulk_insert_audit_rest"] = round(
        total - spent.get("_clean_rows", 0) - spent.get("_save_tubes", 0) - spent.get("_retest_outcomes", 0), 3)
    spent.clear()
    return out


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, round(time.perf_counter() - start, 3)


def run_child(args) -> dict:
    setup_django()
    from django.db import connection

    from fangkong.accounts.models import User
    from fangkong.people.models import Person
    from fangkong.tasks.models import Task
    from fangkong.testing import services
    from fangkong.testing.choices import FollowupStatus, Result
    from fangkong.testing.models import LabResult, PoolFollowup, Tube
    from fangkong.warning.models import Signal

    ensure_county(args.demo_people)
    built = fill(args.people, args.pool)
    cleared = reset()
    lab = User.objects.get(username="lab")
    tubes = -(-args.people // args.pool)
    rows, positives = make_rows(tubes, args.positive_share, args.seed)
    spent = {}
    install_timers(spent)
    log(f"{connection.vendor}: ingest {len(rows):,} rows ({len(positives)} positive pools)")
    first, first_s = timed(services.ingest_results, lab, [dict(r) for r in rows], lab="基准测试实验室")
    log(f"first pass {first_s}s")
    if first["rejected"]:
        raise SystemExit(f"{len(first['rejected'])} rows rejected, e.g. {first['rejected'][:3]}")
    first_split = split_of(spent, first_s)
    followups = PoolFollowup.objects.filter(status=FollowupStatus.PENDING).count()
    tasks = Task.objects.filter(kind=services.TASK_KIND).count()
    signals = Signal.objects.filter(kind=services.SIGNAL_POOL).count()
    resulted = Tube.objects.filter(barcode__startswith=PREFIX, result__in=[Result.NEGATIVE, Result.POSITIVE]).count()
    stored = LabResult.objects.filter(tube__isnull=False).count()
    resent, resent_s = timed(services.ingest_results, lab, [dict(r) for r in rows], lab="基准测试实验室")
    log(f"re-sent {resent_s}s")
    resent_split = split_of(spent, resent_s)
    body = as_csv(rows)
    parsed, parse_s = timed(services.rows_from_file, body, ".csv")

    def brief(answer):
        return {k: v for k, v in answer.items() if k != "rejected"} | {"rejected": len(answer["rejected"])}

    return {
        "engine": connection.vendor,
        "scale": {"people": Person.objects.count(), "bench_people": args.people, "tubes": tubes, "pool": args.pool,
                  "positive_pools": len(positives)},
        "setup": built, "cleared_before": cleared,
        "first": {"rows": len(rows), "seconds": first_s, "rows_per_s": round(len(rows) / first_s),
                  "answer": brief(first), "split_s": first_split},
        "after_first": {"tubes_resulted": resulted, "lab_results_matched": stored, "followups": followups,
                        "pool_retest_tasks": tasks, "pool_signals": signals},
        "resent": {"rows": len(rows), "seconds": resent_s, "rows_per_s": round(len(rows) / resent_s),
                   "answer": brief(resent), "split_s": resent_split},
        "parse_file": {"bytes": len(body), "rows": len(parsed), "seconds": parse_s},
        "target_s": 30, "meets_target": first_s < 30,
        "machine": machine_info(),
    }


# The parent --------------------------------------------------------------------------------------
def engine_env(engine: str, args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    root = Path(args.root)
    env["FANGKONG_VAR_DIR"] = str(root / engine)
    if engine == "postgres":
        url = f"{args.pg_url.rstrip('/')}/{args.pg_db}"
        env["DATABASE_URL"] = url
        host = args.pg_url.split("@")[-1].split(":")[0]
        exists = subprocess.run(["psql", "-h", host, "-U", "postgres", "-tAc",
                                 f"select 1 from pg_database where datname = '{args.pg_db}'"],
                                capture_output=True, text=True, check=True).stdout.strip()
        if exists and not args.reuse:
            subprocess.run(["dropdb", "-h", host, "-U", "postgres", args.pg_db], check=True)
            exists = ""
        if not exists:
            subprocess.run(["createdb", "-h", host, "-U", "postgres", args.pg_db], check=True)
    elif not args.reuse and (root / engine).exists():
        import shutil

        shutil.rmtree(root / engine)
    (root / engine).mkdir(parents=True, exist_ok=True)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=10, choices=[5, 10, 20])
    parser.add_argument("--positive-share", type=float, default=0.005)
    parser.add_argument("--demo-people", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--root", default="/tmp/fk_testing_bench")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-db", default="fk_testing_bench")
    parser.add_argument("--reuse", action="store_true", help="keep the databases of the last run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args), ensure_ascii=False, default=str))
        return
    engines = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    result = {"benchmark": "testing_results", "at": now_iso(), "runs": []}
    for engine in engines:
        env = engine_env(engine, args)
        command = [sys.executable, __file__, "--child", "--reuse", "--people", str(args.people),
                   "--pool", str(args.pool), "--positive-share", str(args.positive_share),
                   "--demo-people", str(args.demo_people), "--seed", str(args.seed)]
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{engine} run failed ({done.returncode})")
        result["runs"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    Path("/tmp/bench_testing.json").write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print_json(result)


if __name__ == "__main__":
    main()
