"""The four-class drug list (四类药品) as data: common products; HQ edits it in the admin site."""

from django.db import migrations

PRODUCTS = [
    ("ibuprofen-sr-caps", "布洛芬缓释胶囊", "antipyretic"),
    ("ibuprofen-susp", "布洛芬混悬液", "antipyretic"),
    ("paracetamol-tab", "对乙酰氨基酚片", "antipyretic"),
    ("paracetamol-drops", "对乙酰氨基酚滴剂", "antipyretic"),
    ("compound-paracetamol-amantadine", "复方氨酚烷胺片", "antipyretic"),
    ("metamizole-tab", "安乃近片", "antipyretic"),
    ("lianhua-qingwen-caps", "连花清瘟胶囊", "antipyretic"),
    ("compound-liquorice-tab", "复方甘草片", "cough"),
    ("dextromethorphan-syrup", "右美沙芬糖浆", "cough"),
    ("ambroxol-tab", "盐酸氨溴索片", "cough"),
    ("chuanbei-pipa-syrup", "川贝枇杷膏", "cough"),
    ("codeine-campho-syrup", "复方磷酸可待因糖浆", "cough"),
    ("oseltamivir-caps", "磷酸奥司他韦胶囊", "antiviral"),
    ("arbidol-tab", "阿比多尔片", "antiviral"),
    ("ribavirin-tab", "利巴韦林片", "antiviral"),
    ("acyclovir-tab", "阿昔洛韦片", "antiviral"),
    ("amoxicillin-caps", "阿莫西林胶囊", "antibiotic"),
    ("cefuroxime-tab", "头孢呋辛酯片", "antibiotic"),
    ("cefradine-caps", "头孢拉定胶囊", "antibiotic"),
    ("azithromycin-tab", "阿奇霉素片", "antibiotic"),
    ("roxithromycin-tab", "罗红霉素胶囊", "antibiotic"),
    ("levofloxacin-tab", "左氧氟沙星片", "antibiotic"),
]


def add_products(apps, schema_editor):
    DrugProduct = apps.get_model("sentinels", "DrugProduct")
    DrugProduct.objects.bulk_create([DrugProduct(code=code, name=name, drug_class=drug_class)
                                     for code, name, drug_class in PRODUCTS], ignore_conflicts=True)


def remove_products(apps, schema_editor):
    apps.get_model("sentinels", "DrugProduct").objects.filter(code__in=[p[0] for p in PRODUCTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("sentinels", "0001_initial")]

    operations = [migrations.RunPython(add_products, remove_products)]
