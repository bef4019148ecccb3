"""Co-presence read by shared venue ranges equals a brute force over every check-in, on a crowded planted scenario."""

import gc
import random
from datetime import UTC, datetime, timedelta
from unittest import mock

from fangkong.policy.packs import CONTACT_RULES
from fangkong.tracing import engine
from fangkong.tracing.choices import ContactKind, Rule
from fangkong.venues.models import CheckIn
from tests.base import WorldTestCase
from tests.factories import make_household, make_person, make_venue

START = datetime(2026, 11, 18, tzinfo=UTC)
RULES = {**CONTACT_RULES, "bank": {"close_minutes": 10, "companion": False}}  # close only, no companions


def brute_force(indexes, rules, dwell_of, type_of, *, close_only):
    """Every (index, person) link from all check-ins, with the engine's interval math written out plainly."""
    rows = list(CheckIn.objects.values_list("person_id", "venue_id", "scanned_at"))
    links = {}
    for ix in indexes:
        mine = [(v, at, at + dwell_of[v]) for p, v, at in rows if p == ix.person_id and ix.start <= at <= ix.end]
        mine += [(e.venue_id, e.start, e.end) for e in ix.extra]
        for venue_id, start, end in mine:
            dwell, rule = dwell_of[venue_id], rules.for_type(type_of[venue_id])
            for person_id, other_venue, at in rows:
                if other_venue != venue_id or person_id == ix.person_id:
                    continue
                first, last = max(start, at), min(end, at + dwell)
                if last < first:
                    continue  # the two presences do not meet
                close = rule.close_minutes is not None and last - first >= timedelta(minutes=rule.close_minutes)
                if not close and (close_only or not rule.companion):
                    continue
                kind, evidence = links.get((ix.key, person_id), (ContactKind.COMPANION, []))
                evidence.append({
                    "rule": Rule.VENUE_CLOSE if close else Rule.VENUE_COMPANION, "venue_id": venue_id,
                    "venue": "", "case_from": start, "case_to": end, "contact_from": at, "contact_to": at + dwell,
                    "overlap_minutes": (last - first) // timedelta(minutes=1),
                    "close_minutes": rule.close_minutes,
                })
                links[ix.key, person_id] = (ContactKind.CLOSE if close else kind, evidence)
    out = {}
    for slot, (kind, evidence) in links.items():
        firsts = [max(e["case_from"], e["contact_from"]) for e in evidence]
        lasts = [min(e["case_to"], e["contact_to"]) for e in evidence]
        out[slot] = (kind, min(firsts), max(lasts), sorted(_plain(e) for e in evidence))
    return out


def _plain(item: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in item.items() if k != "venue"))


def as_found(links: list[engine.Link]) -> dict:
    return {(link.key, link.person_id): (link.kind, link.first, link.last, sorted(_plain(e) for e in link.evidence))
            for link in links}


