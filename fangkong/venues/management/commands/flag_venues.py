from datetime import date

from django.core.management.base import BaseCommand, CommandError

from fangkong.venues.compliance import default_day, flag_venues, roll_up_recent


class Command(BaseCommand):
    help = "汇总近8天的场所日扫码数，标记有问题的场所并派发查验任务（每个场所每天一条，重复运行不重复派发）；默认检查昨日"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD，默认昨日")

    def handle(self, *args, **options):
        try:
            day = date.fromisoformat(options["date"]) if options["date"] else default_day()
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        rolled = roll_up_recent()  # the closed days' counts, late batches included
        tasks = flag_venues(day)
        self.stdout.write(f"rolled up {rolled} day(s) of check-ins")
        self.stdout.write(f"flagged {len(tasks)} new venue(s) for {day.isoformat()}")
