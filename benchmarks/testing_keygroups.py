"""Key-group schedules (issue "Testing", Performance): due/overdue for 200,000 roster members < 5 s.

Builds a throw-away SQLite database under a temporary FANGKONG_VAR_DIR (or
--dir): a county of --townships townships x 5 villages x 4 grids, 8
departments, --members people each on one of the seeded key groups' rosters
(employer, employer township for 70%, a department), and one sample in the
last 10 days for --sampled of them (10-in-1 tubes). Then times

1. ``schedules.refresh_all()``: last sample and next due date of every entry
   recomputed from the samples (set-based UPDATEs);
2. ``schedules.coverage()`` for HQ (all groups, by department / employer /
   township; one group by department), for a department officer and for a
   township officer;
3. ``schedules.overdue(...).count()`` and the first page of the list;
4. ``schedules.group_summaries()`` (the key-group list page's query);
5. the nightly ``testing.jobs.run_day()``, twice (the first run stores every member's scan colour).

    .venv/bin/python benchmarks/testing_keygroups.py --members 200000
    createdb -h 127.0.0.1 -U postgres fk_keygroups && .venv/bin/python benchmarks/testing_keygroups.py \
        --database-url postgres://postgres@127.0.0.1:5432/fk_keygroups   # PostgreSQL: an empty database

Target: coverage (due/overdue) for 200,000 members < 5 s. JSON on stdout.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Timer, machine_info, now_iso, print_json, setup_django, summarize  # noqa: E402


def build(members: int, sampled: int, townships: int, rng) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from fangkong.accounts.choices import OrganizationKind, Role
    from fangkong.accounts.models import Organization, User
    from fangkong.areas.models import Area
    from fangkong.people.models import KeyGroup, Person
    from fangkong.testing.models import RosterEntry, Sample, SamplingPoint, SamplingSession, Tube

    county = Area.objects.create(code="370923000000", name="示范县", level="county")
    town_areas, grids = [], []
    for t in range(1, townships + 1):
        town = Area.objects.create(code=f"370923{t:03d}000", name=f"第{t}镇", level="township", parent=county)
        town_areas.append(town)
        for v in range(1, 6):
            village = Area.objects.create(code=f"370923{t:03d}{v:03d}", name=f"{t}镇{v}村", level="village",
                                          parent=town)
            for g in range(1, 5):
                grids.append(Area.objects.create(code=f"{village.code}{g:03d}", name=f"{village.name}{g}网格",
                                                 level="grid", parent=village).code)
    kinds = [OrganizationKind.MARKET_REGULATION, OrganizationKind.HEALTH_BUREAU, OrganizationKind.COMMERCE,
             OrganizationKind.TRANSPORT, OrganizationKind.EDUCATION, OrganizationKind.PUBLIC_SECURITY,
             OrganizationKind.CDC, OrganizationKind.OTHER]
    depts = [Organization.objects.create(name=f"部门{i}", kind=k, area=county) for i, k in enumerate(kinds)]
    hq = User.objects.create(username="bench_hq", role=Role.HQ_ADMIN, area=county)
    dept_user = User.objects.create(username="bench_dept", role=Role.DEPT_OFFICER, area=county, organization=depts[0])
    town_user = User.objects.create(username="bench_town", role=Role.TOWNSHIP_OFFICER, area=town_areas[0])
    groups = list(KeyGroup.objects.filter(test_interval_days__isnull=False))
    employers = [f"单位{n:04d}" for n in range(2000)]
    start = Timer().__enter__()
    with transaction.atomic():
        Person.objects.bulk_create(
            [Person(name=f"人员{n}", area_id=rng.choice(grids)) for n in range(members)], batch_size=5000)
        person_rows = list(Person.objects.values_list("pk", "area_id"))
        entries = []
        today = timezone.localdate()
        for pk, area_id in person_rows:
            group = rng.choice(groups)
            entries.append(RosterEntry(
                group=group, person_id=pk, area_id=area_id, employer=rng.choice(employers),
                employer_area=rng.choice(town_areas) if rng.random() < 0.7 else None,
                department=depts[hash(group.code) % len(depts)], next_due=today))
        RosterEntry.objects.bulk_create(entries, batch_size=5000)
        point = SamplingPoint.objects.create(name="采样点", area_id=grids[0])
        session = SamplingSession.objects.create(point=point, area_id=grids[0], operator=hq, pool_size=10)
        now = timezone.now()
        chosen = rng.sample(person_rows, min(sampled, len(person_rows)))
        tubes = [Tube(barcode=f"B{n:08d}", session=session, area_id=grids[0], capacity=10, status="closed")
                 for n in range((len(chosen) + 9) // 10)]
        Tube.objects.bulk_create(tubes, batch_size=5000)
        tube_ids = list(Tube.objects.order_by("pk").values_list("pk", flat=True))
        Sample.objects.bulk_create([
            Sample(tube_id=tube_ids[i // 10], person_id=pk, area_id=area_id, client_key=f"k{i}",
                   sampled_at=now - timedelta(minutes=rng.randrange(0, 10 * 24 * 60)))
            for i, (pk, area_id) in enumerate(chosen)], batch_size=5000)
    start.__exit__()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"hq": hq, "dept": dept_user, "town": town_user, "group": groups[0], "build_s": round(start.ms / 1000, 1),
            "entries": RosterEntry.objects.count(), "samples": Sample.objects.count(), "groups": len(groups)}


def timed(fn, repeat: int) -> tuple[dict, object]:
    values, result = [], None
    for _ in range(repeat):
        with Timer() as t:
            result = fn()
        values.append(t.ms)
    return summarize(values), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--sampled", type=int, default=150_000, help="members with a sample in the last 10 days")
    parser.add_argument("--townships", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default="", help="FANGKONG_VAR_DIR to use (default: a temporary one, removed)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database (default: SQLite in --dir)")
    args = parser.parse_args()
    var_dir = args.dir or tempfile.mkdtemp(prefix="fk_keygroups_")
    os.environ["FANGKONG_VAR_DIR"] = var_dir
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    try:
        setup_django()
        from django.core.management import call_command

        from fangkong.core import crypto

        crypto.write_key_file_if_missing()
        call_command("migrate", interactive=False, verbosity=0)
        from fangkong.testing import schedules

        data = build(args.members, args.sampled, args.townships, random.Random(args.seed))
        hq, group = data["hq"], data["group"]
        refresh, count = timed(schedules.refresh_all, max(1, args.repeat // 2))
        timings = {"refresh_all": {**refresh, "rows": count}}
        for by in schedules.BY_CHOICES:
            stats, result = timed(lambda by=by: schedules.coverage(hq, by=by), args.repeat)
            timings[f"coverage_hq_all_groups_by_{by}"] = {**stats, "rows": len(result["rows"]),
                                                          "totals": result["totals"]}
        stats, result = timed(lambda: schedules.coverage(hq, group), args.repeat)
        timings["coverage_hq_one_group_by_department"] = {**stats, "totals": result["totals"]}
        stats, result = timed(lambda: schedules.coverage(data["dept"], by="employer"), args.repeat)
        timings["coverage_dept_officer_by_employer"] = {**stats, "totals": result["totals"]}
        stats, result = timed(lambda: schedules.coverage(data["town"], by="employer"), args.repeat)
        timings["coverage_township_officer_by_employer"] = {**stats, "totals": result["totals"]}
        stats, result = timed(lambda: schedules.overdue(hq).count(), args.repeat)
        timings["overdue_count_hq"] = {**stats, "overdue": result}
        stats, _ = timed(lambda: list(schedules.overdue(hq, group)[:50]), args.repeat)
        timings["overdue_first_page_one_group"] = stats
        stats, _ = timed(lambda: schedules.group_summaries(hq), args.repeat)
        timings["group_summaries_hq"] = stats
        from fangkong.testing import jobs

        for run in ("first", "again"):  # the nightly job: first night (every colour written), then a repeat
            with Timer() as t:
                summary = jobs.run_day()
            timings[f"testing_day_{run}"] = {"ms": round(t.ms, 1), **summary}
        worst = max(v["max_ms"] for k, v in timings.items() if k.startswith("coverage"))
        print_json({
            "benchmark": "testing_keygroups", "at": now_iso(), "machine": machine_info(),
            "data": {k: data[k] for k in ("entries", "samples", "groups", "build_s")},
            "timings": timings,
            "target": {"coverage_max_ms": 5000, "worst_coverage_ms": round(worst, 1), "met": worst < 5000},
        })
    finally:
        if not args.dir:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
