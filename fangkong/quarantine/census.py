"""The daily census (每日统计) of people under control orders, by township: counts only, no names.

Each figure is one grouped query over the user's scope (the township is the
first nine digits of the area code), so the cost does not grow with the
number of townships.
"""

import csv
import io
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.scope import prefix_q
from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder

from .choices import VisitKind
from .models import HomeVisit, MissedCheck, Stay

TOWNSHIP_DIGITS = 9
COLUMNS = [
    ("centralized", _lazy("集中隔离")),
    ("home_isolation", _lazy("居家隔离")),
    ("home_monitoring", _lazy("居家健康监测")),
    ("new", _lazy("今日新增")),
    ("released", _lazy("今日解除")),
    ("held", _lazy("暂缓转段/解除")),
    ("missed_checks", _lazy("健康监测漏报（人）")),
    ("violations", _lazy("违规外出（次）")),
    ("at_sites", _lazy("隔离点在住（按隔离点所在地）")),
]
STAGE_COLUMNS = {Stage.CENTRALIZED: "centralized", Stage.HOME_ISOLATION: "home_isolation",
                 Stage.HOME_MONITORING: "home_monitoring"}


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def _by_township(queryset, field: str, **counted) -> dict[str, dict[str, int]]:
    """{township prefix: {name: n}} from one GROUP BY over the first nine digits of FIELD."""
    rows = (queryset.order_by().annotate(township=Substr(field, 1, TOWNSHIP_DIGITS))
            .values("township").annotate(**counted))
    return {row["township"]: {name: row[name] for name in counted} for row in rows}


def townships_for(user) -> list[Area]:
    """The townships of USER's scope; for a user below a township, the township they work in."""
    scope = user.scope_prefix
    townships = Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code")
    if scope is None or len(scope) <= TOWNSHIP_DIGITS:
        return list(townships.filter(prefix_q("code", scope)))
    return list(townships.filter(prefix=scope[:TOWNSHIP_DIGITS]))


def census(user, day: date | None = None) -> dict:
    """Counts per township of USER's scope: people in each stage now; new, released, missed checks and
    violations on DAY (today by default). Returns {"day", "columns", "rows", "totals"}."""
    if not user.has_perm("quarantine.view_census"):
        raise PermissionDenied
    day = day or timezone.localdate()
    start, end = _day_range(day)
    scope = prefix_q("area_id", user.scope_prefix)
    orders = ControlOrder.objects.filter(scope)
    active = Q(status=OrderStatus.ACTIVE)
    figures: dict[str, dict[str, int]] = {}

    def add(found: dict[str, dict[str, int]]):
        for township, values in found.items():
            figures.setdefault(township, {}).update(values)

    add(_by_township(orders, "area_id", **{
        column: Count("id", filter=active & Q(current_stage=stage)) for stage, column in STAGE_COLUMNS.items()},
        held=Count("id", filter=active & ~Q(hold_reason="")),
        # New people under control: an order merged into another (or withdrawn) is not a new person.
        new=Count("id", filter=Q(created_at__gte=start, created_at__lt=end,
                                 status__in=[OrderStatus.ACTIVE, OrderStatus.RELEASED])),
        released=Count("id", filter=Q(status=OrderStatus.RELEASED, released_at__gte=start, released_at__lt=end)),
    ))
    add(_by_township(MissedCheck.objects.filter(prefix_q("order__area_id", user.scope_prefix), day=day),
                     "order__area_id", missed_checks=Count("order", distinct=True)))
    add(_by_township(HomeVisit.objects.filter(scope, kind=VisitKind.VIOLATION, happened_at__gte=start,
                                              happened_at__lt=end), "area_id", violations=Count("id")))
    add(_by_township(Stay.objects.filter(scope, checked_out_at__isnull=True), "area_id", at_sites=Count("id")))
    keys = [key for key, _label in COLUMNS]
    rows = []
    for township in townships_for(user):
        values = figures.pop(township.prefix, {})
        rows.append({"code": township.code, "name": township.name,
                     **{key: values.get(key, 0) for key in keys}})
    if any(any(values.values()) for values in figures.values()):
        # Orders filed on the county itself (no township): shown, so that the totals match the orders.
        rows.append({"code": "", "name": _("未落到乡镇（街道）"),
                     **{key: sum(values.get(key, 0) for values in figures.values()) for key in keys}})
    totals = {"code": "", "name": _("合计"), **{key: sum(row[key] for row in rows) for key in keys}}
    return {"day": day, "columns": [(key, str(label)) for key, label in COLUMNS], "rows": rows, "totals": totals}


def census_csv(result: dict) -> bytes:
    """The census as a UTF-8 (with BOM, for Excel) CSV: one row per township and the totals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("日期"), _("区划代码"), _("乡镇（街道）"), *[label for _key, label in result["columns"]]])
    for row in [*result["rows"], result["totals"]]:
        writer.writerow([result["day"].isoformat(), row["code"], row["name"],
                         *[row[key] for key, _label in result["columns"]]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
