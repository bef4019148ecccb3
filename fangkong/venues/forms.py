"""The venue form (choices limited to what the user may pick), the import upload, the reissue confirmation."""

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.models import Organization
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields

from .models import Venue, VenueType


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} {obj.local_name}"


class VenueForm(forms.ModelForm):
    """Register or change a venue. An empty supervisor means the county department of the venue's type."""

    area = AreaChoiceField(label=_("所属区划"), queryset=Area.objects.none(),
                           error_messages={"invalid_choice": _("所选区划不在您的管辖范围内。")})

    class Meta:
        model = Venue
        fields = ["name", "type", "area", "address", "manager_name", "manager_phone", "supervisor",
                  "expected_daily_visitors", "dwell_minutes", "is_active"]
        widgets = {"manager_phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].queryset = VenueType.objects.filter(is_active=True)
        self.fields["type"].label_from_instance = lambda t: f"{t.name}（{t.dwell_minutes}分钟）"
        self.fields["area"].queryset = Area.objects.restrict(user, "view").select_related("parent").order_by("code")
        self.fields["supervisor"].queryset = (Organization.objects.filter(area__level=AreaLevel.COUNTY)
                                              .order_by("kind", "name"))
        self.fields["supervisor"].empty_label = _("按场所类型自动选择")
        self.fields["supervisor"].help_text = _("留空则按场所类型选择县级主管部门（如农贸市场为市场监管局）。")
        self.fields["dwell_minutes"].help_text = _("留空则按场所类型的默认停留时间。")
        for name in ("name", "type", "area", "address"):
            self.fields[name].required = True
            self.fields[name].error_messages["required"] = _("此项必填。")
        style_fields(self)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("场所名单文件（.xlsx 或 .csv）"),
                           error_messages={"required": _("请选择要上传的文件。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".xlsx,.csv"
        style_fields(self)
