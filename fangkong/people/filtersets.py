import django_filters
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.forms import style_fields
from fangkong.core.scope import prefix_q

from .choices import Sex, VulnerableGroup
from .models import KeyGroup, Person
from .selectors import search_q


class PersonFilterSet(django_filters.FilterSet):
    """The people list's filters (page and export share it)."""

    q = django_filters.CharFilter(label=_("搜索"), method="filter_q")
    area = django_filters.CharFilter(label=_("区划代码"), method="filter_area")
    key_group = django_filters.ModelChoiceFilter(
        label=_("重点人群"), field_name="key_groups", queryset=KeyGroup.objects.filter(is_active=True),
        to_field_name="code", empty_label=_("全部重点人群"),
    )
    sex = django_filters.ChoiceFilter(label=_("性别"), choices=Sex.choices, empty_label=_("性别不限"))
    vulnerable_group = django_filters.ChoiceFilter(
        label=_("困难群体"), choices=[c for c in VulnerableGroup.choices if c[0]], empty_label=_("困难群体不限"))
    is_floating = django_filters.BooleanFilter(label=_("流动人口"))
    lives_alone_elderly = django_filters.BooleanFilter(label=_("独居老人"))

    class Meta:
        model = Person
        fields = ["q", "area", "key_group", "sex", "vulnerable_group", "is_floating", "lives_alone_elderly"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self.form)

    def filter_q(self, queryset, name, value):
        condition = search_q(value)
        return queryset if condition is None else queryset.filter(condition)

    def filter_area(self, queryset, name, value):
        area = Area.objects.filter(code=value.strip()).only("prefix").first()
        if area is None:
            return queryset.none()
        return queryset.filter(prefix_q("area_id", area.prefix))
