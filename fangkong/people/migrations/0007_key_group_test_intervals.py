"""How often each seeded key group is tested (china-ops.md §4: daily, every 3 days ≈ twice a week, weekly,
every 14 days). HQ edits them; a group already given an interval keeps it."""

from django.db import migrations

INTERVALS = {
    "coldchain": 1, "port": 1, "fever_clinic": 1, "quarantine_site": 1, "medical": 7,
    "courier": 3, "market": 3, "pharmacy": 3, "hotel": 3, "restaurant": 3, "transport": 3, "school": 3,
    "construction": 3, "factory": 3, "care_home": 14, "detention": 14,
}


def seed(apps, schema_editor):
    KeyGroup = apps.get_model("people", "KeyGroup")
    for code, days in INTERVALS.items():
        KeyGroup.objects.filter(code=code, test_interval_days__isnull=True).update(test_interval_days=days)


class Migration(migrations.Migration):
    dependencies = [("people", "0006_keygroup_department_keygroup_identified_by_and_more")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
