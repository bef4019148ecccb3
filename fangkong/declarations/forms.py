"""Forms of the staff side: follow-up actions, the checkpoint page, checkpoint management.

The rules (dates not in the future, the whole declaration check) live in
declarations.services; these forms parse the input and give the first,
plain errors in Chinese.
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields
from fangkong.core.scope import prefix_q
from fangkong.policy import places

from .choices import HealthCode, TestResult, Transport
from .models import Checkpoint
from .services import RECEIPT_ALPHABET, RECEIPT_LENGTH, normalize_receipt

REQUIRED = {"required": _("此项必填。")}
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
_RECEIPT_TOKEN = re.compile(f"(?<![A-Z0-9])[{RECEIPT_ALPHABET}]{{{RECEIPT_LENGTH}}}(?![A-Z0-9])")


def extract_receipt(text: str) -> str:
    """The receipt code in what a scanner typed: the bare code, or a status-page URL holding it."""
    text = (text or "").strip().upper()
    if not any(mark in text for mark in "/?=&:"):
        return normalize_receipt(text)
    # The receipt page's QR holds .../declare/status/?receipt=<code>; else any code-shaped part, the last one.
    named = re.search(r"RECEIPT=([A-Z0-9]+)", text)
    if named and _RECEIPT_TOKEN.fullmatch(named[1]):
        return named[1]
    tokens = _RECEIPT_TOKEN.findall(text)
    return tokens[-1] if tokens else ""


def _datetime_field(label, required=False):
    return forms.DateTimeField(label=label, required=required, widget=DATETIME,
                               input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                              "%Y-%m-%d %H:%M:%S"],
                               error_messages={"invalid": _("时间格式不正确，请按“年-月-日 时:分”填写。"),
                                               **REQUIRED})


class ArriveForm(forms.Form):
    arrived_at = _datetime_field(_("到达时间"))
    note = forms.CharField(label=_("说明"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["arrived_at"].help_text = _("不填为现在。")
        style_fields(self)


class FirstTestForm(forms.Form):
    sampled_at = _datetime_field(_("采样时间"))
    antigen = forms.ChoiceField(label=_("抗原结果"), choices=[("", _("未做")), *TestResult.choices], required=False)
    pcr = forms.ChoiceField(label=_("核酸结果"), choices=[("", _("未做")), *TestResult.choices], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sampled_at"].help_text = _("不填为现在。")
        style_fields(self)

    def clean(self):
        data = super().clean()
        if not data.get("antigen") and not data.get("pcr"):
            raise ValidationError(_("请至少填写抗原或核酸结果（已采样未出结果的选“待出结果”）。"))
        return data


class NotArrivedForm(forms.Form):
    new_arrival = _datetime_field(_("改期后的到达时间"))
    note = forms.CharField(label=_("情况说明"), max_length=300, error_messages={"required": _("请填写情况说明。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_arrival"].help_text = _("改期的填写新的到达时间；不填则按未返回结案。")
        style_fields(self)


class PassageFields(forms.Form):
    """What the checkpoint officer records of everyone who passes."""

    temperature = forms.DecimalField(
        label=_("体温（℃）"), min_value=34, max_value=43,
        error_messages={"required": _("请填写体温。"), "invalid": _("体温应为数字，如 36.5。"),
                        "min_value": _("体温应在34.0到43.0℃之间。"), "max_value": _("体温应在34.0到43.0℃之间。")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "36.5"}),
    )
    health_code = forms.ChoiceField(label=_("健康码"), choices=HealthCode.choices, widget=forms.RadioSelect,
                                    error_messages={"required": _("请选择健康码颜色。"),
                                                    "invalid_choice": _("请选择健康码颜色。")})
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class ReceiptCheckForm(PassageFields):
    receipt = forms.CharField(
        label=_("回执码"), max_length=300, error_messages={"required": _("请扫描或输入申报回执码。")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "autofocus": True,
                                      "placeholder": _("扫码枪扫描或手输10位回执码")}),
    )
    field_order = ["receipt", "temperature", "health_code", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)

    def clean_receipt(self):
        receipt = extract_receipt(self.cleaned_data["receipt"])
        if len(receipt) != RECEIPT_LENGTH:
            raise ValidationError(_("未识别到10位回执码，请重新扫描或手工输入。"))
        return receipt


def destination_choices(user) -> list:
    """Villages and grids of the user's county, grouped by township (the returnee may head anywhere in it)."""
    areas = Area.objects.filter(level__in=[AreaLevel.VILLAGE, AreaLevel.GRID]).select_related("parent__parent")
    if user.area_id:
        areas = areas.filter(prefix_q("code", user.area_id[:6]))
    groups: dict[str, list] = {}
    for area in areas.order_by("code"):
        township = area.parent if area.level == AreaLevel.VILLAGE else area.parent.parent
        label = area.name if area.level == AreaLevel.VILLAGE else f"{area.parent.name} / {area.name}"
        groups.setdefault(township.name if township else "", []).append((area.code, label))
    return [("", _("请选择目的地村（社区）")), *groups.items()]


