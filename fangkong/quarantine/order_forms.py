"""The control-order list's filters and columns: shared by the list page and GET /control-orders."""

import re
from datetime import date, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields
from fangkong.core.scope import prefix_q
from fangkong.people.models import Person
from fangkong.people.selectors import search_q
from fangkong.policy import planning
from fangkong.policy.choices import Category, OrderStatus, Stage

# "Ending" is about the stage being served: its last day is when the person moves on (or is released).
ENDING_CHOICES = [
    ("today", _("本阶段今天结束")),
    ("tomorrow", _("本阶段明天结束")),
    ("3d", _("本阶段 3 天内结束")),
    ("held", _("暂缓转段/解除")),
]
ENDING_VALUES = [value for value, _label in ENDING_CHOICES]
ALL_STATUSES = "all"
STATUS_CHOICES = [*OrderStatus.choices, (ALL_STATUSES, _("全部状态"))]


def area_choices(user) -> list[tuple[str, str]]:
    """The townships of USER's scope to filter by; below a township, its villages."""
    scope = user.scope_prefix
    level = AreaLevel.TOWNSHIP if scope is None or len(scope) < 9 else AreaLevel.VILLAGE
    areas = Area.objects.filter(level=level).filter(prefix_q("code", scope)).order_by("code")
    return [(a.code, a.name) for a in areas.only("code", "name")[:500]]


def area_prefix(value: str) -> str | None:
    """The code prefix of an area given by its code (a known area's prefix, else the digits themselves)."""
    value = (value or "").strip()
    if not re.fullmatch(r"[0-9]{2,20}", value):
        return None
    area = Area.objects.filter(code=value).only("prefix").first()
    return area.prefix if area is not None else value


def filter_orders(queryset, *, stage="", category="", area="", ending="", q="", status=OrderStatus.ACTIVE,
                  today: date):
    """QUERYSET narrowed by the list's filters; unknown values give no rows rather than everything."""
    if status and status != ALL_STATUSES:
        queryset = queryset.filter(status=status)
    if stage:
        queryset = queryset.filter(current_stage=stage)
    if category:
        queryset = queryset.filter(category=category)
    if area:
        prefix = area_prefix(area)
        queryset = queryset.filter(prefix_q("area_id", prefix)) if prefix else queryset.none()
    if ending == "today":
        queryset = queryset.filter(stage_end=today)
    elif ending == "tomorrow":
        queryset = queryset.filter(stage_end=today + timedelta(days=1))
    elif ending == "3d":
        queryset = queryset.filter(stage_end__gte=today, stage_end__lte=today + timedelta(days=2))
    elif ending == "held":
        queryset = queryset.exclude(hold_reason="")
    if q:
        condition = search_q(q)
        if condition is not None:
            queryset = queryset.filter(person__in=Person.objects.filter(condition).values("pk"))
    return queryset


class OrderFilterForm(forms.Form):
    q = forms.CharField(label=_("姓名或证件号码"), required=False, max_length=40)
    stage = forms.ChoiceField(label=_("当前阶段"), required=False, choices=[("", _("全部阶段")), *Stage.choices])
    category = forms.ChoiceField(label=_("人员类别"), required=False,
                                 choices=[("", _("全部类别")), *Category.choices])
    area = forms.ChoiceField(label=_("区划"), required=False, choices=[])
    ending = forms.ChoiceField(label=_("到期"), required=False, choices=[("", _("不限")), *ENDING_CHOICES])
    status = forms.ChoiceField(label=_("状态"), required=False, choices=STATUS_CHOICES)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [("", _("全部区划")), *area_choices(user)]
        style_fields(self)

    def filters(self) -> dict:
        """The valid filters (an invalid one, e.g. an area outside the scope, is dropped); active by default."""
        if self.is_bound:
            self.is_valid()
        data = getattr(self, "cleaned_data", {})
        values = {name: data.get(name) or "" for name in ("stage", "category", "area", "ending", "q")}
        values["status"] = data.get("status") or OrderStatus.ACTIVE
        return values


def stage_progress(order, today: date) -> dict | None:
    """Which planned stage is being served and its day N of M (N past M while held after the stage's end)."""
    index = planning.current_segment(order.stages, order.current_stage, order.stage_since)
    if index is None:
        return None
    segment = order.stages[index]
    start, end = date.fromisoformat(segment["start"]), date.fromisoformat(segment["end"])
    return {"index": index, "start": start, "end": end, "day": max((today - start).days + 1, 0),
            "days": (end - start).days + 1, "overdue": today > end}
