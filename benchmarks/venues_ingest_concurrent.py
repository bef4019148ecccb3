"""Batch ingest over real HTTP (issue "Places"): gateways pushing to gunicorn at the same time.

`venues_ingest.py` measures one batch after another in one process. A county
server takes pushes from several gateways at once (the province platform,
turnstile vendors), and each push spends part of its time checking rows in
Python and part writing; with two gunicorn workers one push's checks run on
one core while another push writes on the other. This script:

1. makes --batches JSON bodies of --rows rows for registered people (times
   --days FROM TO days ago, as in venues_ingest.py), every key new;
2. issues an API token for the county headquarters admin (`admin`);
3. for each count of concurrent clients in --clients starts
   ``gunicorn fangkong.wsgi:application`` (sync, -w --workers; through
   benchmarks/venues_wsgi.py) and has that many threads POST the bodies to
   ``/api/v1/checkins/batch?only_problems=true`` (stdlib urllib), each
   body once, after two small batches per worker (not timed) have warmed
   the workers up;
4. prints per count: rows stored per second of wall time, per-batch
   latencies, statuses, accepted rows, and the CPU seconds gunicorn used.

    FANGKONG_VAR_DIR=/tmp/fkvenues_sqlite .venv/bin/python benchmarks/venues_ingest_concurrent.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fk_venues_bench FANGKONG_VAR_DIR=/tmp/fkvenues \\
        .venv/bin/python benchmarks/venues_ingest_concurrent.py

The rows stay in the database.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ensure_data, machine_info, now_iso, print_json, setup_django  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PATH = "/api/v1/checkins/batch?only_problems=true"


def make_bodies(args, rng) -> list[bytes]:
    from venues_ingest import make_body, sample_people

    from fangkong.venues.models import Venue

    people = sample_people(args.sample, rng)
    venues = list(Venue.objects.filter(is_active=True).values_list("pk", flat=True))
    run = uuid.uuid4().hex[:8]
    return [make_body(args.rows, people, venues, rng, tuple(args.days), f"conc-{run}-{n}")
            for n in range(args.batches)]


def post_all(port: int, token: str, bodies: list[bytes], clients: int) -> dict:
    """Post every body once from CLIENTS threads; the wall time, per-batch seconds, statuses and rows stored."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    seconds, statuses, accepted = [], {}, [0]

    def client():
        while True:
            with lock:
                if not queue:
                    return
                _n, body = queue.pop(0)
            request = urllib.request.Request(f"http://127.0.0.1:{port}{PATH}", data=body, method="POST", headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    status, answer = response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                status, answer = exc.code, {}
            spent = time.perf_counter() - start
            with lock:
                seconds.append(spent)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                accepted[0] += answer.get("accepted", 0)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 3), "accepted": accepted[0], "rows_per_s": round(accepted[0] / wall),
            "batch_s_p50": round(statistics.median(seconds), 3), "batch_s_max": round(max(seconds), 3),
            "statuses": statuses}


def run(args, clients: int, bodies: list[bytes], warmup: list[bytes], token: str) -> dict:
    from venues_scan import _tree_cpu, _wait_port

    command = [str(ROOT / ".venv/bin/gunicorn"), "--pythonpath", f"{ROOT},{ROOT / 'benchmarks'}",
               "venues_wsgi:application", "-b", f"127.0.0.1:{args.port}", "-w", str(args.workers),
               "--log-level", "warning", "--timeout", "300"]
    env = dict(os.environ, FANGKONG_DB_CONN_MAX_AGE="60")
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_venues_ingest_gunicorn_{os.getpid()}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_port(args.port, server)
            post_all(args.port, token, warmup, args.workers)  # every worker imports, connects, fills its caches
            cpu_before = _tree_cpu(server.pid)
            figures = post_all(args.port, token, bodies, clients)
            figures["server_cpu_s"] = round(_tree_cpu(server.pid) - cpu_before, 2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    figures["server_log_tail"] = log_path.read_text(errors="replace").splitlines()[-5:]
    print(f"{clients} client(s): {figures['rows_per_s']} rows/s, batch p50 {figures['batch_s_p50']} s, "
          f"{figures['statuses']}", file=sys.stderr)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows per batch")
    parser.add_argument("--batches", type=int, default=6, help="batches per run (each posted once)")
    parser.add_argument("--clients", default="1,2", help="concurrent clients per run, comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--sample", type=int, default=5000, help="distinct people the rows name")
    parser.add_argument("--days", type=int, nargs=2, default=[3, 20], metavar=("FROM", "TO"))
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default="/tmp/bench_venues_ingest_concurrent.json")
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model

    from fangkong.accounts.services import issue_api_token
    from fangkong.venues.models import CheckIn

    ensure_data(None)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    token = issue_api_token(get_user_model().objects.get(username="admin"))
    result = {"benchmark": "venues_ingest_concurrent", "measured_at": now_iso(), "machine": machine_info(),
              "scale": {"rows_per_batch": args.rows, "batches": args.batches, "workers": args.workers,
                        "days": args.days, "seed": seed}, "runs": {}}
    for clients in [int(c) for c in args.clients.split(",")]:
        bodies = make_bodies(args, random.Random(seed + clients))
        warmup = make_bodies(argparse.Namespace(**{**vars(args), "rows": 1000, "batches": args.workers * 2}),
                             random.Random(seed - clients))
        result["runs"][str(clients)] = {"checkins_before": CheckIn.objects.count(),
                                        **run(args, clients, bodies, warmup, token)}
    result["scale"]["checkins_after"] = CheckIn.objects.count()
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print_json(result)


if __name__ == "__main__":
    main()
