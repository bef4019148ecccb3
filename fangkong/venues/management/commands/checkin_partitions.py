"""`fangkong checkin_partitions`: create the check-in day partitions ahead (PostgreSQL; run daily from cron)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from fangkong.venues.partitions import ensure_partitions, is_partitioned


class Command(BaseCommand):
    help = "为扫码记录表按天建分区：今天之前 N 天到之后 M 天（仅 PostgreSQL；每天运行一次）"

    def add_arguments(self, parser):
        parser.add_argument("--back", type=int, default=1, help="向前补建的天数（默认 1）")
        parser.add_argument("--ahead", type=int, default=7, help="提前建好的天数（默认 7）")

    def handle(self, *args, **options):
        if not is_partitioned():
            self.stdout.write("扫码记录表未分区（非 PostgreSQL），无需操作")
            return
        today = timezone.localdate()
        made = ensure_partitions(today - timedelta(days=options["back"]), today + timedelta(days=options["ahead"]))
        self.stdout.write(f"新建分区 {len(made)} 个" + (f"：{made[0]} … {made[-1]}" if made else ""))
