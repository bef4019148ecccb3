from django.core.management.base import BaseCommand

from fangkong.people.services import recount_population


class Command(BaseCommand):
    help = "按人员库重新统计各级区划人口数（批量导入或数据修复之后运行）"

    def handle(self, *args, **options):
        total = recount_population()
        self.stdout.write(f"population {total}")
