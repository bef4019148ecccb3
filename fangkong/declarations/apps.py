from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeclarationsConfig(AppConfig):
    name = "fangkong.declarations"
    label = "declarations"
    verbose_name = _("入返报备")
