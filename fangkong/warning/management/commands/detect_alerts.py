"""`fangkong detect_alerts [--date]`: run every configured detector for every township (daily, from cron)."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from fangkong.warning.services import detect_day, scan_day


class Command(BaseCommand):
    help = "按各监测指标配置的检测方法，对每个乡镇（街道）的当日计数做统计预警，并做跨乡镇时空重排扫描（每天运行，可重复运行）"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="统计日 YYYY-MM-DD（默认今天）")

    def handle(self, *args, **options):
        day = None
        if options["date"]:
            try:
                day = datetime.strptime(options["date"], "%Y-%m-%d").date()
            except ValueError as exc:
                raise CommandError("日期格式应为 YYYY-MM-DD") from exc
        raised = detect_day(day)
        clusters = scan_day(day)
        self.stdout.write(f"alerts {len(raised)} clusters {len(clusters)}")
