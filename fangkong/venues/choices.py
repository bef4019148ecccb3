from django.db import models
from django.utils.translation import gettext_lazy as _


class CheckInSource(models.TextChoices):
    SCAN = "scan", _("扫码")
    BATCH = "batch", _("批量推送")


class StatusShown(models.TextChoices):
    GREEN = "green", _("通行")
    YELLOW = "yellow", _("限制")
    RED = "red", _("禁止")
    UNKNOWN = "", _("未查验")
