from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SentinelsConfig(AppConfig):
    name = "fangkong.sentinels"
    label = "sentinels"
    verbose_name = _("哨点监测")
