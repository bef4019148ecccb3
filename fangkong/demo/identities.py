"""Synthetic but valid identities: resident ID numbers, mobile numbers, names.

Resident IDs carry a birthplace code that existed in the birth year (as
python-stdnum's ``cn.ric`` checks), the birth date, a sequence whose last
digit's parity is the sex, and the check digit.
"""

import re
from bisect import bisect
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

from stdnum.cn import ric

from fangkong.people.identity import name_pinyin

from . import data

_COUNTY_LINE = re.compile(r'^\s+([0-9]{4}) county="(.*)"')
_PROVINCE_LINE = re.compile(r"^([0-9]{2}) ")


def _parse_ranges(value: str):
    """[(start, end, name)] from '[1985-1999]郊区,[2000-]岱岳区' (None = open)."""
    ranges = []
    for part in value.split(","):
        if part.startswith("["):
            span, name = part[1:].split("]", 1)
            start, end = span.split("-")
            ranges.append((int(start) if start else None, int(end) if end else None, name))
        else:
            ranges.append((None, None, part))
    return ranges


@lru_cache(maxsize=1)
def _county_codes() -> dict[str, list]:
    """{province: [(code, ranges)]} of real county-level codes, from stdnum's table."""
    path = Path(ric.__file__).with_name("loc.dat")
    by_province: dict[str, list] = {}
    province = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PROVINCE_LINE.match(line)
        if match:
            province = match.group(1)
            continue
        match = _COUNTY_LINE.match(line)
        if not match or province is None:
            continue
        code = province + match.group(1)
        ranges = [r for r in _parse_ranges(match.group(2)) if r[2] not in ("市辖区", "郊区", "县")]
        if code.endswith("00") or not ranges:
            continue
        by_province.setdefault(province, []).append((code, ranges))
    return by_province


def _valid_in(ranges, year: int) -> bool:
    return any((start is None or year >= start) and (end is None or year <= end) for start, end, _ in ranges)


@lru_cache(maxsize=2048)
def birthplaces_for(province: str, year: int) -> tuple[str, ...]:
    """County codes of PROVINCE that existed in YEAR."""
    return tuple(code for code, ranges in _county_codes().get(province, []) if _valid_in(ranges, year))


def local_birthplace(year: int) -> str:
    for code, start, end in data.LOCAL_BIRTHPLACES:
        if (start is None or year >= start) and (end is None or year <= end):
            return code
    raise ValueError(year)


_PROVINCES = [p for p, _ in data.OTHER_BIRTH_PROVINCES]
_PROVINCE_CUM = list(accumulate(w for _, w in data.OTHER_BIRTH_PROVINCES))


def other_birthplace(rng, year: int) -> str:
    for _ in range(5):
        province = rng.choices(_PROVINCES, cum_weights=_PROVINCE_CUM)[0]
        codes = birthplaces_for(province, year)
        if codes:
            return rng.choice(codes)
    return local_birthplace(year)


class IdentityMaker:
    """Unique resident IDs and phones, and names with cached pinyin, from one RNG."""

    def __init__(self, rng):
        self.rng = rng
        self._ids: set[int] = set()
        self._phones: set[int] = set()
        self._pinyin: dict[str, tuple[str, str]] = {}
        self._surnames = [s for s, _ in data.SURNAMES]
        self._surname_cum = list(accumulate(w for _, w in data.SURNAMES))
        self._compound = {s for s in self._surnames if len(s) > 1}
        ages = []
        for share in data.AGE_BANDS:
            ages.extend([share / 5] * 5)
        self._age_cum = [0.0, *accumulate(ages[: data.MAX_AGE + 1])]

    # ages --------------------------------------------------------------
    def age(self, low: int = 0, high: int = data.MAX_AGE) -> int:
        """An age in [LOW, HIGH] drawn from the population pyramid."""
        low = max(0, low)
        high = min(data.MAX_AGE, high)
        if high < low:
            return low
        cum = self._age_cum
        r = cum[low] + self.rng.random() * (cum[high + 1] - cum[low])
        return min(high, max(low, bisect(cum, r) - 1))

    def birth_date(self, age: int) -> date:
        """A birth date giving AGE on the reference date."""
        ref = data.REFERENCE_DATE
        latest = ref.replace(year=ref.year - age) if not (ref.month == 2 and ref.day == 29) else date(ref.year - age, 2, 28)
        return latest - timedelta(days=self.rng.randrange(365))

    # names ---------------------------------------------------------------
    def name(self, sex: str, surname: str | None = None) -> str:
        rng = self.rng
        surname = surname or rng.choices(self._surnames, cum_weights=self._surname_cum)[0]
        pool = data.MALE_GIVEN if sex == "M" else data.FEMALE_GIVEN
        first = rng.choice(data.NEUTRAL_GIVEN) if rng.random() < 0.15 else rng.choice(pool)
        if rng.random() < 0.8:
            return surname + first + rng.choice(pool)
        return surname + first

    def surname(self) -> str:
        return self.rng.choices(self._surnames, cum_weights=self._surname_cum)[0]

    def _part_pinyin(self, part: str) -> tuple[str, str]:
        cached = self._pinyin.get(part)
        if cached is None:
            cached = self._pinyin[part] = name_pinyin(part)
        return cached

    def pinyin(self, name: str, surname: str | None = None) -> tuple[str, str]:
        """Pinyin and initials, cached per surname and per given name."""
        if surname is None:
            surname = name[:2] if name[:2] in self._compound else name[:1]
        family, given = self._part_pinyin(surname), self._part_pinyin(name[len(surname):])
        return family[0] + given[0], family[1] + given[1]

    # numbers -------------------------------------------------------------
    def resident_id(self, birthplace: str, birth: date, sex: str) -> str:
        rng = self.rng
        stem = f"{birthplace}{birth:%Y%m%d}"
        male = sex == "M"
        while True:
            last = rng.randrange(5) * 2 + (1 if male else 0)
            body = f"{stem}{rng.randrange(100):02d}{last}"
            key = int(body)
            if key not in self._ids:
                self._ids.add(key)
                return body + ric.calc_check_digit(body + "0")

    def phone(self) -> str:
        rng = self.rng
        while True:
            number = rng.choice(data.MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
            key = int(number)
            if key not in self._phones:
                self._phones.add(key)
                return number
