"""The quarantine occupancy board (issue 8): `quarantine.sites.occupancy(user)` over 100 sites.

Builds its own throwaway SQLite database (no demo county needed): a county with 10 townships, --sites sites
of --rooms single rooms each (floors of 20 rooms, 301 … numbering), --stays open stays of people under
centralized orders (14+7 plans started on spread days, so some end today and tomorrow), a few hundred
closed stays, and --transfers open transfers to the sites over the next days (3 people each); then
ANALYZE. Times ``occupancy()`` as the county HQ admin (every site) and as one township officer (its
sites): --runs runs after one warm-up, p50/p95/max. Prints JSON (scale, figures, machine) to stdout.

    .venv/bin/python benchmarks/quarantine_occupancy.py > occupancy.json

The database lives in a temporary directory (--root to keep it elsewhere), deleted at the end unless
--keep. Target: the board for 100 sites with ~5,000 open stays < 300 ms.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Timer, machine_info, now_iso, print_json, setup_django, summarize  # noqa: E402

TARGET_MS = 300
ROOMS_PER_FLOOR = 20


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(args) -> dict:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from fangkong.accounts.choices import Role
    from fangkong.accounts.services import create_user
    from fangkong.areas.choices import AreaLevel
    from fangkong.areas.models import Area
    from fangkong.core import crypto
    from fangkong.people.models import Person
    from fangkong.policy import planning
    from fangkong.policy.models import ControlOrder
    from fangkong.policy.services import active_pack, rule_for
    from fangkong.quarantine.models import QuarantineSite, Room, Stay, Transfer, TransferPassenger

    crypto.write_key_file_if_missing()
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    log(f"migrated in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    rng = random.Random(args.seed)
    today = timezone.localdate()
    county = Area(code="370923000000", name="示范县", level=AreaLevel.COUNTY)
    county.save()
    townships, grids = [], []
    for t in range(1, 11):
        township = Area(code=f"370923{t:03d}000", name=f"第{t}镇", level=AreaLevel.TOWNSHIP, parent=county)
        township.save()
        village = Area(code=f"370923{t:03d}001", name=f"第{t}镇一村", level=AreaLevel.VILLAGE, parent=township)
        village.save()
        grid = Area(code=f"370923{t:03d}001001", name=f"第{t}镇一村一网格", level=AreaLevel.GRID, parent=village)
        grid.save()
        townships.append(township)
        grids.append(grid)
    hq = create_user(username="hq", password="Bench-pass-2026!", role=Role.HQ_ADMIN, area=county)
    officer = create_user(username="town1", password="Bench-pass-2026!", role=Role.TOWNSHIP_OFFICER,
                          area=townships[0])
    pack = active_pack()
    rule = rule_for(pack, "close_contact")
    with transaction.atomic():
        sites = QuarantineSite.objects.bulk_create([
            QuarantineSite(name=f"隔离点{n:03d}", area=townships[n % len(townships)], kind="hotel")
            for n in range(args.sites)])
        rooms = []
        for site in sites:
            for i in range(args.rooms):
                floor = 3 + i // ROOMS_PER_FLOOR
                rooms.append(Room(site=site, floor=floor, number=f"{floor}{i % ROOMS_PER_FLOOR + 1:02d}", beds=1,
                                  out_of_service=rng.random() < 0.02))
        Room.objects.bulk_create(rooms, batch_size=2000)
        rooms_by_site: dict[int, list[Room]] = {}
        for room in Room.objects.filter(out_of_service=False).order_by("site_id", "floor", "number"):
            rooms_by_site.setdefault(room.site_id, []).append(room)
        closed = args.stays // 10
        people = Person.objects.bulk_create(
            [Person(name=f"隔离{n:05d}", area=grids[n % len(grids)]) for n in range(args.stays + closed)],
            batch_size=2000)
        orders = []
        for n, person in enumerate(people):
            start = today - timedelta(days=rng.randint(0, 13))
            stages = planning.plan_stages(rule.stages, start)
            orders.append(ControlOrder(person=person, area=person.area, category="close_contact", reason="基准测试",
                                       pack=pack, rule=rule, start_date=start, stages=stages,
                                       planned_end=planning.planned_end(stages),
                                       current_stage="centralized" if n < args.stays else "home_monitoring",
                                       stage_since=start, created_by=hq))
        ControlOrder.objects.bulk_create(orders, batch_size=2000)
        # Open stays spread over the sites, room after room (about half of each site full at 100 x 100 / 5,000).
        slots = [(site_id, room) for site_id, site_rooms in rooms_by_site.items() for room in site_rooms]
        per_site = max(1, args.stays // max(1, len(rooms_by_site)))
        chosen = [room for site_rooms in rooms_by_site.values() for room in site_rooms[:per_site]][:args.stays]
        if len(chosen) < args.stays:
            raise SystemExit(f"not enough beds for {args.stays} stays ({len(slots)} rooms in service)")
        now = timezone.now()
        area_of = {site.pk: site.area_id for site in sites}
        stays = []
        for order, room in zip(orders[:args.stays], chosen, strict=True):
            stays.append(Stay(order=order, person_id=order.person_id, site_id=room.site_id, room=room, bed=1,
                              area_id=area_of[room.site_id], category=order.category,
                              checked_in_at=now - timedelta(days=(today - order.start_date).days), checked_in_by=hq))
        for order in orders[args.stays:]:
            room = rng.choice(slots)[1]
            stays.append(Stay(order=order, person_id=order.person_id, site_id=room.site_id, room=room, bed=1,
                              area_id=area_of[room.site_id], category=order.category,
                              checked_in_at=now - timedelta(days=20), checked_out_at=now - timedelta(days=6),
                              left_to="home", checked_in_by=hq))
        Stay.objects.bulk_create(stays, batch_size=2000)
        transfers = []
        for n in range(args.transfers):
            day = today + timedelta(days=rng.randint(-1, 3))
            planned = timezone.make_aware(datetime.combine(day, dtime(rng.randint(6, 20))))
            site = sites[n % len(sites)]
            transfers.append(Transfer(kind="to_site", area=site.area, from_place="某地", to_place=site.name,
                                      to_site=site, vehicle="鲁A00000", driver="司机", planned_at=planned,
                                      status=rng.choice(["planned", "departed", "arrived", "acknowledged"])))
        Transfer.objects.bulk_create(transfers, batch_size=2000)
        passengers = [TransferPassenger(transfer=transfer, person=people[(n * 3 + k) % len(people)])
                      for n, transfer in enumerate(transfers) for k in range(3)]
        TransferPassenger.objects.bulk_create(passengers, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"built in {time.perf_counter() - started:.1f}s")
    return {"hq": hq, "officer": officer,
            "scale": {"sites": len(sites), "rooms": len(rooms), "open_stays": args.stays, "closed_stays": closed,
                      "transfers": len(transfers), "transfer_passengers": len(passengers),
                      "control_orders": len(orders)}}


def time_board(user, runs: int) -> tuple[dict, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fangkong.quarantine.sites import occupancy

    board = occupancy(user)  # warm-up
    timings = []
    for _ in range(runs):
        with Timer() as t:
            board = occupancy(user)
        timings.append(t.ms)
    with CaptureQueriesContext(connection) as captured:
        occupancy(user)
    return {**summarize(timings), "queries": len(captured.captured_queries)}, board


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=100, help="rooms per site (single beds)")
    parser.add_argument("--stays", type=int, default=5000, help="open stays")
    parser.add_argument("--transfers", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--root", default="", help="directory for the database (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the database directory")
    args = parser.parse_args()
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="fk_occupancy_"))
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty: give an empty or new --root")
    root.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DATABASE_URL", None)
    os.environ["FANGKONG_VAR_DIR"] = str(root)
    try:
        setup_django()
        built = build(args)
        hq_timing, board = time_board(built["hq"], args.runs)
        log(f"hq: p50 {hq_timing['p50_ms']} ms over {args.runs} runs")
        officer_timing, officer_board = time_board(built["officer"], args.runs)
        result = {
            "benchmark": "quarantine_occupancy",
            "at": now_iso(),
            "scale": built["scale"],
            "occupancy_hq": hq_timing,
            "occupancy_township_officer": {**officer_timing, "sites": len(officer_board["sites"])},
            "totals_hq": board["totals"],
            "target_ms": TARGET_MS,
            "meets_target": hq_timing["p50_ms"] < TARGET_MS,
            "machine": machine_info(),
        }
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_json(result)


if __name__ == "__main__":
    main()
