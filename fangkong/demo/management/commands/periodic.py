"""`fangkong periodic`: a small scheduler for the demo: escalate overdue tasks and missed arrivals, reap dead jobs every N seconds."""

import signal
import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from fangkong.core.jobs import reap_stale_jobs
from fangkong.declarations.services import escalate_missed_arrivals
from fangkong.quarantine.orders import run_day
from fangkong.sentinels.services import run_followups as sentinel_followups
from fangkong.tasks.services import escalate_overdue_tasks
from fangkong.testing.jobs import run_day as testing_day
from fangkong.venues.compliance import roll_up_recent
from fangkong.venues.models import RolledUpDay
from fangkong.venues.partitions import ensure_partitions
from fangkong.warning.services import detect_day, scan_day


class Command(BaseCommand):
    help = "每隔 N 秒自动上报逾期任务和逾期未到达的入返人员、回收中断的后台任务（演示环境用；生产环境请用 cron 运行 escalate_tasks、escalate_arrivals、quarantine_day、testing_day、sentinel_followups、detect_alerts 和 reap_jobs）"

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=300, help="间隔秒数（默认 300）")
        parser.add_argument("--once", action="store_true", help="只运行一次")

    def handle(self, *args, **options):
        stopping = []
        tested_on = None  # the testing day job runs once a day
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        while not stopping:
            close_old_connections()
            try:
                today = timezone.localdate()
                ensure_partitions(today - timedelta(days=1), today + timedelta(days=7))  # PostgreSQL only
                if not RolledUpDay.objects.filter(day=today - timedelta(days=1)).exists():
                    roll_up_recent()  # once a day: the compliance page reads these counts
                missed = escalate_missed_arrivals()
                if missed:
                    self.stdout.write(f"missed arrivals {missed}")
                moved = escalate_overdue_tasks()
                if moved:
                    self.stdout.write(f"escalated {moved}")
                if tested_on != today:
                    testing = testing_day(today)
                    tested_on = today
                    self.stdout.write("testing " + " ".join(f"{k}={v}" for k, v in testing.items() if v))
                quarantine = run_day()
                if any(quarantine.values()):
                    self.stdout.write("quarantine " + " ".join(f"{k}={v}" for k, v in quarantine.items() if v))
                buyers = sentinel_followups()
                if any(buyers.values()):
                    self.stdout.write("sentinels " + " ".join(f"{k}={v}" for k, v in buyers.items() if v))
                statistical = detect_day() + scan_day()
                if statistical:
                    self.stdout.write(f"statistical alerts {len(statistical)}")
                reaped = reap_stale_jobs()
                if reaped:
                    self.stdout.write(f"reaped {reaped}")
            except Exception as exc:  # keep the loop alive; the next round retries
                self.stderr.write(f"escalation failed: {exc}")
            if options["once"]:
                break
            deadline = time.monotonic() + options["every"]
            while not stopping and time.monotonic() < deadline:
                time.sleep(1)
