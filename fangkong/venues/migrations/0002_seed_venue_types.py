"""The venue types to start from, with default dwell times (fangkong/venues/types.py)."""

from django.db import migrations


def seed(apps, schema_editor):
    from fangkong.venues.types import VENUE_TYPES

    VenueType = apps.get_model("venues", "VenueType")
    for order, (code, name, dwell, department) in enumerate(VENUE_TYPES, start=1):
        VenueType.objects.update_or_create(code=code, defaults={
            "name": name, "dwell_minutes": dwell, "department_kind": department, "sort_order": order})


def unseed(apps, schema_editor):
    from fangkong.venues.types import VENUE_TYPES

    apps.get_model("venues", "VenueType").objects.filter(code__in=[c for c, *_ in VENUE_TYPES]).delete()


class Migration(migrations.Migration):
    dependencies = [("venues", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
