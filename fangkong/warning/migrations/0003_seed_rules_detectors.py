"""Seed the fixed-threshold alert rules and one detector configuration per daily count series."""

from django.db import migrations

RULES = [
    # code, name, kinds, threshold, window minutes, grade, escalate size, match details, description
    ("positive_result", "核酸检测阳性", ["positive_result"], 1, 1440, "red", 0, {},
     "单人单管检测阳性即预警（一例即触发）；同一乡镇 24 小时内再出现的阳性并入同一预警。"),
    ("positive_pool", "混管阳性", ["positive_pool"], 1, 1440, "orange", 3, {},
     "混采管阳性即预警，等待单采复核；同一乡镇 24 小时内 3 管以上升为红色。"),
    ("new_case", "新增病例", ["new_case"], 1, 1440, "red", 0, {}, "新增确诊病例或无症状感染者即预警。"),
    ("site_positive", "隔离点人员阳性", ["site_positive"], 1, 1440, "red", 0, {},
     "集中隔离点内人员检测阳性即预警（涉及同楼层及上下层重新计算隔离期）。"),
    ("coldchain_positive", "冷链样本阳性", ["coldchain_positive"], 1, 1440, "red", 0, {},
     "进口冷链食品或环境样本检测阳性即预警。"),
    ("scan_red", "红码人员扫码进入场所", ["scan_red"], 1, 1440, "orange", 3, {},
     "红码人员扫场所码即预警；同一乡镇 24 小时内 3 人次以上升为红色。"),
    ("scan_yellow", "黄码人员扫码聚集", ["scan_yellow"], 5, 60, "yellow", 10, {},
     "同一乡镇 1 小时内黄码人员扫码 5 人次以上即预警。"),
    ("fever_patient_risk", "中高风险地区来（返）发热病人", ["fever_patient"], 1, 1440, "orange", 3,
     {"from_risk_area": True}, "卫生室、诊所、发热门诊报告的发热病人有中高风险地区旅居史即预警。"),
    ("fever_patient_cluster", "基层发热病人聚集", ["fever_patient"], 3, 1440, "yellow", 6, {},
     "同一乡镇 24 小时内基层哨点报告发热病人 3 例以上即预警。"),
    ("drug_buyer_untested", "购药人员逾期未检测", ["drug_buyer_untested"], 1, 1440, "blue", 5, {},
     "购买四类药品的人员未在规定时限内完成核酸检测即预警；同一乡镇 24 小时内每 5 人升一级。"),
    ("high_risk_arrival", "高风险地区来（返）人员", ["high_risk_arrival"], 1, 1440, "blue", 5, {},
     "高风险地区来（返）人员报备即预警；同一乡镇 24 小时内每 5 人升一级。"),
    ("fever_under_order", "管控人员发热", ["fever_under_order"], 1, 1440, "orange", 0, {},
     "集中隔离或居家管控人员体温异常即预警。"),
    ("home_violation", "居家人员违规外出", ["home_violation"], 1, 1440, "yellow", 0, {},
     "居家隔离、居家健康监测人员违规外出即预警。"),
    ("transfer_unacknowledged", "转运超时未交接", ["transfer_unacknowledged"], 1, 1440, "blue", 0, {},
     "点对点转运到达后接收方超时未确认即预警。"),
    ("check_missed", "健康监测漏报", ["check_missed"], 10, 1440, "blue", 20, {},
     "同一乡镇 24 小时内健康监测漏报 10 人次以上即预警。"),
]

EARS = ("EARS（美国疾控中心早期异常报告系统）C1/C2/C3 只需 7–9 天基线，适合刚开始报告、历史数据不足一年的指标："
        "C1 用前 7 天作基线，C2 在基线与当天之间留 2 天间隔，C3 累积最近 3 天的超出量，对持续数天的小幅上升更敏感。"
        "阈值是当天计数超出基线均值的标准差倍数（默认 3 倍）。")
CUSUM = ("CUSUM（累积和）把每天超出基线的部分累加，对持续的小幅上升比单日阈值更早报警；参数 k 是容许的偏移（标准差），"
         "h 是报警线，h 越大误报越少、报警越晚。适合历史较短但每天有一定计数的指标。")
MPM = ("移动百分位数法（MPM）即国家传染病自动预警系统（CIDARS）所用方法：把最近 7 天合计与过去 3 年同期及前后各一周的 7 天合计比较，"
       "超过设定百分位数（如 P80、P90）即报警。需要 3 年历史，能自动适应季节性（如流感季的购药高峰）；历史不足时自动改用 EARS C2，页面会说明。")
FARRINGTON = ("改进 Farrington 法（Noufaily 2013，与 R surveillance 包 farringtonFlexible 一致）用过去 5 年同期数据拟合带趋势、"
              "季节的拟泊松回归，剔除历史暴发的影响后给出上限，超过即报警，误报率低（约 1%）。需要数年历史；历史不足时自动改用 EARS C2。")

DETECTORS = [
    ("fever_clinic_visits", "发热门诊就诊数", "ears_c2", 7,
     "发热门诊是“前哨”：每日就诊数突然上升往往早于病例报告。" + EARS),
    ("clinic_fever_patients", "基层诊所发热病人数", "ears_c3", 7,
     "卫生室、个体诊所、中医诊所的发热病人数通常很少，单日波动大，C3 累积 3 天能发现持续增多。" + EARS),
    ("drug_sales", "四类药品销售人次", "mpm", 1095,
     "四类药品（退热、止咳、抗病毒、抗生素）销售有明显季节性，适合与往年同期比较。" + MPM),
    ("school_absences", "学校因病缺勤人数", "ears_c1", 7,
     "学校因病缺勤在节假日、寒暑假为零，只用最近一周作基线的 C1 不受假期影响。" + EARS),
    ("non_green_scans", "场所扫码非绿码人次", "cusum", 28,
     "场所扫码的黄码、红码人次反映风险人员活动，持续增多比单日波动更有意义。" + CUSUM),
    ("positive_results", "核酸阳性人数", "farrington", 1826,
     "单个阳性已由固定阈值规则立即预警；统计检测用于发现阳性人数高于往年同期的趋势。" + FARRINGTON),
]


def seed(apps, schema_editor):
    AlertRule = apps.get_model("warning", "AlertRule")
    DetectorConfig = apps.get_model("warning", "DetectorConfig")
    AlertRule.objects.bulk_create([
        AlertRule(code=code, name=name, signal_kinds=kinds, threshold=threshold, window_minutes=window, grade=grade,
                  escalate_size=escalate, match_details=match, description=description)
        for code, name, kinds, threshold, window, grade, escalate, match, description in RULES
    ], ignore_conflicts=True)
    DetectorConfig.objects.bulk_create([
        DetectorConfig(signal_type=signal_type, label=label, method=method, params={}, baseline_days=baseline,
                       explanation=explanation)
        for signal_type, label, method, baseline, explanation in DETECTORS
    ], ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("warning", "AlertRule").objects.filter(code__in=[r[0] for r in RULES]).delete()
    apps.get_model("warning", "DetectorConfig").objects.filter(signal_type__in=[d[0] for d in DETECTORS]).delete()


class Migration(migrations.Migration):
    dependencies = [("warning", "0002_alerts")]

    operations = [migrations.RunPython(seed, unseed)]
