import django_filters
from django.utils.translation import gettext_lazy as _

from fangkong.core.forms import style_fields

from .choices import AuditAction
from .models import AuditEvent


class AuditEventFilterSet(django_filters.FilterSet):
    username = django_filters.CharFilter(label=_("用户名"), field_name="username")
    action = django_filters.ChoiceFilter(label=_("操作"), choices=AuditAction.choices, empty_label=_("全部操作"))
    object_type = django_filters.CharFilter(label=_("对象类型"), field_name="object_type")
    object_id = django_filters.CharFilter(label=_("对象编号"), field_name="object_id")
    since = django_filters.DateFilter(label=_("起始日期"), field_name="at", lookup_expr="date__gte",
                                      widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}))
    until = django_filters.DateFilter(label=_("截止日期"), field_name="at", lookup_expr="date__lte",
                                      widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = AuditEvent
        fields = ["username", "action", "object_type", "object_id", "since", "until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self.form)
