"""Venue scans (issue "Places"): `POST /api/v1/scan` throughput and latency under gunicorn.

1. Makes personal tokens for --people distinct people (random device
   secrets) and picks the open venues' place codes, in this process (same
   FANGKONG_VAR_DIR as the server, so SECRET_KEY and the data key match).
2. For each server configuration in --configs (``sync:N`` = ``-w N`` sync
   workers, ``gthread:N:T`` = N workers of T threads; ``granian:N:T`` = granian's WSGI
   interface, N workers of T blocking threads, if granian is installed) starts
   ``gunicorn fangkong.wsgi:application`` (through benchmarks/venues_wsgi.py) on 127.0.0.1:--port with
   FANGKONG_SCAN_RATE_PER_MINUTE=0 and FANGKONG_DB_CONN_MAX_AGE=60, warms it
   up, then runs the load generator in a second process: a small asyncio
   HTTP/1.1 client (standard library only; keep-alive when the server keeps
   the connection, else one connection per request) with --concurrency
   requests in flight, for --seconds (and at most --max-requests), each
   request a random (person, venue) pair so the one-minute duplicate window
   rarely short-cuts a scan. ``floor:sync:N`` posts to a path the API
   answers 404 without a query (every middleware, ninja's routing): the most
   requests/s the framework serves on this machine.
3. Prints per configuration: scans/s, p50/p95/p99/max latency, statuses,
   errors, the duplicate share, and the CPU seconds the server and the
   client used (the client shares the 2 cores with the server).
4. --profile N: cProfile in-process of N `services.scan` calls (the full
   path), of N whole requests through Django's handler (django.test.Client:
   the full path with middleware and ninja), and of N
   `venues.fastscan.green_checkin` calls (the WSGI fast path for green
   scans, when the app has it), plus calibration (one round trip, building
   one ORM query's SQL, parsing a token and a place code).

    createdb -h 127.0.0.1 -U postgres fk_venues_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fk_venues_bench FANGKONG_VAR_DIR=/tmp/fkvenues
    .venv/bin/fangkong demo --no-serve --people 20000 --checkin-days 1
    .venv/bin/python benchmarks/venues_scan.py --configs sync:2,sync:3,sync:4,gthread:2:4 --seconds 30

Target: >= 2,000 scans/s sustained, p99 < 100 ms on 2 cores. Note: every
scan that is not a duplicate stores a check-in (and a yellow/red one a
signal): the script leaves them in the database.
"""

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine_info, now_iso, percentile, print_json  # noqa: E402

DUPLICATE_RE = re.compile(rb'"duplicate":\s*true')
COLOUR_RE = re.compile(rb'"colour":\s*"(\w+)"')


# The load generator (a separate process) ---------------------------------------------------------
async def _one_connection(host, port):
    return await asyncio.open_connection(host, port)


