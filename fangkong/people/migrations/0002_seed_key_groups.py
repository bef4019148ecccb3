"""The key groups (重点人群) to start from; HQ edits the list afterwards.

Seeded from the Shandong and Zibo lists in shared/domain/china-ops.md §4.
"""

from django.db import migrations

KEY_GROUPS = [
    ("coldchain", "进口冷链从业人员", "进口冷链仓储、加工一线人员"),
    ("port", "口岸及边境一线人员", "口岸、入境服务一线人员"),
    ("medical", "医务人员", "医疗机构工作人员"),
    ("fever_clinic", "发热门诊工作人员", ""),
    ("quarantine_site", "隔离场所工作人员", "集中隔离点、定点医院工作人员"),
    ("courier", "快递外卖人员", "快递、外卖等入户服务人员"),
    ("market", "商超农贸市场人员", "超市、农贸市场从业人员"),
    ("pharmacy", "药店从业人员", ""),
    ("hotel", "宾馆酒店人员", "宾馆、旅游从业人员"),
    ("restaurant", "餐饮娱乐场所人员", "餐饮、室内健身、洗浴、美容等场所人员"),
    ("transport", "交通运输人员", "出租车、公交、客运、货运司乘人员"),
    ("school", "学校及托幼机构人员", "教职员工和幼儿"),
    ("care_home", "养老福利机构人员", "养老院、福利院工作人员"),
    ("construction", "建筑工地人员", ""),
    ("factory", "工厂企业职工", ""),
    ("detention", "监管场所人员", ""),
]


def seed(apps, schema_editor):
    KeyGroup = apps.get_model("people", "KeyGroup")
    for order, (code, name, description) in enumerate(KEY_GROUPS, start=1):
        KeyGroup.objects.update_or_create(
            code=code, defaults={"name": name, "description": description, "sort_order": order}
        )


def unseed(apps, schema_editor):
    apps.get_model("people", "KeyGroup").objects.filter(code__in=[c for c, _, _ in KEY_GROUPS]).delete()


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
