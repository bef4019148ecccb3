"""Batch ingest of check-ins (issue "Places"): `fangkong.venues.ingest` rows/s, PostgreSQL and SQLite.

Builds --batches batches of --rows rows (default 50,000) for people already
in the register (their resident ID numbers read through
Person.document_number from a random sample of --sample people), venues by
id, times spread over past days (--days FROM TO, default 3 to 20 days ago),
every key new. Each batch is stored twice over (new keys each time), then
the first one is sent again:

* ``direct``: `ingest.parse_json(body)` + `ingest.ingest_checkins(None, rows)`,
  with the time split into parse (json.loads), venue check, ID resolution
  (`_people_by_index`), write (`_write`: for new keys one COPY straight into
  the table on PostgreSQL, chunks of INSERT on a thread on SQLite; both fed
  by the per-row checks, which are therefore inside this figure) and the
  audit event; the rest ("validation_and_rest") is the pass that hashes each
  distinct ID number, the person order on SQLite, the answer and the commit.
  The split wraps the module's helpers with timers (in this process only).
* ``http``: `POST /api/v1/checkins/batch` with django.test.Client, logged in
  as the county headquarters admin (force_login), the same split inside,
  plus building the answer.
* ``retry``: the ``direct`` batch again, every row a duplicate: the write
  that fails on the first stored key and the careful way after it (COPY to
  a temporary table + INSERT … ON CONFLICT on PostgreSQL, the stored keys
  read first on SQLite).

On PostgreSQL the first pass stores rows into days without a partition (the
DEFAULT partition); then `fangkong checkin_partitions --back 30` runs and the
second pass stores rows into day partitions (--no-default skips the first).

    FANGKONG_VAR_DIR=/tmp/fkvenues_sqlite .venv/bin/python benchmarks/venues_ingest.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fk_venues_bench FANGKONG_VAR_DIR=/tmp/fkvenues \\
        .venv/bin/python benchmarks/venues_ingest.py

Targets: >= 200,000 rows/s into PostgreSQL, >= 50,000 rows/s into SQLite.
Note: the rows stay in the database.
"""

import argparse
import json
import logging
import random
import sys
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import backend_cpu, ensure_data, machine_info, now_iso, print_json, setup_django  # noqa: E402

TIMED = ("_known_venues", "_people_by_index", "_write", "record_event")


def install_timers(spent: dict) -> None:
    """Wrap the ingest module's helpers so that each call adds its seconds to SPENT[name]."""
    from fangkong.venues import ingest

    for name in TIMED:
        original = getattr(ingest, name)

        def timed(*args, _original=original, _name=name, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - start

        setattr(ingest, name, timed)


def sample_people(n: int, rng) -> list[tuple[str, str]]:
    from django.db.models import Max

    from fangkong.people.models import Person

    top = Person.objects.aggregate(m=Max("id"))["m"] or 0
    ids = rng.sample(range(1, top + 1), min(top, n * 2))
    people = []
    for start in range(0, len(ids), 5000):
        for person in Person.objects.current().filter(pk__in=ids[start:start + 5000], doc_type="resident_id") \
                .exclude(doc_index="").only("name", "doc_sealed"):
            people.append((person.document_number, person.name))
    rng.shuffle(people)
    return people[:n]


def make_body(rows: int, people, venues, rng, days: tuple[int, int], tag: str) -> bytes:
    """A JSON body of ROWS rows at times between DAYS[1] and DAYS[0] days ago (local time, with offset)."""
    from django.utils import timezone

    now = timezone.localtime()
    span = (days[1] - days[0]) * 86400
    lines = []
    for i in range(rows):
        number, _name = people[rng.randrange(len(people))]
        at = now - timedelta(days=days[0], seconds=rng.randrange(span))
        lines.append({"key": f"{tag}-{i}", "venue": rng.choice(venues), "person": number,
                      "scanned_at": at.isoformat(timespec="seconds"), "status": "green"})
    return json.dumps(lines, separators=(",", ":")).encode()


def run_direct(body: bytes, spent) -> dict:
    from django.db import connection

    from fangkong.venues import ingest

    spent.clear()
    connection.ensure_connection()
    backend = [connection.connection.info.backend_pid] if connection.vendor == "postgresql" else []
    cpu_start, db_start = time.process_time(), backend_cpu(backend)
    start = time.perf_counter()
    rows = ingest.parse_json(body)
    parsed = time.perf_counter()
    result = ingest.ingest_checkins(None, rows)
    total = time.perf_counter() - start
    out = _figures(len(rows), total, parsed - start, spent, result.accepted, result.duplicate, result.rejected)
    # CPU a row, whatever the wall time: this process (its threads, and SQLite, which runs in it) and the
    # PostgreSQL backend. Two cores give 2 s of CPU a second: 2e6 / total is the most rows/s this path can do.
    app, database = time.process_time() - cpu_start, backend_cpu(backend) - db_start
    out["cpu_us_per_row"] = {"process": round(app / len(rows) * 1e6, 2), "database": round(database / len(rows) * 1e6, 2),
                             "total": round((app + database) / len(rows) * 1e6, 2)}
    return out


def run_http(body: bytes, client, spent) -> dict:
    spent.clear()
    start = time.perf_counter()
    response = client.post("/api/v1/checkins/batch?only_problems=true", body, content_type="application/json")
    total = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"HTTP {response.status_code}: {response.content[:300]!r}")
    data = json.loads(response.content)
    rows = data["accepted"] + data["duplicate"] + data["rejected"]
    return _figures(rows, total, None, spent, data["accepted"], data["duplicate"], data["rejected"])


