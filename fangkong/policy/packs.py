"""The policy packs shipped with fangkong, from shared/domain/china-ops.md §1, §3, §6.

Arrival rules for the 8th edition follow the local practice of 2021 (the
edition itself does not fix them); HQ copies a pack and edits it to match
its province's notice.
"""

C, HI, HM = "centralized", "home_isolation", "home_monitoring"


def stage(kind, days, tests):
    return {"stage": kind, "days": days, "test_days": tests}


# Co-presence at a venue (scan time + dwell, china-ops.md §2): a companion anywhere; a close contact
# where people share a table, a room or a hall for a quarter of an hour (local practice [M]: HQ edits).
CLOSE_AFTER_15 = {"close_minutes": 15, "companion": True}
CONTACT_RULES = {
    "default": {"close_minutes": None, "companion": True},
    **dict.fromkeys(
        ("restaurant", "cinema", "entertainment", "bath_beauty", "religious", "elderly_care"), CLOSE_AFTER_15),
}

# Control zones (china-ops.md §3): which levels exist, and when each is lifted or downgraded.
ZONES_2021 = {
    "levels": ["sealed", "controlled", "precaution"],
    "sealed": {"lift_days": 14, "test_within_days": 2, "then": ""},
    "controlled": {"lift_days": 14, "test_within_days": 2, "then": ""},
    "precaution": {"lift_days": None, "test_within_days": None, "then": ""},
}
ZONES_ED9 = {
    "levels": ["high", "medium", "low"],
    "high": {"lift_days": 7, "test_within_days": None, "then": "medium"},
    "medium": {"lift_days": 3, "test_within_days": None, "then": "low"},
    "low": {"lift_days": None, "test_within_days": None, "then": ""},
}
ZONES_NOV2022 = {
    "levels": ["high", "low"],
    "high": {"lift_days": 5, "test_within_days": None, "then": "low"},
    "low": {"lift_days": None, "test_within_days": None, "then": ""},
}


LANDING = "到达后请在第一落点（高速路口、车站卡点或采样点）完成核酸+抗原检测，抗原结果正常后方可离开；核酸结果出来前请勿聚集。"
HOME_ISO = "请直接返回目的地住所，落实居家隔离，足不出户，配合网格员上门登记和检测。"
HOME_MON = "请直接返回目的地住所，落实居家健康监测，非必要不外出、不聚集，出现症状及时报告。"
COMPANION = "您被判定为时空伴随者：请主动向所在社区（村）报告，3 天内完成 2 次核酸检测（间隔 24 小时以上），结果出来前居家。"
PICKUP = "请勿自行返回，由目的地乡镇（街道）安排点对点接返，到达后实行集中隔离。请保持电话畅通。"

