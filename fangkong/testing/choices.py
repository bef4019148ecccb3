from django.db import models
from django.utils.translation import gettext_lazy as _


class PoolSize(models.IntegerChoices):
    SINGLE = 1, _("单采（1人1管）")
    FIVE = 5, _("5混1")
    TEN = 10, _("10混1")
    TWENTY = 20, _("20混1")


class TubeStatus(models.TextChoices):
    OPEN = "open", _("采集中")
    CLOSED = "closed", _("已封管")
    RESULTED = "resulted", _("已出结果")


class Result(models.TextChoices):
    NEGATIVE = "negative", _("阴性")
    POSITIVE = "positive", _("阳性")
    INVALID = "invalid", _("无效")


class FollowupStatus(models.TextChoices):
    """单采复核 of one member of a positive pool."""

    PENDING = "pending", _("待单采复核")
    SAMPLED = "sampled", _("已单采待结果")
    NEGATIVE = "negative", _("复核阴性")
    POSITIVE = "positive", _("复核阳性")
