"""Small factories for tests. Bigger scenarios call the real services."""

import itertools
from datetime import date

from stdnum.cn import ric

from fangkong.accounts.choices import Role
from fangkong.accounts.services import create_user
from fangkong.areas.models import Area, Building, Household

PASSWORD = "Test-pass-2026!"
_serial = itertools.count(1)


def make_area(code: str, name: str, level: str, parent: Area | None = None) -> Area:
    area = Area(code=code, name=name, level=level, parent=parent)
    area.save()
    return area


def make_user(username: str, role: str, area: Area | None, **extra):
    return create_user(username=username, password=PASSWORD, role=role, area=area, **extra)


def make_resident_id(birth: date = date(1985, 6, 15), place: str = "370923", male: bool = True) -> str:
    """A valid 18-digit resident ID (checksum computed), unique per call."""
    seq = next(_serial) % 500
    sex_digit = (seq * 2 + (1 if male else 0)) % 10
    if (sex_digit % 2 == 1) != male:
        sex_digit = (sex_digit + 1) % 10
    body = f"{place}{birth:%Y%m%d}{seq // 5 % 100:02d}{sex_digit}"
    return body + ric.calc_check_digit(body + "0")


def make_household(area: Area, building_name: str = "1号楼", door: str = "101") -> Household:
    building, _ = Building.objects.get_or_create(area=area, name=building_name)
    return Household.objects.create(area=area, building=building, unit="1", door=door)


def make_person(user, area: Area, name: str = "张三", **data):
    from fangkong.people.services import create_person

    data.setdefault("document_number", make_resident_id())
    data.setdefault("phone", f"138{next(_serial):08d}")
    return create_person(user, {"name": name, **data}, area=area)


class World:
    """The personas: county HQ, township A officer, grid A worker, grid B worker, an outsider."""

    def __init__(self):
        from fangkong.areas.choices import AreaLevel as L

        self.county = make_area("370923000000", "示范县", L.COUNTY)
        self.township_a = make_area("370923001000", "甲镇", L.TOWNSHIP, self.county)
        self.township_b = make_area("370923002000", "乙镇", L.TOWNSHIP, self.county)
        self.village_a = make_area("370923001001", "甲村", L.VILLAGE, self.township_a)
        self.village_b = make_area("370923002001", "乙村", L.VILLAGE, self.township_b)
        self.grid_a = make_area("370923001001001", "甲村一网格", L.GRID, self.village_a)
        self.grid_a2 = make_area("370923001001002", "甲村二网格", L.GRID, self.village_a)
        self.grid_b = make_area("370923002001001", "乙村一网格", L.GRID, self.village_b)
        self.hq = make_user("hq", Role.HQ_ADMIN, self.county)
        self.township_a_officer = make_user("town_a", Role.TOWNSHIP_OFFICER, self.township_a)
        self.village_a_officer = make_user("village_a", Role.VILLAGE_OFFICER, self.village_a)
        self.grid_a_worker = make_user("grid_a", Role.GRID_WORKER, self.grid_a)
        self.grid_b_worker = make_user("grid_b", Role.GRID_WORKER, self.grid_b)
        self.auditor = make_user("auditor", Role.AUDITOR, self.county)
        self.outsider = make_user("outsider", Role.SENTINEL_REPORTER, self.grid_b)
        self.person_a = make_person(self.hq, self.grid_a, "张三", household=make_household(self.grid_a))
        self.person_b = make_person(self.hq, self.grid_b, "李四", household=make_household(self.grid_b))


def declaration_data(area: Area, **overrides) -> dict:
    """A valid public declaration: from 东城区 (Beijing), arriving tomorrow at AREA."""
    from datetime import timedelta

    from django.utils import timezone

    tomorrow = timezone.localdate() + timedelta(days=1)
    data = {
        "name": "王五", "document_number": make_resident_id(place="110101"), "phone": f"139{next(_serial):08d}",
        "origin_code": "110101", "origin_detail": "东城区某街道",
        "stops": [{"place_code": "110101", "township": "", "date_from": (tomorrow - timedelta(days=10)).isoformat(),
                   "date_to": tomorrow.isoformat()}],
        "transport": "train", "transport_number": "G123", "plate": "",
        "planned_arrival": f"{tomorrow.isoformat()}T15:00:00", "area": area.code, "address": "甲村3组12号",
        "companions": [], "symptoms": [], "vaccine_doses": 3,
    }
    data.update(overrides)
    return data


def make_risk_area(place_code: str, level: str, days_ago: int = 5, township: str = "", until=None):
    from datetime import timedelta

    from django.utils import timezone

    from fangkong.policy.models import RiskArea
    from fangkong.policy.services import clean_risk_area

    cleaned = clean_risk_area({"place_code": place_code, "level": level, "township": township,
                               "effective_from": timezone.localdate() - timedelta(days=days_ago),
                               "effective_to": until})
    return RiskArea.objects.create(**cleaned)


def make_venue(area: Area, name: str = "甲村超市", type_code: str = "supermarket", **extra):
    from fangkong.venues.models import Venue, VenueType

    return Venue.objects.create(name=name, type=VenueType.objects.get(code=type_code), area=area,
                                address=f"{area.name}1号", **extra)
