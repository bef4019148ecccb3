"""``fangkong purge-checkins``: delete check-ins past the retention period.

On PostgreSQL whole day partitions before the cutoff day are dropped first
(one DROP TABLE per day, however many rows). What is left (the cutoff day
itself, the default partition, or every row on SQLite) goes venue by venue,
one range of the (venue, scanned_at) index at a time, in chunks so that no
transaction holds millions of rows. The run is audited as one event.
"""

import re
import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.venues.ingest import retention_days
from fangkong.venues.models import CheckIn, Venue
from fangkong.venues.partitions import drop_partitions_before

CHUNK = 20_000


def parse_days(value: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*d?\s*", value or "")
    if not match or int(match.group(1)) < 1:
        raise CommandError(f"--older-than: expected a number of days such as 28d, got {value!r}")
    return int(match.group(1))


class Command(BaseCommand):
    help = "删除超过保存期限的扫码记录（默认按 FANGKONG_CHECKIN_RETENTION_DAYS）；--dry-run 只统计"

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=None, help="如 28d（默认为保存期限天数）")
        parser.add_argument("--dry-run", action="store_true", help="只打印将删除的条数")
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive",
                            help="在终端运行时也不询问确认（cron 没有终端，本来就不询问）")

    def handle(self, *args, **options):
        days = parse_days(options["older_than"]) if options["older_than"] else retention_days()
        cutoff = timezone.now() - timedelta(days=days)
        venue_ids = list(Venue.objects.order_by("pk").values_list("pk", flat=True))
        # Someone at a terminal sees what will go and says yes; cron (no terminal) deletes as scheduled.
        ask = options["interactive"] and sys.stdin.isatty()
        if options["dry_run"] or ask:
            count = CheckIn.objects.filter(venue_id__in=Venue.objects.values("pk"), scanned_at__lt=cutoff).count()
            self.stdout.write(f"would delete {count} check-ins older than {days} days (before {cutoff.isoformat()})")
            if options["dry_run"]:
                return
            if count == 0:
                return
            if input("确认删除？删除后无法恢复，流调将查不到这些记录。输入 yes 继续：").strip().lower() != "yes":
                raise CommandError("已取消，未删除任何记录。")
        partitions, deleted = drop_partitions_before(timezone.localdate(cutoff))
        if partitions:
            self.stdout.write(f"dropped {partitions} day partitions ({deleted} check-ins)")
        table = connection.ops.quote_name(CheckIn._meta.db_table)
        at = connection.ops.adapt_datetimefield_value(cutoff)
        for venue_id in venue_ids:
            while True:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE venue_id = %s "
                        f"AND scanned_at < %s LIMIT {CHUNK})", [venue_id, at])
                    done = cursor.rowcount
                deleted += done
                if done < CHUNK:
                    break
        record_event(None, AuditAction.DELETE, object_type="venues.checkin",
                     object_repr=f"清理扫码记录 {deleted} 条（{days} 天前）",
                     changes={"older_than_days": days, "cutoff": cutoff.isoformat(), "deleted": deleted})
        self.stdout.write(f"deleted {deleted} check-ins older than {days} days (before {cutoff.isoformat()})")
