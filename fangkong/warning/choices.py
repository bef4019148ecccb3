from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


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
    POSITIVE_RESULT = "positive_result", _("核酸检测阳性")
    POSITIVE_POOL = "positive_pool", _("混管阳性")
    NEW_CASE = "new_case", _("新增病例")
    FEVER_PATIENT = "fever_patient", _("基层哨点发热病人")
    DRUG_BUYER_UNTESTED = "drug_buyer_untested", _("购药人员逾期未检测")
    COLDCHAIN_POSITIVE = "coldchain_positive", _("冷链样本阳性")


class Severity(models.IntegerChoices):
    INFO = 1, _("提示")
    WARNING = 2, pgettext_lazy("severity", "预警")
    CRITICAL = 3, _("紧急")


class AlertGrade(models.TextChoices):
    """预警分级: red is the most urgent. RANK orders them for sorting and for raising a grade."""

    RED = "red", _("红色")
    ORANGE = "orange", _("橙色")
    YELLOW = "yellow", _("黄色")
    BLUE = "blue", _("蓝色")


GRADE_RANK = {AlertGrade.BLUE: 1, AlertGrade.YELLOW: 2, AlertGrade.ORANGE: 3, AlertGrade.RED: 4}
GRADE_BY_RANK = {rank: grade for grade, rank in GRADE_RANK.items()}


class AlertStatus(models.TextChoices):
    """new → verified (true signal) | false_alarm → responded → closed."""

    NEW = "new", _("待核实")
    VERIFIED = "verified", _("已核实")
    FALSE_ALARM = "false_alarm", _("误报")
    RESPONDED = "responded", _("已处置")
    CLOSED = "closed", _("已关闭")


OPEN_ALERT_STATUSES = (AlertStatus.NEW, AlertStatus.VERIFIED, AlertStatus.RESPONDED)


class AlertSource(models.TextChoices):
    RULE = "rule", _("固定阈值规则")
    DETECTOR = "detector", _("统计检测")


class ResponseAction(models.TextChoices):
    """What an alert's response dispatches; each becomes a Task."""

    TEST_BUYERS = "test_buyers", _("组织购药人员核酸检测")
    VISIT_SENTINEL = "visit_sentinel", _("走访哨点核查")
    START_TRACING = "start_tracing", _("启动流行病学调查")
    CUSTOM = "custom", _("其他处置")


class DetectorSignal(models.TextChoices):
    """The daily count series per township that the statistical detectors watch."""

    FEVER_CLINIC_VISITS = "fever_clinic_visits", _("发热门诊就诊数")
    CLINIC_FEVER_PATIENTS = "clinic_fever_patients", _("基层诊所发热病人数")
    DRUG_SALES = "drug_sales", _("四类药品销售人次")
    SCHOOL_ABSENCES = "school_absences", _("学校因病缺勤人数")
    NON_GREEN_SCANS = "non_green_scans", _("场所扫码非绿码人次")
    POSITIVE_RESULTS = "positive_results", _("核酸阳性人数")


# Series counted from Signals (the others come from the sentinel reports).
SIGNAL_SERIES_KINDS = {
    DetectorSignal.NON_GREEN_SCANS: ("scan_yellow", "scan_red"),
    DetectorSignal.POSITIVE_RESULTS: ("positive_result",),
}

# The short-history method a detector falls back to when there is not enough history for its own.
FALLBACK_METHOD = "ears_c2"

# Shown on the detector page: what each method does, when to choose it, what its threshold means.
METHOD_HELP = {
    "ears_c1": _("EARS C1：以前 7 天的均值和标准差为基线，当天计数超过“均值 + 3 倍标准差”即报警。只需一周历史，"
                 "反应最快，但持续数天的缓慢上升会被基线吸收。适合新建哨点、节假日多的学校缺勤。"),
    "ears_c2": _("EARS C2：与 C1 相同，但基线取 3–9 天前，中间留 2 天间隔，暴发头两天不会抬高基线。"
                 "短历史指标的默认方法，也是其他方法历史不足时的退回方法。"),
    "ears_c3": _("EARS C3：把最近 3 天 C2 统计量超过 1 的部分相加，超过 2 即报警，对连续几天的小幅上升更敏感，误报也略多。"
                 "适合计数少、单日波动大的基层诊所发热病人。"),
    "cusum": _("CUSUM 累积和：每天把标准化后超出基线 k 个标准差的部分累加，累计值超过 h 即报警。k 越小越能发现小的持续上升，"
               "h 越大误报越少、报警越晚。适合有一定日计数、历史较短的指标。"),
    "mpm": _("移动百分位数法（CIDARS）：最近 7 天合计与过去 3 年同期及前后各一周的 7 天合计比较，超过所设百分位数（如 P80）即报警；"
             "全国系统 2008 年起使用。需要 3 年历史，能适应季节性。"),
    "farrington": _("改进 Farrington 法（Noufaily 2013）：用过去 5 年同期数据拟合带趋势和季节因子的拟泊松回归，"
                    "降低历史暴发的权重后按负二项分布给出上限（α 越小阈值越高、误报越少）。误报率最低，需要数年历史，"
                    "按周汇总计算。"),
    "glm_cusum": _("回归基线日累积和：用改进 Farrington 法的回归（过去数年同期、季节因子、趋势，降低历史暴发权重）"
                   "按周估计期望值，再按过去一年的星期分布拆到每天；每天的计数按负二项分布换算成标准分，"
                   "超出 k（0.5）的部分逐日累加，累计值超过 h 即报警并清零。模拟评估中，每周误报次数相同时比按周计算的"
                   "Farrington 法检出更多、更早；需要数年历史（默认 5 年，可用参数 b 改为 2–3 年），不足时改用短历史方法。"),
}
THRESHOLD_HELP = _("图中阈值带即检测方法给出的上限：计数（MPM 为近 7 天合计）超过阈值的日子标为报警，"
                   "每个乡镇每个指标每天最多生成一条预警。配置的基线长于现有历史时，系统自动改用 EARS C2 并在页面注明。")
