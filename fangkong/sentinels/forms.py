"""Forms of the sentinel pages. The rules (future days, invalid IDs, duplicates) live in sentinels.services."""

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.choices import Role
from fangkong.accounts.models import User
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields

from .choices import BuyerSymptom, HealthCode, SentinelKind

REQUIRED = {"required": _("此项必填。")}


class SentinelForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=SentinelKind.choices, error_messages=REQUIRED)
    name = forms.CharField(label=_("名称"), max_length=100, error_messages=REQUIRED)
    area = forms.ModelChoiceField(label=_("所在区划"), queryset=Area.objects.none(), error_messages={
        **REQUIRED, "invalid_choice": _("所选区划不在您的管辖范围内。")})
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    contact = forms.CharField(label=_("负责人"), max_length=50, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    joined_on = forms.DateField(label=_("开始报告日期"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reporters = forms.ModelMultipleChoiceField(label=_("报告人"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = Area.objects.restrict(user, "view").exclude(
            level=AreaLevel.GRID).order_by("code")
        prefix = user.scope_prefix
        reporters = User.objects.filter(role=Role.SENTINEL_REPORTER, is_active=True).order_by("username")
        if prefix is not None:
            reporters = reporters.filter(area__prefix__startswith=prefix[:6])
        self.fields["reporters"].queryset = reporters
        self.fields["joined_on"].help_text = _("此日期以前没有报告不算缺报；预警模型据此避免新哨点带来的跳变。")
        self.fields["reporters"].help_text = _("哨点报告员只能看到和报告自己所属的哨点。")
        style_fields(self)


class SentinelEditForm(SentinelForm):
    """SentinelForm plus the active flag; the sentinel's current reporters stay choosable."""

    is_active = forms.BooleanField(label=_("启用"), required=False)

    def __init__(self, *args, sentinel, **kwargs):
        super().__init__(*args, **kwargs)
        reporters = self.fields["reporters"].queryset
        self.fields["reporters"].queryset = User.objects.filter(
            Q(pk__in=reporters.values("pk")) | Q(pk__in=sentinel.reporters.values("pk"))).order_by("username")
        self.fields["is_active"].help_text = _("停用后不再要求每日报告，也不能再报告；历史报告保留。")

    @staticmethod
    def initial_for(sentinel) -> dict:
        return {"kind": sentinel.kind, "name": sentinel.name, "area": sentinel.area_id, "address": sentinel.address,
                "contact": sentinel.contact, "phone": sentinel.phone, "joined_on": sentinel.joined_on,
                "reporters": list(sentinel.reporters.values_list("pk", flat=True)), "is_active": sentinel.is_active}


class ZeroReportForm(forms.Form):
    day = forms.DateField(label=_("日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class DailyCountForm(forms.Form):
    day = forms.DateField(label=_("日期"), initial=timezone.localdate, error_messages=REQUIRED,
                          widget=forms.DateInput(attrs={"type": "date"}))
    visits = forms.IntegerField(label=_("发热门诊就诊人数"), min_value=0, error_messages=REQUIRED,
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    positives = forms.IntegerField(label=_("其中核酸阳性人数"), min_value=0, initial=0, required=False,
                                   widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class AbsenceForm(forms.Form):
    day = forms.DateField(label=_("日期"), initial=timezone.localdate, error_messages=REQUIRED,
                          widget=forms.DateInput(attrs={"type": "date"}))
    class_name = forms.CharField(label=_("班级"), max_length=50, error_messages=REQUIRED)
    absent_ill = forms.IntegerField(label=_("因病缺勤人数"), min_value=0, error_messages=REQUIRED,
                                    widget=forms.NumberInput(attrs={"inputmode": "numeric"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class FeverPatientForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=50, error_messages=REQUIRED)
    document_number = forms.CharField(label=_("身份证号码"), max_length=40, error_messages=REQUIRED)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel"}))
    address = forms.CharField(label=_("现住址"), max_length=200, required=False)
    consulted_at = forms.DateTimeField(label=_("首诊时间"), required=False, initial=timezone.now,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                  format="%Y-%m-%dT%H:%M"))
    onset_date = forms.DateField(label=_("发病日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    temperature = forms.DecimalField(label=_("体温（℃）"), max_digits=3, decimal_places=1, required=False,
                                     widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}))
    referred_to = forms.CharField(label=_("转诊去向"), max_length=100, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consulted_at"].help_text = _("首诊负责制：接诊后 1 小时内报告。默认为打开本页的时间，"
                                                  "请按实际首诊时间修改；清空则按提交时间计。")
        self.fields["referred_to"].help_text = _("如：县人民医院发热门诊")
        style_fields(self)


class SaleForm(forms.Form):
    """A four-class sale; the drug rows come as repeated ``product`` / ``quantity`` fields."""

    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput, error_messages={
        "required": _("页面已过期，请刷新后重新提交。")})
    buyer_name = forms.CharField(label=_("购药人姓名"), max_length=50, error_messages=REQUIRED)
    document_number = forms.CharField(label=_("身份证号码"), max_length=40, required=False,
                                      widget=forms.TextInput(attrs={"autocomplete": "off",
                                                                    "autocapitalize": "characters"}))
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    address = forms.CharField(label=_("现住址"), max_length=200, required=False)
    symptoms = forms.MultipleChoiceField(label=_("症状"), choices=BuyerSymptom.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple)
    health_code = forms.ChoiceField(label=_("健康码"), choices=[("", _("未查验")), *HealthCode.choices],
                                    required=False)
    for_someone_else = forms.BooleanField(label=_("为他人代购"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["document_number"].help_text = _("号码有误也会保存，并交由辖区核实。")
        style_fields(self)
