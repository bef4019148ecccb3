"""Contact discovery: from index people and their windows, everyone linked to them, with the evidence.

No web code. An *index* is a case (or, for secondary contacts, a close
contact) with the time window to search; a *link* is a person found, the
kind (close / companion), the exposure times and every piece of evidence.

Co-presence at venues is set-based: each presence of an index person (a
check-in taken as the scan time plus the venue's dwell time, or an interview
entry at a registered venue) becomes a *seek*, the range of scan times at its
venue that meet it, with a narrower range inside it for close contact worked
out beforehand. The seeks that overlap at one venue (the close contacts of a
case were there together) are read as one range scan on the (venue,
scanned_at) index, many ranges to a statement; each check-in found is then
matched to the seeks covering it here, by binary search, and the links
grow per (index, person). Nothing loops over check-ins in Python, only over
the rows found. Intervals are closed: two presences that touch (one ends the
minute the other starts) are companions with 0 minutes of overlap; close
needs at least the rule's minutes of overlap.
"""

from __future__ import annotations

import gc
import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models.expressions import RawSQL

from fangkong.people.models import Person
from fangkong.venues.models import CheckIn, Venue

from .choices import KIND_RANK, ContactKind, Rule

# Venue ranges read by one statement. SQLite allows 500 terms in a compound SELECT. On PostgreSQL
# the estimated cost grows with ranges x day partitions spanned (~240 per range at 32 partitions);
# past jit_above_cost (100,000) compiling the statement takes longer than running it: 100 ranges
# stay below it even when they span four months. 100 to 1,000 read an outbreak equally fast.
RANGES_PER_STATEMENT = 100
PEOPLE_PER_QUERY = 500
MINUTE = timedelta(minutes=1)


@contextmanager
def _no_gc():
    """Run without the cyclic garbage collector (turned back on after, if it was on).

    An outbreak builds millions of links, tuples and lists, none of them in a
    cycle; every 700 allocations the collector would walk them again, which
    took about as long as everything else the engine does.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Presence:
    venue_id: int
    start: datetime
    end: datetime
    source: str = "scan"  # or "interview"


@dataclass(frozen=True)
class Index:
    """Whom to trace from (PERSON_ID) over [START, END]; links are filed under KEY."""

    key: int
    person_id: int
    start: datetime
    end: datetime
    extra: tuple[Presence, ...] = ()  # interview entries at registered venues


class Link:
    """A person found from an index: KEY, PERSON_ID, the KIND, FIRST and LAST exposure and the EVIDENCE.

    Co-presence links keep what they saw (``seen``: (seek, scan time, close)
    tuples) and build their evidence items when first asked for: an outbreak
    finds a million links, and the evidence of most is never read.
    """

    __slots__ = ("key", "person_id", "kind", "first", "last", "seen", "_evidence")

    def __init__(self, key: int, person_id: int, kind: str, first: datetime, last: datetime,
                 evidence: list[dict] | None = None, seen: list[tuple] | None = None):
        self.key = key
        self.person_id = person_id
        self.kind = kind
        self.first = first
        self.last = last
        self.seen = seen
        self._evidence = [] if evidence is None and seen is None else evidence

    @property
    def evidence(self) -> list[dict]:
        if self._evidence is None:
            self._evidence = [_venue_item(*hit) for hit in self.seen]
            self.seen = None
        return self._evidence

    @evidence.setter
    def evidence(self, value: list[dict]) -> None:
        self._evidence = value
        self.seen = None

    def absorb(self, other: Link) -> None:
        if KIND_RANK[other.kind] > KIND_RANK[self.kind]:
            self.kind = other.kind
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        self.evidence.extend(other.evidence)

    def _fields(self) -> tuple:
        return self.key, self.person_id, self.kind, self.first, self.last, self.evidence

    def __eq__(self, other: object) -> bool:
        return self._fields() == other._fields() if isinstance(other, Link) else NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return (f"Link(key={self.key!r}, person_id={self.person_id!r}, kind={self.kind!r}, "
                f"first={self.first!r}, last={self.last!r}, evidence={self.evidence!r})")


def _venue_item(seek: tuple, at: datetime, close: bool) -> dict:
    """The evidence of one co-presence: the index person's presence, the other's, the overlap."""
    _key, _me, start, end, dwell, _lo, _hi, _close_lo, _close_hi, venue_id, venue_name, close_minutes = seek
    other_end = at + dwell
    first = start if start > at else at
    last = end if end < other_end else other_end
    overlap = last - first if last > first else timedelta(0)
    return {
        "rule": Rule.VENUE_CLOSE if close else Rule.VENUE_COMPANION,
        "venue_id": venue_id, "venue": venue_name, "case_from": start, "case_to": end,
        "contact_from": at, "contact_to": other_end, "overlap_minutes": overlap // MINUTE,
        "close_minutes": close_minutes,
    }


@dataclass(frozen=True)
class VenueRule:
    close_minutes: int | None
    companion: bool


class RuleSet:
    """A pack's ``contact_rules``: per venue type code, with a default."""

    def __init__(self, contact_rules: dict | None):
        rules = contact_rules or {}
        default = rules.get("default", {"close_minutes": None, "companion": True})
        self.default = VenueRule(default.get("close_minutes"), bool(default.get("companion", True)))
        self.by_type = {
            code: VenueRule(spec.get("close_minutes"), bool(spec.get("companion", True)))
            for code, spec in rules.items() if code != "default"
        }

    def for_type(self, type_code: str) -> VenueRule:
        return self.by_type.get(type_code, self.default)


