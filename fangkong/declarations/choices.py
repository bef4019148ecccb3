from django.db import models
from django.utils.translation import gettext_lazy as _


class DeclarationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("待到达")
    ARRIVED = "arrived", _("已到达")
    NO_SHOW = "no_show", _("未返回")
    CANCELLED = "cancelled", _("已取消")


OPEN_DECLARATION = [DeclarationStatus.SUBMITTED, DeclarationStatus.NO_SHOW]


class Source(models.TextChoices):
    PUBLIC = "public", _("线上申报")
    CHECKPOINT = "checkpoint", _("卡点登记")
    STAFF = "staff", _("工作人员代报")


class Transport(models.TextChoices):
    TRAIN = "train", _("火车/高铁")
    FLIGHT = "flight", _("飞机")
    CAR = "car", _("自驾")
    BUS = "bus", _("长途客车")
    OTHER = "other", _("其他")


class Symptom(models.TextChoices):
    FEVER = "fever", _("发热")
    COUGH = "cough", _("咳嗽")
    SORE_THROAT = "sore_throat", _("咽痛")
    FATIGUE = "fatigue", _("乏力")
    SMELL = "smell", _("嗅（味）觉减退")
    DIARRHOEA = "diarrhoea", _("腹泻")


class HealthCode(models.TextChoices):
    GREEN = "green", _("绿码")
    YELLOW = "yellow", _("黄码")
    RED = "red", _("红码")


class TestResult(models.TextChoices):
    NEGATIVE = "negative", _("阴性")
    POSITIVE = "positive", _("阳性")
    PENDING = "pending", _("待出结果")