PACKS = [
    {
        "code": "ed8-14-7", "name": "第八版方案（14+7）", "effective_from": "2021-05-11", "lookback_days": 14,
        "contact_window_days": 2, "contact_rules": CONTACT_RULES, "zone_rules": ZONES_2021,
        "quarantine_rules": {"room_sample_required": True},
        "description": "《新型冠状病毒肺炎防控方案（第八版）》：密接 14 天集中隔离 + 7 天居家健康监测，"
                       "集中隔离第 1、4、7、14 天、居家第 2、7 天核酸检测。",
        "rules": {
            "close_contact": {"stages": [stage(C, 14, [1, 4, 7, 14]), stage(HM, 7, [2, 7])],
                              "followup_hours": 12, "pickup_required": True, "instructions": PICKUP},
            "secondary_contact": {"stages": [stage(C, 7, [1, 4, 7])], "followup_hours": 12,
                                  "pickup_required": True, "instructions": PICKUP},
            "companion": {"stages": [stage(HM, 3, [1, 2])], "followup_hours": 24, "instructions": COMPANION},
            "high_risk_arrival": {"stages": [stage(C, 14, [1, 4, 7, 14]), stage(HM, 7, [2, 7])],
                                  "followup_hours": 12, "pickup_required": True, "instructions": PICKUP},
            "medium_risk_arrival": {"stages": [stage(HI, 14, [1, 4, 7, 14])], "followup_hours": 12,
                                    "instructions": HOME_ISO},
            "low_risk_arrival": {"arrival_test_days": [1, 3], "followup_hours": 24, "instructions": LANDING},
            "inbound": {"stages": [stage(C, 14, [1, 4, 7, 14]), stage(HM, 7, [2, 7])], "followup_hours": 12,
                        "pickup_required": True, "instructions": PICKUP},
        },
    },
    {
        "code": "ed9-7-3", "name": "第九版方案（7+3）", "effective_from": "2022-06-28", "lookback_days": 7,
        "contact_window_days": 2, "contact_rules": CONTACT_RULES, "zone_rules": ZONES_ED9,
        "quarantine_rules": {"room_sample_required": False},
        "description": "《新型冠状病毒肺炎防控方案（第九版）》：密接 7 天集中隔离 + 3 天居家健康监测；"
                       "次密接 7 天居家隔离；高风险地区来人 7 天集中隔离，中风险地区来人 7 天居家隔离。",
        "rules": {
            "close_contact": {"stages": [stage(C, 7, [1, 2, 3, 5, 7]), stage(HM, 3, [3])],
                              "followup_hours": 12, "pickup_required": True, "instructions": PICKUP},
            "secondary_contact": {"stages": [stage(HI, 7, [1, 4, 7])], "followup_hours": 12,
                                  "instructions": HOME_ISO},
            "companion": {"stages": [stage(HM, 3, [1, 2])], "followup_hours": 24, "instructions": COMPANION},
            "high_risk_arrival": {"stages": [stage(C, 7, [1, 2, 3, 5, 7])], "followup_hours": 12,
                                  "pickup_required": True, "instructions": PICKUP},
            "medium_risk_arrival": {"stages": [stage(HI, 7, [1, 4, 7])], "followup_hours": 12,
                                    "instructions": HOME_ISO},
            "low_risk_arrival": {"arrival_test_days": [1, 3], "followup_hours": 24, "instructions": LANDING},
            "inbound": {"stages": [stage(C, 7, [1, 2, 3, 5, 7]), stage(HM, 3, [3])], "followup_hours": 12,
                        "pickup_required": True, "instructions": PICKUP},
        },
    },
    {
        "code": "nov2022-5-3", "name": "二十条（5+3）", "effective_from": "2022-11-11", "lookback_days": 7,
        "contact_window_days": 2, "contact_rules": CONTACT_RULES, "zone_rules": ZONES_NOV2022,
        "quarantine_rules": {"room_sample_required": False},
        "description": "2022 年 11 月“二十条”：密接 5 天集中隔离 + 3 天居家隔离；不再判定次密接；"
                       "高风险区外溢人员 7 天居家隔离（第 1、3、5、7 天检测）；中风险等级取消。",
        "rules": {
            "close_contact": {"stages": [stage(C, 5, [1, 2, 3, 5]), stage(HI, 3, [1, 3])],
                              "followup_hours": 12, "pickup_required": True, "instructions": PICKUP},
            "high_risk_arrival": {"stages": [stage(HI, 7, [1, 3, 5, 7])], "followup_hours": 12,
                                  "instructions": HOME_ISO},
            "medium_risk_arrival": {"arrival_test_days": [1, 3], "followup_hours": 24, "instructions": LANDING},
            "low_risk_arrival": {"arrival_test_days": [1, 3], "followup_hours": 24, "instructions": LANDING},
            "inbound": {"stages": [stage(C, 5, [1, 2, 3, 5]), stage(HI, 3, [1, 3])], "followup_hours": 12,
                        "pickup_required": True, "instructions": PICKUP},
        },
    },
]

ACTIVE_BY_DEFAULT = "ed8-14-7"
