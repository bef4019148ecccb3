"""`fangkong quarantine_day`: stage advancement and release, test-day tasks, missed checks, late handovers."""

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fangkong.quarantine.orders import run_day


class Command(BaseCommand):
    help = "管控措施每日转段与解除、生成检测日采样任务、检查健康监测漏报和转运超时未交接（每天凌晨由 cron 运行，可重复运行）"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="按该日期运行（YYYY-MM-DD，默认今天；用于补跑）")

    def handle(self, *args, **options):
        now = timezone.now()
        if options["date"]:
            try:
                day = datetime.strptime(options["date"], "%Y-%m-%d").date()
            except ValueError as exc:
                raise CommandError("日期格式应为 YYYY-MM-DD") from exc
            now = timezone.make_aware(datetime.combine(day, time(23, 59)))
        summary = run_day(now)
        self.stdout.write(" ".join(f"{key}={value}" for key, value in summary.items()))
