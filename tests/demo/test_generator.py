"""The demo county generator: valid, unique, consistent identities and every role."""

import json
import random
from datetime import date

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from stdnum.cn import ric

from fangkong.accounts.choices import Role
from fangkong.accounts.models import User
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Household
from fangkong.demo import data
from fangkong.demo.generator import demo_password, generate_county
from fangkong.demo.identities import IdentityMaker, local_birthplace, other_birthplace
from fangkong.people import identity
from fangkong.people.choices import DocumentType
from fangkong.people.models import Person
from fangkong.people.services import duplicate_candidates
from fangkong.tasks.models import Task

SMALL = {"townships": 3, "villages": 6, "grids": 12, "tasks": 20}


def test_birthplaces_valid_for_every_birth_year():
    rng = random.Random(1)
    for year in range(1925, 2026):
        for place in (local_birthplace(year), other_birthplace(rng, year)):
            body = f"{place}{year}0615{12:02d}1"
            assert ric.is_valid(body + ric.calc_check_digit(body + "0")), (place, year)


def test_identity_maker_is_deterministic_and_unique():
    a, b = IdentityMaker(random.Random(7)), IdentityMaker(random.Random(7))
    numbers = [a.resident_id("370923", date(1990, 1, 1), "M") for _ in range(300)]
    assert numbers == [b.resident_id("370923", date(1990, 1, 1), "M") for _ in range(300)]
    assert len(set(numbers)) == 300
    assert all(int(n[16]) % 2 == 1 for n in numbers)
    assert len({a.phone() for _ in range(500)}) == 500
    assert a.pinyin("张伟") == identity.name_pinyin("张伟")
    assert a.pinyin("欧阳明") == identity.name_pinyin("欧阳明")


@pytest.fixture
def county(db):
    return generate_county(people=600, seed=2026, **SMALL)


@pytest.mark.django_db
def test_areas_and_population(county):
    assert Area.objects.filter(level=AreaLevel.COUNTY).get().code == data.COUNTY_CODE
    assert Area.objects.filter(level=AreaLevel.TOWNSHIP).count() == 3
    assert Area.objects.filter(level=AreaLevel.VILLAGE).count() == 6
    assert Area.objects.filter(level=AreaLevel.GRID).count() == 12
    for area in Area.objects.all():
        assert area.prefix == area.code[: {"county": 6, "township": 9, "village": 12}.get(area.level, 20)]
        if area.parent_id:
            assert area.code.startswith(area.parent.prefix)
    residents = Person.objects.filter(declarations=None)
    assert residents.count() == 600
    # Returnees who declared their arrival are registered too, and counted.
    assert Area.objects.get(code=data.COUNTY_CODE).population == Person.objects.count()
    assert residents.filter(household=None).count() == 0
    assert 1.8 < residents.count() / Household.objects.count() < 3.5


@pytest.mark.django_db
def test_resident_ids_valid_unique_and_consistent(county):
    people = list(Person.objects.filter(doc_type=DocumentType.RESIDENT_ID, declarations=None))
    assert len(people) > 590
    numbers = set()
    for person in people:
        number = person.document_number
        assert ric.is_valid(number), number
        birth, sex = identity.resident_id_facts(number)
        assert (birth, sex) == (person.birth_date, person.sex)
        assert person.doc_last4 == number[-4:]
        numbers.add(number)
        assert person.address == person.household.address
        assert person.area_id == person.household.area_id
    assert len(numbers) == len(people)
    phones = [p.phone for p in people if p.phone_index]
    assert len(phones) == len(set(phones)) and all(identity.PHONE_RE.fullmatch(p) for p in phones)
    local = sum(1 for n in numbers if n[:6] in ("370923", "372626"))
    assert 0.7 < local / len(numbers) < 0.95


@pytest.mark.django_db
def test_duplicates_are_found_by_the_merge_tool(county):
    groups = duplicate_candidates(Person.objects.all())
    assert len(groups) >= 3
    assert all(any(p.doc_type == DocumentType.NONE for p in group) for group in groups)


@pytest.mark.django_db
def test_accounts_for_every_role_and_tasks(county):
    assert {a["role"] for a in county} == set(Role.values)
    assert {u.role for u in User.objects.all()} == set(Role.values)
    for account in county:
        user = authenticate(username=account["username"], password=demo_password(2026))
        assert user is not None and user.area_id == account["area_code"]
    assert User.objects.get(username="admin").is_staff
    grid1 = User.objects.get(username="grid1")
    assert grid1.area.level == AreaLevel.GRID
    assert Task.objects.filter(area=grid1.area).exists()
    assert Task.objects.filter(escalation_level__gt=0).exists()
    assert not Task.objects.filter(title__in=Person.objects.values("name")).exists()


