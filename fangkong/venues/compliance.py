"""Venue compliance (查验后台): is each venue scanning its visitors, and letting in only green?

Per venue for one day: scans against expected visitors, the share of
non-green scans let in, and the days without scans. A venue is flagged when
it has had no scans for N days while open, when its scans dropped suddenly
against its 7-day average, or when it let in red or yellow visitors; a
flagged venue gets one inspection task for its supervising department.

Closed days are read from a daily roll-up (VenueDayCount, written by the
nightly ``flag_venues`` run for the last days); only days not rolled up yet
(today, usually) are counted from the check-ins, in one GROUP BY.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.accounts.choices import Role
from fangkong.areas.models import Area
from fangkong.core.scope import prefix_for, prefix_q
from fangkong.tasks.models import Task
from fangkong.tasks.services import create_task

from .models import CheckIn, RolledUpDay, Venue, VenueDayCount

BASELINE_DAYS = 7
TASK_KIND = "venue_inspection"

FLAG_SILENT, FLAG_DROP, FLAG_NONGREEN = "silent", "drop", "nongreen"
FLAG_LABELS = {
    FLAG_SILENT: gettext_lazy("连续无扫码"),
    FLAG_DROP: gettext_lazy("扫码量骤降"),
    FLAG_NONGREEN: gettext_lazy("放行红黄码"),
}


def silent_days_setting() -> int:
    return max(1, int(getattr(settings, "FANGKONG_COMPLIANCE_SILENT_DAYS", 3)))


def drop_ratio_setting() -> float:
    return float(getattr(settings, "FANGKONG_COMPLIANCE_DROP_RATIO", 0.3))


def drop_min_average_setting() -> float:
    """Below this 7-day average a venue is too quiet for a drop to mean anything."""
    return float(getattr(settings, "FANGKONG_COMPLIANCE_DROP_MIN_AVERAGE", 10))


@dataclass
class VenueDay:
    venue: Venue
    day: date
    days: list[int]  # scans per day, oldest first, the last being DAY
    nongreen: int = 0
    red: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def scans(self) -> int:
        return self.days[-1]

    @property
    def expected(self) -> int:
        return self.venue.expected_daily_visitors

    @property
    def coverage(self) -> float | None:
        """Scans as a share of the expected visitors (None when nothing is expected)."""
        return self.scans / self.expected if self.expected else None

    @property
    def nongreen_share(self) -> float | None:
        return self.nongreen / self.scans if self.scans else None

    @property
    def average(self) -> float:
        """Average scans a day over the BASELINE_DAYS before DAY."""
        return sum(self.days[-BASELINE_DAYS - 1:-1]) / BASELINE_DAYS

    @property
    def zero_days(self) -> int:
        """Days without a scan in the last BASELINE_DAYS days up to DAY."""
        return sum(1 for n in self.days[-BASELINE_DAYS:] if n == 0)

    @property
    def silent_days(self) -> int:
        """Consecutive days without a scan, ending on DAY (at most the window)."""
        count = 0
        for n in reversed(self.days):
            if n:
                break
            count += 1
        return count

    @property
    def flag_labels(self) -> list[str]:
        return [str(FLAG_LABELS[f]) for f in self.flags]


def compliance_venues(user=None):
    """The venues USER may see on the compliance page (all of them for the system itself)."""
    if user is None:
        return Venue.objects.all()
    if not user.is_authenticated or not user.is_active or not user.has_perm("venues.view_compliance"):
        return Venue.objects.none()
    return Venue.objects.filter(prefix_q("area_id", user.scope_prefix))


def filter_venues(venues, *, area: Area | None = None, type_code: str = "", department: int | None = None):
    if area is not None:
        venues = venues.filter(prefix_q("area_id", prefix_for(area.code, area.level)))
    if type_code:
        venues = venues.filter(type__code=type_code)
    if department:
        venues = venues.filter(supervisor_id=department)
    return venues


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def roll_up(days) -> int:
    """Count each closed day's check-ins per venue into VenueDayCount (idempotent); returns the days done.

    One GROUP BY over one day (one partition on PostgreSQL) per day. The
    nightly job rolls up the last days again, so late batches are counted.
    """
    today = timezone.localdate()
    done = 0
    for day in sorted(set(days)):
        if day >= today:
            continue
        start, end = _midnight(day), _midnight(day + timedelta(days=1))
        rows = (CheckIn.objects.filter(scanned_at__gte=start, scanned_at__lt=end).values("venue_id")
                .annotate(scans=Count("id"), nongreen=Count("id", filter=Q(status_shown__in=["yellow", "red"])),
                          red=Count("id", filter=Q(status_shown="red"))).order_by())
        with transaction.atomic():
            VenueDayCount.objects.filter(day=day).delete()
            VenueDayCount.objects.bulk_create(
                [VenueDayCount(venue_id=r["venue_id"], day=day, scans=r["scans"], nongreen=r["nongreen"],
                               red=r["red"]) for r in rows], batch_size=2000)
            RolledUpDay.objects.update_or_create(day=day)
        done += 1
    return done


def roll_up_recent(days: int = BASELINE_DAYS + 1) -> int:
    today = timezone.localdate()
    return roll_up(today - timedelta(days=k) for k in range(1, days + 1))


def _day_counts(venue_ids: list[int], days: list[date], day: date) -> dict[int, dict]:
    """venue id -> {"d<k>": scans on days[k], "nongreen", "red" on DAY}: rolled-up days from VenueDayCount,
    the others (today, or days the nightly job has not reached) counted from check-ins."""
    rolled = set(RolledUpDay.objects.filter(day__in=days).values_list("day", flat=True))
    result: dict[int, dict] = {}
    index = {d: k for k, d in enumerate(days)}
    if rolled:
        counts = VenueDayCount.objects.filter(day__in=rolled, venue_id__in=venue_ids).values_list(
            "venue_id", "day", "scans", "nongreen", "red")
        for venue_id, on, scans, nongreen, red in counts:
            row = result.setdefault(venue_id, {})
            row[f"d{index[on]}"] = scans
            if on == day:
                row["nongreen"], row["red"] = nongreen, red
    live = [d for d in days if d not in rolled]
    if live:
        bounds = {d: (_midnight(d), _midnight(d + timedelta(days=1))) for d in live}
        annotations = {f"d{index[d]}": Count("id", filter=Q(scanned_at__gte=b[0], scanned_at__lt=b[1]))
                       for d, b in bounds.items()}
        if day in bounds:
            annotations["nongreen"] = Count("id", filter=Q(scanned_at__gte=bounds[day][0],
                                                           status_shown__in=["yellow", "red"]))
            annotations["red"] = Count("id", filter=Q(scanned_at__gte=bounds[day][0], status_shown="red"))
        rows = (CheckIn.objects.filter(venue_id__in=venue_ids, scanned_at__gte=bounds[live[0]][0],
                                       scanned_at__lt=bounds[live[-1]][1])
                .values("venue_id").annotate(**annotations).order_by())
        for row in rows:
            result.setdefault(row.pop("venue_id"), {}).update(row)
    return result


def compute(venues, day: date) -> list[VenueDay]:
    """Every venue of VENUES on DAY, flagged ones first: daily counts from the roll-up, live for the rest."""
    silent_n = silent_days_setting()
    window = max(BASELINE_DAYS + 1, silent_n)
    first = day - timedelta(days=window - 1)
    days = [first + timedelta(days=k) for k in range(window)]
    by_venue = _day_counts(list(venues.values_list("pk", flat=True)), days, day)
    silent_before = _midnight(day - timedelta(days=silent_n - 1))
    ratio, min_average = drop_ratio_setting(), drop_min_average_setting()
    result = []
    for venue in venues.select_related("area__parent", "type", "supervisor").order_by("area_id", "name", "id"):
        row = by_venue.get(venue.pk, {})
        item = VenueDay(venue=venue, day=day, days=[row.get(f"d{k}", 0) for k in range(window)],
                        nongreen=row.get("nongreen", 0), red=row.get("red", 0))
        # A venue registered within the silent window has not had the chance to scan yet.
        if venue.is_active and item.silent_days >= silent_n and venue.created_at < silent_before:
            item.flags.append(FLAG_SILENT)
        if venue.is_active and item.average >= min_average and item.scans < ratio * item.average:
            item.flags.append(FLAG_DROP)
        if item.nongreen:
            item.flags.append(FLAG_NONGREEN)
        result.append(item)
    result.sort(key=lambda r: not r.flags)  # stable: flagged first, then by area and name
    return result


def summary(items: list[VenueDay]) -> dict:
    scans = sum(i.scans for i in items)
    nongreen = sum(i.nongreen for i in items)
    return {
        "venues": len(items),
        "scans": scans,
        "expected": sum(i.expected for i in items),
        "nongreen": nongreen,
        "nongreen_share": nongreen / scans if scans else None,
        "flagged": sum(1 for i in items if i.flags),
        **{f"flag_{f}": sum(1 for i in items if f in i.flags) for f in FLAG_LABELS},
    }


def default_day() -> date:
    """Yesterday: the last complete day (today's counts would all look like drops in the morning)."""
    return timezone.localdate() - timedelta(days=1)


# Inspection tasks --------------------------------------------------------------------------------
def _task_title(item: VenueDay) -> str:
    # The date leads the title whatever the language: it is how a rerun finds the task again.
    return f"{item.day.isoformat()} " + _("场所查验：%(venue)s") % {"venue": item.venue.name}


def _task_description(item: VenueDay) -> str:
    lines = [_("查验日期：%(day)s") % {"day": item.day.isoformat()},
             _("原因：%(flags)s") % {"flags": "、".join(item.flag_labels)},
             _("当日扫码 %(scans)d 人次，预计客流 %(expected)d 人次，前7日日均 %(avg).1f 人次，非绿码放行 %(ng)d 人次，"
               "连续无扫码 %(silent)d 天。") % {"scans": item.scans, "expected": item.expected, "avg": item.average,
                                          "ng": item.nongreen, "silent": item.silent_days},
             _("场所地址：%(address)s") % {"address": item.venue.address}]
    return "\n".join(lines)


def task_deadline_hours() -> int:
    return int(getattr(settings, "FANGKONG_COMPLIANCE_TASK_HOURS", 48))


@transaction.atomic
def flag_venues(day: date, user=None) -> list[Task]:
    """One inspection task per flagged venue for DAY (within USER's scope when given); idempotent.

    The task goes to the department officers of the venue's area when the
    venue has a supervising department, else to the township officers.
    """
    flagged = [item for item in compute(compliance_venues(user), day) if item.flags]
    if not flagged:
        return []
    venue_type = ContentType.objects.get_for_model(Venue)
    prefix = f"{day.isoformat()} "
    done = set(Task.objects.filter(kind=TASK_KIND, subject_type=venue_type, title__startswith=prefix,
                                   subject_id__in=[str(i.venue.pk) for i in flagged])
               .values_list("subject_id", flat=True))
    deadline = timezone.now() + timedelta(hours=task_deadline_hours())
    created = []
    for item in flagged:
        if str(item.venue.pk) in done:
            continue
        role = Role.DEPT_OFFICER if item.venue.supervisor_id else Role.TOWNSHIP_OFFICER
        created.append(create_task(kind=TASK_KIND, title=_task_title(item), area=item.venue.area, role=role,
                                   deadline=deadline, subject=item.venue, description=_task_description(item),
                                   created_by=user))
    return created
