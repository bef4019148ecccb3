from django.db import models
from django.utils.translation import gettext_lazy as _


class Classification(models.TextChoices):
    CONFIRMED = "confirmed", _("确诊病例")
    ASYMPTOMATIC = "asymptomatic", _("无症状感染者")
    SUSPECTED = "suspected", _("疑似病例")


class Severity(models.TextChoices):
    NONE = "", _("—")
    MILD = "mild", _("轻型")
    MODERATE = "moderate", _("普通型")
    SEVERE = "severe", _("重型")
    CRITICAL = "critical", _("危重型")


class Residence(models.TextChoices):
    """病人属于 on the report card."""

    COUNTY = "county", _("本县区")
    CITY = "city", _("本市其他县区")
    PROVINCE = "province", _("本省其他地市")
    OTHER_PROVINCE = "other_province", _("外省")
    HMT = "hmt", _("港澳台")
    FOREIGN = "foreign", _("外籍")


class CaseStatus(models.TextChoices):
    OPEN = "open", _("调查中")
    CLOSED = "closed", _("已结案")
    EXCLUDED = "excluded", _("已排除")


class ContactKind(models.TextChoices):
    CLOSE = "close", _("密切接触者")
    SECONDARY = "secondary", _("次密切接触者")
    COMPANION = "companion", _("时空伴随者")


# Higher is more serious: a person reached by several paths keeps the highest.
KIND_RANK = {ContactKind.CLOSE: 3, ContactKind.SECONDARY: 2, ContactKind.COMPANION: 1}

# The policy category each kind is managed under.
CATEGORY_OF_KIND = {
    ContactKind.CLOSE: "close_contact",
    ContactKind.SECONDARY: "secondary_contact",
    ContactKind.COMPANION: "companion",
}


class ContactStatus(models.TextChoices):
    PROPOSED = "proposed", _("待研判")
    CONFIRMED = "confirmed", _("已确认")
    DISMISSED = "dismissed", _("已排除")
    DISPATCHED = "dispatched", _("已推送管控")
    TRANSFERRED = "transferred", _("已移交外地")


class Rule(models.TextChoices):
    """Why a person is a contact: the evidence kinds the engine and the interview produce."""

    HOUSEHOLD = "household", _("同住")
    VENUE_CLOSE = "venue_close", _("同场所同时段（近距离）")
    VENUE_COMPANION = "venue_companion", _("同场所同时段")
    WORKPLACE = "workplace", _("同单位/同班级")
    INTERVIEW = "interview", _("流调访谈")


class ZoneStatus(models.TextChoices):
    PROPOSED = "proposed", _("待发布")
    PUBLISHED = "published", _("已发布")
    LIFTED = "lifted", _("已解除")
    DISCARDED = "discarded", _("已放弃")
