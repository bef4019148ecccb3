from django.core.management.base import BaseCommand

from fangkong.tasks.services import escalate_overdue_tasks


class Command(BaseCommand):
    help = "逾期任务自动上报上一级（由定时任务或 fangkong worker 每几分钟运行一次）"

    def handle(self, *args, **options):
        moved = escalate_overdue_tasks()
        self.stdout.write(f"escalated {moved}")
