"""Area-code prefixes: the jurisdiction boundary.

An area's code is the 12-digit statistical division code (province 2, city 2,
county 2, township 3, village 3) extended by grid digits. Its *prefix* is the
part that identifies it (a county: 6 digits, a township: 9, a village: 12, a
grid: the whole code), so every record below an area has a code that starts
with the area's prefix. Codes are digits only, so "starts with P" is the range
P <= code < P + ":" (":" sorts right after "9"): one indexed range scan on
SQLite and PostgreSQL alike, whatever the collation.
"""

from django.db.models import Q

LEVEL_PREFIX_LENGTH = {"county": 6, "township": 9, "village": 12}


def prefix_for(code: str, level: str) -> str:
    """The significant prefix of an area code at a level."""
    length = LEVEL_PREFIX_LENGTH.get(level)
    return code if length is None else code[:length]


def prefix_q(field: str, prefix: str | None) -> Q:
    """Q selecting rows whose FIELD (a code column) lies under PREFIX.

    None means no restriction (the whole installation).
    """
    if prefix is None:
        return Q()
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + ":"})


def in_scope(code: str | None, prefix: str | None) -> bool:
    if prefix is None:
        return True
    return bool(code) and code.startswith(prefix)
