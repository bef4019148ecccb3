"""Arrival declarations (issue 4): public submit latency and risk-area matching.

1. Tops the declarations table up to --declarations rows (bulk insert of
   synthetic, already-decided declarations spread over the county's grids).
2. Loads --risk-areas risk areas (random current counties, cities and
   provinces of the national list, all levels, effective windows spread
   over the last 30 days) on top of those already there.
3. Times `policy.services.decide_arrival` (one indexed query + the pure
   matcher) on random 14-day travel histories of 1–5 stops.
4. Times `POST /api/v1/public/declarations` through django.test.Client
   (the whole request: validation, matching, person link or creation,
   control order, tasks, audit), half of them by people already in the
   register, rate limits off.

    FANGKONG_VAR_DIR=/tmp/fk1m .venv/bin/fangkong demo --no-serve --people 1000000
    FANGKONG_VAR_DIR=/tmp/fk1m .venv/bin/python benchmarks/declarations.py

Targets: submit p95 < 150 ms at 1M people and 100k declarations; matching a
14-day history against 5,000 risk areas < 5 ms. Note: the script leaves the
declarations and risk areas it adds in the database.
"""

import argparse
import json
import logging
import random
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Timer, ensure_data, machine_info, now_iso, print_json, setup_django, summarize  # noqa: E402


def top_up_declarations(target: int, rng) -> int:
    from django.utils import timezone

    from fangkong.areas.models import Area
    from fangkong.core import crypto
    from fangkong.declarations.models import Declaration
    from fangkong.people.models import document_index, phone_index
    from fangkong.policy.models import PolicyPack

    have = Declaration.objects.count()
    if have >= target:
        return have
    grids = list(Area.objects.filter(level="grid").values_list("code", flat=True))
    pack = PolicyPack.objects.get(is_active=True)
    sealed_doc = crypto.encrypt("110101199001011234")
    sealed_phone = crypto.encrypt("13900000000")
    now = timezone.now()
    batch = []
    for n in range(have, target):
        number = f"B{n:017d}"
        batch.append(Declaration(
            receipt=f"Z{n:09d}", status="arrived", name="测试", doc_sealed=sealed_doc,
            doc_index=document_index("resident_id", number), doc_masked="1101**********1234",
            phone_sealed=sealed_phone, phone_index=phone_index(f"139{n:08d}"), phone_masked="139****0000",
            phone_last4=f"{n % 10000:04d}", origin_code="110101", origin_name="北京市 东城区", transport="train",
            planned_arrival=now - timedelta(days=rng.randrange(1, 60)), area_id=rng.choice(grids),
            address="测试地址", category="low_risk_arrival", measure="arrival_tests", pack=pack,
        ))
        if len(batch) == 5000:
            Declaration.objects.bulk_create(batch)
            batch = []
    Declaration.objects.bulk_create(batch)
    return Declaration.objects.count()


def load_risk_areas(count: int, rng) -> int:
    from django.utils import timezone

    from fangkong.policy import places
    from fangkong.policy.models import RiskArea
    from fangkong.policy.services import clean_risk_area, refresh_risk_statistics

    have = RiskArea.objects.count()
    if have >= count:
        return have
    current = [p for p in places._places().values() if p.current]
    counties = [p for p in current if p.level == "county"]
    others = [p for p in current if p.level != "county"]
    today = timezone.localdate()
    rows = []
    for _ in range(count - have):
        place = rng.choice(counties) if rng.random() < 0.9 else rng.choice(others)
        township = f"第{rng.randrange(1, 20)}街道" if place.level == "county" and rng.random() < 0.5 else ""
        start = today - timedelta(days=rng.randrange(0, 30))
        end = start + timedelta(days=rng.randrange(3, 20)) if rng.random() < 0.5 else None
        rows.append(RiskArea(**clean_risk_area({
            "place_code": place.code, "township": township,
            "level": rng.choice(["high", "medium", "low", "sealed", "controlled"]),
            "effective_from": start, "effective_to": end})))
    RiskArea.objects.bulk_create(rows, batch_size=2000)
    refresh_risk_statistics()  # as the import does
    return RiskArea.objects.count()


def random_history(rng, counties, arrival):
    from fangkong.policy.matching import Stop

    stops = []
    day = arrival - timedelta(days=14)
    for _ in range(rng.randrange(1, 6)):
        length = rng.randrange(1, 5)
        end = min(day + timedelta(days=length), arrival)
        stops.append(Stop(rng.choice(counties).code, day, end, rng.choice(["", "第3街道"])))
        day = end
    return stops


