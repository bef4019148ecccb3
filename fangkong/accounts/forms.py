from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .services import is_locked


class LoginForm(AuthenticationForm):
    """The login form; says so when the account is locked after repeated failures."""

    error_messages = {
        "invalid_login": _("用户名或密码错误。连续输错多次将锁定账号。"),
        "inactive": _("该账号已停用。"),
        "locked": _("该账号因连续登录失败已被临时锁定，请稍后再试或联系管理员。"),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and is_locked(username):
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        return super().clean()
