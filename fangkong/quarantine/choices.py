from django.db import models
from django.utils.translation import gettext_lazy as _


class SiteKind(models.TextChoices):
    HOTEL = "hotel", _("征用宾馆")
    DESIGNATED = "designated", _("集中隔离医学观察点")
    HOSPITAL = "hospital", _("定点医院")
    OTHER = "other", _("其他")


class StayEnd(models.TextChoices):
    """Where someone went when they left a site."""

    HOME = "home", _("转居家")
    RELEASED = "released", _("解除隔离")
    HOSPITAL = "hospital", _("转定点医院")
    OTHER_SITE = "other_site", _("转其他隔离点")


class SampleResult(models.TextChoices):
    NEGATIVE = "negative", _("阴性")
    POSITIVE = "positive", _("阳性")


class TransferKind(models.TextChoices):
    PICKUP = "pickup", _("接返（高风险来人）")
    TO_SITE = "to_site", _("送往隔离点")
    TO_HOME = "to_home", _("隔离点送返居家")
    TO_HOSPITAL = "to_hospital", _("送往定点医院")


class TransferStatus(models.TextChoices):
    PLANNED = "planned", _("待出发")
    DEPARTED = "departed", _("转运中")
    ARRIVED = "arrived", _("已到达待交接")
    ACKNOWLEDGED = "acknowledged", _("已交接")
    CANCELLED = "cancelled", _("已取消")


OPEN_TRANSFER_STATUSES = [TransferStatus.PLANNED, TransferStatus.DEPARTED, TransferStatus.ARRIVED]


class CheckSource(models.TextChoices):
    STAFF = "staff", _("隔离点工作人员")
    CARE = "care", _("包保人员")
    SELF = "self", _("本人填报")


class Symptom(models.TextChoices):
    FEVER = "fever", _("发热")
    COUGH = "cough", _("咳嗽")
    SORE_THROAT = "sore_throat", _("咽痛")
    FATIGUE = "fatigue", _("乏力")
    SMELL_TASTE = "smell_taste", _("嗅（味）觉减退")
    DIARRHOEA = "diarrhoea", _("腹泻")
    SHORT_BREATH = "short_breath", _("气促")
    OTHER = "other", _("其他")


class VisitKind(models.TextChoices):
    DOOR_CHECK = "door_check", _("上门查看")
    VIOLATION = "violation", _("违规外出")
    CALL = "call", _("督导抽查电话")


class VisitOutcome(models.TextChoices):
    OK = "ok", _("在家，情况正常")
    NOT_HOME = "not_home", _("不在家")
    NO_ANSWER = "no_answer", _("无人接听")
    PROBLEM = "problem", _("发现问题")


class ReleaseCheck(models.TextChoices):
    """Why a stage may not advance or an order may not be released yet (the held reason's code)."""

    POSITIVE = "positive", _("检测阳性")
    AWAITING = "awaiting", _("检测结果未出")
    MISSING = "missing", _("缺少检测")
    ROOM = "room", _("房间环境采样未阴性")


class QuarantineTask(models.TextChoices):
    """Task kinds this app puts in inboxes."""

    CARE = "home_care", _("五包一包保")
    CHECK_MISSED = "check_missed", _("健康监测漏报处置")
    FEVER = "fever_followup", _("发热处置")
    TEST_DAY = "quarantine_test", _("隔离检测采样")
    TRANSFER_ACK = "transfer_ack", _("转运交接")
    LEAVE_SITE = "leave_site", _("隔离点转出")
    VIOLATION = "home_violation", _("违规外出处置")
