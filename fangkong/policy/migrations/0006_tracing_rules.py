"""The shipped packs get their contact and zone rules, and the companion rule (8th and 9th editions)."""

from django.db import migrations


def seed(apps, schema_editor):
    from fangkong.policy.packs import PACKS

    Pack = apps.get_model("policy", "PolicyPack")
    Rule = apps.get_model("policy", "PolicyRule")
    for spec in PACKS:
        pack = Pack.objects.filter(code=spec["code"]).first()
        if pack is None:
            continue
        if not pack.contact_rules:
            pack.contact_rules = spec["contact_rules"]
        if not pack.zone_rules:
            pack.zone_rules = spec["zone_rules"]
        pack.save(update_fields=["contact_rules", "zone_rules"])
        rule = spec["rules"].get("companion")
        if rule:
            Rule.objects.get_or_create(pack=pack, category="companion", defaults={
                "stages": rule["stages"], "followup_hours": rule["followup_hours"],
                "instructions": rule["instructions"],
            })


class Migration(migrations.Migration):
    dependencies = [("policy", "0005_policypack_contact_rules_policypack_zone_rules")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
