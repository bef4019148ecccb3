"""Store the scan colour of everyone with a measure in force (orders made before the status table existed)."""

from django.db import migrations


def backfill(apps, schema_editor):
    from fangkong.people.models import Person
    from fangkong.policy.services import refresh_status

    ControlOrder = apps.get_model("policy", "ControlOrder")
    person_ids = ControlOrder.objects.filter(status="active").values_list("person_id", flat=True).distinct()
    for person in Person.objects.filter(pk__in=list(person_ids)).iterator():
        refresh_status(person)


class Migration(migrations.Migration):
    dependencies = [("policy", "0003_personstatus_policypack_status_rules")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
