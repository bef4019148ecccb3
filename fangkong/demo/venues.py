"""Demo venues (about 5 per 1,000 people, every type) and days of check-ins with daily rhythms.

People scan about three times a day: the compound gate morning and evening,
markets in the morning, restaurants at meal times, school on weekdays for
pupils, shops through the day. Rows go in with one executemany per chunk.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from fangkong.accounts.models import User
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.people.models import Person
from fangkong.venues.compliance import roll_up_recent
from fangkong.venues.models import CheckIn, Venue, VenueType
from fangkong.venues.partitions import ensure_partitions
from fangkong.venues.services import default_supervisor

# type code -> (weight among venues, name suffixes)
MIX = {
    "supermarket": (14, ["便民超市", "生活超市", "购物广场"]), "restaurant": (18, ["家常菜馆", "面馆", "饺子馆", "大酒店"]),
    "farmers_market": (4, ["农贸市场"]), "pharmacy": (6, ["大药房", "药店"]), "clinic": (6, ["卫生室", "诊所"]),
    "compound_gate": (14, ["小区北门", "小区南门"]), "school": (4, ["小学", "中学"]), "kindergarten": (3, ["幼儿园"]),
    "hospital": (1, ["人民医院"]), "hotel": (3, ["宾馆", "快捷酒店"]), "station": (1, ["汽车站"]),
    "express": (4, ["快递驿站"]), "office": (4, ["便民服务中心"]), "factory": (4, ["机械厂", "食品厂"]),
    "construction_site": (2, ["建筑工地"]), "bath_beauty": (3, ["美发店", "浴池"]), "entertainment": (3, ["KTV", "网吧"]),
    "bank": (2, ["农商银行网点"]), "cinema": (1, ["影城"]), "elderly_care": (1, ["敬老院"]), "religious": (1, ["寺"]),
    "scenic_spot": (1, ["景区"]),
}
# (type code, hour windows) of an errand, and how often each is chosen.
ROUTINE = [
    ("compound_gate", [(7.0, 8.5), (17.5, 19.5)], 30),
    ("farmers_market", [(6.0, 9.5)], 8),
    ("restaurant", [(11.5, 13.0), (17.5, 20.0)], 6),
    ("supermarket", [(9.0, 21.0), (18.0, 20.0)], 22),
    ("pharmacy", [(8.0, 20.0)], 5),
    ("clinic", [(8.0, 17.0)], 3),
    ("hospital", [(8.0, 17.0)], 2),
    ("express", [(10.0, 19.0)], 4),
    ("bath_beauty", [(10.0, 21.0)], 2),
    ("entertainment", [(19.0, 23.0)], 2),
    ("cinema", [(18.5, 22.0)], 1),
    ("bank", [(9.0, 16.5)], 2),
    ("station", [(6.5, 19.0)], 1),
    ("hotel", [(18.0, 23.0)], 1),
    ("scenic_spot", [(9.0, 17.0)], 1),
    ("religious", [(7.0, 11.0)], 1),
    ("elderly_care", [(9.0, 17.0)], 1),
]
ROUTINE_WEIGHTS = [weight for _code, _windows, weight in ROUTINE]
# Where working-age adults go on weekdays, and children to kindergarten or school.
WORKPLACES = ["factory", "office", "construction_site"]


def generate_venues(rng, *, people: int) -> list[Venue]:
    count = max(len(MIX), people * 5 // 1000)
    types = {t.code: t for t in VenueType.objects.all()}
    # The supervising department registration would pick (a compound gate has none: its township inspects).
    supervisors = {code: default_supervisor(venue_type) for code, venue_type in types.items()}
    grids = list(Area.objects.filter(level=AreaLevel.GRID).select_related("parent").order_by("code"))
    codes = [code for code in MIX if code in types]
    weights = [MIX[code][0] for code in codes]
    venues = []
    centres: dict[str, tuple[float, float]] = {}  # township -> a point around the county seat (东平县)
    for index in range(count):
        code = codes[index] if index < len(codes) else rng.choices(codes, weights)[0]
        grid = grids[0] if index == 0 else rng.choice(grids)
        village = grid.parent.name if grid.parent else grid.name
        township = grid.code[:9]
        if township not in centres:
            centres[township] = (116.47 + rng.uniform(-0.22, 0.22), 35.94 + rng.uniform(-0.16, 0.16))
        lon, lat = centres[township]
        venues.append(Venue(
            name=f"{village}{rng.choice(MIX[code][1])}" + (f"{index}号店" if code in ("supermarket", "restaurant") else ""),
            type=types[code], area=grid, address=f"{village}{rng.randrange(1, 200)}号",
            manager_name=rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(["经理", "师傅", "老板"]),
            manager_phone=f"13{rng.randrange(100000000, 999999999)}",
            supervisor=supervisors[code], expected_daily_visitors=rng.choice([50, 80, 120, 200, 300, 500]),
            longitude=Decimal(f"{lon + rng.uniform(-0.03, 0.03):.6f}"),
            latitude=Decimal(f"{lat + rng.uniform(-0.02, 0.02):.6f}"),
        ))
    venues = Venue.objects.bulk_create(venues, batch_size=1000)
    # Registered two months ago (the compliance page ignores venues too new to have scanned).
    registered = timezone.now() - timedelta(days=60)
    Venue.objects.filter(pk__in=[v.pk for v in venues]).update(created_at=registered, code_issued_at=registered)
    manager = User.objects.filter(username="venue").first()
    if manager is not None:
        venues[0].managers.add(manager)
    return venues


def generate_checkins(rng, venues: list[Venue], *, days: int, per_person: float = 3.0, now=None,
                      progress=lambda done, total: None) -> int:
    """DAYS of check-ins up to now for every current person, at venues in their own township first."""
    if days <= 0 or not venues:
        return 0
    now = now or timezone.now()
    today = timezone.localdate(now)
    by_type_township: dict[tuple[str, str], list[int]] = {}
    by_type: dict[str, list[int]] = {}
    for venue in venues:
        code = venue.type.code
        by_type_township.setdefault((code, venue.area_id[:9]), []).append(venue.pk)
        by_type.setdefault(code, []).append(venue.pk)

    def near(code: str, township: str) -> list[int]:
        return by_type_township.get((code, township)) or by_type.get(code) or []
    ensure_partitions(today - timedelta(days=days), today + timedelta(days=7))  # PostgreSQL only
    people = list(Person.objects.current().values_list("id", "area_id", "birth_date"))
    # One venue stopped scanning four days ago: the compliance page has something to flag.
    silent = venues[-1].pk
    table = CheckIn._meta.db_table
    sql = (f"INSERT INTO {table} (person_id, venue_id, scanned_at, status_shown, source, idem_key) "
           "VALUES (%s, %s, %s, 'green', 'scan', '')")
    total = days * len(people)
    done = 0
    written = 0
    tz = timezone.get_current_timezone()
    for offset in range(days, 0, -1):
        day = today - timedelta(days=offset - 1)
        midnight = datetime.combine(day, time.min, tzinfo=tz)
        weekday = day.weekday() < 5
        rows = []
        for person_id, area_id, birth in people:
            township = area_id[:9]
            age = (day.year - birth.year) if birth else 40
            if weekday:
                daily = ("kindergarten" if 3 <= age < 6 else "school" if 6 <= age <= 18
                         else rng.choice(WORKPLACES) if 19 <= age <= 60 and rng.random() < 0.5 else None)
                if daily and near(daily, township):
                    at = midnight + timedelta(hours=7.3 + rng.random() * 0.9)
                    if at <= now:  # a demo made before 8 a.m. has no school or work scans yet today
                        rows.append((person_id, rng.choice(near(daily, township)), at))
            scans = min(6, int(rng.expovariate(1 / per_person)) + (1 if rng.random() < 0.5 else 0))
            if age < 6 or age > 80:
                scans //= 2
            for _ in range(scans):
                code, windows, _weight = rng.choices(ROUTINE, ROUTINE_WEIGHTS)[0]
                pool = near(code, township)
                if not pool:
                    continue
                start, end = rng.choice(windows)
                at = midnight + timedelta(hours=start + rng.random() * (end - start))
                if at > now:
                    continue
                rows.append((person_id, rng.choice(pool), at))
            done += 1
        if offset <= 4:
            rows = [row for row in rows if row[1] != silent]
        rows.sort(key=lambda row: row[2])
        adapt = connection.ops.adapt_datetimefield_value  # aware -> what the backend stores (UTC on SQLite)
        rows = [(person_id, venue_id, adapt(at)) for person_id, venue_id, at in rows]
        with transaction.atomic(), connection.cursor() as cursor:
            for chunk in range(0, len(rows), 20_000):
                cursor.executemany(sql, rows[chunk:chunk + 20_000])
        written += len(rows)
        progress(done, total)
    roll_up_recent(days)  # what the nightly job would have done
    return written
