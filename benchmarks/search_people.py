"""Person search latency: search_people(user, q) for each kind of query, first page and count.

Run against an existing database (FANGKONG_VAR_DIR / DATABASE_URL point at it):

    FANGKONG_VAR_DIR=/tmp/fk1m .venv/bin/python benchmarks/search_people.py --n 100

Prints JSON: per user and query kind n, p50, p95, max (ms) of the first page
(qs[:50]), of the count (qs.count()) and of both together.
"""

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Timer, ensure_data, machine_info, now_iso, print_json, setup_django, summarize  # noqa: E402

KINDS = ["name", "surname", "initials", "pinyin_prefix", "id_last4", "phone", "full_id"]


def sample_people(queryset, n: int, rng):
    """N random people of QUERYSET (random id probes, not ORDER BY random())."""
    from django.db.models import Max, Min

    bounds = queryset.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return []
    picked = {}
    tries = 0
    while len(picked) < n and tries < 50:
        tries += 1
        ids = [rng.randint(bounds["lo"], bounds["hi"]) for _ in range(n * 4)]
        for person in queryset.filter(id__in=ids).exclude(doc_index=""):
            picked.setdefault(person.pk, person)
    if len(picked) < n:  # a small scope: take what there is
        for person in queryset.exclude(doc_index="")[: n * 2]:
            picked.setdefault(person.pk, person)
    people = list(picked.values())
    rng.shuffle(people)
    return (people * (n // max(1, len(people)) + 1))[:n]


def query_for(kind: str, person, rng) -> str:
    if kind == "name":
        return person.name
    if kind == "surname":
        return person.name[0]
    if kind == "initials":
        return person.name_initials
    if kind == "pinyin_prefix":
        return person.name_pinyin[: max(3, len(person.name_pinyin) - 2)]
    if kind == "id_last4":
        return person.doc_last4
    if kind == "phone":
        return person.phone or "13800000000"
    if kind == "full_id":
        return person.document_number
    raise ValueError(kind)


def run_user(user, n: int, rng, page_size: int) -> dict:
    from fangkong.people.models import Person
    from fangkong.people.selectors import search_people

    scope = Person.objects.restrict(user, "view").current()
    people = sample_people(scope, n, rng)
    result = {"username": user.username, "role": user.role, "area": user.area_id, "scope_people": scope.count()}
    # Warm the caches a little, as a running server would be.
    for person in people[:5]:
        list(search_people(user, person.name)[:page_size])
    kinds = {}
    for kind in KINDS:
        page_ms, count_ms, total_ms, hits = [], [], [], []
        for person in people:
            q = query_for(kind, person, rng)
            qs = search_people(user, q)
            with Timer() as t1:
                rows = list(qs[:page_size])
            with Timer() as t2:
                total = qs.count()
            page_ms.append(t1.ms)
            count_ms.append(t2.ms)
            total_ms.append(t1.ms + t2.ms)
            hits.append(total)
            assert len(rows) == min(total, page_size)
        hits.sort()
        kinds[kind] = {
            "page": summarize(page_ms), "count": summarize(count_ms), "page_and_count": summarize(total_ms),
            "hits_median": hits[len(hits) // 2], "hits_max": hits[-1],
        }
    result["kinds"] = kinds
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="queries per kind and user (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--people", type=int, default=None, help="generate a demo county of N people if empty")
    parser.add_argument("--users", default="admin,grid1", help="usernames to search as (default admin,grid1)")
    args = parser.parse_args(argv)
    setup_django()
    from fangkong.accounts.models import User

    scale = ensure_data(args.people)
    rng = random.Random(args.seed)
    users = [User.objects.select_related("area").get(username=name) for name in args.users.split(",")]
    result = {
        "benchmark": "search_people", "date": now_iso(), "people": scale, "machine": machine_info(),
        "target": "p95 < 100 ms (page + count)",
        "users": [run_user(user, args.n, rng, args.page_size) for user in users],
    }
    print_json(result)


if __name__ == "__main__":
    main()
