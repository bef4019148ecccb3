"""Page latency: the people list and the area tree, as the county admin and as a grid worker.

    FANGKONG_VAR_DIR=/tmp/fk1m .venv/bin/python benchmarks/pages.py --n 30

Uses django.test.Client with force_login (no network, no static files), so
the figures are the Django side of a request: view, queries, templates.
Prints JSON: per user and page n, p50, p95, max (ms), status and query count.
A page whose URL does not resolve yet is reported as skipped.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Timer, ensure_data, machine_info, now_iso, print_json, setup_django, summarize  # noqa: E402


def pages_for(user, sample) -> list[tuple[str, str, dict, str]]:
    """(label, url name, kwargs, query string)."""
    from fangkong.areas.models import Area

    area = user.area
    chain = [area]
    while chain[-1].level != "grid":
        child = Area.objects.filter(parent=chain[-1]).order_by("code").first()
        if child is None:
            break
        chain.append(child)
    pages = [
        ("people list", "people:list", {}, ""),
        ("people list page 10", "people:list", {}, "?page=10"),
        ("people search name", "people:list", {}, "?q=" + sample.name),
        ("people search surname", "people:list", {}, "?q=" + sample.name[0]),
        ("people search initials", "people:list", {}, "?q=" + sample.name_initials),
        ("people search id last4", "people:list", {}, "?q=" + sample.doc_last4),
        ("area tree", "areas:tree", {}, ""),
    ]
    for node in chain:
        pages.append((f"area detail {node.level}", "areas:detail", {"code": node.code}, ""))
    return pages


def run_user(user, n: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from fangkong.people.models import Person

    sample = Person.objects.restrict(user, "view").current().exclude(doc_index="").order_by("id").first()
    client = Client()
    client.force_login(user)
    results = {}
    for label, name, kwargs, query in pages_for(user, sample):
        try:
            url = reverse(name, kwargs=kwargs) + query
        except NoReverseMatch:
            results[label] = {"skipped": f"URL {name} does not resolve"}
            continue
        times, statuses, queries = [], set(), 0
        try:
            client.get(url, follow=True)  # warm up
            for _ in range(n):
                with CaptureQueriesContext(connection) as captured, Timer() as t:
                    response = client.get(url, follow=True)
                times.append(t.ms)
                statuses.add(response.status_code)
                queries = len(captured)
        except Exception as exc:  # a view still being written: report, go on
            results[label] = {"url": url, "error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        results[label] = {"url": url, **summarize(times), "status": sorted(statuses), "queries": queries}
    return {"username": user.username, "role": user.role, "area": user.area_id, "pages": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="requests per page and user (default 30)")
    parser.add_argument("--people", type=int, default=None, help="generate a demo county of N people if empty")
    parser.add_argument("--users", default="admin,grid1", help="usernames (default admin,grid1)")
    args = parser.parse_args(argv)
    setup_django()
    from django.conf import settings

    from fangkong.accounts.models import User

    settings.DEBUG = False
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append("testserver")
    scale = ensure_data(args.people)
    users = [User.objects.select_related("area").get(username=name) for name in args.users.split(",")]
    result = {
        "benchmark": "pages", "date": now_iso(), "people": scale, "machine": machine_info(),
        "target": "p95 < 300 ms",
        "users": [run_user(user, args.n) for user in users],
    }
    print_json(result)


if __name__ == "__main__":
    main()
