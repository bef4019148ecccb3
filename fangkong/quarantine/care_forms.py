"""Forms of the care pages and the self-report page: they parse; the rules live in quarantine.care."""

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.core.forms import style_fields

from .choices import Symptom, VisitKind, VisitOutcome

REQUIRED = {"required": _("此项必填。")}


class CheckForm(forms.Form):
    """Temperature and symptoms; the range check is care.clean_temperature's (one message everywhere)."""

    temperature = forms.CharField(label=_("体温（℃）"), max_length=10, error_messages=REQUIRED,
                                  widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "36.5",
                                                                "autocomplete": "off"}))
    symptoms = forms.MultipleChoiceField(label=_("症状（无则不选）"), choices=Symptom.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple,
                                         error_messages={"invalid_choice": _("不认识的症状。")})
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class SelfCheckForm(CheckForm):
    """The person's own report: no note field to fill on a phone."""

    note = None


class VisitForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=VisitKind.choices, error_messages=REQUIRED)
    outcome = forms.ChoiceField(label=_("结果"), choices=VisitOutcome.choices, error_messages=REQUIRED)
    note = forms.CharField(label=_("情况说明"), max_length=300, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))
    photo = forms.ImageField(label=_("照片（可选）"), required=False)

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = [(k, v) for k, v in VisitKind.choices if k in kinds]
        style_fields(self)


class CallForm(forms.Form):
    """One random call's outcome, from the calls list."""

    outcome = forms.ChoiceField(label=_("结果"), choices=VisitOutcome.choices, error_messages=REQUIRED)
    note = forms.CharField(label=_("情况说明"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class AccountField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        area = f" · {obj.area.name}" if obj.area_id else ""
        return f"{obj} · {obj.get_role_display()}{area}"


class MemberForm(forms.Form):
    """Name or replace one place of the team: an account from the area (or above), or a name and phone."""

    role = forms.ChoiceField(label=_("包保角色"), error_messages=REQUIRED)
    account = AccountField(label=_("账号"), queryset=None, required=False, empty_label=_("（无账号，手工填写）"),
                           error_messages={"invalid_choice": _("该账号不可选。")})
    name = forms.CharField(label=_("姓名"), max_length=50, required=False, help_text=_("选了账号可不填"))
    phone = forms.CharField(label=_("电话"), max_length=20, required=False)

    def __init__(self, *args, roles, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.get("code"), r.get("label", r.get("code"))) for r in roles]
        self.fields["account"].queryset = accounts
        style_fields(self)
