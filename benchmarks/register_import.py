"""Import and export of the population register at scale (issue 3).

Writes a register xlsx of N rows (valid IDs spread over the demo county's
grids, buildings and households, a title row above the header; text in a
shared-string table, as Excel and WPS save it), then times reading it, the
upload (which parses the file and keeps the parsed sheets for the dry run),
the dry run, the commit, and the export of everyone, as the county HQ admin.
Prints JSON with the scale, the machine, the timings and the peak memory
(RSS) of this process.

    FANGKONG_VAR_DIR=/tmp/fkimport .venv/bin/fangkong demo --no-serve --people 1000
    FANGKONG_VAR_DIR=/tmp/fkimport .venv/bin/python benchmarks/register_import.py --rows 1000000

--again imports the same file a second time into the register it filled
(the idempotent re-upload: every row unchanged). Writing a 1M-row xlsx takes
minutes: --keep keeps it (its path is in the
JSON) and --xlsx reuses it on a fresh copy of the same demo database.
Each phase records the load average before it (the machine is shared: a
figure taken under load is an upper bound). The peak RSS is this process's;
the dry run cleans half the rows in a forked copy, whose peak is reported
apart (peak_rss_children_mb).

The target of issue 3: dry run + commit < 60 s, export of 1M < 60 s.
"""

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import machine_info, setup_django


def peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def write_register(path: Path, rows: int, grids: list[str], seed: int, inline_strings: bool = False) -> None:
    """The register as Excel and WPS save it: text in the shared-string table (INLINE_STRINGS: in the cells,
    as xlsxwriter writes in constant-memory mode; such a sheet is larger and slower to parse)."""
    import xlsxwriter
    from stdnum.cn import ric

    rng = random.Random(seed)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": inline_strings})
    sheet = book.add_worksheet("汇总表")
    headers = ["姓名", "性别", "公民身份号码", "联系电话", "楼栋", "单元", "门牌号", "与户主关系", "是否流动人口",
               "现住址", "网格编码"]
    sheet.write_string(0, 0, "常住人口信息汇总表")
    for col, header in enumerate(headers):
        sheet.write_string(1, col, header)
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
    used = set()
    for r in range(rows):
        while True:
            birth = date(1930, 1, 1) + timedelta(days=rng.randrange(90 * 365))
            body = f"370923{birth:%Y%m%d}{rng.randrange(1000):03d}"
            if body not in used:
                used.add(body)
                break
        number = body + ric.calc_check_digit(body + "0")
        household = r // 3  # three people a household, households spread over the grids
        grid = grids[household % len(grids)]
        h = household // len(grids)
        building, unit, door = f"{h // 120 + 1}号楼", str(h // 30 % 4 + 1), str(h % 30 + 101)
        cells = [rng.choice(surnames) + rng.choice(given) + rng.choice(given), "男" if int(body[-1]) % 2 else "女",
                 number, f"1{rng.choice('3589')}{r:09d}", building, unit, door,
                 "户主" if r % 3 == 0 else "子女", "否", f"{building}{unit}单元{door}", grid]
        for col, value in enumerate(cells):
            sheet.write_string(r + 2, col, value)
    book.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the generated xlsx")
    parser.add_argument("--xlsx", type=Path, help="import this register (written by an earlier --keep run on the "
                        "same demo database) instead of writing one")
    parser.add_argument("--again", action="store_true",
                        help="then import the same file again (every row unchanged: the idempotent re-upload)")
    parser.add_argument("--inline-strings", action="store_true",
                        help="write the text into the cells (as before 2026-11-26) instead of a shared-string table")
    args = parser.parse_args(argv)
    setup_django()

    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from fangkong.areas.models import Area
    from fangkong.core.models import Job
    from fangkong.people.jobs import export_people_job
    from fangkong.people.models import Person
    from fangkong.people.register import services
    from fangkong.people.register.reader import read_register

    user = get_user_model().objects.filter(role="hq_admin").select_related("area").first()
    grids = list(Area.objects.filter(level="grid").values_list("code", flat=True))
    timings, load = {}, {}

    def timed(name, func):
        load[name] = [round(x, 2) for x in os.getloadavg()]
        start = time.perf_counter()
        value = func()
        timings[f"{name}_s"] = round(time.perf_counter() - start, 1)
        return value

    path = args.xlsx
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="fk-register-")) / "register.xlsx"
        timed("write_xlsx", lambda: write_register(path, args.rows, grids, args.seed, args.inline_strings))
    size_mb = round(path.stat().st_size / 1024 / 1024, 1)

    rows = sum(len(sheet.rows) for sheet in timed("read", lambda: read_register(path, path.name)))
    people_before = Person.objects.count()
    with path.open("rb") as handle:
        upload = SimpleUploadedFile(path.name, handle.read())
    batch = timed("upload", lambda: services.upload_register(user, upload, user.area))
    services.save_mapping(user, batch, batch.mapping)
    counts = timed("dry_run", lambda: services.run_dry_run(batch, user))
    timed("commit", lambda: services.run_commit(batch, user))
    timings["dry_run_plus_commit_s"] = round(timings["dry_run_s"] + timings["commit_s"], 1)
    # The upload parses the file and keeps the sheets for the dry run: count it too.
    timings["upload_plus_dry_run_plus_commit_s"] = round(timings["upload_s"] + timings["dry_run_plus_commit_s"], 1)

    job = Job.objects.create(kind="benchmark", title="benchmark export", created_by=user)
    export = timed("export_all", lambda: export_people_job(job, lambda *a, **k: None, query=""))
    again = None
    if args.again:  # the same file once more, into the register it filled: every row unchanged, nothing written
        again_batch = timed("again_upload", lambda: services.upload_register(user, upload, user.area))
        services.save_mapping(user, again_batch, again_batch.mapping)
        again = timed("again_dry_run", lambda: services.run_dry_run(again_batch, user))
        timed("again_commit", lambda: services.run_commit(again_batch, user))
    result = {
        "benchmark": "register_import", "rows": rows, "xlsx": str(path) if args.keep or args.xlsx else None,
        "xlsx_mb": size_mb, "counts": counts, "counts_again": again, "people_before": people_before,
        "people_after": Person.objects.count(), "exported_rows": export["rows"], "timings": timings,
        "load_average_before": load, "peak_rss_mb": peak_rss_mb(),
        "peak_rss_children_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
        "targets": "dry run + commit < 60 s; export < 60 s", "machine": machine_info(),
    }
    if not (args.keep or args.xlsx):
        path.unlink()
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()
