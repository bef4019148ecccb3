"""Demo sentinels: village clinics of two townships, the county hospital's fever clinic, pharmacies, schools.

120 days of history with a weekly rhythm (busier Mondays, quieter weekends)
are written in bulk; today's sales go through the real service, so the
buyers' grid workers have their test tasks. The demo account "clinic"
reports for its village's clinic and for one pharmacy.
"""

import math
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from fangkong.accounts.models import User
from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.scope import prefix_q
from fangkong.people.models import Person

from . import services
from .choices import BuyerSymptom, ReportKind, SentinelKind
from .models import DrugProduct, DrugPurchase, Sentinel, SentinelReport

HISTORY_DAYS = 120
# Monday .. Sunday
WEEKLY = [1.3, 1.1, 1.0, 1.0, 1.05, 0.8, 0.75]
CLASSES = ["一(1)班", "二(1)班", "三(2)班", "四(1)班", "五(3)班", "六(2)班"]


def _poisson(rng, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _at(day, hour: float):
    return timezone.make_aware(datetime.combine(day, time(int(hour), int((hour % 1) * 60))))


@transaction.atomic
def generate_sentinels(rng, now=None) -> dict:
    from fangkong.demo.generator import demo_places  # the generator imports the demo modules
    from fangkong.demo.identities import IdentityMaker, local_birthplace

    now = now or timezone.now()
    today = timezone.localdate(now)
    start = today - timedelta(days=HISTORY_DAYS)
    places = demo_places()
    admin = User.objects.get(username="admin")
    clinic_user = User.objects.filter(username="clinic").first()
    townships = [places["township1"], places["township2"]]

    def register(kind, name, area, joined_on=start, reporters=()):
        return services.register_sentinel(admin, {"kind": kind, "name": name, "area": area, "joined_on": joined_on,
                                                  "address": f"{area.name}{rng.randrange(1, 99)}号",
                                                  "contact": IdentityMaker(rng).name(rng.choice("MF")),
                                                  "phone": f"0538-{rng.randrange(1000000, 9999999)}"}, reporters)

    clinics = []
    villages = list(Area.objects.filter(parent__in=townships, level=AreaLevel.VILLAGE).order_by("code"))
    for index, village in enumerate(villages):
        # One clinic joined a month ago: its series must not read as a rise.
        joined = today - timedelta(days=30) if index == len(villages) - 1 else start
        own = [clinic_user] if clinic_user and village == places["village2"] else []
        base = village.name.removesuffix("社区").removesuffix("村")
        clinics.append(register(SentinelKind.VILLAGE_CLINIC, f"{base}卫生室", village, joined, own))
    fever = register(SentinelKind.FEVER_CLINIC, "县人民医院发热门诊", townships[0])
    pharmacy_areas = [places["village2"], villages[0], townships[1]]
    pharmacies = [
        register(SentinelKind.PHARMACY, name, area, start, [clinic_user] if clinic_user and i == 0 else [])
        for i, (name, area) in enumerate(zip(["仁和大药房", "百姓药店", "惠民大药房"], pharmacy_areas, strict=True))]
    schools = [register(SentinelKind.SCHOOL, name, area) for name, area in
               [(f"{townships[0].name}中心小学", townships[0]), (f"{townships[0].name}中学", townships[0]),
                (f"{townships[1].name}中心小学", townships[1])]]

    ids = IdentityMaker(rng)
    reports, purchases = [], []
    products = list(DrugProduct.objects.filter(is_active=True).order_by("code"))
    for offset in range(HISTORY_DAYS):
        day = start + timedelta(days=offset)
        rhythm = WEEKLY[day.weekday()]
        reports.append(SentinelReport(sentinel=fever, area_id=fever.area_id, day=day, kind=ReportKind.DAILY_COUNT,
                                      visits=_poisson(rng, 24 * rhythm), positives=0, created_by=admin,
                                      reported_at=_at(day, 17.5)))
        for school in schools:
            if day.weekday() >= 5:
                reports.append(SentinelReport(sentinel=school, area_id=school.area_id, day=day,
                                              kind=ReportKind.ZERO_REPORT, created_by=admin,
                                              reported_at=_at(day, 9)))
                continue
            for class_name in rng.sample(CLASSES, 3):
                reports.append(SentinelReport(sentinel=school, area_id=school.area_id, day=day,
                                              kind=ReportKind.ABSENCE, class_name=class_name,
                                              absent_ill=_poisson(rng, 1.2), created_by=admin,
                                              reported_at=_at(day, 9)))
        for clinic in clinics:
            if day < clinic.joined_on:
                continue
            patients = _poisson(rng, 0.25 * rhythm)
            if not patients:
                reports.append(SentinelReport(sentinel=clinic, area_id=clinic.area_id, day=day,
                                              kind=ReportKind.ZERO_REPORT, created_by=admin,
                                              reported_at=_at(day, 18)))
            for _ in range(patients):
                sex = rng.choice("MF")
                birth = ids.birth_date(ids.age(5, 85))
                consulted = _at(day, rng.uniform(8, 17))
                report = SentinelReport(
                    sentinel=clinic, area_id=clinic.area_id, day=day, kind=ReportKind.FEVER_PATIENT,
                    patient_name=ids.name(sex), patient_address=clinic.area.name,
                    temperature=round(rng.uniform(37.4, 39.3), 1), referred_to="县人民医院发热门诊",
                    consulted_at=consulted, reported_at=consulted + timedelta(minutes=rng.randrange(5, 75)),
                    created_by=admin)
                report.set_document(ids.resident_id(local_birthplace(birth.year), birth, sex), valid=True)
                report.set_phone(ids.phone())
                reports.append(report)
        for pharmacy in pharmacies:
            for n in range(_poisson(rng, 7 * rhythm)):
                sold = _at(day, rng.uniform(8, 21))
                sex = rng.choice("MF")
                birth = ids.birth_date(ids.age(18, 80))
                chosen = rng.sample(products, rng.choice([1, 1, 1, 2]))
                purchase = DrugPurchase(
                    sentinel=pharmacy, client_key=f"demo-{pharmacy.pk}-{day:%Y%m%d}-{n}", day=day,
                    buyer_name=ids.name(sex), address=pharmacy.area.name, area_id=pharmacy.area_id,
                    symptoms=rng.sample([BuyerSymptom.FEVER, BuyerSymptom.COUGH, BuyerSymptom.SORE_THROAT],
                                        rng.choice([0, 1, 1, 2])),
                    for_someone_else=rng.random() < 0.15, buyer_verified=True,
                    items=[{"product": p.code, "name": p.name, "drug_class": p.drug_class,
                            "quantity": rng.choice([1, 1, 2])} for p in chosen],
                    test_due_at=sold + timedelta(hours=services.test_hours()),
                    tested_at=sold + timedelta(hours=rng.uniform(3, 40)), created_by=clinic_user or admin,
                    created_at=sold)
                purchase.set_document(ids.resident_id(local_birthplace(birth.year), birth, sex), valid=True)
                purchase.set_phone(ids.phone())
                purchases.append(purchase)
    SentinelReport.objects.bulk_create(reports, batch_size=2000)
    DrugPurchase.objects.bulk_create(purchases, batch_size=2000)

    # Today: a few sales through the service, so that buyers' grids get their tasks.
    seller = clinic_user or admin
    pharmacy = pharmacies[0]
    buyers = list(Person.objects.current().filter(prefix_q("area_id", places["grid1"].prefix))
                  .exclude(doc_index="").order_by("id")[:3])
    buyers += list(Person.objects.current().filter(prefix_q("area_id", places["village2"].prefix))
                   .exclude(doc_index="").order_by("id")[:2])
    made = 0
    for index, person in enumerate(buyers):
        sold_at = now - timedelta(hours=rng.uniform(0.2, 6))
        chosen = rng.sample(products, 2 if index % 2 else 1)
        services.record_purchase(seller, pharmacy, {
            "client_key": f"demo-today-{person.pk}", "buyer_name": person.name,
            "document_number": person.document_number, "phone": person.phone, "address": person.address,
            "symptoms": [BuyerSymptom.FEVER] if index % 2 == 0 else [BuyerSymptom.COUGH],
            "items": [{"product": p.code, "quantity": 1} for p in chosen], "sold_at": sold_at})
        made += 1
    # One buyer with a mistyped ID (kept, to verify), and one who bought three days ago and was never tested.
    services.record_purchase(seller, pharmacy, {
        "client_key": "demo-today-unverified", "buyer_name": ids.name("M"), "document_number": "37092319800101123",
        "phone": ids.phone(), "address": places["village2"].name, "symptoms": [BuyerSymptom.FEVER],
        "items": [{"product": products[0].code, "quantity": 2}], "sold_at": now - timedelta(hours=1)})
    if buyers:
        late = buyers[-1]
        services.record_purchase(seller, pharmacy, {
            "client_key": f"demo-late-{late.pk}", "buyer_name": late.name, "document_number": late.document_number,
            "items": [{"product": products[-1].code, "quantity": 1}], "sold_at": now - timedelta(days=3)})
    services.overdue_buyers(now)
    # Today's reports from most sentinels; a few are left unreported for the "未报告" list.
    for clinic in clinics[:-3]:
        services.record_zero_report(admin, clinic, today)
    services.record_daily_counts(admin, fever, today, _poisson(rng, 24 * WEEKLY[today.weekday()]), 0)
    return {"sentinels": Sentinel.objects.count(), "reports": len(reports), "purchases": len(purchases) + made + 2}
