"""Demo quarantine: two sites with rooms, the open measures carried out as far as they would be by now.

People under centralized quarantine outside grid1 were picked up and checked in (the transfer
acknowledged); grid1's, dispatched hours ago, still wait for their pickup (that is where a
visitor starts). People at home have their 五包一 care team and the checks of their last day and a
half, one of them a missed check. One transfer arrived and waits for its handover.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from fangkong.policy.choices import OrderStatus, Stage
from fangkong.policy.models import ControlOrder
from fangkong.quarantine import care, sites, transfers
from fangkong.quarantine.choices import CheckSource, TransferKind

User = get_user_model()

SITES = [
    ({"name": "县城宾馆集中隔离点", "kind": "hotel", "address": "县城迎宾路 8 号", "manager": "刘经理",
      "phone": "0534-5201001"}, {"floor_from": 2, "floor_to": 7, "rooms_per_floor": 20}, "county"),
    ({"name": "城关卫生院隔离观察点", "kind": "designated", "address": "城关镇健康路 2 号", "manager": "孙院长",
      "phone": "0534-5202002"}, {"floor_from": 1, "floor_to": 3, "rooms_per_floor": 12}, "township1"),
]


def generate_quarantine(rng, now=None) -> dict:
    from .generator import demo_places  # the generator imports this module

    now = now or timezone.now()
    places = demo_places()
    admin = User.objects.get(username="admin")
    staff = User.objects.get(username="site")
    made = []
    for data, rooms, where in SITES:
        site = sites.create_site(admin, {**data, "area": places[where]}, rooms)
        site.staff.add(staff)
        made.append(site)
    grid1 = places["grid1"]
    orders = list(ControlOrder.objects.filter(status=OrderStatus.ACTIVE).select_related("person", "area")
                  .order_by("id"))
    waiting = [o for o in orders if o.current_stage == Stage.CENTRALIZED and not o.area_id.startswith(grid1.code)]
    late = waiting.pop() if len(waiting) > 1 else None
    checked_in = 0
    for order in waiting:
        site = made[0] if rng.random() < 0.7 else made[1]
        suggestions = sites.suggest_rooms(site, order, limit=1)
        if not suggestions:
            continue
        pickup = transfers.plan_transfer(admin, {
            "kind": TransferKind.TO_SITE, "from_place": order.person.address or order.area.name, "to_site": site,
            "vehicle": f"鲁N·{rng.randrange(10000, 99999)}", "driver": rng.choice(["赵师傅", "钱师傅", "孙师傅"]),
            "driver_phone": f"139{rng.randrange(10**7, 10**8)}", "escort": "县疾控 随车医生",
            "planned_at": now - timedelta(hours=rng.randrange(4, 20)),
        }, [order.person])
        transfers.depart(admin, pickup, now=pickup.planned_at + timedelta(minutes=10))
        transfers.arrive(admin, pickup, now=pickup.planned_at + timedelta(minutes=50))
        transfers.acknowledge(staff, pickup, now=pickup.planned_at + timedelta(minutes=55))
        best = suggestions[0]
        sites.check_in(staff, site, order, best.room, best.bed, now=pickup.planned_at + timedelta(hours=1))
        checked_in += 1
    home = [o for o in orders if o.current_stage in (Stage.HOME_ISOLATION, Stage.HOME_MONITORING)]
    care.form_teams(home, admin)
    checks = 0
    missed = False
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    for order in home:
        # Counted back from now, so that a demo generated at any hour (at 00:10 too) has recent checks; none
        # before the order's first day (an arrival declared ahead has none yet).
        taken_times = [now - timedelta(hours=hours, minutes=rng.randrange(0, 20)) for hours in (32, 24, 16, 8)]
        taken_times = [t for t in [*taken_times, max(now - timedelta(minutes=5), midnight)]
                       if timezone.localdate(t) >= order.start_date]
        if len(taken_times) > 1 and not missed:
            taken_times.pop()  # the first such person's latest check is missing
            missed = True
        for taken in taken_times:
            temperature = Decimal(str(round(rng.uniform(36.0, 37.1), 1)))
            care.record_check(admin, order, temperature, [], source=CheckSource.CARE, taken_at=taken)
            checks += 1
    if late is not None:
        pickup = transfers.plan_transfer(admin, {
            "kind": TransferKind.TO_SITE, "from_place": late.area.name, "to_site": made[0], "vehicle": "鲁N·20221",
            "driver": "李师傅", "planned_at": now - timedelta(hours=2)}, [late.person])
        transfers.depart(admin, pickup, now=now - timedelta(hours=2))
        transfers.arrive(admin, pickup, now=now - timedelta(minutes=20))
    return {"sites": len(made), "checked_in": checked_in, "care_teams": len(home), "checks": checks}
