from django.db import models
from django.utils.translation import gettext_lazy as _


class RiskLevel(models.TextChoices):
    """Both grading schemes: 高/中/低 (2020, 9th edition) and 封控/管控/防范 (2021–22)."""

    HIGH = "high", _("高风险")
    MEDIUM = "medium", _("中风险")
    LOW = "low", _("低风险")
    SEALED = "sealed", _("封控区")
    CONTROLLED = "controlled", _("管控区")
    PRECAUTION = "precaution", _("防范区")


# How serious a level is, whichever scheme it comes from: 3 high, 2 medium, 1 low.
SEVERITY = {
    RiskLevel.HIGH: 3, RiskLevel.SEALED: 3,
    RiskLevel.MEDIUM: 2, RiskLevel.CONTROLLED: 2,
    RiskLevel.LOW: 1, RiskLevel.PRECAUTION: 1,
}


class Granularity(models.TextChoices):
    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    COUNTY = "county", _("县（区）")
    TOWNSHIP = "township", _("乡镇（街道）")


class Category(models.TextChoices):
    """Who a measure is for: the key of a policy rule."""

    CLOSE_CONTACT = "close_contact", _("密切接触者")
    SECONDARY_CONTACT = "secondary_contact", _("次密切接触者")
    COMPANION = "companion", _("时空伴随者")
    HIGH_RISK_ARRIVAL = "high_risk_arrival", _("高风险地区来（返）人员")
    MEDIUM_RISK_ARRIVAL = "medium_risk_arrival", _("中风险地区来（返）人员")
    LOW_RISK_ARRIVAL = "low_risk_arrival", _("低风险地区来（返）人员")
    INBOUND = "inbound", _("入境人员")


ARRIVAL_CATEGORY_FOR_SEVERITY = {
    3: Category.HIGH_RISK_ARRIVAL,
    2: Category.MEDIUM_RISK_ARRIVAL,
    1: Category.LOW_RISK_ARRIVAL,
    0: Category.LOW_RISK_ARRIVAL,
}


class Stage(models.TextChoices):
    CENTRALIZED = "centralized", _("集中隔离")
    HOME_ISOLATION = "home_isolation", _("居家隔离")
    HOME_MONITORING = "home_monitoring", _("居家健康监测")


STAGE_ORDER = [Stage.CENTRALIZED, Stage.HOME_ISOLATION, Stage.HOME_MONITORING]


class Measure(models.TextChoices):
    """The headline of what a rule asks: its first stage, or tests only, or nothing."""

    NONE = "none", _("无需管控")
    ARRIVAL_TESTS = "arrival_tests", _("落地检")
    HOME_MONITORING = "home_monitoring", _("居家健康监测")
    HOME_ISOLATION = "home_isolation", _("居家隔离")
    CENTRALIZED = "centralized", _("集中隔离")


class OrderStatus(models.TextChoices):
    ACTIVE = "active", _("管控中")
    RELEASED = "released", _("已解除")
    CANCELLED = "cancelled", _("已撤销")
    MERGED = "merged", _("已合并")


class Colour(models.TextChoices):
    GREEN = "green", _("绿码")
    YELLOW = "yellow", _("黄码")
    RED = "red", _("红码")


STAGE_RANK = {Stage.HOME_MONITORING: 1, Stage.HOME_ISOLATION: 2, Stage.CENTRALIZED: 3}

# How a pack runs its measures (the quarantine app executes them). Every key may be overridden per pack.
DEFAULT_QUARANTINE_RULES = {
    # A positive at a site restarts the period of everyone on the same floor and this many floors
    # above and below (null: no restart).
    "restart_floors": 1,
    # Release needs the last test of the order negative; and the room sample negative when true.
    "release_needs_negative_test": True,
    "room_sample_required": False,
    # A stage advances on its date only when its own tests were negative.
    "advance_needs_negative_tests": True,
    # Health checks: the hours by which each daily check is due, and the fever threshold.
    "check_hours": [10, 18],
    "fever_celsius": 37.3,
    # 五包一: the care team of a person at home, in order; "account_role" is the account role that
    # fills the place by default (the one in the person's area), empty when it is named by hand.
    "care_roles": [
        {"code": "cadre", "label": "社区（村）干部", "account_role": "village_officer"},
        {"code": "grid", "label": "网格员", "account_role": "grid_worker"},
        {"code": "doctor", "label": "医生", "account_role": "community_doctor"},
        {"code": "police", "label": "民警", "account_role": "police_officer"},
        {"code": "volunteer", "label": "志愿者", "account_role": "volunteer"},
    ],
    # 点对点: minutes after arrival for the receiving side to acknowledge (首接负责) before it escalates.
    "transfer_ack_minutes": 60,
}

COLOUR_RANK = {Colour.GREEN: 0, Colour.YELLOW: 1, Colour.RED: 2}

# The colour of each stage of a measure, and of categories that restrict without a stage.
DEFAULT_STATUS_RULES = {
    "centralized": Colour.RED,
    "home_isolation": Colour.RED,
    "home_monitoring": Colour.YELLOW,
    "companion": Colour.YELLOW,
    # From testing: a member of a positive pool stays home until the single re-test; a key-group
    # member past their test date is restricted until tested.
    "pool_retest": Colour.RED,
    "test_overdue": Colour.YELLOW,
    # Venues that admit only people with a recent negative test ("凭 72 小时核酸阴性证明"): hours per venue
    # type code ("default": every other venue), and the colour shown without one. None is required until
    # HQ sets it on a pack (local practice, not a national rule).
    "venue_test": {"colour": Colour.YELLOW, "hours": {}},
}
