"""Import and export of the population register at scale (issue 3).

Writes a register xlsx of N rows (valid IDs spread over the demo county's
grids, buildings and households, a title row above the header), then times
reading it, the dry run, the commit, and the export of everyone, as the
county HQ admin. Prints JSON with the scale, the machine, the timings and the
peak memory (RSS) of this process.

    FANGKONG_VAR_DIR=/tmp/fkimport .venv/bin/fangkong demo --no-serve --people 1000
    FANGKONG_VAR_DIR=/tmp/fkimport .venv/bin/python benchmarks/register_import.py --rows 1000000

The target of issue 3: dry run + commit < 60 s, export of 1M < 60 s.
"""

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import machine_info, setup_django


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_register(path: Path, rows: int, grids: list[str], seed: int) -> None:
    import xlsxwriter
    from stdnum.cn import ric

    rng = random.Random(seed)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
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
    folder = Path(tempfile.mkdtemp(prefix="fk-register-"))
    path = folder / "register.xlsx"
    timings = {}
    start = time.perf_counter()
    write_register(path, args.rows, grids, args.seed)
    timings["write_xlsx_s"] = round(time.perf_counter() - start, 1)
    size_mb = round(path.stat().st_size / 1024 / 1024, 1)

    start = time.perf_counter()
    sheets = read_register(path, path.name)
    timings["read_s"] = round(time.perf_counter() - start, 1)
    del sheets
    people_before = Person.objects.count()
    with path.open("rb") as handle:
        upload = SimpleUploadedFile(path.name, handle.read())
    start = time.perf_counter()
    batch = services.upload_register(user, upload, user.area)
    timings["upload_s"] = round(time.perf_counter() - start, 1)
    services.save_mapping(user, batch, batch.mapping)
    start = time.perf_counter()
    counts = services.run_dry_run(batch, user)
    timings["dry_run_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    services.run_commit(batch, user)
    timings["commit_s"] = round(time.perf_counter() - start, 1)
    timings["dry_run_plus_commit_s"] = round(timings["dry_run_s"] + timings["commit_s"], 1)

    job = Job.objects.create(kind="benchmark", title="benchmark export", created_by=user)
    start = time.perf_counter()
    export = export_people_job(job, lambda *a, **k: None, query="")
    timings["export_all_s"] = round(time.perf_counter() - start, 1)
    result = {
        "benchmark": "register_import", "rows": args.rows, "xlsx_mb": size_mb, "counts": counts,
        "people_before": people_before, "people_after": Person.objects.count(), "exported_rows": export["rows"],
        "timings": timings, "peak_rss_mb": peak_rss_mb(), "targets": "dry run + commit < 60 s; export < 60 s",
        "machine": machine_info(),
    }
    if not args.keep:
        path.unlink()
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()
