from django.db import models
from django.utils.translation import gettext_lazy as _


class SignalKind(models.TextChoices):
    """Kinds known so far; later apps add theirs (the field takes any code)."""

    SCAN_YELLOW = "scan_yellow", _("扫码黄码")
    SCAN_RED = "scan_red", _("扫码红码")
    HIGH_RISK_ARRIVAL = "high_risk_arrival", _("高风险地区来（返）人员")
    CHECK_MISSED = "check_missed", _("健康监测漏报")
    FEVER_UNDER_ORDER = "fever_under_order", _("管控人员发热")
    HOME_VIOLATION = "home_violation", _("居家人员违规外出")
    TRANSFER_UNACKNOWLEDGED = "transfer_unacknowledged", _("转运超时未交接")
    SITE_POSITIVE = "site_positive", _("隔离点人员阳性")


class Severity(models.IntegerChoices):
    INFO = 1, _("提示")
    WARNING = 2, _("预警")
    CRITICAL = 3, _("紧急")
