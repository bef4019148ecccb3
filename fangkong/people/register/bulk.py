"""Writing new people of a register import straight as rows.

Django's bulk_create builds a model instance and prepares every field of
every row; for a county's register that costs more than the database does.
Here the row is built once from the planned data. The column list must name
every column of the person table: tests/people/test_register_bulk.py fails
when a field is added to Person and not here.
"""

from django.db import connection
from django.utils import timezone

from fangkong.core import crypto

from .. import identity
from ..models import Person, document_index, phone_index

COLUMNS = [
    "created_at", "updated_at", "created_by_id", "updated_by_id", "name", "name_pinyin", "name_initials", "sex",
    "birth_date", "doc_type", "doc_sealed", "doc_index", "doc_masked", "doc_last4", "phone_sealed", "phone_index",
    "phone_masked", "area_id", "household_id", "relation", "address", "is_floating", "is_rental_tenant",
    "vulnerable_group", "lives_alone_elderly", "merged_into_id", "workplace",
]


def person_row(data: dict, household_id, user_id, now) -> tuple:
    number, phone = data["number"], data["phone"]
    pinyin, initials = identity.name_pinyin(data["name"])
    birth = connection.ops.adapt_datefield_value(data["birth_date"]) if data["birth_date"] else None
    return (
        now, now, user_id, user_id, data["name"], pinyin, initials, data["sex"] or "U", birth, data["doc_type"],
        crypto.encrypt(number), document_index(data["doc_type"], number), identity.mask_document(number),
        number[-4:], crypto.encrypt(phone), phone_index(phone), identity.mask_phone(phone), data["grid"],
        household_id, data["relation"] or "", data["address"], bool(data["is_floating"]),
        bool(data["is_rental_tenant"]), data["vulnerable_group"] or "", bool(data["lives_alone_elderly"]), None,
        data.get("workplace") or "",
    )


def insert_people(rows: list[tuple]) -> None:
    """Insert the rows: COPY on PostgreSQL, executemany on SQLite."""
    table = connection.ops.quote_name(Person._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})", rows)


def now_value():
    return connection.ops.adapt_datetimefield_value(timezone.now())
