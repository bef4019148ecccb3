"""A small outbreak in the demo county: two linked cases, their contacts found in the check-ins, zones.

The first case was isolated yesterday, traced, its close contacts
confirmed and dispatched (grid workers have the tasks), its secondary
contacts and companions left to review; one of its close contacts met at a venue turned
positive since and was traced, its contacts wait for review; the zones from both
homes and trajectories are proposed and the first home's zone published.
Everything goes through the tracing services, as an epidemiologist would.
"""

from datetime import datetime, time, timedelta

from django.db.models import Count
from django.utils import timezone

from fangkong.accounts.models import User
from fangkong.people.models import Person
from fangkong.tracing import services, zones
from fangkong.tracing.choices import Classification, ContactKind, ContactStatus, Rule
from fangkong.venues.models import CheckIn


def _with_checkins(queryset, since, minimum: int) -> Person | None:
    """The first person of QUERYSET (ordered) with at least MINIMUM check-ins since SINCE."""
    for person in queryset[:400]:
        if CheckIn.objects.filter(person_id=person.pk, scanned_at__gte=since).count() >= minimum:
            return person
    return None


def generate_outbreak(rng, now=None) -> dict:
    from .generator import demo_places  # the generator imports this module

    now = now or timezone.now()
    epi = User.objects.get(username="epi")
    admin = User.objects.get(username="admin")
    today = timezone.localdate(now)
    grid1 = demo_places()["grid1"]
    window_start = timezone.make_aware(datetime.combine(today - timedelta(days=5), time.min))
    homes = (Person.objects.current().filter(area=grid1, household__isnull=False)
             .annotate(size=Count("household__members")).filter(size__gte=2).order_by("id"))
    first = _with_checkins(homes, window_start, 6)
    if first is None:
        return {}
    isolated = now - timedelta(days=1, hours=5)
    case_a = services.register_case(epi, first, {
        "classification": Classification.CONFIRMED, "severity": "mild", "onset_date": today - timedelta(days=3),
        "sampled_at": isolated - timedelta(hours=5), "result_at": isolated - timedelta(hours=1),
        "reported_at": isolated - timedelta(minutes=20), "isolated_at": isolated,
        "reporting_unit": "县人民医院发热门诊", "reporting_doctor": "王医生", "residence": "county",
        "occupation": "农民", "card_number": f"{today:%Y%m%d}0001",
    }, trace=False)
    services.add_entry(epi, case_a, {
        "place": "县城—乡镇 3 路公交车", "start": isolated - timedelta(days=2, hours=3),
        "end": isolated - timedelta(days=2, hours=2, minutes=20), "activity": "乘车", "companions": "无",
    })
    # Traced within hours of the isolation, as it happened: the contacts' own windows end then.
    services.trace_case(case_a, user=epi, now=isolated + timedelta(hours=3))
    contacts = list(case_a.contacts.order_by("id"))
    # The close contacts confirmed and dispatched; the secondary contacts and the companions (many, at
    # shops and gates) are left for the epidemiologist to review, a few companions already dismissed.
    for contact in contacts:
        if contact.kind == ContactKind.CLOSE:
            services.review_contact(epi, contact, "confirm")
        elif contact.kind == ContactKind.COMPANION and rng.random() < 0.05:
            services.review_contact(epi, contact, "dismiss", reason="核实当时已离开，未同时段停留")
    services.dispatch(epi, case_a)

    # One close contact met at a venue (else a companion) tested positive since: the second case of the chain.
    met = [c for c in contacts if c.kind == ContactKind.CLOSE and c.status != ContactStatus.DISMISSED
           and any(e["rule"] == Rule.VENUE_CLOSE for e in c.evidence)]
    met = met or [c for c in contacts if c.status != ContactStatus.DISMISSED and c.kind != ContactKind.SECONDARY]
    case_b = None
    if met:
        second = rng.choice(met).person
        sampled = now - timedelta(hours=20)
        case_b = services.register_case(epi, second, {
            "classification": Classification.ASYMPTOMATIC, "sampled_at": sampled,
            "result_at": sampled + timedelta(hours=6), "isolated_at": sampled + timedelta(hours=7),
            "reporting_unit": "县集中隔离医学观察点", "residence": "county",
        }, trace=False)
        services.trace_case(case_b, user=epi, now=sampled + timedelta(hours=9))
    cases = [c for c in (case_a, case_b) if c is not None]
    proposal = zones.propose_zones(epi, cases)
    home = next((z for z in proposal.zones if z.area_id == first.area_id), None)
    if home is not None:
        zones.publish_zone(admin, home)
    return {"cases": len(cases), "contacts": sum(c.contacts.count() for c in cases),
            "zones": len(proposal.zones)}
