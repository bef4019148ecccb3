"""WSGI entry point for benchmarks/venues_scan.py: fangkong.wsgi plus settings overrides from the environment.

`fangkong/settings.py` before 35067e8 did not read
FANGKONG_SCAN_RATE_PER_MINUTE from the environment (the scan endpoint reads
it with getattr, default 120 a minute per client address and per worker), so
a load test from one address measured mostly 429 answers. This module sets it (and any other
FANGKONG_BENCH_SET_<NAME>=<int> given) on django.conf.settings once Django
is set up, and quiets the "Not Found"/4xx warnings of the django.request
logger (the load generator counts statuses itself; the 404 floor run would
otherwise log a line a request). Nothing else changes.

    gunicorn --chdir benchmarks venues_wsgi:application ...
"""

import logging
import os

from django.conf import settings  # noqa: E402

from fangkong.wsgi import application  # noqa: F401  (sets Django up)

if "FANGKONG_SCAN_RATE_PER_MINUTE" in os.environ:
    settings.FANGKONG_SCAN_RATE_PER_MINUTE = int(os.environ["FANGKONG_SCAN_RATE_PER_MINUTE"])
for name, value in os.environ.items():
    if name.startswith("FANGKONG_BENCH_SET_"):
        setattr(settings, name.removeprefix("FANGKONG_BENCH_SET_"), int(value))
logging.getLogger("django.request").setLevel(logging.ERROR)