class CrowdedVenues(WorldTestCase):
    """Index people who were together at the same venues: their seeks overlap and share one read."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.venues = [make_venue(w.grid_a, "甲村饭店", "restaurant"), make_venue(w.grid_a, "甲村超市", "supermarket"),
                      make_venue(w.grid_b, "乙村银行", "bank"), make_venue(w.grid_b, "乙村影院", "cinema")]
        home = make_household(w.grid_b, "7号楼", "701")
        # The first and the last live together.
        cls.people = [make_person(w.hq, w.grid_b, f"人员{n}", **({"household": home} if n in (0, 13) else {}))
                      for n in range(14)]
        rng = random.Random(6)
        rows = []
        for person in cls.people:
            for _ in range(9):
                # Around noon on two days, on 5-minute steps so that presences often touch or overlap by
                # exactly the close minutes, some at odd microseconds (scans keep them).
                at = START + timedelta(hours=10 + 24 * rng.randrange(2), minutes=rng.randrange(0, 4 * 60, 5))
                if rng.random() < 0.15:
                    at += timedelta(microseconds=rng.randrange(1, 10 ** 6))
                rows.append(CheckIn(person=person, venue=rng.choice(cls.venues), scanned_at=at))
        # The housemates were also out together once.
        rows.append(CheckIn(person=cls.people[13], venue=rows[0].venue, scanned_at=rows[0].scanned_at + timedelta(minutes=5)))
        CheckIn.objects.bulk_create(rows)
        cls.dwell_of = {v.pk: timedelta(minutes=v.type.dwell_minutes) for v in cls.venues}
        cls.type_of = {v.pk: v.type.code for v in cls.venues}

    def indexes(self):
        rng = random.Random(7)
        out = []
        for key, person in enumerate(self.people[:8], 1):
            start = START + timedelta(hours=rng.randrange(0, 30))
            out.append(engine.Index(key, person.pk, start, start + timedelta(hours=rng.randrange(6, 30))))
        # An interview entry at a registered venue is a presence of its own.
        restaurant = self.venues[0]
        out[0] = engine.Index(out[0].key, out[0].person_id, out[0].start, out[0].end, (
            engine.Presence(restaurant.pk, START + timedelta(hours=11), START + timedelta(hours=13), "interview"),))
        return out

    def check(self, *, close_only):
        rules = engine.RuleSet(RULES)
        indexes = self.indexes()
        expected = brute_force(indexes, rules, self.dwell_of, self.type_of, close_only=close_only)
        self.assertGreater(len(expected), 20)
        self.assertIn(ContactKind.CLOSE, {kind for kind, *_ in expected.values()})
        # A few ranges and people per statement, so that one index's seeks span several statements.
        with mock.patch.object(engine, "RANGES_PER_STATEMENT", 3), mock.patch.object(engine, "PEOPLE_PER_QUERY", 2):
            got = as_found(engine.co_presence(indexes, rules, close_only=close_only))
        self.assertEqual(got, expected)
        # Traced one by one (no seek shares a read with another index's), the links are the same.
        alone = {}
        for ix in indexes:
            alone.update(as_found(engine.co_presence([ix], rules, close_only=close_only)))
        self.assertEqual(alone, expected)

    def test_close_and_companions_equal_the_brute_force(self):
        self.check(close_only=False)

    def test_close_only_equals_the_brute_force(self):
        self.check(close_only=True)

    def test_evidence_is_built_when_read_and_can_be_replaced(self):
        rules = engine.RuleSet(RULES)
        link = next(link for link in engine.co_presence(self.indexes(), rules) if len(link.seen) > 1)
        seen = len(link.seen)
        evidence = link.evidence
        self.assertEqual(len(evidence), seen)
        self.assertIsNone(link.seen)
        self.assertIs(link.evidence, evidence)
        self.assertLessEqual({e["venue"] for e in evidence}, {v.name for v in self.venues})
        link.evidence = [{**item, "via": 1} for item in evidence]
        self.assertEqual({e["via"] for e in link.evidence}, {1})

    def whole_window(self):
        return engine.Index(1, self.people[0].pk, START, START + timedelta(days=2))

    def test_household_comes_first_and_takes_in_the_venue_evidence(self):
        rules, ix = engine.RuleSet(RULES), self.whole_window()
        found = engine.close_and_companions([ix], rules)
        housemate = (1, self.people[13].pk)
        venue_links = engine.co_presence([ix], rules)
        self.assertIn(housemate, as_found(venue_links))
        # The household link first, then the co-presence links in the order they were found.
        self.assertEqual(list(found), [housemate, *((link.key, link.person_id) for link in venue_links
                                                    if (link.key, link.person_id) != housemate)])
        link = found[housemate]
        self.assertEqual((link.kind, link.first, link.last), (ContactKind.CLOSE, ix.start, ix.end))
        self.assertEqual(link.evidence[0], {"rule": Rule.HOUSEHOLD})
        self.assertEqual(sorted(_plain(e) for e in link.evidence[1:]), as_found(venue_links)[housemate][3])

    def test_secondaries_are_the_household_and_close_co_presence(self):
        rules, ix = engine.RuleSet(RULES), self.whole_window()
        found = engine.secondaries([ix], rules)
        close = brute_force([ix], rules, self.dwell_of, self.type_of, close_only=True)
        housemate = (1, self.people[13].pk)
        self.assertEqual({slot: link.kind for slot, link in found.items()},
                         dict.fromkeys([housemate, *close], ContactKind.SECONDARY))
        # The housemate's exposure is the whole window; the others' their co-presence.
        self.assertEqual({slot: (link.first, link.last) for slot, link in found.items() if slot != housemate},
                         {slot: (first, last) for slot, (_kind, first, last, _items) in close.items()
                          if slot != housemate})

    def test_the_garbage_collector_is_left_as_it_was(self):
        rules, ix = engine.RuleSet(RULES), self.whole_window()
        self.assertTrue(gc.isenabled())
        engine.close_and_companions([ix], rules)
        self.assertTrue(gc.isenabled())
        gc.disable()
        try:
            engine.secondaries([ix], rules)
            self.assertFalse(gc.isenabled())
        finally:
            gc.enable()
