"""The national place list (行政区划代码) for travel histories and risk areas.

Read from the division-code table that python-stdnum ships (no download at
run time). A place is a 6-digit code: a province (``370000``), a city
(``370900``) or a county (``370923``). Codes that no longer exist are kept
for lookup (old ID cards, old risk lists) but left out of the pickers.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import stdnum

_LINE = re.compile(r'^(?P<indent>\s*)(?P<code>\d+) (?P<kind>province|county)="(?:\[(?P<start>\d*)-(?P<end>\d*)\])?(?P<name>[^"]*)"')
_SKIP_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位"}


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: str  # province / city / county
    parent: str | None
    current: bool
    full_name: str


def _data_file() -> Path:
    return Path(stdnum.__file__).parent / "cn" / "loc.dat"


@lru_cache(maxsize=1)
def _places() -> dict[str, Place]:
    raw: dict[str, tuple[str, bool]] = {}
    province = ""
    with open(_data_file(), encoding="utf-8") as handle:
        for line in handle:
            match = _LINE.match(line)
            if not match:
                continue
            current = not match["end"]
            if match["kind"] == "province":
                province = match["code"]
                raw[province + "0000"] = (match["name"], True)
                continue
            code = province + match["code"]
            if code.endswith("0000"):
                continue
            # A code reused over time keeps the entry that is current, else the last one.
            if code not in raw or current:
                raw[code] = (match["name"], current)
    places: dict[str, Place] = {}
    for code, (name, current) in raw.items():
        if name in _SKIP_NAMES:
            continue
        if code.endswith("0000"):
            level, parent = "province", None
        elif code.endswith("00"):
            level, parent = "city", code[:2] + "0000"
        else:
            city = code[:4] + "00"
            level = "county"
            parent = city if city in raw and raw[city][0] not in _SKIP_NAMES else code[:2] + "0000"
        places[code] = Place(code, name, level, parent, current, "")
    for code, place in list(places.items()):
        chain = []
        node = place
        while node is not None:
            chain.append(node.name)
            node = places.get(node.parent) if node.parent else None
        full = " ".join(reversed(chain))
        parent = place.parent if place.parent in places else None
        places[code] = Place(code, place.name, place.level, parent, place.current, full)
    return places


def lookup(code: str) -> Place | None:
    return _places().get((code or "").strip())


def children(code: str | None) -> list[Place]:
    """The current places directly under CODE (None: the provinces), in code order."""
    return sorted(
        (p for p in _places().values() if p.parent == code and p.current and not (code is None and p.level != "province")),
        key=lambda p: p.code,
    )


def match_prefix(code: str) -> str:
    """The part of a place code that everything inside it starts with (2, 4 or 6 digits)."""
    place = lookup(code)
    level = place.level if place else "county"
    return {"province": code[:2], "city": code[:4]}.get(level, code[:6])


@lru_cache(maxsize=1)
def picker_tree() -> list:
    """[[code, name, [[code, name, [[code, name], …]], …]], …] for the cascading place picker."""
    tree = []
    for province in children(None):
        cities = []
        direct = []
        for child in children(province.code):
            if child.level == "city":
                cities.append([child.code, child.name, [[c.code, c.name] for c in children(child.code)]])
            else:
                direct.append([child.code, child.name])
        if direct:
            # Municipalities and province-administered counties: one pseudo-city holding them.
            cities.insert(0, [province.code, province.name if not cities else "省直辖", direct])
        tree.append([province.code, province.name, cities])
    return tree
