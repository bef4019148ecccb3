"""Contact discovery: from index people and their windows, everyone linked to them, with the evidence.

No web code. An *index* is a case (or, for secondary contacts, a close
contact) with the time window to search; a *link* is a person found, the
kind (close / companion), the exposure times and every piece of evidence.

Co-presence at venues is set-based: each presence of an index person (a
check-in taken as the scan time plus the venue's dwell time, or an interview
entry at a registered venue) becomes one range seek on the (venue,
scanned_at) index, and the seeks of a batch run as one UNION ALL statement
that also classifies each row (close or companion) by a second range worked
out beforehand. The same SQL runs on SQLite and PostgreSQL; nothing loops
over check-ins in Python, only over the rows found. Intervals are closed:
two presences that touch (one ends the minute the other starts) are
companions with 0 minutes of overlap; close needs at least the rule's
minutes of overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from fangkong.people.models import Person
from fangkong.venues.models import CheckIn, Venue

from .choices import KIND_RANK, ContactKind, Rule

# SQLite allows 500 terms in a compound SELECT; stay well below it.
SEEKS_PER_STATEMENT = 200
PEOPLE_PER_QUERY = 500
MINUTE = timedelta(minutes=1)


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


@dataclass
class Link:
    key: int
    person_id: int
    kind: str
    first: datetime
    last: datetime
    evidence: list[dict] = field(default_factory=list)

    def absorb(self, other: Link) -> None:
        if KIND_RANK[other.kind] > KIND_RANK[self.kind]:
            self.kind = other.kind
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        self.evidence.extend(other.evidence)


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


def presences(indexes: list[Index]) -> dict[int, list[Presence]]:
    """Each index's check-ins inside its window as presences (scan .. scan + dwell), plus its extras.

    One query per PEOPLE_PER_QUERY index people on the (person, scanned_at)
    index; the dwell is applied in ``co_presence`` where the venues are known.
    """
    found: dict[int, list[Presence]] = {ix.key: list(ix.extra) for ix in indexes}
    by_person: dict[int, list[Index]] = {}
    for ix in indexes:
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
        for person_id, venue_id, value in _fetch(sql, [*chunk, adapt(lo), adapt(hi)], time_column=2):
            for ix in by_person[person_id]:
                if ix.start <= value <= ix.end:
                    found[ix.key].append(Presence(venue_id, value, value, "scan"))
    return found


def co_presence(indexes: list[Index], rules: RuleSet, *, close_only: bool = False,
                found: dict[int, list[Presence]] | None = None) -> list[Link]:
    """Links from sharing a venue with an index person: close or companion by the rules."""
    found = presences(indexes) if found is None else found
    index_of = {ix.key: ix for ix in indexes}
    venues = _venues((p.venue_id for ps in found.values() for p in ps), rules)
    seeks = []  # (key, presence start, presence end, venue, match lo, match hi, close lo, close hi)
    for key, items in found.items():
        for p in items:
            info = venues.get(p.venue_id)
            if info is None:
                continue
            start = p.start
            end = p.end + info.dwell if p.source == "scan" else p.end
            close = info.rule.close_minutes
            close_range = None
            if close is not None:
                need = timedelta(minutes=close)
                if info.dwell >= need and end - start >= need:
                    close_range = (start - info.dwell + need, end - need)
            if close_only or not info.rule.companion:
                if close_range is None:
                    continue
                match = close_range
            else:
                match = (start - info.dwell, end)
            seeks.append((key, start, end, p.venue_id, *match, *(close_range or (None, None))))
    found_links: dict[tuple[int, int], Link] = {}
    zero = timedelta(0)
    for offset in range(0, len(seeks), SEEKS_PER_STATEMENT):
        batch = seeks[offset:offset + SEEKS_PER_STATEMENT]
        # Per seek, what every row it finds shares.
        shared = [(key, start, end, venue_id, venues[venue_id].dwell, venues[venue_id].name,
                   venues[venue_id].rule.close_minutes) for key, start, end, venue_id, *_rest in batch]
        for number, person_id, at, close_flag in _run_seeks(batch, index_of):
            key, start, end, venue_id, dwell, name, close_minutes = shared[number]
            other_end = at + dwell
            first = start if start > at else at
            last = end if end < other_end else other_end
            overlap = last - first if last > first else zero
            item = {
                "rule": Rule.VENUE_CLOSE if close_flag else Rule.VENUE_COMPANION,
                "venue_id": venue_id, "venue": name, "case_from": start, "case_to": end,
                "contact_from": at, "contact_to": other_end, "overlap_minutes": overlap // MINUTE,
                "close_minutes": close_minutes,
            }
            kind = ContactKind.CLOSE if close_flag else ContactKind.COMPANION
            last = last if last > first else first
            link = found_links.get((key, person_id))
            if link is None:
                found_links[(key, person_id)] = Link(key, person_id, kind, first, last, [item])
            else:
                if close_flag:
                    link.kind = ContactKind.CLOSE
                if first < link.first:
                    link.first = first
                if last > link.last:
                    link.last = last
                link.evidence.append(item)
    return list(found_links.values())


def _checkin_columns() -> tuple[str, str, str, str, str]:
    """Table and columns of CheckIn, and the scan time as selected (raw text on SQLite, see _fetch)."""
    ops, meta = connection.ops, CheckIn._meta
    table = ops.quote_name(meta.db_table)
    at, venue, person = (ops.quote_name(meta.get_field(name).column) for name in ("scanned_at", "venue", "person"))
    selected = f"CAST({at} AS TEXT)" if connection.vendor == "sqlite" else at
    return table, at, venue, person, selected


def _fetch(sql: str, params: list, time_column: int) -> list[tuple]:
    """Run SQL and return its rows with the TIME_COLUMN as an aware datetime, as the ORM would give it.

    SQLite stores UTC text, selected as text (no sqlite3 converter) and parsed
    here directly: the ORM's converters cost more than the query at a million
    rows. Other backends return aware datetimes.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.vendor != "sqlite":
        return rows
    parse = datetime.fromisoformat  # "+00:00" appended: aware in one step, cheaper than replace(tzinfo=)
    return [(*row[:time_column], parse(row[time_column] + "+00:00"), *row[time_column + 1:]) for row in rows]


