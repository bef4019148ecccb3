"""`fangkong demo`: create the database, generate a synthetic county, serve it."""

import json
import time
import unicodedata
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from fangkong.core import crypto
from fangkong.demo import data, serve
from fangkong.demo.generator import generate_county


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(rows: list[list[str]]) -> str:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def accounts_path():
    return settings.VAR_DIR / "demo-accounts.json"


class Command(BaseCommand):
    help = "生成演示县（合成数据，固定随机种子）并启动服务：fangkong demo [--people N] [--no-serve]"

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=100_000, help="人口数（默认 100000）")
        parser.add_argument("--seed", type=int, default=2026, help="随机种子（默认 2026）")
        parser.add_argument("--no-serve", action="store_true", help="只生成数据，不启动服务")
        parser.add_argument("--port", type=int, default=8000, help="端口（默认 8000）")
        parser.add_argument("--reset", action="store_true", help="删除已有数据库后重新生成")
        parser.add_argument("--townships", type=int, default=15, help="乡镇（街道）数（默认 15）")
        parser.add_argument("--villages", type=int, default=300, help="村（社区）数（默认 300）")
        parser.add_argument("--grids", type=int, default=1500, help="网格数（默认 1500）")
        parser.add_argument("--checkin-days", type=int, default=7,
                            help="生成最近 N 天的扫码记录，每人每天约 3 次（默认 7；0 为不生成）")

    def handle(self, *args, **options):
        if options["people"] < 100:
            raise CommandError("--people 至少为 100。")
        if options["reset"]:
            self._reset_sqlite()
        if crypto.write_key_file_if_missing():
            self.stdout.write(f"已生成数据加密密钥 {settings.FANGKONG_DATA_KEY_PATH}")
        self.stdout.write("正在创建/升级数据库……")
        call_command("migrate", interactive=False, verbosity=0)
        if options["reset"] and connection.vendor != "sqlite":
            self._reset_other()

        from fangkong.areas.models import Area

        if Area.objects.filter(code=data.COUNTY_CODE).exists():
            self.stdout.write(self.style.WARNING("演示县已存在，不再重新生成（要重新生成请加 --reset）。"))
            accounts = self._load_accounts()
        elif Area.objects.exists():
            raise CommandError("数据库中已有非演示数据，fangkong demo 不会写入。请换一个 FANGKONG_VAR_DIR 或 DATABASE_URL。")
        else:
            accounts = self._generate(options)
        self._print_accounts(accounts, options["port"])
        if not options["no_serve"]:
            serve.run(options["port"], self.stdout)

    # ----------------------------------------------------------------------
    def _reset_sqlite(self):
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.sqlite3":
            return
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            path = Path(str(db["NAME"]) + suffix)
            if path.exists():
                path.unlink()
        accounts_path().unlink(missing_ok=True)
        self.stdout.write(f"已删除数据库 {db['NAME']}")

    def _reset_other(self):
        """PostgreSQL and others: empty every table, then seed what the migrations seed."""
        import importlib

        from django.apps import apps

        call_command("flush", interactive=False, verbosity=0)
        seed_migration = importlib.import_module("fangkong.people.migrations.0002_seed_key_groups")
        seed_migration.seed(apps, None)
        importlib.import_module("fangkong.policy.migrations.0002_seed_packs").seed(apps, None)
        accounts_path().unlink(missing_ok=True)
        self.stdout.write("已清空数据库中的全部数据")

    def _generate(self, options):
        started = time.perf_counter()
        last = {"stage": None, "t": 0.0, "people_start": None}
        labels = {"areas": "区划", "accounts": "账号和单位", "people": "人员", "population": "统计人口", "tasks": "任务", "arrivals": "入返报备", "venues": "场所", "checkins": "扫码记录", "outbreak": "疫情流调示例", "quarantine": "隔离管控", "sentinels": "哨点监测", "analyze": "更新统计信息"}

        def progress(stage, done, total):
            now = time.perf_counter()
            if stage == last["stage"] and (stage != "people" or (done < total and now - last["t"] < 2)):
                return
            last.update(stage=stage, t=now)
            elapsed = now - started
            if stage == "people":
                if last["people_start"] is None:
                    last["people_start"] = now
                    return
                rate = done / max(now - last["people_start"], 1e-6)
                self.stdout.write(f"  [{elapsed:6.1f}s] {labels[stage]} {done:,}/{total:,}（{rate:,.0f} 人/秒）")
            else:
                self.stdout.write(f"  [{elapsed:6.1f}s] {labels[stage]}……")

        self.stdout.write(
            f"正在生成演示县：{options['people']:,} 人，随机种子 {options['seed']}"
            f"（{options['townships']} 个乡镇街道，约 {options['villages']} 个村社区，约 {options['grids']} 个网格）"
        )
        accounts = generate_county(
            people=options["people"], seed=options["seed"], townships=options["townships"],
            villages=options["villages"], grids=options["grids"], checkin_days=options["checkin_days"],
            progress=progress,
        )
        accounts_path().write_text(json.dumps(accounts, ensure_ascii=False, indent=2), encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(
            f"演示县生成完毕，用时 {time.perf_counter() - started:.1f} 秒；账号已写入 {accounts_path()}"
        ))
        return accounts

    def _load_accounts(self):
        path = accounts_path()
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        self.stdout.write(self.style.WARNING(f"找不到 {path}，无法列出演示账号密码。"))
        return []

    def _print_accounts(self, accounts, port):
        if accounts:
            rows = [["用户名", "密码", "角色", "区划"]]
            rows += [[a["username"], a["password"], a["role_label"], a["area_name"]] for a in accounts]
            self.stdout.write("\n演示账号：\n" + format_table(rows) + "\n")
        self.stdout.write(f"地址：http://127.0.0.1:{port}/")
