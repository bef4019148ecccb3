"""The daily stage advancement (issue 8): `quarantine.orders.advance_due_orders(today)` over 50,000 open orders.

Each scenario gets a fresh SQLite database under --root (one child process
per scenario, FANGKONG_VAR_DIR pointing there), built here without the demo
command: a county of --townships townships × 4 villages × 5 grids, and in
every village the five care-team accounts of the pack's 五包一 roles
(village officer, grid worker, community doctor, police officer, volunteer),
so that care teams are filled from accounts as in production. Then, with
bulk_create (not timed): --orders people, one open 14+7 order each
(ed8-14-7 close contacts: 14 days centralized, tests on days 1, 4, 7, 14;
7 days home monitoring, tests on days 2, 7), a negative single-tube sample
for every test day already past, and for everyone still in centralized
quarantine an open Stay in a one-bed room of a site in their township with
a negative room sample (the pack asks for one).

Scenarios:

* ``realistic``: each order at a random day 1–22 of its plan, in the stage
  the plan had yesterday, so those on day 15 (centralized just ended: moved
  home, care team formed, leave-site task) and day 22 (released) are due,
  about 2/22 of them;
* ``all_due``: every order due: half on day 15 (moving home), half on
  day 22 (released).

Timed: one call of ``advance_due_orders(today)``, split into the time spent
in its helpers (sample look-up, care.form_teams, the leave-site
create_task calls, refresh_statuses, the release wind-up). Then the counts
are checked against the data (every due order advanced or released, none
held).

    .venv/bin/python benchmarks/quarantine_advance.py > quarantine_advance.json

The JSON goes to stdout and /tmp/bench_quarantine_advance.json. Target: < 10 s for 50,000 open orders.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine_info, now_iso, print_json, setup_django  # noqa: E402

CARE_ACCOUNT_ROLES = ["village_officer", "grid_worker", "community_doctor", "police_officer", "volunteer"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Building the database ---------------------------------------------------------------------------
def build_county(townships: int) -> dict:
    """Areas and accounts: ({township code: [grid codes]}, the HQ user)."""
    from fangkong.accounts.models import User
    from fangkong.areas.models import Area

    county = Area(code="370923000000", name="基准县", level="county")
    county.save()
    grids_by_township = {}
    users = []
    for t in range(1, townships + 1):
        township = Area(code=f"370923{t:03d}000", name=f"基准镇{t}", level="township", parent=county)
        township.save()
        grids_by_township[township.code] = []
        for v in range(1, 5):
            village = Area(code=f"370923{t:03d}{v:03d}", name=f"基准村{t}-{v}", level="village", parent=township)
            village.save()
            for role in CARE_ACCOUNT_ROLES:
                users.append(User(username=f"{role}-{village.code}", role=role, area=village))
            for g in range(1, 6):
                grid = Area(code=f"{village.code}{g:03d}", name=f"网格{g}", level="grid", parent=village)
                grid.save()
                grids_by_township[township.code].append(grid.code)
    User.objects.bulk_create(users, batch_size=500)
    hq = User(username="hq-bench", role="hq_admin", area=county)
    hq.set_unusable_password()
    hq.save()
    return grids_by_township, hq


def fill(args, grids_by_township: dict, hq) -> dict:
    """People, orders, samples, sites, rooms and stays for one scenario; returns what was made."""
    from django.db import connection, transaction
    from django.utils import timezone

    from fangkong.people.models import Person
    from fangkong.policy import planning
    from fangkong.policy.choices import OrderStatus, Stage
    from fangkong.policy.models import ControlOrder, PolicyPack
    from fangkong.quarantine.models import QuarantineSite, Room, Stay
    from fangkong.testing.models import Sample, SamplingPoint, SamplingSession, Tube

    rng = random.Random(args.seed)
    today = timezone.localdate()
    pack = PolicyPack.objects.get(code="ed8-14-7")
    rule = pack.rules.get(category="close_contact")
    townships = sorted(grids_by_township)
    started = time.perf_counter()
    # Plan day D today means the order started D - 1 days ago.
    if args.scenario == "all_due":
        days = [15 if i % 2 == 0 else 22 for i in range(args.orders)]
    else:
        days = [rng.randint(1, 22) for _ in range(args.orders)]
    with transaction.atomic():
        log(f"{args.orders:,} people")
        people = []
        for i in range(args.orders):
            township = townships[i % len(townships)]
            grid = grids_by_township[township][i // len(townships) % len(grids_by_township[township])]
            people.append(Person(name=f"隔离{i}", doc_type="none", area_id=grid))
        Person.objects.bulk_create(people, batch_size=2000)
        log("orders")
        now = timezone.now()
        orders = []
        for person, day in zip(people, days, strict=True):
            start = today - timedelta(days=day - 1)
            stages = planning.plan_stages(rule.stages, start)
            yesterday = today - timedelta(days=1)
            stage = planning.stage_on(stages, yesterday) or stages[0]["stage"]
            index = planning.current_segment(stages, stage, None)
            order = ControlOrder(
                person=person, area_id=person.area_id, category="close_contact", reason="密接（基准测试）",
                pack=pack, rule=rule, start_date=start, stages=stages, planned_end=planning.planned_end(stages),
                status=OrderStatus.ACTIVE, current_stage=stage,
                stage_since=date.fromisoformat(stages[index]["start"]),
                history=[{"at": now.isoformat(timespec="seconds"), "kind": "imposed", "text": "密切接触者：基准测试"}],
            )
            order.stage_end = order.current_stage_end()
            orders.append(order)
        ControlOrder.objects.bulk_create(orders, batch_size=2000)
        log("samples")
        point = SamplingPoint.objects.create(name="基准隔离点采样", area_id=townships[0])
        session = SamplingSession.objects.create(point=point, area_id=townships[0], pool_size=1, operator=hq)
        tubes, samples = [], []
        for order in orders:
            for segment in order.stages:
                for text in segment["test_dates"]:
                    day = date.fromisoformat(text)
                    if day < today:
                        n = len(tubes)
                        tubes.append(Tube(barcode=f"QB{n:08d}", session=session, area_id=order.area_id, capacity=1,
                                          status="closed", result="negative", resulted_at=now))
                        samples.append((order, day, n))
        Tube.objects.bulk_create(tubes, batch_size=5000)
        by_barcode = dict(Tube.objects.filter(barcode__startswith="QB").values_list("barcode", "id"))
        Sample.objects.bulk_create([
            Sample(tube_id=by_barcode[f"QB{n:08d}"], person_id=order.person_id, area_id=order.area_id,
                   sampled_at=timezone.make_aware(datetime.combine(day, time_of_day(9))),
                   client_key=f"qb-{n}")
            for order, day, n in samples], batch_size=5000)
        log("sites, rooms, stays")
        centralized = [o for o in orders if o.current_stage == Stage.CENTRALIZED]
        sites = {code: QuarantineSite.objects.create(name=f"基准隔离点{code}", area_id=code) for code in townships}
        rooms = []
        for i, order in enumerate(centralized):
            township = order.area_id[:9] + "000"
            rooms.append(Room(site=sites[township], floor=i // 100 % 30 + 1, number=f"R{i:06d}"))
        Room.objects.bulk_create(rooms, batch_size=5000)
        stays = [Stay(order=order, person_id=order.person_id, site=room.site, room=room, area_id=room.site.area_id,
                      category=order.category, room_sample="negative", room_sampled_at=now)
                 for order, room in zip(centralized, rooms, strict=True)]
        Stay.objects.bulk_create(stays, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    due = ControlOrder.objects.filter(status=OrderStatus.ACTIVE, stage_end__lt=today).count()
    return {"orders": len(orders), "due": due, "moving_home": sum(1 for d in days if d == 15),
            "releasing": sum(1 for d in days if d == 22), "samples": len(samples), "stays": len(stays),
            "build_s": round(time.perf_counter() - started, 1)}


# Timing ------------------------------------------------------------------------------------------
def install_timers(spent: dict) -> None:
    """Wrap what advance_due_orders calls to add up the seconds each takes."""
    from fangkong.quarantine import care, orders
    from fangkong.tasks import services as tasks

    targets = [(orders, "_results_by_person"), (orders, "_latest_stays"), (orders, "refresh_statuses"),
               (orders, "_wind_up"), (orders, "_hand_over_home"), (care, "form_teams"), (tasks, "create_task")]
    for module, name in targets:
        original = getattr(module, name, None)
        if original is None:
            spent[f"{name}_missing"] = True
            continue

        def wrapper(*args, _original=original, _name=name, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0) + time.perf_counter() - start

        setattr(module, name, wrapper)


def run_child(args) -> dict:
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from fangkong.core import crypto
    from fangkong.policy.choices import OrderStatus
    from fangkong.policy.models import ControlOrder
    from fangkong.quarantine import orders
    from fangkong.quarantine.models import CareMember

    if connection.vendor != "sqlite" or not str(connection.settings_dict["NAME"]).startswith(args.root):
        raise SystemExit(f"refusing to fill {connection.settings_dict['NAME']}: not the bench database")
    crypto.write_key_file_if_missing()
    call_command("migrate", interactive=False, verbosity=0)
    grids, hq = build_county(args.townships)
    built = fill(args, grids, hq)
    spent: dict = {}
    install_timers(spent)
    today = timezone.localdate()
    log(f"{args.scenario}: advance_due_orders over {built['orders']:,} open orders ({built['due']:,} due)")
    start = time.perf_counter()
    counts = orders.advance_due_orders(today)
    seconds = round(time.perf_counter() - start, 3)
    log(f"{seconds}s {counts}")
    check = {
        "released": ControlOrder.objects.filter(status=OrderStatus.RELEASED).count(),
        "held": ControlOrder.objects.filter(status=OrderStatus.ACTIVE).exclude(hold_reason="").count(),
        "care_members": CareMember.objects.count(),
        "care_members_with_account": CareMember.objects.filter(user__isnull=False).count(),
        "still_due": ControlOrder.objects.filter(status=OrderStatus.ACTIVE, stage_end__lt=today).count(),
    }
    return {
        "scenario": args.scenario, "engine": connection.vendor,
        "scale": {"open_orders": built["orders"], "due": built["due"], "moving_home": built["moving_home"],
                  "releasing": built["releasing"], "samples": built["samples"], "open_stays": built["stays"],
                  "townships": args.townships},
        "build_s": built["build_s"],
        "advance_due_orders": {"seconds": seconds, "counts": counts,
                               "orders_per_s": round(built["due"] / seconds) if seconds else None},
        "split_s": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in spent.items()},
        "after": check,
        "correct": counts["due"] == built["due"] and counts["held"] == 0 and check["still_due"] == 0
        and counts["advanced"] == built["moving_home"] and counts["released"] == built["releasing"],
        "target_s": 10, "meets_target": seconds < 10,
        "machine": machine_info(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--townships", type=int, default=10)
    parser.add_argument("--scenario", choices=["realistic", "all_due", "both"], default="both")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--root", default="/tmp/fk_quarantine_bench")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args), ensure_ascii=False, default=str))
        return
    scenarios = ["realistic", "all_due"] if args.scenario == "both" else [args.scenario]
    result = {"benchmark": "quarantine_advance", "at": now_iso(), "runs": []}
    for scenario in scenarios:
        var = Path(args.root) / scenario
        if var.exists():
            shutil.rmtree(var)
        var.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        env["FANGKONG_VAR_DIR"] = str(var)
        command = [sys.executable, __file__, "--child", "--root", args.root, "--scenario", scenario,
                   "--orders", str(args.orders),
                   "--townships", str(args.townships), "--seed", str(args.seed)]
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{scenario} run failed ({done.returncode})")
        result["runs"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    Path("/tmp/bench_quarantine_advance.json").write_text(json.dumps(result, ensure_ascii=False, indent=2,
                                                                     default=str))
    print_json(result)


if __name__ == "__main__":
    main()
