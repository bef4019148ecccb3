"""Forms of the alert pages: verify, respond, close, and (HQ) a detector's configuration."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.forms import style_fields

from . import alerts
from .choices import ResponseAction

VERDICTS = [("true", _("真实信号")), ("false", _("误报"))]


class VerifyForm(forms.Form):
    verdict = forms.ChoiceField(label=_("核实结论"), choices=VERDICTS, widget=forms.RadioSelect,
                                error_messages={"required": _("请选择核实结论。")})
    reason = forms.CharField(label=_("核实说明"), max_length=1000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}), help_text=_("判定为误报时必须填写理由。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)
        self.fields["verdict"].widget.attrs["class"] = "form-check-input"

    def clean(self):
        data = super().clean()
        if data.get("verdict") == "false" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("判定为误报时必须填写理由。"))
        return data


class AreaChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} · {obj.get_level_display()}"


class RespondForm(forms.Form):
    actions = forms.MultipleChoiceField(label=_("处置措施"), choices=ResponseAction.choices,
                                        widget=forms.CheckboxSelectMultiple,
                                        error_messages={"required": _("请至少选择一项处置措施。")})
    area = AreaChoice(label=_("处置区域"), queryset=Area.objects.none(), to_field_name="code", required=False,
                      empty_label=_("（预警所在乡镇）"),
                      error_messages={"invalid_choice": _("所选区域不在您的管辖范围内。")})
    custom_note = forms.CharField(label=_("其他处置内容"), max_length=1000, required=False)
    note = forms.CharField(label=_("处置说明"), max_length=1000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, alert, **kwargs):
        super().__init__(*args, **kwargs)
        areas = Area.objects.restrict(user, "view").filter(alert.area.subtree_q()).exclude(level="grid")
        self.fields["area"].queryset = areas.order_by("code")
        style_fields(self)

    def action_list(self) -> list[dict]:
        data = self.cleaned_data
        area = data.get("area")
        actions = []
        for kind in data["actions"]:
            action = {"kind": kind, "note": data["custom_note"] if kind == ResponseAction.CUSTOM else ""}
            if area is not None:
                action["area"] = area.code
            actions.append(action)
        return actions


class CloseForm(forms.Form):
    note = forms.CharField(label=_("关闭说明"), max_length=1000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class DetectorForm(forms.Form):
    method = forms.ChoiceField(label=_("检测方法"), choices=())
    params = forms.CharField(label=_("参数（JSON）"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("留空使用该方法的默认参数，例如 {\"alpha\": 0.01}。"))
    baseline_days = forms.IntegerField(label=_("基线天数"), min_value=7, max_value=alerts.MAX_BASELINE_DAYS,
                                       help_text=_("可长于现有历史：届时自动改用 EARS C2，页面注明。"))
    is_active = forms.BooleanField(label=_("启用"), required=False)
    explanation = forms.CharField(label=_("方法说明（页面显示）"), max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = list(alerts.detector_methods().items())
        style_fields(self)

    def clean_params(self):
        text = (self.cleaned_data.get("params") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValidationError(_("参数应为 JSON 对象，例如 {\"alpha\": 0.01}。")) from exc
        if not isinstance(value, dict):
            raise ValidationError(_("参数应为 JSON 对象，例如 {\"alpha\": 0.01}。"))
        return value
