from django import forms
from django.utils.translation import gettext_lazy as _


class CompleteTaskForm(forms.Form):
    note = forms.CharField(label=_("办理结果"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}))
