import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangkong.core.forms import style_fields

from .choices import RiskLevel
from .models import RiskArea


def in_force_q(day) -> Q:
    """The areas on the list on DAY: started by then and not lifted before it."""
    return Q(effective_from__lte=day) & (Q(effective_to__isnull=True) | Q(effective_to__gte=day))


class RiskAreaFilterSet(django_filters.FilterSet):
    """The risk-area list's filters (page, export and API share it)."""

    q = django_filters.CharFilter(label=_("搜索"), method="filter_q")
    level = django_filters.ChoiceFilter(label=_("风险等级"), choices=RiskLevel.choices, empty_label=_("全部等级"))
    active_on = django_filters.DateFilter(label=_("有效日期"), method="filter_active_on")

    class Meta:
        model = RiskArea
        fields = ["q", "level", "active_on"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self.form)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(place_code__startswith=value)
        return queryset.filter(Q(name__icontains=value) | Q(township__icontains=value) | Q(note__icontains=value))

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(in_force_q(value))
