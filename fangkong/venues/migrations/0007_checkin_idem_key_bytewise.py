"""On PostgreSQL, compare idempotency keys byte by byte (collation "C").

A gateway's keys are codes, not words: the database's own collation (a
locale's rules, through strcoll) only made every comparison in the unique
index on (idem_key, scanned_at) slower; a batch of 50,000 rows compares
each key some twenty times. Uniqueness is unchanged: PostgreSQL already
tells keys apart byte by byte when the locale finds them equal. The column
type stays; PostgreSQL rebuilds the index. Other databases compare text
byte by byte already.
"""

from django.db import migrations

FORWARD = 'ALTER TABLE venues_checkin ALTER COLUMN idem_key TYPE varchar(64) COLLATE "C"'
BACKWARD = 'ALTER TABLE venues_checkin ALTER COLUMN idem_key TYPE varchar(64) COLLATE "default"'


def run(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [("venues", "0006_venue_latitude_venue_longitude")]
    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
