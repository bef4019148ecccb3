from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields

from .fields import FIELDS

ACCEPT = ".xlsx,.xlsm,.ods,.csv,.txt"


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.get_level_display()} · {obj.name}（{obj.code}）"


class UploadForm(forms.Form):
    file = forms.FileField(label=_("常住人口信息汇总表"),
                           help_text=_("xlsx 或 CSV（UTF-8/GBK 均可），可多个工作表（一栋楼一表）。"))
    area = AreaChoiceField(
        label=_("导入到"), queryset=Area.objects.none(), to_field_name="code",
        help_text=_("表中有“网格”列时可选村（社区）或乡镇；否则请选网格。"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Villages and grids of the user's scope (and townships for township officers and above).
        levels = [AreaLevel.VILLAGE, AreaLevel.GRID]
        if user.area is None or user.area.level in (AreaLevel.COUNTY, AreaLevel.TOWNSHIP):
            levels.append(AreaLevel.TOWNSHIP)
        self.fields["area"].queryset = Area.objects.restrict(user, "view").filter(level__in=levels).order_by("code")
        if user.area_id:
            self.fields["area"].initial = user.area_id
        self.fields["file"].widget.attrs["accept"] = ACCEPT
        style_fields(self)


FIELD_CHOICES = [("", _("（忽略此列）")), *[(code, label) for code, (label, _names) in FIELDS.items()]]


class MappingForm(forms.Form):
    """One select per header of the file: which field it holds."""

    def __init__(self, *args, headers, mapping, **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header, choices=FIELD_CHOICES, required=False, initial=mapping.get(header, ""))
        style_fields(self)

    def mapping(self) -> dict:
        return {header: self.cleaned_data.get(f"col_{i}", "") for i, header in enumerate(self.headers)}
