"""Ship the policy packs of the 8th and 9th editions and of November 2022; the 8th is active."""

from django.db import migrations


def seed(apps, schema_editor):
    from fangkong.policy.packs import ACTIVE_BY_DEFAULT, PACKS

    Pack = apps.get_model("policy", "PolicyPack")
    Rule = apps.get_model("policy", "PolicyRule")
    for spec in PACKS:
        pack, _ = Pack.objects.update_or_create(code=spec["code"], defaults={
            "name": spec["name"], "description": spec["description"], "effective_from": spec["effective_from"],
            "lookback_days": spec["lookback_days"], "contact_window_days": spec["contact_window_days"],
        })
        for category, rule in spec["rules"].items():
            Rule.objects.update_or_create(pack=pack, category=category, defaults={
                "stages": rule.get("stages", []), "arrival_test_days": rule.get("arrival_test_days", []),
                "followup_hours": rule["followup_hours"], "pickup_required": rule.get("pickup_required", False),
                "instructions": rule["instructions"],
            })
    if not Pack.objects.filter(is_active=True).exists():
        Pack.objects.filter(code=ACTIVE_BY_DEFAULT).update(is_active=True)


def unseed(apps, schema_editor):
    from fangkong.policy.packs import PACKS

    apps.get_model("policy", "PolicyPack").objects.filter(code__in=[p["code"] for p in PACKS]).delete()


class Migration(migrations.Migration):
    dependencies = [("policy", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
