"""Forms of the testing pages: a sampling point, opening a session, one scan, a lab result file.

The rules (a full or closed tube, a person twice in a tube, the result file's
rows) live in testing.services; these forms parse the input and give the
first, plain errors in Chinese.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.forms import style_fields

from .choices import PoolSize
from .models import SamplingPoint
from .services import FILE_TYPES, MAX_FILE_BYTES

REQUIRED = {"required": _("此项必填。")}


class SamplingPointForm(forms.ModelForm):
    class Meta:
        model = SamplingPoint
        fields = ["name", "area", "address"]
        error_messages = {"name": REQUIRED, "area": {**REQUIRED, "invalid_choice": _("所选区划不在您的管辖范围内。")}}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = Area.objects.restrict(user, "view").filter(
            level__in=[AreaLevel.COUNTY, AreaLevel.TOWNSHIP, AreaLevel.VILLAGE]).order_by("code")
        style_fields(self)


class SessionForm(forms.Form):
    point = forms.ModelChoiceField(label=_("采样点"), queryset=SamplingPoint.objects.none(),
                                   error_messages={**REQUIRED, "invalid_choice": _("所选采样点不在您的管辖范围内或已停用。")})
    pool_size = forms.TypedChoiceField(label=_("混采方式"), choices=PoolSize.choices, coerce=int,
                                       initial=PoolSize.TEN, error_messages=REQUIRED)

    def __init__(self, *args, points, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["point"].queryset = points
        self.fields["pool_size"].help_text = _("隔离人员、密接等重点人群须单采（1人1管）。")
        style_fields(self)


class ScanForm(forms.Form):
    """One swab: the tube's barcode and the person's ID number (or personal code)."""

    barcode = forms.CharField(label=_("管码"), max_length=40,
                              error_messages={"required": _("请先扫描采样管管码。")})
    person = forms.CharField(label=_("人员（个人码或身份证号码）"), max_length=200,
                             error_messages={"required": _("请扫描被采样人的个人码，或输入身份证号码。")})
    client_key = forms.CharField(max_length=64, required=False)
    sampled_at = forms.DateTimeField(required=False)

    def clean_barcode(self):
        return "".join(self.cleaned_data["barcode"].split())

    def clean_person(self):
        return self.cleaned_data["person"].strip()


class SealForm(forms.Form):
    barcode = forms.CharField(max_length=40, error_messages={"required": _("没有正在采集的采样管。")})

    def clean_barcode(self):
        return "".join(self.cleaned_data["barcode"].split())


class ResultFileForm(forms.Form):
    file = forms.FileField(label=_("结果文件（csv 或 xlsx）"), error_messages={
        "required": _("请选择要上传的结果文件。"), "empty": _("上传的文件是空的。")})
    lab = forms.CharField(label=_("检测机构"), max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lab"].help_text = _("不填则取文件中的检测机构列。")
        self.fields["file"].widget.attrs["accept"] = ",".join(FILE_TYPES)
        style_fields(self)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(FILE_TYPES):
            raise forms.ValidationError(_("只支持 Excel 工作簿（.xlsx）或 CSV 文件。"))
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(_("文件超过 %(mb)d MB 上限，请分批上传。") % {"mb": MAX_FILE_BYTES // 1024 // 1024})
        return upload
