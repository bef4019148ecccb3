from django.core.management.base import BaseCommand

from fangkong.sentinels.services import run_followups


class Command(BaseCommand):
    help = "四类药品购药人：按采样记录标记已检测，逾期未检的写预警信号（定时运行，每几分钟一次）"

    def handle(self, *args, **options):
        result = run_followups()
        self.stdout.write(f"tested {result['tested']} signals {result['signals']}")
