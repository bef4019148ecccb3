from django.db import models
from django.utils.translation import gettext_lazy as _


class SentinelKind(models.TextChoices):
    VILLAGE_CLINIC = "village_clinic", _("村卫生室")
    PRIVATE_CLINIC = "private_clinic", _("个体诊所")
    TCM_CLINIC = "tcm_clinic", _("中医诊所")
    PHARMACY = "pharmacy", _("药店")
    FEVER_CLINIC = "fever_clinic", _("发热门诊")
    PRETRIAGE = "pretriage", _("预检分诊")
    SCHOOL = "school", _("学校")


# Which reports each kind of sentinel files (besides the zero report every sentinel may file).
CLINIC_KINDS = (SentinelKind.VILLAGE_CLINIC, SentinelKind.PRIVATE_CLINIC, SentinelKind.TCM_CLINIC,
                SentinelKind.FEVER_CLINIC, SentinelKind.PRETRIAGE)
COUNT_KINDS = (SentinelKind.FEVER_CLINIC, SentinelKind.PRETRIAGE)


class ReportKind(models.TextChoices):
    DAILY_COUNT = "daily_count", _("每日就诊数")
    FEVER_PATIENT = "fever_patient", _("发热病人")
    ABSENCE = "absence", _("因病缺勤")
    ZERO_REPORT = "zero_report", _("零报告")


class DrugClass(models.TextChoices):
    """四类药品: 一退热、一止咳、两抗 (china-ops.md §5)."""

    ANTIPYRETIC = "antipyretic", _("退热类")
    COUGH = "cough", _("止咳类")
    ANTIVIRAL = "antiviral", _("抗病毒类")
    ANTIBIOTIC = "antibiotic", _("抗生素类")


class BuyerSymptom(models.TextChoices):
    FEVER = "fever", _("发热")
    COUGH = "cough", _("咳嗽")
    SORE_THROAT = "sore_throat", _("咽痛")
    CHEST_TIGHTNESS = "chest_tightness", _("胸闷")
    FATIGUE = "fatigue", _("乏力")
    DIARRHOEA = "diarrhoea", _("腹泻")
    OTHER = "other", _("其他")


class HealthCode(models.TextChoices):
    GREEN = "green", _("绿码")
    YELLOW = "yellow", _("黄码")
    RED = "red", _("红码")


class SignalType(models.TextChoices):
    """The count series the early-warning detectors read, per township and day."""

    FEVER_CLINIC_VISITS = "fever_clinic_visits", _("发热门诊就诊数")
    CLINIC_FEVER_PATIENTS = "clinic_fever_patients", _("基层诊所发热病人数")
    DRUG_SALES = "drug_sales", _("四类药品销售人次")
    SCHOOL_ABSENCES = "school_absences", _("学校因病缺勤人数")


TASK_BUYER_TEST = "drug_buyer_test"
TASK_BUYER_VERIFY = "drug_buyer_verify"
SIGNAL_FEVER_PATIENT = "fever_patient"
SIGNAL_BUYER_UNTESTED = "drug_buyer_untested"
