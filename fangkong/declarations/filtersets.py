"""The declarations list's filters: one filterset for the page, the export and the API."""

import re
from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.forms import style_fields
from fangkong.core.scope import prefix_q
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import document_index, phone_index
from fangkong.policy.choices import RiskLevel

from .choices import DeclarationStatus
from .models import Declaration
from .services import RECEIPT_ALPHABET, RECEIPT_LENGTH

NO_RISK = "none"
RISK_CHOICES = [(NO_RISK, _("无中高风险旅居史")), *RiskLevel.choices]
_RECEIPT = re.compile(f"[{RECEIPT_ALPHABET}]{{{RECEIPT_LENGTH}}}")


def search_q(text: str) -> Q | None:
    """Name prefix, receipt (whole or its start), last four of the phone, a full phone or ID number."""
    text = (text or "").strip()
    if not text:
        return None
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    if re.fullmatch(r"[0-9]{4}", compact):
        return Q(phone_last4=compact)
    if re.fullmatch(r"[0-9]{17}[0-9X]", compact):
        return Q(doc_index=document_index(DocumentType.RESIDENT_ID, compact))
    phone = identity.normalize_phone(text)
    if re.fullmatch(r"1[3-9][0-9]{9}", phone):
        return Q(phone_index=phone_index(phone))
    if _RECEIPT.fullmatch(compact):
        return Q(receipt=compact)
    if re.fullmatch(r"[A-Za-z0-9\- ]{4,12}", text):
        return Q(receipt__startswith=compact)
    return Q(name__startswith=text)


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class DeclarationFilterSet(django_filters.FilterSet):
    """Status, arrival date, origin risk level, area, search. The queryset is scoped before it comes here."""

    q = django_filters.CharFilter(label=_("搜索"), method="filter_q")
    status = django_filters.ChoiceFilter(label=_("状态"), choices=DeclarationStatus.choices,
                                         empty_label=_("全部状态"))
    arrival_from = django_filters.DateFilter(label=_("到达日期自"), method="filter_arrival_from",
                                             widget=forms.DateInput(attrs={"type": "date"}))
    arrival_to = django_filters.DateFilter(label=_("到达日期至"), method="filter_arrival_to",
                                           widget=forms.DateInput(attrs={"type": "date"}))
    risk_level = django_filters.ChoiceFilter(label=_("出发地风险等级"), choices=RISK_CHOICES,
                                             method="filter_risk_level", empty_label=_("风险等级不限"))
    area = django_filters.CharFilter(label=_("区划代码"), method="filter_area")

    class Meta:
        model = Declaration
        fields = ["q", "status", "arrival_from", "arrival_to", "risk_level", "area"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self.form)
        self.form.fields["arrival_from"].error_messages["invalid"] = _("日期格式应为 YYYY-MM-DD。")
        self.form.fields["arrival_to"].error_messages["invalid"] = _("日期格式应为 YYYY-MM-DD。")

    def filter_q(self, queryset, name, value):
        condition = search_q(value)
        return queryset if condition is None else queryset.filter(condition)

    def filter_arrival_from(self, queryset, name, value):
        return queryset.filter(planned_arrival__gte=_day_start(value))

    def filter_arrival_to(self, queryset, name, value):
        return queryset.filter(planned_arrival__lt=_day_start(value + timedelta(days=1)))

    def filter_risk_level(self, queryset, name, value):
        return queryset.filter(risk_level="" if value == NO_RISK else value)

    def filter_area(self, queryset, name, value):
        # The queryset is already the user's scope: an area outside it leaves nothing.
        area = Area.objects.filter(code=value.strip()).only("prefix").first()
        if area is None:
            return queryset.none()
        return queryset.filter(prefix_q("area_id", area.prefix))
