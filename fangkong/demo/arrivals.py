"""Demo arrivals: a risk-area list in force, checkpoints, and declarations in every state.

Declarations go through the real service, so each carries the measure the
active pack gives, a linked person, a control order and its follow-up tasks.
"""

from datetime import timedelta

from django.utils import timezone

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.declarations import services as declarations
from fangkong.declarations.choices import Source
from fangkong.declarations.models import Checkpoint
from fangkong.policy.models import RiskArea
from fangkong.policy.services import clean_risk_area

from .identities import IdentityMaker

# (place code, township, level, started days ago, lifted days ago or None)
RISK_AREAS = [
    ("110105", "", "medium", 6, None),          # 北京市 朝阳区
    ("310115", "", "high", 4, None),            # 上海市 浦东新区
    ("440305", "粤海街道", "high", 3, None),     # 深圳市 南山区
    ("370102", "", "medium", 5, None),          # 济南市 历下区
    ("410105", "", "high", 30, 18),             # 郑州市 金水区, lifted
    ("650102", "", "controlled", 10, None),     # 乌鲁木齐市 天山区
]
ORIGINS = ["110105", "310115", "440305", "370102", "410105", "370102", "320102", "330106", "420106", "510104",
           "370202", "370602", "370902", "370982", "130102"]
CHECKPOINTS = ["高速收费站卡点", "国道检查站", "汽车站卡点"]


def generate_arrivals(rng, *, count: int = 40, now=None) -> int:
    now = now or timezone.now()
    today = timezone.localdate(now)
    for code, township, level, started, lifted in RISK_AREAS:
        cleaned = clean_risk_area({
            "place_code": code, "township": township, "level": level,
            "effective_from": today - timedelta(days=started),
            "effective_to": today - timedelta(days=lifted) if lifted is not None else None,
            "note": "演示数据",
        })
        RiskArea.objects.create(**cleaned)
    townships = list(Area.objects.filter(level=AreaLevel.TOWNSHIP).order_by("code"))
    for township, name in zip(townships, CHECKPOINTS, strict=False):
        Checkpoint.objects.create(name=f"{township.name}{name}", area=township, location=f"{township.name}入口")
    grids = list(Area.objects.filter(level=AreaLevel.GRID).order_by("code"))
    # The demo users' own grids get some, so every role finds work.
    first_village = Area.objects.filter(level=AreaLevel.VILLAGE).order_by("code").first()
    own = [g for g in grids if first_village and g.parent_id == first_village.code][:1]
    ids = IdentityMaker(rng)
    made = 0
    for index in range(count):
        grid = own[0] if own and index % 4 == 0 else rng.choice(grids)
        origin = ORIGINS[index] if index < 2 else rng.choice(ORIGINS)  # a medium- and a high-risk one at least
        arrival_day = today + timedelta(days=rng.choice([0, 0, 1, 1, 2, 3]))
        arrival = timezone.make_aware(timezone.datetime(arrival_day.year, arrival_day.month, arrival_day.day,
                                                        rng.randrange(8, 22), rng.choice([0, 15, 30, 45])))
        sex = rng.choice("MF")
        age = ids.age(18, 70)
        birthplace = "370923" if rng.random() < 0.7 else origin
        stops = [{"place_code": origin, "township": "",
                  "date_from": (arrival_day - timedelta(days=rng.randrange(3, 12))).isoformat(),
                  "date_to": arrival_day.isoformat()}]
        transport = rng.choice(["train", "car", "bus", "flight"])
        data = {
            "name": ids.name(sex), "document_number": ids.resident_id(birthplace, ids.birth_date(age), sex),
            "phone": ids.phone(), "origin_code": origin, "origin_detail": "",
            "stops": stops, "transport": transport,
            "transport_number": rng.choice(["G1234", "D6021", "K51", "MU5321"]) if transport in ("train", "flight") else "",
            "plate": rng.choice(["鲁J", "京A", "沪B"]) + f"{rng.randrange(10000, 99999)}" if transport == "car" else "",
            "planned_arrival": arrival, "area": grid.code, "address": f"{grid.name}{rng.randrange(1, 30)}号",
            "companions": [], "symptoms": [], "vaccine_doses": rng.choice([0, 2, 3, 3, 3]),
        }
        declarations.submit_declaration(data, source=Source.PUBLIC, now=now)
        made += 1
    return made