@dataclass(frozen=True)
class _VenueInfo:
    name: str
    dwell: timedelta
    rule: VenueRule


def _venues(venue_ids: Iterable[int], rules: RuleSet) -> dict[int, _VenueInfo]:
    rows = Venue.objects.filter(pk__in=set(venue_ids)).values_list(
        "pk", "name", "dwell_minutes", "type__dwell_minutes", "type__code")
    return {pk: _VenueInfo(name, timedelta(minutes=own or default), rules.for_type(code))
            for pk, name, own, default, code in rows}


@_no_gc()
def presences(indexes: list[Index]) -> dict[int, list[Presence]]:
    """Each index's check-ins inside its window as presences (scan .. scan + dwell), plus its extras.

    One query per PEOPLE_PER_QUERY index people on the (person, scanned_at)
    index, over the span of their windows: the people are taken in the order
    their windows open, so that the span stays close to each window. The dwell
    is applied in ``co_presence`` where the venues are known.
    """
    found: dict[int, list[Presence]] = {ix.key: list(ix.extra) for ix in indexes}
    by_person: dict[int, list[Index]] = {}
    for ix in sorted(indexes, key=_start):
        by_person.setdefault(ix.person_id, []).append(ix)
    people = list(by_person)
    table, at, venue, person, selected = _checkin_columns()
    adapt = connection.ops.adapt_datetimefield_value
    for offset in range(0, len(people), PEOPLE_PER_QUERY):
        chunk = people[offset:offset + PEOPLE_PER_QUERY]
        group = [ix for pid in chunk for ix in by_person[pid]]
        lo, hi = min(ix.start for ix in group), max(ix.end for ix in group)
        marks = ", ".join(["%s"] * len(chunk))
        sql = (f"SELECT {person}, {venue}, {selected} FROM {table} "
               f"WHERE {person} IN ({marks}) AND {at} >= %s AND {at} <= %s")
        for person_id, venue_id, value in _rows(sql, [*chunk, adapt(lo), adapt(hi)]):
            for ix in by_person[person_id]:
                if ix.start <= value <= ix.end:
                    found[ix.key].append(Presence(venue_id, value, value, "scan"))
    return found


def _start(ix: Index) -> datetime:
    return ix.start


@_no_gc()
def co_presence(indexes: list[Index], rules: RuleSet, *, close_only: bool = False,
                found: dict[int, list[Presence]] | None = None) -> list[Link]:
    """Links from sharing a venue with an index person: close or companion by the rules."""
    return list(_co_presence(indexes, rules, close_only, found, ContactKind.CLOSE).values())


