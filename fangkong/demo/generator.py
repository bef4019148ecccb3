"""The synthetic demo county: areas, people, accounts and tasks from one seed.

Everything is drawn from one ``random.Random(seed)``, so a seed always gives
the same county. People are written with ``bulk_create`` in batches inside
transactions; identities go through ``Person.set_document``/``set_phone``
(sealed, blind-indexed, masked) exactly as the services write them.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from fangkong.accounts.choices import OrganizationKind, Role
from fangkong.accounts.models import Organization, User
from fangkong.accounts.services import create_user
from fangkong.areas.boundaries import demo_boundaries
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Building, Household
from fangkong.core.scope import prefix_for
from fangkong.people.choices import DocumentType, VulnerableGroup
from fangkong.people.identity import mask_name
from fangkong.people.models import KeyGroup, Person
from fangkong.people.services import recount_population
from fangkong.sentinels.demo import generate_sentinels
from fangkong.tasks.choices import TaskKind
from fangkong.tasks.services import create_task, escalate_overdue_tasks

from . import data
from .arrivals import generate_arrivals
from .households import DoorPlan, household_size, members
from .identities import IdentityMaker, local_birthplace, other_birthplace
from .quarantine import generate_quarantine
from .testing import generate_sampling_points
from .tracing import generate_outbreak
from .venues import generate_checkins, generate_venues

BATCH = 5000


def _noop(*args, **kwargs):
    pass


def split(rng, total: int, parts: int) -> list[int]:
    """TOTAL split into PARTS positive integers of roughly equal size."""
    parts = max(1, min(parts, total))
    weights = [rng.uniform(0.7, 1.3) for _ in range(parts)]
    scale = (total - parts) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % parts] += 1
    return counts


@dataclass
class GridInfo:
    code: str
    is_street: bool
    address: str  # county + township + village names


def _area(code, name, level, parent):
    return Area(code=code, name=name, level=level, parent=parent, prefix=prefix_for(code, level))


def _village_names(rng, count: int, is_street: bool) -> list[str]:
    names: list[str] = []
    seen = set()
    while len(names) < count:
        if is_street:
            base = rng.choice(data.COMMUNITY_WORDS)
            name = base + "社区" if base not in seen else base + rng.choice("东西南北新") + "社区"
        else:
            name = rng.choice(data.VILLAGE_FIRST) + rng.choice(data.VILLAGE_SECOND)
            name = name if name.endswith("村") else name + "村"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


@transaction.atomic
def generate_areas(rng, *, townships: int = 15, villages: int = 300, grids: int = 1500) -> list[GridInfo]:
    """The county, its townships, villages and grids; returns the grids."""
    county = _area(data.COUNTY_CODE, data.COUNTY_NAME, AreaLevel.COUNTY, None)
    county.save()
    townships = min(townships, len(data.TOWNSHIPS))
    village_counts = split(rng, max(villages, townships), townships)
    grid_counts = split(rng, max(grids, sum(village_counts)), sum(village_counts))
    areas, infos, village_index = [], [], 0
    for t, (t_name, is_street) in enumerate(data.TOWNSHIPS[:townships], start=1):
        township = _area(f"370923{t:03d}000", t_name, AreaLevel.TOWNSHIP, county)
        areas.append(township)
        for v, v_name in enumerate(_village_names(rng, village_counts[t - 1], is_street), start=1):
            village = _area(f"370923{t:03d}{v:03d}", v_name, AreaLevel.VILLAGE, township)
            areas.append(village)
            for g in range(1, grid_counts[village_index] + 1):
                code = f"{village.code}{g:03d}"
                areas.append(_area(code, f"第{g}网格", AreaLevel.GRID, village))
                infos.append(GridInfo(code, is_street, data.COUNTY_NAME + t_name + v_name))
            village_index += 1
    Area.objects.bulk_create(areas, batch_size=500)
    return infos


class PeopleWriter:
    """Buffers buildings, households, people and key-group links; writes them in batches."""

    def __init__(self, created_by_id=None):
        self.created_by_id = created_by_id
        self.buildings, self.households, self.people, self.links = [], [], [], []
        self.written = 0
        self.through = Person.key_groups.through

    def flush(self):
        if not self.people and not self.households:
            return
        with transaction.atomic():
            Building.objects.bulk_create(self.buildings, batch_size=BATCH)
            for household in self.households:
                household.building_id = household.building.pk if household.building else None
            Household.objects.bulk_create(self.households, batch_size=BATCH)
            for person in self.people:
                person.household_id = person.household.pk
            Person.objects.bulk_create(self.people, batch_size=BATCH)
            self.through.objects.bulk_create(
                [self.through(person_id=p.pk, keygroup_id=k) for p, k in self.links], batch_size=BATCH
            )
        self.written += len(self.people)
        self.buildings, self.households, self.people, self.links = [], [], [], []


def _allocate(rng, grids: list[GridInfo], total: int) -> list[int]:
    weights = [(1.6 if g.is_street else 1.0) * rng.uniform(0.6, 1.4) for g in grids]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    # The first grid is where the demo accounts work (grid1): give it a street's worth of households even
    # in a small county, taking the people from the largest grids.
    floor = min(60, total // 20)
    while counts and counts[0] < floor:
        largest = max(range(1, len(counts)), key=counts.__getitem__, default=0)
        if largest == 0 or counts[largest] <= 1:
            break
        counts[largest] -= 1
        counts[0] += 1
    return counts


def generate_people(rng, grids: list[GridInfo], total: int, *, created_by=None, duplicates: int | None = None,
                    progress=_noop) -> int:
    """TOTAL person rows in households across GRIDS, a few of them suspected duplicates."""
    ids = IdentityMaker(rng)
    if duplicates is None:
        duplicates = min(30, max(1, total // 200))
    real = total - duplicates
    duplicate_at = set(rng.sample(range(real), duplicates)) if duplicates else set()
    key_groups = list(KeyGroup.objects.order_by("sort_order").values_list("pk", flat=True))
    writer = PeopleWriter(created_by.pk if created_by else None)
    progress(0, total)
    index = 0
    village_building_numbers: dict[str, int] = {}
    for grid, count in zip(grids, _allocate(rng, grids, real), strict=True):
        village_code = grid.code[:12]
        first = village_building_numbers.get(village_code, 1)
        doors = DoorPlan(rng, grid.is_street, first)
        building = None
        left = count
        while left > 0:
            size = min(left, household_size(rng))
            left -= size
            started, unit, door = doors.next_door()
            if started is not None:
                name, units = started
                building = Building(area_id=grid.code, name=name, units=units, address=grid.address + name,
                                    created_by_id=writer.created_by_id)
                writer.buildings.append(building)
            address = grid.address + building.name + (f"{unit}单元{door}" if unit else door)
            rental = rng.random() < (0.08 if grid.is_street else 0.02)
            household = Household(area_id=grid.code, building=building, unit=unit, door=door, address=address,
                                  is_rental=rental, created_by_id=writer.created_by_id)
            writer.households.append(household)
            surname = ids.surname()
            for relation, sex, age in members(rng, ids, size):
                same_surname = relation in ("head", "child", "grandchild", "sibling") and rng.random() < 0.9
                person = _person(rng, ids, grid, household, relation, sex, age, size,
                                 surname if same_surname else None, key_groups, writer)
                if index in duplicate_at:
                    writer.people.append(_duplicate(person, writer.created_by_id))
                index += 1
        village_building_numbers[village_code] = doors.number + 1
        if len(writer.people) >= BATCH:
            writer.flush()
            progress(writer.written, total)
    writer.flush()
    progress(writer.written, total)
    return writer.written


def _person(rng, ids, grid, household, relation, sex, age, size, surname, key_groups, writer) -> Person:
    name = ids.name(sex, surname)
    pinyin, initials = ids.pinyin(name)
    birth = ids.birth_date(age)
    tenant = household.is_rental
    floating = rng.random() < (0.7 if tenant else 0.05)
    local = rng.random() < (0.2 if floating else 0.9)
    place = local_birthplace(birth.year) if local else other_birthplace(rng, birth.year)
    alone = size == 1 and age >= 65 and rng.random() < 0.7
    roll = rng.random()
    if alone and roll < 0.25:
        vulnerable = VulnerableGroup.WIDOWED_ALONE
    elif roll < 0.02:
        vulnerable = VulnerableGroup.SUBSISTENCE
    elif roll < 0.035:
        vulnerable = VulnerableGroup.DISABLED
    elif roll < 0.038 and age >= 60:
        vulnerable = VulnerableGroup.EXTREME_POVERTY
    else:
        vulnerable = ""
    person = Person(
        name=name, name_pinyin=pinyin, name_initials=initials, sex=sex, birth_date=birth,
        area_id=grid.code, household=household, relation="tenant" if tenant and relation == "other" else relation,
        address=household.address, is_floating=floating, is_rental_tenant=tenant,
        vulnerable_group=vulnerable, lives_alone_elderly=alone,
        created_by_id=writer.created_by_id, updated_by_id=writer.created_by_id,
    )
    person.set_document(DocumentType.RESIDENT_ID, ids.resident_id(place, birth, sex))
    if age >= 18 or rng.random() >= 0.05:
        person.set_phone(ids.phone())
    writer.people.append(person)
    if key_groups and 18 <= age <= 60 and rng.random() < 0.05:
        writer.links.append((person, rng.choice(key_groups)))
    return person


def _duplicate(person: Person, created_by_id) -> Person:
    """A second record of PERSON typed in without a document: the merge tool should find it."""
    return Person(
        name=person.name, name_pinyin=person.name_pinyin, name_initials=person.name_initials, sex=person.sex,
        birth_date=person.birth_date, doc_type=DocumentType.NONE, area_id=person.area_id,
        household=person.household, relation=person.relation, address=person.address,
        created_by_id=created_by_id, updated_by_id=created_by_id,
    )


# accounts ----------------------------------------------------------------
# (username, role, where, organisation): where is county / township1 / township2
# / village1 / village2 / grid1 / grid2.
ACCOUNTS = [
    ("admin", Role.HQ_ADMIN, "county", "指挥部办公室"),
    ("hq", Role.HQ_STAFF, "county", "指挥部办公室"),
    ("cdc", Role.DEPT_OFFICER, "county", "疾控中心"),
    ("town1", Role.TOWNSHIP_OFFICER, "township1", "township"),
    ("town2", Role.TOWNSHIP_OFFICER, "township2", "township"),
    ("village1", Role.VILLAGE_OFFICER, "village1", None),
    ("grid1", Role.GRID_WORKER, "grid1", None),
    ("grid2", Role.GRID_WORKER, "grid2", None),
    ("epi", Role.EPIDEMIOLOGIST, "county", "疾控中心"),
    ("clinic", Role.SENTINEL_REPORTER, "village2", "clinic"),
    ("lab", Role.LAB_OPERATOR, "county", "县第三方医学检验实验室"),
    ("site", Role.SITE_STAFF, "county", "县集中隔离医学观察点"),
    ("checkpoint", Role.CHECKPOINT_OFFICER, "township1", "township"),
    ("venue", Role.VENUE_MANAGER, "grid1", None),
    ("supervisor", Role.SUPERVISOR, "county", "指挥部办公室"),
    # The rest of grid1's 五包一 care teams, with village1 (cadre) and grid1 (grid worker).
    ("doctor", Role.COMMUNITY_DOCTOR, "village1", None),
    ("police", Role.POLICE_OFFICER, "village1", None),
    ("volunteer", Role.VOLUNTEER, "grid1", None),
    ("auditor", Role.AUDITOR, "county", "指挥部办公室"),
]


def demo_password(seed: int) -> str:
    """One password for every demo account: 10+ characters of four classes."""
    return f"Fangkong-{seed}!"


def demo_places() -> dict[str, Area]:
    county = Area.objects.get(code=data.COUNTY_CODE)
    townships = list(Area.objects.filter(parent=county).order_by("code")[:2])
    t1, t2 = townships[0], townships[-1]
    villages1 = list(Area.objects.filter(parent=t1).order_by("code")[:2])
    village2 = Area.objects.filter(parent=t2).order_by("code").first()
    return {
        "county": county, "township1": t1, "township2": t2, "village1": villages1[0],
        "village2": villages1[-1],
        "grid1": Area.objects.filter(parent=villages1[0]).order_by("code").first(),
        "grid2": Area.objects.filter(parent=village2).order_by("code").first(),
    }


@transaction.atomic
def generate_accounts(rng, seed: int) -> list[dict]:
    """Organisations, and one demo account per role; returns the accounts as dicts."""
    places = demo_places()
    county = places["county"]
    orgs = {name: Organization.objects.create(name=name, kind=kind, area=county)
            for name, kind in data.COUNTY_ORGANIZATIONS}
    for township in Area.objects.filter(parent=county).order_by("code"):
        orgs[township.code] = Organization.objects.create(
            name=township.name, kind=OrganizationKind.TOWNSHIP, area=township)
    clinic = Organization.objects.create(name=places["village2"].name.removesuffix("社区").removesuffix("村")
                                         + "卫生室", kind=OrganizationKind.MEDICAL, area=places["village2"])
    ids = IdentityMaker(rng)
    password = demo_password(seed)
    accounts = []
    for username, role, where, org_name in ACCOUNTS:
        area = places[where]
        if org_name == "township":
            org = orgs[area.code]
        elif org_name == "clinic":
            org = clinic
        else:
            org = orgs.get(org_name)
        create_user(
            username=username, password=password, role=role, area=area, organization=org,
            display_name=ids.name(rng.choice("MF")), is_staff=(username == "admin"),
        )
        accounts.append({
            "username": username, "password": password, "role": str(role), "role_label": str(role.label),
            "area_code": area.code, "area_name": area.full_name if area.level != AreaLevel.COUNTY else area.name,
        })
    return accounts


# tasks -------------------------------------------------------------------
def _task_subjects(rng, queryset, count: int) -> list[Person]:
    ids = list(queryset.order_by("id").values_list("id", flat=True)[:20000])
    chosen = sorted(rng.sample(ids, min(count, len(ids))))
    return list(
        Person.objects.filter(id__in=chosen)
        .only("id", "name", "area_id", "lives_alone_elderly", "is_floating").order_by("id")
    )


def generate_tasks(rng, *, count: int = 300, now=None) -> int:
    """Visits to elderly people living alone and checks on floating people, for grid workers."""
    now = now or timezone.now()
    admin = User.objects.filter(role=Role.HQ_ADMIN).order_by("id").first()
    current = Person.objects.current()
    late = set()  # tasks that must already be overdue
    subjects = _task_subjects(rng, current.filter(lives_alone_elderly=True), count // 2)
    subjects += _task_subjects(rng, current.filter(is_floating=True), count - len(subjects))
    # The grid workers' own grids get a handful each, two already late.
    for user in User.objects.filter(role=Role.GRID_WORKER).order_by("username"):
        own = _task_subjects(rng, current.filter(area_id=user.area_id), 6)
        late.update(p.pk for p in own[:2])
        subjects += own
    rng.shuffle(subjects)
    areas = {a.code: a for a in Area.objects.filter(level=AreaLevel.GRID, code__in={p.area_id for p in subjects})}
    made = 0
    seen = set()
    for person in subjects:
        if person.pk in seen:
            continue
        seen.add(person.pk)
        masked = mask_name(person.name)
        if person.lives_alone_elderly:
            kind, title = TaskKind.VISIT, f"走访独居老人 {masked}"
            description = "入户走访，了解健康状况和生活需求，登记联系方式。"
        elif person.is_floating:
            kind, title = TaskKind.VERIFY_PERSON, f"核实流动人口信息 {masked}"
            description = "核实现住址、联系电话和来源地，更新人员登记。"
        else:
            kind, title = TaskKind.VERIFY_PERSON, f"核实人员信息 {masked}"
            description = "核实现住址和联系电话，更新人员登记。"
        hours = rng.uniform(-40, -1) if person.pk in late else rng.uniform(-48, 72)
        with transaction.atomic():
            create_task(kind=kind, title=title, description=description, area=areas[person.area_id],
                        role=Role.GRID_WORKER, deadline=now + timedelta(hours=hours), subject=person,
                        created_by=admin)
        made += 1
    escalate_overdue_tasks(now=now)
    return made


def analyze() -> None:
    """Give the query planner statistics after a bulk load.

    On PostgreSQL also VACUUM (outside a transaction only), which sets the
    visibility map so that counts can be index-only scans.
    """
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")


def generate_county(*, people: int = 100_000, seed: int = 2026, townships: int = 15, villages: int = 300,
                    grids: int = 1500, tasks: int = 300, checkin_days: int = 7, progress=_noop) -> list[dict]:
    """The whole demo county; returns the demo accounts."""
    rng = random.Random(seed)
    progress("areas", 0, 1)
    grid_infos = generate_areas(rng, townships=townships, villages=villages, grids=grids)
    demo_boundaries(Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code"))
    progress("accounts", 0, 1)
    accounts = generate_accounts(rng, seed)
    admin = User.objects.get(username="admin")
    generate_people(rng, grid_infos, people, created_by=admin,
                    progress=lambda done, total: progress("people", done, total))
    progress("population", 0, 1)
    recount_population()
    progress("tasks", 0, 1)
    generate_tasks(rng, count=tasks)
    progress("arrivals", 0, 1)
    generate_arrivals(rng, count=max(20, min(200, people // 500)))
    progress("venues", 0, 1)
    venues = generate_venues(rng, people=people)
    generate_checkins(rng, venues, days=checkin_days, progress=lambda done, total: progress("checkins", done, total))
    generate_sampling_points(rng)
    if checkin_days >= 5:
        progress("outbreak", 0, 1)
        generate_outbreak(rng)
    progress("quarantine", 0, 1)
    generate_quarantine(rng)
    progress("sentinels", 0, 1)
    generate_sentinels(rng, timezone.now())
    progress("analyze", 0, 1)
    analyze()
    return accounts
