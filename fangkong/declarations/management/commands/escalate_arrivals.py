"""`fangkong escalate_arrivals`: send unconfirmed arrivals past their date up to the township (run from cron)."""

from django.core.management.base import BaseCommand

from fangkong.declarations.services import escalate_missed_arrivals


class Command(BaseCommand):
    help = "计划到达后仍未确认到达的入返人员，上报所在乡镇（街道）（每人只上报一次）"

    def handle(self, *args, **options):
        count = escalate_missed_arrivals()
        self.stdout.write(f"escalated {count}")