async def _worker(host, port, bodies, state, deadline, max_requests, path=b"/api/v1/scan"):
    reader = writer = None
    while time.monotonic() < deadline and state["sent"] < max_requests:
        state["sent"] += 1
        body = bodies[state["next"] % len(bodies)]
        state["next"] += 1
        request = (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        start = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(_one_connection(host, port), 10)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            length, close = 0, False
            for line in lines[1:]:
                lower = line.lower()
                if lower.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif lower.startswith(b"connection:") and b"close" in lower:
                    close = True
            payload = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
            elapsed = (time.perf_counter() - start) * 1000
            state["ms"].append(elapsed)
            state["status"][status] = state["status"].get(status, 0) + 1
            if status == 200 and DUPLICATE_RE.search(payload):
                state["duplicates"] += 1
            colour = COLOUR_RE.search(payload)
            colour = colour.group(1).decode() if colour else "none"
            state["colours"][colour] = state["colours"].get(colour, 0) + 1
            if close:
                writer.close()
                reader = writer = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            name = type(exc).__name__
            state["errors"][name] = state["errors"].get(name, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _load(host, port, bodies, concurrency, seconds, max_requests, start_at=0, path="/api/v1/scan"):
    state = {"sent": 0, "next": start_at, "ms": [], "status": {}, "errors": {}, "duplicates": 0, "colours": {}}
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(*(_worker(host, port, bodies, state, deadline, max_requests, path.encode())
                           for _ in range(concurrency)))
    return state, time.monotonic() - start


def run_client(args) -> None:
    import resource

    bodies = [line.rstrip(b"\n") for line in Path(args.bodies).read_bytes().splitlines() if line.strip()]
    state, wall = asyncio.run(_load("127.0.0.1", args.port, bodies, args.concurrency, args.seconds,
                                    args.max_requests, args.start_at, args.path))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ms = state["ms"]
    ok = state["status"].get(200, 0)
    out = {
        "requests": len(ms), "wall_s": round(wall, 2),
        "throughput_per_s": round(len(ms) / wall, 1), "ok_per_s": round(ok / wall, 1),
        "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2) if ms else None,
        "statuses": {str(k): v for k, v in sorted(state["status"].items())}, "colours": state["colours"],
        "errors": state["errors"],
        "duplicates": state["duplicates"], "duplicate_share": round(state["duplicates"] / ok, 4) if ok else None,
        "client_cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "next_body": state["next"] % len(bodies),
    }
    sys.stdout.write(json.dumps(out) + "\n")


# Orchestration -----------------------------------------------------------------------------------
def make_bodies(people: int, rng, path: Path, per_person: int = 3, reserve: int = 3000,
                nongreen_share: float = 0.0) -> dict:
    """Request bodies: PER_PERSON (person, venue) pairs per person, shuffled, one device per person.

    NONGREEN_SHARE of the people are put under a measure first (see put_under_measure): their scans
    are yellow, take the full API and raise a signal each, as in a county with people under measures.

    The last RESERVE bodies go to PATH.with_suffix(".profile") for the in-process profiles, never
    used by the load (so that they are not duplicates of a scan made a minute before).
    """
    from fangkong.people.models import Person
    from fangkong.venues import services, tokens
    from fangkong.venues.models import Venue

    venues = [services.code_of(v) for v in Venue.objects.filter(is_active=True).only("pk", "code_version")]
    ids = list(Person.objects.current().values_list("pk", flat=True))
    rng.shuffle(ids)
    ids = ids[:people]
    measured = put_under_measure(ids[:round(len(ids) * nongreen_share)])
    lines = []
    for person_id in ids:
        device = f"{rng.getrandbits(128):032x}"
        token = tokens.personal_token(person_id, device)
        for code in rng.sample(venues, min(per_person, len(venues))):
            lines.append(json.dumps({"code": code, "token": token, "device": device}))
    rng.shuffle(lines)
    reserve = min(reserve, len(lines) // 4)
    path.write_text("\n".join(lines[:-reserve]) + "\n")
    path.with_suffix(".profile").write_text("\n".join(lines[-reserve:]) + "\n")
    return {"people": len(ids), "venues": len(venues), "bodies_for_load": len(lines) - reserve,
            "bodies_per_person": per_person, "people_put_under_measure": measured}


def put_under_measure(ids: list[int]) -> int:
    """Put the people IDS under the active policy's measure for spatiotemporal companions (yellow at the
    door), through `policy.services.impose_measure` as the tracing workflow does; returns how many."""
    from django.utils import timezone

    from fangkong.people.models import Person
    from fangkong.policy import services as policy
    from fangkong.policy.choices import Category

    today = timezone.localdate()
    for person in Person.objects.filter(pk__in=ids):
        policy.impose_measure(person, Category.COMPANION, "benchmark: mixed scan traffic", today)
    return len(ids)


def warm_statuses() -> int:
    """Store the (green) scan colour of every current person without one and without an active measure.

    What `policy.services.refresh_status` stores for them on their first scan (no active control
    order: green, no reasons, no expiry), in one statement: without it the first scan of each person
    also recomputes the colour (about ten more queries), which is measured apart by --profile.
    """
    from django.db import connection

    from fangkong.policy.choices import OrderStatus
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO policy_personstatus (person_id, colour, reasons, valid_until, updated_at) "
            "SELECT p.id, 'green', '[]', NULL, now() FROM people_person p "
            "WHERE p.merged_into_id IS NULL AND NOT EXISTS (SELECT 1 FROM policy_personstatus s WHERE s.person_id = p.id) "
            "AND NOT EXISTS (SELECT 1 FROM policy_controlorder o WHERE o.person_id = p.id AND o.status = %s)",
            [OrderStatus.ACTIVE])
        return cursor.rowcount


def _wait_port(port: int, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user+system) of PID and its children (the gunicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def _database_cpu() -> float | None:
    """CPU seconds (user+system) of every PostgreSQL process on this machine so far; None on SQLite (it runs
    inside the server's processes, so its CPU is in theirs)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        head, _sep, rest = text.rpartition(")")
        if head.endswith("(postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _cpu_budget(result: dict, database_s: float | None) -> dict:
    """CPU a scan (ms) of the server, the database and the load generator, and what the machine's cores allow."""
    requests = result["requests"] or 1
    parts = {"server": result["server_cpu_s"], "client": result["client_cpu_s"]}
    if database_s is not None:
        parts["database"] = database_s
    per_scan = {name: round(seconds / requests * 1000, 3) for name, seconds in parts.items()}
    total = sum(per_scan.values())
    per_scan["total"] = round(total, 3)
    # Every core busy on nothing but scans: the most scans a second these costs allow on this machine.
    per_scan["max_scans_per_s"] = round(os.cpu_count() * 1000 / total) if total else None
    return per_scan


def run_config(config: str, args, bodies_path: Path, index: int) -> dict:
    parts = config.split(":")
    path = "/api/v1/scan"
    if parts[0] == "floor":  # the framework's floor: the API's catch-all 404 (all middleware, no query)
        parts, path = parts[1:], "/api/v1/no-such-endpoint"
    kind, workers = parts[0], int(parts[1])
    threads = parts[2] if len(parts) > 2 else "4"
    # benchmarks/venues_wsgi.py: fangkong.wsgi, plus FANGKONG_SCAN_RATE_PER_MINUTE=0 applied to the settings
    # (settings.py does not read it from the environment).
    env = dict(os.environ, FANGKONG_SCAN_RATE_PER_MINUTE="0", FANGKONG_DB_CONN_MAX_AGE="60")
    if kind == "granian":  # the same WSGI app under granian (HTTP in Rust, the app on blocking threads)
        if not (ROOT / ".venv/bin/granian").exists():
            raise SystemExit("granian 配置需要先安装 granian：.venv/bin/pip install granian")
        command = [str(ROOT / ".venv/bin/granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                   "--port", str(args.port), "--workers", str(workers), "--blocking-threads", threads,
                   "--backlog", "2048", "--log-level", "warning", "--no-access-log", args.app]
        env["PYTHONPATH"] = f"{ROOT}:{ROOT / 'benchmarks'}"
    else:
        command = [str(ROOT / ".venv/bin/gunicorn"), "--pythonpath", f"{ROOT},{ROOT / 'benchmarks'}", args.app,
                   "-b", f"127.0.0.1:{args.port}",
                   "-w", str(workers), "--backlog", "2048", "--log-level", "warning", "--timeout", "60"]
        if kind == "gthread":
            command += ["-k", "gthread", "--threads", threads]
    # The server's output goes to a file: a pipe nobody reads would fill up and block the workers.
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_venues_scan_gunicorn_{os.getpid()}.log"
    log = log_path.open("w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_port(args.port, server)
        client = [sys.executable, __file__, "--client", "--port", str(args.port), "--bodies", str(bodies_path),
                  "--concurrency", str(args.concurrency), "--path", path]
        # Warm-up: every worker imports, connects and fills its caches.
        # Each run goes on where the last one stopped in the (shuffled) bodies: a person is scanned
        # again only once every body has been used (the duplicate window is one minute).
        warm = subprocess.run(client + ["--seconds", str(args.warmup), "--max-requests", "2000",
                                        "--start-at", str(args.cursor)], check=True, capture_output=True, text=True)
        args.cursor = json.loads(warm.stdout.strip().splitlines()[-1])["next_body"]
        cpu_before, database_before = _tree_cpu(server.pid), _database_cpu()
        load_before = os.getloadavg()
        done = subprocess.run(client + ["--seconds", str(args.seconds), "--max-requests", str(args.max_requests),
                                        "--start-at", str(args.cursor)],
                              check=True, capture_output=True, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        args.cursor = result["next_body"]
        result["server_cpu_s"] = round(_tree_cpu(server.pid) - cpu_before, 2)
        database_s = None if database_before is None else round(_database_cpu() - database_before, 2)
        result["database_cpu_s"] = database_s
        result["cpu_ms_per_scan"] = _cpu_budget(result, database_s)
        result["load_average_before"] = load_before
        result["load_average_after"] = os.getloadavg()
        result["server"] = " ".join(command[1:])
        result["path"] = path
        log.flush()
        lines = log_path.read_text(errors="replace").splitlines()
        result["server_log_lines"] = len(lines)
        result["server_log_tail"] = lines[-5:]
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        log_path.unlink(missing_ok=True)


def profile_scans(n: int, bodies_path: Path) -> dict:
    import cProfile
    import io
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fangkong.policy.models import PersonStatus
    from fangkong.venues import services, tokens

    bodies = [json.loads(line) for line in bodies_path.read_text().splitlines()[:n]]
    # The queries of one scan whose person already has a stored colour, then of one whose has none.
    with CaptureQueriesContext(connection) as ctx:
        services.scan(bodies[0]["code"], bodies[0]["token"], bodies[0]["device"])
    queries = [q["sql"][:160] for q in ctx.captured_queries]
    cold = bodies[-1]
    PersonStatus.objects.filter(person_id=tokens.parse_personal_token(cold["token"], cold["device"])).delete()
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        services.scan(cold["code"], cold["token"], cold["device"])
        cold_ms = (time.perf_counter() - start) * 1000
    cold_queries = [q["sql"][:160] for q in ctx.captured_queries]
    bodies = bodies[:-1]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for body in bodies[1:]:
        services.scan(body["code"], body["token"], body["device"])
    profiler.disable()
    per_scan_ms = (time.perf_counter() - start) * 1000 / max(1, len(bodies) - 1)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(35)
    # Calibration: one database round trip, and building the SQL of the duplicate check (no query).
    from django.utils import timezone

    from fangkong.venues.models import CheckIn
    with connection.cursor() as cursor:
        start = time.perf_counter()
        for _ in range(500):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        round_trip_ms = (time.perf_counter() - start) * 2
    now = timezone.now()
    start = time.perf_counter()
    for _ in range(500):
        qs = (CheckIn.objects.filter(person_id=1, scanned_at__gte=now - services.DUPLICATE_WINDOW, scanned_at__lte=now,
                                     venue_id=1).order_by("-scanned_at")[:1])
        qs.query.get_compiler(using="default").as_sql()
    orm_sql_ms = (time.perf_counter() - start) * 2
    start = time.perf_counter()
    for body in bodies[:500]:
        tokens.parse_personal_token(body["token"], body["device"])
        tokens.parse_place_code(body["code"])
    tokens_ms = (time.perf_counter() - start) * 1000 / min(500, len(bodies))
    return {"scans": len(bodies) - 1, "per_scan_ms_profiled": round(per_scan_ms, 3),
            "calibration": {"select_1_round_trip_ms": round(round_trip_ms, 3),
                            "orm_build_sql_duplicate_check_ms": round(orm_sql_ms, 3),
                            "parse_token_and_place_code_ms": round(tokens_ms, 3)},
            "queries_per_scan": len(queries), "queries": queries,
            "first_scan_without_stored_colour": {"ms": round(cold_ms, 2), "queries": len(cold_queries),
                                                 "sql": cold_queries},
            "top_cumulative": stream.getvalue().splitlines()[:80]}


def profile_fast_path(n: int, bodies_path: Path) -> dict | None:
    """cProfile of N `fangkong.venues.fastscan.green_checkin` calls (the WSGI fast path, when the app has one)."""
    import cProfile
    import io
    import pstats

    try:
        from fangkong.venues import fastscan
    except ImportError:
        return None
    bodies = [json.loads(line) for line in bodies_path.read_text().splitlines()[-2 * n - 2:-n - 2]]
    answered = 0
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for body in bodies:
        answered += fastscan.green_checkin(body["code"], body["token"], body["device"]) is not None
    profiler.disable()
    per_ms = (time.perf_counter() - start) * 1000 / max(1, len(bodies))
    start = time.perf_counter()
    more = [json.loads(line) for line in bodies_path.read_text().splitlines()[-3 * n - 2:-2 * n - 2]]
    for body in more:
        fastscan.green_checkin(body["code"], body["token"], body["device"])
    plain_ms = (time.perf_counter() - start) * 1000 / max(1, len(more))
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(25)
    return {"calls": len(bodies), "answered_fast": answered, "per_call_ms_profiled": round(per_ms, 3),
            "per_call_ms_unprofiled": round(plain_ms, 3), "top_tottime": stream.getvalue().splitlines()[:45]}


def profile_requests(n: int, bodies_path: Path) -> dict:
    """cProfile of N whole requests through Django's handler (django.test.Client): middleware, ninja, the scan."""
    import cProfile
    import io
    import pstats

    from django.conf import settings
    from django.test import Client

    settings.FANGKONG_SCAN_RATE_PER_MINUTE = 0
    client = Client()
    bodies = bodies_path.read_text().splitlines()[-n - 1:-1]
    client.post("/api/v1/scan", bodies[0], content_type="application/json")
    profiler = cProfile.Profile()
    statuses = {}
    start = time.perf_counter()
    profiler.enable()
    for body in bodies[1:]:
        response = client.post("/api/v1/scan", body, content_type="application/json")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    profiler.disable()
    per_ms = (time.perf_counter() - start) * 1000 / max(1, len(bodies) - 1)
    out = {"requests": len(bodies) - 1, "per_request_ms_profiled": round(per_ms, 3), "statuses": statuses}
    for key in ("cumulative", "tottime"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(key).print_stats(40)
        out[f"top_{key}"] = stream.getvalue().splitlines()[:60]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bodies", default="")
    parser.add_argument("--start-at", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="/api/v1/scan", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--app", default="venues_wsgi:application",
                        help="WSGI app (fangkong.wsgi:application leaves the scan rate limit at 120/min)")
    parser.add_argument("--configs", default="sync:2,sync:3,sync:4,gthread:2:4")
    parser.add_argument("--people", type=int, default=20000, help="distinct people (tokens) to scan")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--bodies-per-person", type=int, default=3,
                        help="(person, venue) pairs per person: the load cycles through them all before a "
                        "pair comes again (the duplicate window is one minute)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--profile", type=int, default=2000, help="services.scan calls to profile (0: none)")
    parser.add_argument("--seed", type=int, default=None,
                        help="default: a new one each run (a rerun within a minute would otherwise scan the "
                        "same person at the same venue and hit the duplicate window)")
    parser.add_argument("--nongreen-share", type=float, default=0.0,
                        help="share of the scanned people put under a measure first (yellow scans: full API, a "
                        "signal each); note: the measures stay in the database")
    parser.add_argument("--no-warm-statuses", action="store_true",
                        help="do not store the green colour of people without one first (see warm_statuses)")
    parser.add_argument("--out", default="/tmp/bench_venues_scan.json")
    args = parser.parse_args()
    if args.client:
        run_client(args)
        return
    from common import ensure_data, setup_django

    setup_django()
    people = ensure_data(None)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 20)
    rng = random.Random(args.seed)
    args.cursor = 0
    bodies_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_venues_scan_bodies_{os.getpid()}.jsonl"
    scale = make_bodies(args.people, rng, bodies_path, args.bodies_per_person, nongreen_share=args.nongreen_share)
    scale["statuses_stored_first"] = 0 if args.no_warm_statuses else warm_statuses()
    from django.db import connection

    from fangkong.venues.models import CheckIn

    connection.close()  # the server runs in other processes
    result = {"benchmark": "venues_scan", "measured_at": now_iso(), "machine": machine_info(),
              "scale": {"people_in_register": people, "checkins_before": CheckIn.objects.count(), **scale,
                        "concurrency": args.concurrency, "seconds": args.seconds, "seed": args.seed}, "runs": {}}
    connection.close()
    try:
        for index, config in enumerate(c for c in args.configs.split(",") if c):
            result["runs"][config] = run_config(config, args, bodies_path, index)
            print(f"{config}: {json.dumps(result['runs'][config])}", file=sys.stderr)
        if args.profile:
            spare = bodies_path.with_suffix(".profile")
            n = min(args.profile, len(spare.read_text().splitlines()) // 4)
            result["profile"] = profile_scans(n, spare)
            result["profile_requests"] = profile_requests(n, spare)
            result["profile_fast_path"] = profile_fast_path(n, spare)
    finally:
        bodies_path.unlink(missing_ok=True)
        bodies_path.with_suffix(".profile").unlink(missing_ok=True)
    result["scale"]["checkins_after"] = CheckIn.objects.count()
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print_json(result)


if __name__ == "__main__":
    main()
