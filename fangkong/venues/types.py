"""The venue types to start from (HQ edits the list): code, name, default dwell minutes, supervising department.

Dwell time is how long a scan is taken to mean presence (tracing overlaps
scan + dwell); the department kind picks the county organisation that
inspects venues of the type (市场监管局 for markets, 教体局 for schools …).
"""

VENUE_TYPES = [
    ("hospital", "医院", 90, "health_bureau"),
    ("clinic", "诊所、卫生室", 30, "health_bureau"),
    ("pharmacy", "药店", 10, "market_regulation"),
    ("school", "学校", 480, "education"),
    ("kindergarten", "幼儿园", 480, "education"),
    ("supermarket", "超市、商场", 40, "market_regulation"),
    ("farmers_market", "农贸市场", 40, "market_regulation"),
    ("restaurant", "餐馆、饭店", 60, "market_regulation"),
    ("hotel", "宾馆、酒店", 600, "public_security"),
    ("cinema", "影院、剧场", 150, "commerce"),
    ("station", "车站", 30, "transport"),
    ("elderly_care", "养老院、福利院", 480, "other"),
    ("religious", "宗教活动场所", 90, "other"),
    ("scenic_spot", "景区", 180, "other"),
    ("factory", "工厂企业", 480, "enterprise"),
    ("construction_site", "建筑工地", 480, "other"),
    ("express", "快递物流网点", 15, "transport"),
    ("office", "机关、写字楼", 480, "other"),
    ("compound_gate", "小区门口", 2, "township"),
    ("bath_beauty", "洗浴、美容美发", 90, "market_regulation"),
    ("entertainment", "KTV、网吧、健身房", 120, "commerce"),
    ("bank", "银行网点", 20, "other"),
]