def jsonable(evidence: list[dict]) -> list[dict]:
    """Evidence as stored (JSON): the times of co-presence as ISO strings."""
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in item.items()} for item in evidence]


def _run_seeks(batch, index_of) -> list[tuple]:
    """One UNION ALL statement: for seek number i, the other people's check-ins in its range.

    Rows are (seek number, person id, scanned_at, close flag). The statement is
    written as text, one SELECT per seek on the (venue, scanned_at) index:
    building and compiling a QuerySet per seek cost more than the database's
    work. Parameters are adapted and times converted as the ORM does it.
    """
    if not batch:
        return []
    table, at, venue, person, selected = _checkin_columns()
    adapt = connection.ops.adapt_datetimefield_value
    parts, params = [], []
    for number, (key, _start, _end, venue_id, lo, hi, close_lo, close_hi) in enumerate(batch):
        close = "0"
        if close_lo is not None:
            close = f"CASE WHEN {at} >= %s AND {at} <= %s THEN 1 ELSE 0 END"
            params += [adapt(close_lo), adapt(close_hi)]
        parts.append(f"SELECT {number:d}, {person}, {selected}, {close} FROM {table} "
                     f"WHERE {venue} = %s AND {at} >= %s AND {at} <= %s AND {person} <> %s")
        params += [venue_id, adapt(lo), adapt(hi), index_of[key].person_id]
    return _fetch(" UNION ALL ".join(parts), params, time_column=2)


def households(indexes: list[Index], kind: str) -> list[Link]:
    """Everyone in the index person's household (同住), over the whole window."""
    homes = dict(Person.objects.filter(pk__in={ix.person_id for ix in indexes}, household__isnull=False)
                 .values_list("pk", "household_id"))
    members: dict[int, list[int]] = {}
    for pk, household in (Person.objects.filter(household_id__in=set(homes.values()), merged_into__isnull=True)
                          .values_list("pk", "household_id")):
        members.setdefault(household, []).append(pk)
    links = []
    for ix in indexes:
        for pk in members.get(homes.get(ix.person_id), []):
            if pk != ix.person_id:
                links.append(Link(ix.key, pk, kind, ix.start, ix.end, [{"rule": Rule.HOUSEHOLD}]))
    return links


def workplaces(indexes: list[Index], kind: str) -> list[Link]:
    """Everyone recorded with the same workplace or class (同单位/同班级)."""
    places = dict(Person.objects.filter(pk__in={ix.person_id for ix in indexes}).exclude(workplace="")
                  .values_list("pk", "workplace"))
    members: dict[str, list[int]] = {}
    for pk, place in (Person.objects.filter(workplace__in=set(places.values()), merged_into__isnull=True)
                      .values_list("pk", "workplace")):
        members.setdefault(place, []).append(pk)
    links = []
    for ix in indexes:
        place = places.get(ix.person_id)
        for pk in members.get(place, []) if place else []:
            if pk != ix.person_id:
                links.append(Link(ix.key, pk, kind, ix.start, ix.end, [{"rule": Rule.WORKPLACE, "text": place}]))
    return links


def merge(links: Iterable[Link]) -> dict[tuple[int, int], Link]:
    """One link per (key, person): the highest kind, the earliest first and latest last exposure, all evidence.

    The links are the engine's own, fresh from one discovery: the first of each slot is kept and grows.
    """
    merged: dict[tuple[int, int], Link] = {}
    for link in links:
        slot = (link.key, link.person_id)
        if slot in merged:
            merged[slot].absorb(link)
        else:
            merged[slot] = link
    return merged


def close_and_companions(indexes: list[Index], rules: RuleSet) -> dict[tuple[int, int], Link]:
    """A case's contacts: household and workplace (close) and co-presence at venues (close or companion)."""
    return merge([
        *households(indexes, ContactKind.CLOSE),
        *workplaces(indexes, ContactKind.CLOSE),
        *co_presence(indexes, rules),
    ])


def secondaries(indexes: list[Index], rules: RuleSet) -> dict[tuple[int, int], Link]:
    """A close contact's contacts (household, workplace, close co-presence), all of kind secondary."""
    links = [*households(indexes, ContactKind.SECONDARY), *workplaces(indexes, ContactKind.SECONDARY)]
    for link in co_presence(indexes, rules, close_only=True):
        link.kind = ContactKind.SECONDARY
        links.append(link)
    return merge(links)
