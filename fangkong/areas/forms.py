from django import forms
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class AreaImportForm(forms.Form):
    file = forms.FileField(label=_("区划文件"), help_text=_("CSV 或 xlsx，列：区划代码、名称、上级代码、层级。"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx", ".xls", ".ods", ".xlsm")):
            raise forms.ValidationError(_("只支持 CSV 或 Excel（xlsx）文件。"))
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("文件超过 20 MB。"))
        if upload.size == 0:
            raise forms.ValidationError(_("文件是空的。"))
        return upload