class OnSiteForm(PassageFields):
    """An arrival without a declaration: the public declaration's fields, filled in at the road."""

    name = forms.CharField(label=_("姓名"), max_length=50, error_messages={"required": _("请填写姓名。")})
    document_number = forms.CharField(label=_("身份证号码"), max_length=20,
                                      error_messages={"required": _("请填写身份证号码。")})
    phone = forms.CharField(label=_("手机号码"), max_length=20, error_messages={"required": _("请填写手机号码。")},
                            widget=forms.TextInput(attrs={"inputmode": "tel"}))
    origin_province = forms.CharField(label=_("出发地（省）"), required=False)
    origin_city = forms.CharField(label=_("出发地（市）"), required=False)
    origin_county = forms.CharField(label=_("出发地（县、区）"), required=False)
    area = forms.ChoiceField(label=_("目的地村（社区）"), choices=[],
                             error_messages={"required": _("请选择目的地所在的村（社区）。"),
                                             "invalid_choice": _("请选择目的地所在的村（社区）。")})
    address = forms.CharField(label=_("目的地详细地址"), max_length=200,
                              error_messages={"required": _("请填写目的地详细地址。")})
    transport = forms.ChoiceField(label=_("交通方式"), choices=[("", "---------"), *Transport.choices],
                                  error_messages={"required": _("请选择交通方式。")})
    transport_number = forms.CharField(label=_("车次/航班号"), max_length=30, required=False)
    plate = forms.CharField(label=_("车牌号"), max_length=12, required=False)
    field_order = ["name", "document_number", "phone", "origin_province", "origin_city", "origin_county", "area",
                   "address", "transport", "plate", "transport_number", "temperature", "health_code", "note"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = destination_choices(user)
        style_fields(self)

    def clean(self):
        data = super().clean()
        code = data.get("origin_county") or data.get("origin_city") or data.get("origin_province") or ""
        if places.lookup(code) is None:
            self.add_error("origin_province", _("请从列表中选择出发地（省、市、县）。"))
        data["origin_code"] = code
        return data

    def declaration_data(self) -> dict:
        """The dict declarations.services.submit_declaration takes."""
        data = self.cleaned_data
        fields = ("name", "document_number", "phone", "origin_code", "area", "address", "transport",
                  "transport_number", "plate")
        return {name: data.get(name, "") for name in fields}


class CheckpointForm(forms.ModelForm):
    class Meta:
        model = Checkpoint
        fields = ["name", "area", "location", "is_active"]
        error_messages = {"name": REQUIRED, "area": {**REQUIRED, "invalid_choice": _("所选区划不在您的管辖范围内。")}}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = Area.objects.restrict(user, "view").filter(
            level__in=[AreaLevel.COUNTY, AreaLevel.TOWNSHIP]).order_by("code")
        style_fields(self)
