from fangkong.areas.models import Household
from fangkong.people.models import Person
from fangkong.people.register.bulk import COLUMNS, HOUSEHOLD_COLUMNS


def test_the_raw_insert_names_every_person_column():
    columns = {f.column for f in Person._meta.concrete_fields if not f.primary_key}
    assert set(COLUMNS) == columns, "a Person field was added: add it to people/register/bulk.py"


def test_the_raw_insert_names_every_household_column():
    columns = {f.column for f in Household._meta.concrete_fields if not f.primary_key}
    assert set(HOUSEHOLD_COLUMNS) == columns, "a Household field was added: add it to people/register/bulk.py"
