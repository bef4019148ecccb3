"""Forms of the key-group pages: HQ's edit of a group, the roster file upload."""

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.models import Organization
from fangkong.core.forms import style_fields
from fangkong.people.models import KeyGroup

from .schedules import FILE_TYPES, MAX_BYTES


class KeyGroupForm(forms.ModelForm):
    class Meta:
        model = KeyGroup
        fields = ["test_interval_days", "department", "identified_by"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Organization.objects.select_related("area").order_by("area_id", "name")
        self.fields["test_interval_days"].widget.attrs.update({"min": 1, "max": 365})
        self.fields["identified_by"].help_text = _("如：市场监管局提供的从业人员名单、单位自行上报")
        style_fields(self)

    def clean_test_interval_days(self):
        value = self.cleaned_data.get("test_interval_days")
        if value is not None and not 1 <= value <= 365:
            raise forms.ValidationError(_("检测间隔应为 1 至 365 天，或留空表示不定期检测。"))
        return value


class RosterImportForm(forms.Form):
    file = forms.FileField(label=_("人员名单文件（.xlsx 或 .csv）"),
                           error_messages={"required": _("请选择要上传的文件。"), "empty": _("上传的文件是空的。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ",".join(FILE_TYPES)
        style_fields(self)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(FILE_TYPES):
            raise forms.ValidationError(_("只支持 Excel 工作簿（.xlsx）或 CSV 文件。"))
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("文件超过 %(mb)d MB 上限，请分批上传。") % {"mb": MAX_BYTES // 1024 // 1024})
        return upload
