from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Household
from fangkong.core.forms import style_fields

from .choices import DocumentType, Relation, Sex, VulnerableGroup
from .models import KeyGroup


class GridChoiceField(forms.ModelChoiceField):
    """Grids are named 第N网格 in every village: show township and village too."""

    def label_from_instance(self, obj):
        village = obj.parent
        township = village.parent if village else None
        return " / ".join(a.name for a in (township, village, obj) if a is not None)


class PersonForm(forms.Form):
    """Registering or correcting a person. Identity rules live in people.services."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    doc_type = forms.ChoiceField(label=_("证件类型"), choices=DocumentType.choices, initial=DocumentType.RESIDENT_ID)
    document_number = forms.CharField(label=_("证件号码"), max_length=40, required=False,
                                      help_text=_("居民身份证为18位；末位X大小写均可。"))
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    sex = forms.ChoiceField(label=_("性别"), choices=[("", _("按证件号码")), *Sex.choices], required=False,
                            help_text=_("填写身份证号码时按号码自动确定。"))
    birth_date = forms.DateField(label=_("出生日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    area = GridChoiceField(label=_("所属网格"), queryset=Area.objects.none(), to_field_name="code")
    household = forms.ModelChoiceField(
        label=_("户"), queryset=Household.objects.none(), required=False, empty_label=_("不归户"),
        help_text=_("先选所属网格，再从该网格的住户中选择。"),
        error_messages={"invalid_choice": _("所选户不在所属网格内。")},
    )
    relation = forms.ChoiceField(label=_("与户主关系"), choices=[("", "---------"), *Relation.choices], required=False)
    address = forms.CharField(label=_("现住址"), max_length=200, required=False)
    workplace = forms.CharField(label=_("工作单位/学校班级"), max_length=100, required=False,
                                help_text=_("流调时同单位、同班级人员判为密切接触者，请写全称，如“甲村小学三年级二班”。"))
    is_floating = forms.BooleanField(label=_("流动人口"), required=False)
    is_rental_tenant = forms.BooleanField(label=_("租户"), required=False)
    vulnerable_group = forms.ChoiceField(label=_("困难群体类别"), choices=VulnerableGroup.choices, required=False)
    lives_alone_elderly = forms.BooleanField(label=_("独居老人"), required=False)
    key_groups = forms.ModelMultipleChoiceField(label=_("重点人群"), queryset=KeyGroup.objects.filter(is_active=True),
                                                required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices are restricted like every other read.
        self.fields["area"].queryset = (
            Area.objects.restrict(user, "view").filter(level=AreaLevel.GRID).select_related("parent__parent")
        )
        if user.area and user.area.level == AreaLevel.GRID:
            self.fields["area"].initial = user.area_id
        grid = self.data.get("area") if self.is_bound else self.initial.get("area", self.fields["area"].initial)
        # Households of the chosen grid only: a grid has hundreds, the county hundreds of thousands.
        self.fields["household"].queryset = households_in(user, grid)
        style_fields(self)
        self.fields["area"].widget.attrs.update({
            "hx-get": reverse_lazy("people:household_options"), "hx-target": "#id_household",
            "hx-trigger": "change",
        })

    def service_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("area", "key_groups")}
        data["sex"] = data.get("sex") or Sex.UNKNOWN
        return data


def households_in(user, grid_code):
    if not grid_code:
        return Household.objects.none()
    return Household.objects.restrict(user, "view").filter(area_id=grid_code).select_related("building")


class RevealForm(forms.Form):
    reason = forms.CharField(label=_("查看事由"), min_length=2, max_length=200,
                             help_text=_("如：核实返乡人员身份、流调联系本人。事由将记入审计日志。"))


class MergeForm(forms.Form):
    keep = forms.IntegerField(widget=forms.HiddenInput)
    duplicate = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("合并事由"), min_length=2, max_length=200)
