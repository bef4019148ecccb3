"""Forms of the transfer pages: plan a transfer (people found by ID number), acknowledge, cancel."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from fangkong.core.forms import style_fields
from fangkong.people.models import Person

from . import transfers
from .choices import TransferKind
from .models import QuarantineSite

REQUIRED = {"required": _lazy("此项必填。")}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class SiteField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.area.name}）"


class TransferForm(forms.Form):
    """Plan a point-to-point transfer. Passengers: the ticked people and/or ID numbers, one a line."""

    kind = forms.ChoiceField(label=_lazy("转运类型"), choices=TransferKind.choices, error_messages=REQUIRED)
    to_site = SiteField(label=_lazy("目的隔离点"), queryset=QuarantineSite.objects.none(), required=False,
                        empty_label=_lazy("（不是送往隔离点）"),
                        error_messages={"invalid_choice": _lazy("所选隔离点不存在或已停用。")},
                        help_text=_lazy("送往隔离点时必选；接收方为该隔离点。"))
    from_place = forms.CharField(label=_lazy("出发地"), max_length=200, error_messages=REQUIRED)
    to_place = forms.CharField(label=_lazy("目的地"), max_length=200, required=False,
                               help_text=_lazy("送往隔离点可留空（即隔离点名称）。"))
    vehicle = forms.CharField(label=_lazy("车辆号牌"), max_length=20, error_messages=REQUIRED)
    driver = forms.CharField(label=_lazy("驾驶员"), max_length=50, error_messages=REQUIRED)
    driver_phone = forms.CharField(label=_lazy("驾驶员电话"), max_length=20, required=False,
                                   widget=forms.TextInput(attrs={"inputmode": "tel"}))
    escort = forms.CharField(label=_lazy("随车人员"), max_length=100, required=False)
    planned_at = forms.DateTimeField(
        label=_lazy("计划出发时间"), input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        error_messages={**REQUIRED, "invalid": _lazy("时间格式不正确。")})
    people = forms.ModelMultipleChoiceField(
        label=_lazy("转运人员"), queryset=Person.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _lazy("人员不存在或不在您的管辖范围内。"),
                        "invalid_pk_value": _lazy("人员编号不正确。")})
    documents = forms.CharField(
        label=_lazy("按证件号码添加人员"), required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "inputmode": "text"}),
        help_text=_lazy("每行一个身份证号码（或护照等证件号码），须为您辖区内在管控中的人员。"))
    note = forms.CharField(label=_lazy("备注"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.eligible = transfers.eligible_people(user)
        self.fields["people"].queryset = self.eligible
        self.fields["to_site"].queryset = QuarantineSite.objects.filter(is_active=True).select_related("area")
        style_fields(self)
        self.fields["vehicle"].widget.attrs["placeholder"] = _("如 鲁J12345")

    def clean_documents(self):
        found, unknown = [], []
        for line_number, line in enumerate((self.cleaned_data.get("documents") or "").splitlines(), start=1):
            if not line.strip():
                continue
            person = transfers.find_by_document(self.eligible, line)
            if person is None:
                unknown.append(str(line_number))
            else:
                found.append(person)
        if unknown:
            raise forms.ValidationError(_("第 %(lines)s 行：查无此人，或不在您辖区的管控人员中。") % {
                "lines": "、".join(unknown)})
        return found

    def passengers(self) -> list:
        people = list(self.cleaned_data.get("people") or [])
        return people + [p for p in self.cleaned_data.get("documents") or [] if p not in people]

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {name: data.get(name) for name in (
            "kind", "to_site", "from_place", "to_place", "vehicle", "driver", "driver_phone", "escort",
            "planned_at", "note")}

    def shown_people(self) -> list:
        """The people ticked (or prefilled), to draw as checkboxes; the full list is never drawn."""
        if self.is_bound:
            ids = [value for value in self.data.getlist("people") if str(value).isdigit()]
        else:
            ids = [getattr(p, "pk", p) for p in self.initial.get("people") or []]
        return list(self.eligible.filter(pk__in=ids).select_related("area"))

    def add_service_errors(self, exc) -> None:
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, exc.messages)


class AcknowledgeForm(forms.Form):
    note = forms.CharField(label=_lazy("交接说明"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_lazy("取消原因"), max_length=200,
                             error_messages={"required": _lazy("请填写取消原因。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)
