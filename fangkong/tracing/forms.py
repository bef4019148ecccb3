"""Forms of the case, trajectory and contact pages.

They parse the input and give the first, plain errors; the rules (dates
against each other, who may be a contact, what a review may change) live in
tracing.services, whose ValidationErrors the views put back on the forms.
"""

from django import forms
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from fangkong.core.forms import style_fields
from fangkong.people.selectors import people_for
from fangkong.venues.models import Venue

from .choices import ContactKind
from .models import Case
from .services import CASE_FIELDS

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_ERRORS = {"invalid": _("时间格式不正确，请按“年-月-日 时:分”填写。"), "required": _("此项必填。")}


def _datetime_field(label, required=True):
    return forms.DateTimeField(label=label, required=required, widget=DATETIME_WIDGET,
                               input_formats=DATETIME_FORMATS, error_messages=DATETIME_ERRORS)


class CaseForm(forms.Form):
    """The report-card fields of a case (the ones services.CASE_FIELDS names), for new and edit alike."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        widgets = {name: DATETIME_WIDGET for name in CASE_FIELDS if name.endswith("_at")}
        widgets["onset_date"] = DATE_WIDGET
        widgets["note"] = forms.Textarea(attrs={"rows": 3})
        self.fields.update(fields_for_model(Case, fields=CASE_FIELDS, widgets=widgets))
        for name, field in self.fields.items():
            if name.endswith("_at"):
                field.input_formats = DATETIME_FORMATS
                field.error_messages.update(DATETIME_ERRORS)
        self.fields["classification"].error_messages["required"] = _("请选择病例分类。")
        self.fields["result_at"].help_text = _("2小时网络直报时限自此起算；未填则自登记时起算。")
        style_fields(self)

    @classmethod
    def initial_from(cls, case: Case) -> dict:
        return {name: getattr(case, name) for name in CASE_FIELDS}


class VenueChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.area.name}）"


class EntryForm(forms.Form):
    """One stretch of the interview: at a registered venue or a place told in words."""

    venue = VenueChoiceField(label=_("场所"), queryset=Venue.objects.none(), required=False,
                             empty_label=_("（非登记场所，填写下方地点）"))
    place = forms.CharField(label=_("地点"), max_length=200, required=False)
    start = _datetime_field(_("开始时间"))
    end = _datetime_field(_("结束时间"))
    activity = forms.CharField(label=_("活动"), max_length=200, required=False)
    companions = forms.CharField(label=_("同行人员"), max_length=300, required=False,
                                 help_text=_("访谈中说出的同行人员；需作为密接管理的请在密接名单中添加。"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["venue"].queryset = (Venue.objects.restrict(user, "view").select_related("area")
                                         .order_by("area_id", "name", "id"))
        self.fields["venue"].error_messages["invalid_choice"] = _("所选场所不在您的管辖范围内。")
        style_fields(self)


REVIEW_ACTIONS = [
    ("confirm", _("确认")),
    ("downgrade", _("降级")),
    ("dismiss", _("排除")),
    ("transfer", _("移交外地")),
    ("reopen", _("重新研判")),
]


class ReviewForm(forms.Form):
    action = forms.ChoiceField(label=_("研判结果"), choices=REVIEW_ACTIONS)
    kind = forms.ChoiceField(label=_("降为"), choices=[("", "---------"), *ContactKind.choices], required=False)
    reason = forms.CharField(label=_("理由"), max_length=300, required=False)
    jurisdiction = forms.CharField(label=_("移交地区"), max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("撤回理由"), max_length=300,
                             error_messages={"required": _("撤回须说明理由。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class NamedContactForm(forms.Form):
    """A person named in the interview, picked from the register (within the user's scope)."""

    person = forms.ModelChoiceField(label=_("人员"), queryset=None, widget=forms.HiddenInput,
                                    error_messages={"required": _("请先查找并选择人员。"),
                                                    "invalid_choice": _("该人员不在您的管辖范围内。")})
    note = forms.CharField(label=_("接触情况"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people_for(user)
        style_fields(self)
