"""`fangkong testing_day`: key-group schedules and overdue tasks, scan colours, unmatched lab results."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from fangkong.testing.jobs import run_day


class Command(BaseCommand):
    help = "重点人群应检日期重算、逾期未检任务、逾期人员扫码颜色、补配对未匹配的检测结果（每天凌晨由 cron 运行，可重复运行）"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="按该日期判断逾期（YYYY-MM-DD，默认今天；用于补跑）")

    def handle(self, *args, **options):
        day = None
        if options["date"]:
            try:
                day = datetime.strptime(options["date"], "%Y-%m-%d").date()
            except ValueError as exc:
                raise CommandError("日期格式应为 YYYY-MM-DD") from exc
        summary = run_day(day)
        self.stdout.write(" ".join(f"{key}={value}" for key, value in summary.items()))
