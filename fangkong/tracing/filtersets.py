"""The filters of the case list and of a case's contact list. The querysets come in already scoped."""

import re
from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.core.forms import style_fields
from fangkong.people.models import Person
from fangkong.people.selectors import search_q

from .choices import CaseStatus, Classification, ContactKind, ContactStatus
from .models import Case, Contact

# A case number (BL20261120-001) or its date-and-serial part.
_CASE_NUMBER = re.compile(r"(?i)bl[0-9-]*|[0-9]{8}(-[0-9]*)?")


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _people_matching(queryset, text: str):
    """Rows whose person matches the register's search box (name, pinyin, ID number, phone)."""
    condition = search_q(text)
    if condition is None:
        return queryset
    return queryset.filter(person__in=Person.objects.filter(condition).values("pk"))


class CaseFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("搜索"), method="filter_q")
    classification = django_filters.ChoiceFilter(label=_("病例分类"), choices=Classification.choices,
                                                 empty_label=_("全部分类"))
    status = django_filters.ChoiceFilter(label=_("状态"), choices=CaseStatus.choices, empty_label=_("全部状态"))
    date_from = django_filters.DateFilter(label=_("登记日期自"), method="filter_date_from",
                                          widget=forms.DateInput(attrs={"type": "date"}))
    date_to = django_filters.DateFilter(label=_("登记日期至"), method="filter_date_to",
                                        widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Case
        fields = ["q", "classification", "status", "date_from", "date_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self.form)
        for name in ("date_from", "date_to"):
            self.form.fields[name].error_messages["invalid"] = _("日期格式应为 YYYY-MM-DD。")

    def filter_q(self, queryset, name, value):
        text = value.strip()
        if _CASE_NUMBER.fullmatch(text):
            return queryset.filter(number__icontains=text.upper())
        return _people_matching(queryset, text)

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))


class ContactFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("搜索"), method="filter_q")
    kind = django_filters.ChoiceFilter(label=_("类别"), choices=ContactKind.choices, empty_label=_("全部类别"))
    status = django_filters.ChoiceFilter(label=_("状态"), choices=ContactStatus.choices, empty_label=_("全部状态"))

    class Meta:
        model = Contact
        fields = ["q", "kind", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self.form)

    def filter_q(self, queryset, name, value):
        return _people_matching(queryset, value)