def _figures(rows, total, parse_s, spent, accepted, duplicate, rejected) -> dict:
    known = sum(spent[name] for name in TIMED) + (parse_s or 0)
    out = {
        "rows": rows, "seconds": round(total, 3), "rows_per_s": round(rows / total),
        "accepted": accepted, "duplicate": duplicate, "rejected": rejected,
        "split_s": {
            "venue_check": round(spent["_known_venues"], 3),
            "id_resolution": round(spent["_people_by_index"], 3),
            "write": round(spent["_write"], 3),
            "audit": round(spent["record_event"], 3),
        },
    }
    if parse_s is not None:
        out["split_s"]["parse_json"] = round(parse_s, 3)
        out["split_s"]["validation_and_rest"] = round(total - known, 3)
    else:
        out["split_s"]["request_parse_validation_answer"] = round(total - known, 3)
    return out


def blind_index_cost(people) -> dict:
    from fangkong.people.choices import DocumentType
    from fangkong.people.models import document_index

    numbers = [n for n, _ in people]
    start = time.perf_counter()
    for number in numbers:
        document_index(DocumentType.RESIDENT_ID, number)
    seconds = time.perf_counter() - start
    return {"numbers": len(numbers), "seconds": round(seconds, 3), "us_each": round(seconds / len(numbers) * 1e6, 2)}


def run_pass(label, args, people, venues, rng, spent, client, days) -> dict:
    out = {"days_ago": list(days), "direct": [], "http": []}
    out["retry"] = []
    for batch in range(args.batches):
        bodies = {}
        for mode in ("direct", "http", "retry"):
            if mode == "retry":
                body = bodies["direct"]
            else:
                body = make_body(args.rows, people, venues, rng, days, f"{label}-{mode}-{batch}-{uuid.uuid4().hex[:8]}")
            bodies[mode] = body
            figures = run_http(body, client, spent) if mode == "http" else run_direct(body, spent)
            figures["body_mb"] = round(len(body) / 1e6, 2)
            out[mode].append(figures)
            print(f"{label} {mode} {batch}: {figures['rows_per_s']} rows/s {figures['split_s']}", file=sys.stderr)
    for mode in ("direct", "http", "retry"):
        rates = sorted(f["rows_per_s"] for f in out[mode])
        out[f"{mode}_median_rows_per_s"] = rates[len(rates) // 2] if rates else None
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows per batch")
    parser.add_argument("--batches", type=int, default=3, help="batches per mode and pass")
    parser.add_argument("--sample", type=int, default=20_000, help="distinct people the rows name")
    parser.add_argument("--no-default", action="store_true", help="PostgreSQL: skip the DEFAULT-partition pass")
    parser.add_argument("--days", type=int, nargs=2, default=(3, 20), metavar=("FROM", "TO"),
                        help="rows at times between FROM and TO days ago (default 3 20: every batch touches 17 days; "
                             "0 1 is a gateway pushing the last day)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    setup_django()
    people_count = ensure_data(None)
    logging.getLogger("django.request").setLevel(logging.ERROR)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from fangkong.accounts.models import User
    from fangkong.venues import partitions
    from fangkong.venues.models import CheckIn, Venue

    rng = random.Random(args.seed)
    people = sample_people(args.sample, rng)
    venues = list(Venue.objects.filter(is_active=True).values_list("pk", flat=True))
    spent = defaultdict(float)
    install_timers(spent)
    client = Client()
    client.force_login(User.objects.get(username=args.user))
    client.get("/api/v1/venues?page_size=1")  # the first request loads the URLs and the API: not part of a batch
    result = {
        "benchmark": "venues_ingest", "measured_at": now_iso(), "machine": machine_info(),
        "scale": {"people": people_count, "people_named": len(people), "venues": len(venues),
                  "rows_per_batch": args.rows, "batches": args.batches, "checkins_before": CheckIn.objects.count()},
        "blind_index": blind_index_cost(people), "passes": {},
    }
    pg = connection.vendor == "postgresql"
    days = tuple(args.days)
    result["scale"]["days_ago"] = list(days)
    if pg and not args.no_default:
        have = set(partitions.existing_partitions().values())
        today = datetime.now().date()
        # Only if no day of the span has a partition yet (else its rows would not go to DEFAULT).
        clash = [d for d in have if today - timedelta(days=days[1]) <= d <= today - timedelta(days=days[0])]
        if clash:
            result["passes"]["default_partition"] = {"skipped": f"day partitions exist already: {sorted(clash)[:3]}…"}
        else:
            result["passes"]["default_partition"] = run_pass("default", args, people, venues, rng, spent, client,
                                                             days)
    if pg:
        call_command("checkin_partitions", "--back", "30", stdout=sys.stderr)
        result["scale"]["day_partitions"] = len(partitions.existing_partitions())
        result["passes"]["day_partitions"] = run_pass("partitioned", args, people, venues, rng, spent, client, days)
    else:
        result["passes"]["sqlite"] = run_pass("sqlite", args, people, venues, rng, spent, client, days)
    result["scale"]["checkins_after"] = CheckIn.objects.count()
    out = args.out or f"/tmp/bench_venues_ingest_{connection.vendor}.json"
    Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print_json(result)


if __name__ == "__main__":
    main()