@pytest.mark.django_db
def test_command_writes_accounts_and_does_not_regenerate(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    args = ["--no-serve", "--people", "300", "--townships", "2", "--villages", "4", "--grids", "6"]
    call_command("demo", *args)
    accounts = json.loads((tmp_path / "demo-accounts.json").read_text(encoding="utf-8"))
    assert {a["role"] for a in accounts} == set(Role.values)
    assert set(accounts[0]) == {"username", "password", "role", "role_label", "area_code", "area_name"}
    call_command("demo", *args)
    assert Person.objects.filter(declarations=None).count() == 300


@pytest.mark.django_db
def test_arrivals_with_risk_areas_checkpoints_and_every_kind_of_measure(county):
    from fangkong.declarations.models import Checkpoint, Declaration
    from fangkong.policy.models import ControlOrder, RiskArea

    assert RiskArea.objects.filter(effective_to=None).exists()
    assert RiskArea.objects.exclude(effective_to=None).exists()
    assert Checkpoint.objects.filter(area__code=User.objects.get(username="checkpoint").area_id).exists()
    measures = set(Declaration.objects.values_list("measure", flat=True))
    assert {"arrival_tests", "centralized"} <= measures
    from_declarations = ControlOrder.objects.filter(subject_type__model="declaration")
    assert from_declarations.count() == Declaration.objects.exclude(measure="arrival_tests").count()
    grid1 = User.objects.get(username="grid1")
    assert Task.objects.filter(kind="arrival_followup", area=grid1.area).exists()


@pytest.mark.django_db
def test_venues_of_every_type_and_checkins_with_daily_rhythms(county):
    from django.utils import timezone

    from fangkong.venues.models import CheckIn, Venue, VenueType

    assert Venue.objects.values("type").distinct().count() >= VenueType.objects.count() - 2
    assert Venue.objects.filter(managers__username="venue").exists()
    # Supervised as registration would have it: a county department by type, or none (the township inspects).
    supervisors = set(Venue.objects.values_list("type__code", "supervisor__name", "supervisor__area__level"))
    assert ("farmers_market", "市场监管局", "county") in supervisors
    assert {(name, level) for code, name, level in supervisors if code == "compound_gate"} == {(None, None)}
    assert {level for _code, _name, level in supervisors} <= {"county", None}
    hours = [timezone.localtime(t).hour for t in CheckIn.objects.values_list("scanned_at", flat=True)]
    assert len(hours) > 600 * 7  # about three a day for a week
    assert not [h for h in hours if h < 6]  # nobody scans in the small hours
    meals = sum(1 for h in hours if h in (11, 12, 17, 18, 19))
    assert meals > len(hours) / 3
    assert not CheckIn.objects.filter(scanned_at__gt=timezone.now()).exists()


@pytest.mark.django_db
def test_a_demo_made_before_dawn_has_no_checkins_later_that_day(county):
    from datetime import datetime

    from django.utils import timezone

    from fangkong.demo.venues import generate_checkins
    from fangkong.venues.models import CheckIn, Venue

    early = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.get_current_timezone())  # a Wednesday, before school
    CheckIn.objects.all().delete()
    generate_checkins(random.Random(7), list(Venue.objects.select_related("type")), days=2, now=early)
    assert CheckIn.objects.filter(scanned_at__lt=early).count() > 600  # the day before
    assert not CheckIn.objects.filter(scanned_at__gt=early).exists()


@pytest.mark.django_db
def test_outbreak_two_linked_cases_dispatched_contacts_and_zones(county):
    from fangkong.tasks.models import Task
    from fangkong.tracing.models import Case, Contact, ControlZone

    cases = list(Case.objects.order_by("created_at"))
    assert len(cases) == 2
    first, second = cases
    assert second.infected_by == first and first.cluster_id == second.cluster_id is not None
    assert Contact.objects.filter(case=first, status="dispatched").exists()
    assert not Contact.objects.filter(case=first, kind="close").exclude(status="dispatched").exclude(
        is_case=True).exists()
    assert Task.objects.filter(kind="contact_control").exists()
    assert ControlZone.objects.filter(status="published").count() == 1
    assert ControlZone.objects.filter(status="proposed").exists()


@pytest.mark.django_db
def test_sampling_points_in_every_township(county):
    from fangkong.areas.models import Area
    from fangkong.testing.models import SamplingPoint

    townships = Area.objects.filter(level="township")
    assert {p.area_id[:9] for p in SamplingPoint.objects.all()} == {t.code[:9] for t in townships}


@pytest.mark.django_db
def test_quarantine_sites_stays_transfers_and_care_teams(county):
    from fangkong.quarantine.models import CareMember, HealthCheck, QuarantineSite, Stay, Transfer

    assert QuarantineSite.objects.count() == 2
    assert Stay.objects.filter(checked_out_at__isnull=True).exists()
    assert Transfer.objects.filter(status="acknowledged").exists()
    teams = CareMember.objects.values("order").distinct().count()
    assert teams and CareMember.objects.filter(user__username="volunteer").exists()
    assert HealthCheck.objects.exists()
