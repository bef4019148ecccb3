"""Forms of the control-zone pages. The rules (levels of the pack, scope, lift criteria) live in tracing.zones."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Building
from fangkong.core.forms import style_fields
from fangkong.core.scope import prefix_q

from .zones import level_label

REQUIRED = {"required": _("此项必填。")}


class AreaChoiceField(forms.ModelChoiceField):
    """Grids are named 第N网格 in every village: show the parent too."""

    def label_from_instance(self, obj):
        parent = f"{obj.parent.name} " if obj.parent_id and obj.level != AreaLevel.TOWNSHIP else ""
        return f"{parent}{obj.name} · {obj.get_level_display()}"


class ZoneForm(forms.Form):
    level = forms.ChoiceField(label=_("等级"), error_messages=REQUIRED)
    area = AreaChoiceField(label=_("区划"), queryset=Area.objects.none(), to_field_name="code",
                           error_messages={**REQUIRED, "invalid_choice": _("所选区划不在您的管辖范围内。")},
                           help_text=_("划到楼栋时选楼栋所在网格，再选楼栋。"))
    building = forms.ModelChoiceField(label=_("楼栋"), queryset=Building.objects.none(), required=False,
                                      empty_label=_("整个区划"),
                                      error_messages={"invalid_choice": _("所选楼栋不在所选区划内。")})
    name = forms.CharField(label=_("名称"), max_length=150, required=False,
                           help_text=_("留空则按区划和楼栋命名。"))
    reason = forms.CharField(label=_("划定依据"), max_length=300, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, levels, hx_url="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [(level, level_label(level)) for level in levels]
        self.fields["area"].queryset = (Area.objects.restrict(user, "view").select_related("parent")
                                        .exclude(level=AreaLevel.COUNTY).order_by("code"))
        code = self.data.get("area") if self.is_bound else self.initial.get("area")
        area = Area.objects.filter(code=code).first() if code else None
        buildings = Building.objects.none()
        if area is not None and area.level != AreaLevel.TOWNSHIP:
            buildings = Building.objects.restrict(user, "view").filter(prefix_q("area_id", area.prefix))
        self.fields["building"].queryset = buildings.order_by("area_id", "name", "id")
        style_fields(self)
        if hx_url:
            # Picking an area reloads the building choices (the same page, only the select swapped in).
            self.fields["area"].widget.attrs.update({
                "hx-get": hx_url, "hx-trigger": "change", "hx-target": "#id_building",
                "hx-select": "#id_building", "hx-swap": "outerHTML",
            })


class RoundForm(forms.Form):
    day = forms.DateField(label=_("检测日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                          error_messages={**REQUIRED, "invalid": _("请输入有效的日期。")})
    tested = forms.IntegerField(label=_("检测人数"), min_value=1,
                                error_messages={**REQUIRED, "min_value": _("检测人数至少为1。")})
    positives = forms.IntegerField(label=_("阳性人数"), min_value=0, initial=0,
                                   error_messages={**REQUIRED, "min_value": _("阳性人数不能为负数。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["day"].initial = timezone.localdate
        style_fields(self)


class LiftForm(forms.Form):
    reason = forms.CharField(label=_("解除说明"), max_length=300, required=False,
                             help_text=_("未达到解除条件时强制解除须填写理由。"))
    force = forms.BooleanField(label=_("未达到解除条件，强制解除"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class DiscardForm(forms.Form):
    reason = forms.CharField(label=_("放弃理由"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)