def _co_presence(indexes: list[Index], rules: RuleSet, close_only: bool, found: dict[int, list[Presence]] | None,
                 close_kind: str) -> dict[tuple[int, int], Link]:
    """co_presence's links by (key, person), close ones of CLOSE_KIND (secondaries file theirs as such)."""
    found = presences(indexes) if found is None else found
    person_of = {ix.key: ix.person_id for ix in indexes}
    venues = _venues((p.venue_id for ps in found.values() for p in ps), rules)
    seeks: list[tuple] = []
    for key, items in found.items():
        for p in items:
            info = venues.get(p.venue_id)
            if info is None:
                continue
            seek = _seek(key, person_of[key], p, info, close_only)
            if seek is not None:
                seeks.append(seek)
    check_ins = _range_rows(seeks)
    links: dict[tuple[int, int], Link] = {}
    get = links.get
    companion_kind = ContactKind.COMPANION
    for seek, (times, people) in zip(seeks, check_ins, strict=True):
        key, me, start, end, dwell, lo, hi, close_lo, close_hi = seek[:9]
        for n in range(bisect_left(times, lo), bisect_right(times, hi)):
            person_id = people[n]
            if person_id == me:
                continue
            at = times[n]
            close = close_lo is not None and close_lo <= at <= close_hi
            other_end = at + dwell
            first = start if start > at else at
            last = end if end < other_end else other_end
            if last < first:
                last = first
            slot = (key, person_id)
            link = get(slot)
            if link is None:
                links[slot] = Link(key, person_id, close_kind if close else companion_kind, first, last, None,
                                   [(seek, at, close)])
            else:
                if close:
                    link.kind = close_kind
                if first < link.first:
                    link.first = first
                if last > link.last:
                    link.last = last
                link.seen.append((seek, at, close))
    return links


def _seek(key: int, person_id: int, p: Presence, info: _VenueInfo, close_only: bool) -> tuple | None:
    """What to look for around one presence of an index person, or None when nothing there can count.

    A plain tuple (the collector stops tracking tuples of plain values, and an
    outbreak keeps a million sightings that point at seeks): (key, index
    person, presence start, end, dwell, lo, hi, close lo, close hi, venue id,
    venue name, close minutes). Another check-in at the venue matches when it
    was scanned in [lo, hi]: its own presence [at, at + dwell] meets [start,
    end]. It is close when scanned in [close lo, close hi] (None: never): the
    overlap is at least the close minutes.
    """
    start = p.start
    end = p.end + info.dwell if p.source == "scan" else p.end
    close = info.rule.close_minutes
    close_lo = close_hi = None
    if close is not None:
        need = timedelta(minutes=close)
        if info.dwell >= need and end - start >= need:
            close_lo, close_hi = start - info.dwell + need, end - need
    if close_only or not info.rule.companion:
        if close_lo is None:
            return None
        lo, hi = close_lo, close_hi
    else:
        lo, hi = start - info.dwell, end
    return key, person_id, start, end, info.dwell, lo, hi, close_lo, close_hi, p.venue_id, info.name, close


def _range_rows(seeks: list[tuple]) -> list[tuple[list, list]]:
    """For each seek, the check-ins of its venue over a range covering its own, sorted by time: (times, people).

    The seeks of a venue are joined into ranges where they overlap (the close
    contacts of a case were there together): each check-in is read and
    converted once however many seeks cover it.
    """
    by_venue: dict[int, list[tuple]] = {}  # venue -> (lo, hi, seek number)
    for number, (_key, _me, _start, _end, _dwell, lo, hi, *_close, venue_id, _name, _minutes) in enumerate(seeks):
        by_venue.setdefault(venue_id, []).append((lo, hi, number))
    ranges = []  # (venue, from, to, seek numbers)
    for venue_id, spans in by_venue.items():
        spans.sort()
        current = None
        for lo, hi, number in spans:
            if current is not None and lo <= current[2]:
                if hi > current[2]:
                    current[2] = hi
                current[3].append(number)
            else:
                current = [venue_id, lo, hi, [number]]
                ranges.append(current)
    ranges.sort(key=_second)  # by time: a statement's ranges then fall in one or two day partitions
    out: list = [None] * len(seeks)
    for (_venue, _lo, _hi, numbers), found in zip(ranges, _read_ranges(ranges), strict=True):
        found.sort(key=_second)
        pair = ([at for _person, at in found], [person for person, _at in found])
        for number in numbers:
            out[number] = pair
    return out


