"""The venue list's filters: one filterset for the page, the export and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.models import Organization
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields
from fangkong.core.scope import prefix_q

from .models import Venue, VenueType

ACTIVE_CHOICES = [("true", _("营业中")), ("false", _("已停业"))]


class VenueFilterSet(django_filters.FilterSet):
    """Search, area (code prefix), type (code), supervisor, open or closed. The queryset comes scoped."""

    q = django_filters.CharFilter(label=_("搜索"), method="filter_q")
    area = django_filters.CharFilter(label=_("区划代码"), method="filter_area")
    type = django_filters.ModelChoiceFilter(label=_("场所类型"), queryset=VenueType.objects.all(),
                                            to_field_name="code", empty_label=_("全部类型"))
    supervisor = django_filters.ModelChoiceFilter(
        label=_("主管部门"), empty_label=_("全部主管部门"),
        queryset=Organization.objects.filter(area__level=AreaLevel.COUNTY).order_by("kind", "name"))
    active = django_filters.ChoiceFilter(label=_("状态"), choices=ACTIVE_CHOICES, method="filter_active",
                                         empty_label=_("全部状态"))

    class Meta:
        model = Venue
        fields = ["q", "area", "type", "supervisor", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self.form)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(address__icontains=value)
                               | Q(manager_name__icontains=value))

    def filter_area(self, queryset, name, value):
        # The queryset is already the user's scope: an area outside it leaves nothing.
        value = value.strip()
        if not value:
            return queryset
        area = Area.objects.filter(code=value).only("prefix").first()
        if area is None:
            return queryset.none()
        return queryset.filter(prefix_q("area_id", area.prefix))

    def filter_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "true")
