import json

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _

from fangkong.core.ratelimit import over_limit

from .forms import LoginForm


def demo_accounts():
    """The demo accounts, shown on the login page only when the demo server runs."""
    path = settings.VAR_DIR / "demo-accounts.json"
    if not settings.FANGKONG_DEMO or not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if over_limit("login", request, settings.FANGKONG_LOGIN_RATE_PER_MINUTE):
            form = self.get_form()
            form.add_error(None, _("登录尝试过于频繁，请一分钟后再试。"))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "demo_accounts": demo_accounts()}