def _second(row: tuple):
    return row[1]


def _read_ranges(ranges: list) -> list[list[tuple]]:
    """For each range (venue, from, to, ...): the check-ins at the venue inside it, as (person id, scanned_at).

    Each range is one range scan on the (venue, scanned_at) index,
    RANGES_PER_STATEMENT to a statement:

    - PostgreSQL: the ranges as three arrays joined LATERAL to the check-ins,
      planned once however many ranges (``OFFSET 0`` keeps the planner from
      flattening it into a hash join over the whole table), with the span of
      all the ranges as literal bounds too, so that the plan holds only the
      day partitions in that span instead of pruning all of them per range;
    - SQLite: one SELECT per range, UNION ALL-ed.

    Written as text: building and compiling a QuerySet per range cost more
    than the database's work.
    """
    table, at, venue, person, selected = _checkin_columns()
    adapt = connection.ops.adapt_datetimefield_value
    out: list[list[tuple]] = []
    for offset in range(0, len(ranges), RANGES_PER_STATEMENT):
        batch = ranges[offset:offset + RANGES_PER_STATEMENT]
        if connection.vendor == "postgresql":
            sql = (f"SELECT r.n - 1, c.person, c.at FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
                   f"WITH ORDINALITY AS r(venue, lo, hi, n) CROSS JOIN LATERAL (SELECT {person} AS person, "
                   f"{selected} AS at FROM {table} WHERE {venue} = r.venue AND {at} >= r.lo AND {at} <= r.hi "
                   f"AND {at} >= %s AND {at} <= %s OFFSET 0) c")
            params = [[item[0] for item in batch], [adapt(item[1]) for item in batch],
                      [adapt(item[2]) for item in batch], adapt(min(item[1] for item in batch)),
                      adapt(max(item[2] for item in batch))]
        else:
            sql = " UNION ALL ".join(f"SELECT {number:d}, {person}, {selected} FROM {table} "
                                     f"WHERE {venue} = %s AND {at} >= %s AND {at} <= %s"
                                     for number in range(len(batch)))
            params = [value for item in batch for value in (item[0], adapt(item[1]), adapt(item[2]))]
        found: list[list[tuple]] = [[] for _ in batch]
        for number, person_id, value in _rows(sql, params):
            found[number].append((person_id, value))
        out += found
    return out


def _rows(sql: str, params: list) -> list[tuple]:
    """Run SQL and return its rows, the last column (a scan time as UTC text) as an aware datetime.

    The time is selected as text and parsed here in one step: the backends'
    converters (Django's on SQLite, its time-zone loader on PostgreSQL) cost
    more than the query at a million rows.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    parse = datetime.fromisoformat  # "+00:00" appended: aware in one step, cheaper than replace(tzinfo=)
    return [(first, second, parse(text + "+00:00")) for first, second, text in rows]


def _checkin_columns() -> tuple[str, str, str, str, str]:
    """Table and columns of CheckIn, and the scan time as selected: UTC text (see _rows)."""
    ops, meta = connection.ops, CheckIn._meta
    table = ops.quote_name(meta.db_table)
    at, venue, person = (ops.quote_name(meta.get_field(name).column) for name in ("scanned_at", "venue", "person"))
    if connection.vendor == "postgresql":
        selected = f"to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    else:
        selected = f"CAST({at} AS TEXT)"
    return table, at, venue, person, selected


def jsonable(evidence: list[dict]) -> list[dict]:
    """Evidence as stored (JSON): the times of co-presence as ISO strings."""
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in item.items()} for item in evidence]


@_no_gc()
def households(indexes: list[Index], kind: str) -> list[Link]:
    """Everyone in the index person's household (同住), over the whole window."""
    homes = dict(Person.objects.filter(pk__in=_one_of({ix.person_id for ix in indexes}, "bigint"),
                                       household__isnull=False).values_list("pk", "household_id"))
    if not homes:
        return []
    members: dict[int, list[int]] = {}
    for pk, household in (Person.objects.filter(household_id__in=_one_of(set(homes.values()), "bigint"),
                                                merged_into__isnull=True).values_list("pk", "household_id")):
        members.setdefault(household, []).append(pk)
    links = []
    for ix in indexes:
        for pk in members.get(homes.get(ix.person_id), []):
            if pk != ix.person_id:
                links.append(Link(ix.key, pk, kind, ix.start, ix.end, [{"rule": Rule.HOUSEHOLD}]))
    return links


