"""Forms of the alert pages: verify, respond, close, and (HQ) a detector's configuration and the alert rules."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.forms import style_fields

from . import alerts
from .choices import AlertGrade, ResponseAction, SignalKind

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


MATCH_EXAMPLE = "from_risk_area=true"


def _shown_value(value) -> str:
    """A match value as typed on the form: text as is (quoted if it would read as JSON), others as JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False)


def match_details_text(details: dict) -> str:
    return "\n".join(f"{key}={_shown_value(value)}" for key, value in (details or {}).items())


def parse_match_details(text: str) -> dict:
    """"key=value" lines (a value reads as JSON when it can: true, 3, "3"; else as text) or one JSON object."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValidationError(_("JSON 格式有误，例如 {\"from_risk_area\": true}。")) from exc
        if not isinstance(value, dict):
            raise ValidationError(_("JSON 应为对象，例如 {\"from_risk_area\": true}。"))
        return value
    details = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError(_("第 %(n)d 行应为“键=值”，例如 %(example)s。") % {"n": number, "example": MATCH_EXAMPLE})
        raw = raw.strip()
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        details[key.strip()] = value
    return details


class RuleForm(forms.Form):
    """A fixed-threshold rule; CODE only when the rule is new (a rule's code never changes)."""

    code = forms.CharField(label=_("代码"), max_length=40,
                           help_text=_("英文小写字母、数字、下划线或连字符，保存后不能修改，如 fever_patient_school。"))
    name = forms.CharField(label=_("名称"), max_length=100)
    signal_kinds = forms.MultipleChoiceField(label=_("信号类型"), choices=(), widget=forms.CheckboxSelectMultiple,
                                             error_messages={"required": _("请至少选择一种信号类型。")})
    match_details = forms.CharField(
        label=_("附加条件"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "fk-mono"}),
        help_text=_("只计详情满足这些条件的信号。每行一个“键=值”（如 from_risk_area=true），或一个 JSON 对象；"
                    "true/false、数字按其类型比较，其余按文本。留空为不限。"))
    threshold = forms.IntegerField(label=_("阈值（条）"), min_value=1, max_value=alerts.MAX_RULE_MEMBERS,
                                   widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                                   help_text=_("同一乡镇在时间窗内达到该条数即预警；1 表示一条即预警。"))
    window_minutes = forms.IntegerField(label=_("时间窗（分钟）"), min_value=1, max_value=alerts.MAX_WINDOW_MINUTES,
                                        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                                        help_text=_("1–10080 分钟（7 天）；时间窗内的新信号并入同一条预警。"))
    grade = forms.ChoiceField(label=_("预警级别"), choices=AlertGrade.choices)
    escalate_size = forms.IntegerField(label=_("升级规模"), min_value=0, max_value=alerts.MAX_ESCALATE_SIZE,
                                       widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                                       help_text=_("信号数每达到该数的倍数，级别升一级（至红色为止）；0 表示不升级。"))
    description = forms.CharField(label=_("说明（页面显示）"), max_length=2000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    is_active = forms.BooleanField(label=_("启用"), required=False)

    def __init__(self, *args, rule=None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = list(SignalKind.choices)
        # Kinds the rule names that are not (yet) in the list stay choosable, so saving does not drop them.
        known = set(SignalKind.values)
        choices += [(kind, kind) for kind in (rule.signal_kinds if rule else []) if kind not in known]
        self.fields["signal_kinds"].choices = choices
        if rule is not None:
            del self.fields["code"]
        style_fields(self)

    def clean_match_details(self):
        return parse_match_details(self.cleaned_data.get("match_details"))

    @staticmethod
    def initial_for(rule) -> dict:
        return {"name": rule.name, "signal_kinds": list(rule.signal_kinds),
                "match_details": match_details_text(rule.match_details), "threshold": rule.threshold,
                "window_minutes": rule.window_minutes, "grade": rule.grade, "escalate_size": rule.escalate_size,
                "description": rule.description, "is_active": rule.is_active}