def time_matching(n: int, rng) -> dict:
    from django.utils import timezone

    from fangkong.policy import matching, places
    from fangkong.policy.services import active_pack, candidate_risk_areas, decide_arrival

    counties = [p for p in places._places().values() if p.current and p.level == "county"]
    pack = active_pack()
    pack.rules.all()  # noqa: B018 (warm the relation)
    arrival = timezone.localdate()
    decide, query, pure = [], [], []
    for _ in range(n):
        stops = random_history(rng, counties, arrival)
        with Timer() as t:
            decide_arrival(stops, arrival, pack)
        decide.append(t.ms)
        with Timer() as t:
            areas = candidate_risk_areas(stops)
        query.append(t.ms)
        with Timer() as t:
            matching.match(stops, areas)
        pure.append(t.ms)
    return {"decide_arrival": summarize(decide), "candidate_query": summarize(query), "pure_match": summarize(pure)}


def time_submit(n: int, rng) -> dict:
    from django.conf import settings
    from django.db.models import Max
    from django.test import Client
    from django.utils import timezone

    from fangkong.areas.models import Area
    from fangkong.demo.identities import IdentityMaker
    from fangkong.people.models import Person

    settings.FANGKONG_DECLARE_RATE_PER_MINUTE = 0
    settings.FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR = 0
    villages = list(Area.objects.filter(level="grid").values_list("code", flat=True))
    top = Person.objects.aggregate(m=Max("id"))["m"]
    ids = IdentityMaker(rng)
    client = Client()
    tomorrow = timezone.localdate() + timedelta(days=1)
    new_ms, existing_ms, statuses = [], [], {}
    for index in range(n):
        existing = None
        if index % 2:
            while existing is None:
                existing = (Person.objects.filter(id__gte=rng.randrange(1, top)).exclude(doc_index="")
                            .order_by("id").first())
        number = existing.document_number if existing else ids.resident_id("370923", ids.birth_date(30), "M")
        body = {
            "name": existing.name if existing else ids.name("M"), "document_number": number, "phone": ids.phone(),
            "origin_code": rng.choice(["110105", "310115", "370102", "440305", "320102"]),
            "stops": [{"place_code": "110105", "date_from": (tomorrow - timedelta(days=6)).isoformat(),
                       "date_to": (tomorrow - timedelta(days=2)).isoformat()}],
            "transport": "train", "transport_number": "G123", "planned_arrival": f"{tomorrow}T10:00:00",
            "area": rng.choice(villages), "address": "某小区1号楼", "companions": [], "symptoms": [],
            "vaccine_doses": 3,
        }
        with Timer() as t:
            response = client.post("/api/v1/public/declarations", json.dumps(body), content_type="application/json",
                                   REMOTE_ADDR=f"10.{index % 250}.0.1")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        (existing_ms if existing else new_ms).append(t.ms)
    return {"new_person": summarize(new_ms), "existing_person": summarize(existing_ms),
            "all": summarize(new_ms + existing_ms), "statuses": statuses}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=None, help="generate the demo county first if empty")
    parser.add_argument("--declarations", type=int, default=100_000)
    parser.add_argument("--risk-areas", type=int, default=5_000)
    parser.add_argument("--match", type=int, default=1000, help="histories to match")
    parser.add_argument("--submit", type=int, default=300, help="declarations to post")
    parser.add_argument("--seed", type=int, default=None, help="default: a new one each run, so that re-runs "
                        "do not re-declare the same people with other phones")
    args = parser.parse_args()
    setup_django()
    people = ensure_data(args.people)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    logging.getLogger("django.request").setLevel(logging.ERROR)  # 4xx answers are counted, not logged
    from fangkong.declarations.models import Declaration

    declarations = top_up_declarations(args.declarations, rng)
    risk_areas = load_risk_areas(args.risk_areas, rng)
    result = {
        "benchmark": "declarations", "measured_at": now_iso(), "machine": machine_info(),
        "scale": {"people": people, "declarations": declarations, "risk_areas": risk_areas, "seed": seed},
        "matching": time_matching(args.match, rng),
        "submit": time_submit(args.submit, rng),
    }
    result["scale"]["declarations_after"] = Declaration.objects.count()
    print_json(result)


if __name__ == "__main__":
    main()