@_no_gc()
def workplaces(indexes: list[Index], kind: str) -> list[Link]:
    """Everyone recorded with the same workplace or class (同单位/同班级)."""
    places = dict(Person.objects.filter(pk__in=_one_of({ix.person_id for ix in indexes}, "bigint"))
                  .exclude(workplace="").values_list("pk", "workplace"))
    if not places:
        return []
    members: dict[str, list[int]] = {}
    for pk, place in (Person.objects.filter(workplace__in=_one_of(set(places.values()), "text"),
                                            merged_into__isnull=True)
                      .exclude(workplace="")  # the condition of the partial index on workplace
                      .values_list("pk", "workplace")):
        members.setdefault(place, []).append(pk)
    links = []
    for ix in indexes:
        place = places.get(ix.person_id)
        for pk in members.get(place, []) if place else []:
            if pk != ix.person_id:
                links.append(Link(ix.key, pk, kind, ix.start, ix.end, [{"rule": Rule.WORKPLACE, "text": place}]))
    return links


def _one_of(values: set, db_type: str) -> RawSQL:
    """VALUES for an ``__in`` filter as one parameter: an array (PostgreSQL) or a JSON list (SQLite).

    The index people of an outbreak's secondaries are tens of thousands:
    compiling a placeholder for each costs Django more than the query.
    """
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(%s::{db_type}[])", [list(values)])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(values))])


@_no_gc()
def merge(links: Iterable[Link]) -> dict[tuple[int, int], Link]:
    """One link per (key, person): the highest kind, the earliest first and latest last exposure, all evidence.

    The links are the engine's own, fresh from one discovery: the first of each slot is kept and grows.
    """
    merged: dict[tuple[int, int], Link] = {}
    keep = merged.setdefault
    for link in links:
        kept = keep((link.key, link.person_id), link)
        if kept is not link:
            kept.absorb(link)
    return merged


@_no_gc()
def close_and_companions(indexes: list[Index], rules: RuleSet) -> dict[tuple[int, int], Link]:
    """A case's contacts: household and workplace (close) and co-presence at venues (close or companion)."""
    found = merge([*households(indexes, ContactKind.CLOSE), *workplaces(indexes, ContactKind.CLOSE)])
    return _merge_into(found, _co_presence(indexes, rules, False, None, ContactKind.CLOSE))


@_no_gc()
def secondaries(indexes: list[Index], rules: RuleSet) -> dict[tuple[int, int], Link]:
    """A close contact's contacts (household, workplace, close co-presence), all of kind secondary."""
    found = merge([*households(indexes, ContactKind.SECONDARY), *workplaces(indexes, ContactKind.SECONDARY)])
    return _merge_into(found, _co_presence(indexes, rules, True, None, ContactKind.SECONDARY))


def _merge_into(merged: dict[tuple[int, int], Link], more: dict[tuple[int, int], Link]) -> dict[tuple[int, int], Link]:
    """merge() of MERGED's links followed by MORE's (one per slot already), without a step per link of MORE."""
    for slot in merged.keys() & more.keys():
        merged[slot].absorb(more.pop(slot))
    merged.update(more)
    return merged
