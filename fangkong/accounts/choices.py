from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HQ_ADMIN = "hq_admin", _("指挥部管理员")
    HQ_STAFF = "hq_staff", _("指挥部工作人员")
    DEPT_OFFICER = "dept_officer", _("部门工作人员")
    TOWNSHIP_OFFICER = "township_officer", _("乡镇（街道）干部")
    VILLAGE_OFFICER = "village_officer", _("村（社区）干部")
    GRID_WORKER = "grid_worker", _("网格员")
    EPIDEMIOLOGIST = "epidemiologist", _("流调员")
    SENTINEL_REPORTER = "sentinel_reporter", _("哨点报告员")
    LAB_OPERATOR = "lab_operator", _("检测机构人员")
    SITE_STAFF = "site_staff", _("隔离点工作人员")
    CHECKPOINT_OFFICER = "checkpoint_officer", _("卡点工作人员")
    VENUE_MANAGER = "venue_manager", _("场所负责人")
    SUPERVISOR = "supervisor", _("督导组成员")
    COMMUNITY_DOCTOR = "community_doctor", _("社区（村）医生")
    POLICE_OFFICER = "police_officer", _("社区民警")
    VOLUNTEER = "volunteer", _("志愿者")
    AUDITOR = "auditor", _("审计员")


class OrganizationKind(models.TextChoices):
    HQ_OFFICE = "hq_office", _("指挥部办公室")
    HEALTH_BUREAU = "health_bureau", _("卫健局")
    CDC = "cdc", _("疾控中心")
    PUBLIC_SECURITY = "public_security", _("公安局")
    MARKET_REGULATION = "market_regulation", _("市场监管局")
    EDUCATION = "education", _("教体局")
    COMMERCE = "commerce", _("商务局")
    TRANSPORT = "transport", _("交通局")
    TOWNSHIP = "township", _("乡镇（街道）")
    VILLAGE = "village", _("村（社区）")
    MEDICAL = "medical", _("医疗机构")
    PHARMACY = "pharmacy", _("药店")
    LAB = "lab", _("检测机构")
    QUARANTINE_SITE = "quarantine_site", _("隔离点")
    ENTERPRISE = "enterprise", _("企业")
    OTHER = "other", _("其他")
