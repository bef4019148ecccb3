from django.core.management.base import BaseCommand

from fangkong.core.jobs import reap_stale_jobs


class Command(BaseCommand):
    help = "把后台进程已中断的任务标为失败，以便重新发起（与 escalate_tasks 一同定时运行）"

    def handle(self, *args, **options):
        self.stdout.write(f"reaped {reap_stale_jobs()}")
