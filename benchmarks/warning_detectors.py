"""Issue 9: the detectors library (fangkong.warning.detectors) on a simulated county.

Scale: 20 townships × 6 signal types × 3 years (1,095 days) of daily counts (negative
binomial, yearly seasonality, day-of-week effect, levels from 0.2 to 40 a day), simulated
here with a fixed seed; no database.

Timed:

* ``daily_full``: every daily method (EARS C1/C2/C3, CUSUM, MPM) through
  ``detectors.run`` on all 120 series, evaluating every day that has enough baseline (what
  the board draws);
* ``daily_today``: the same, today only (``start=-1``: what the nightly job needs);
* ``farrington_weekly``: Farrington on the 7-day sums aligned to weeks (156 weeks). With the
  default b = 5 it needs 264 weeks, so ``run`` falls back to EARS C1 on the weekly sums
  (the note says so); timed as well with b = 2 (108 weeks needed; the trend is then never
  kept, b >= 3 rule), every week it can evaluate, in a loop of ``run`` and batched
  (``farrington_many``, the figure used);
* ``glm_cusum``: the daily CUSUM on the Farrington expectation, with b = 2 for the same reason
  (the default b = 5 needs 1,876 days and falls back to EARS C1), every day it can evaluate, in
  a loop of ``run`` and batched (``glm_cusum_many``, the figure used), and today only;
* ``all_detectors``: daily_full + farrington (b = 2) + glm_cusum (b = 2), the figure for the
  < 2 s target;
* ``scan``: the space-time permutation scan for the 20 townships (one signal type, last 60
  days, 999 replicates), the figure for the < 10 s target.

BLAS threads: the Farrington fits are many small matrix products; on a loaded 2-core machine
multi-threaded OpenBLAS is several times slower than one thread, so this script sets
OPENBLAS_NUM_THREADS=1 (and OMP_NUM_THREADS=1) unless they are set (recorded in the JSON).

    .venv/bin/python benchmarks/warning_detectors.py [--repeat 3] > warning_detectors.json
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import cpu_model, memory_gb, now_iso, print_json  # noqa: E402

from fangkong.warning.detectors import run, weekly_sums  # noqa: E402
from fangkong.warning.detectors.farrington import farrington_many  # noqa: E402
from fangkong.warning.detectors.glm_cusum import glm_cusum_many  # noqa: E402
from fangkong.warning.detectors.scan import scan  # noqa: E402

TOWNSHIPS = 20
SIGNALS = 6
DAYS = 3 * 365
DAILY = ["ears_c1", "ears_c2", "ears_c3", "cusum", "mpm"]


def simulate(seed: int):
    rng = np.random.default_rng(seed)
    t = np.arange(DAYS)
    dow = np.array([1.3, 1.1, 1.0, 1.0, 0.95, 0.8, 0.7])
    level = rng.uniform(np.log(0.2), np.log(40), (TOWNSHIPS, SIGNALS))
    season = 0.4 * np.cos(2 * np.pi * (t - rng.integers(0, 365)) / 365.25)
    mu = np.exp(level[:, :, None] + season[None, None, :]) * dow[t % 7][None, None, :]
    phi = 1.5
    return rng.negative_binomial(mu / (phi - 1), 1 / phi)  # (townships, signals, days)


def timed(fn, repeat):
    best = float("inf")
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return round(best, 3), out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--replicates", type=int, default=999)
    args = parser.parse_args()
    counts = simulate(args.seed)
    series = counts.reshape(-1, DAYS).astype(float)
    weekly = [weekly_sums(y) for y in series]

    def daily(start=None):
        alarms = 0
        for y in series:
            for name in DAILY:
                alarms += int(run(name, y, start=start).alarm.sum())
        return alarms

    def farrington(**params):
        return [run("farrington", w, **params) for w in weekly]

    def farrington_batch(**params):  # all series in one batch of fits, same results
        return farrington_many(weekly, **params)

    figures = {}
    figures["daily_full_s"], full_alarms = timed(daily, args.repeat)
    figures["daily_today_s"], _ = timed(lambda: daily(-1), args.repeat)
    figures["farrington_default_fallback_s"], fallback = timed(farrington, args.repeat)
    figures["farrington_b2_loop_s"], _ = timed(lambda: farrington(b=2), args.repeat)
    figures["farrington_b2_s"], fb2 = timed(lambda: farrington_batch(b=2), args.repeat)
    figures["farrington_b2_today_s"], _ = timed(
        lambda: farrington_batch(b=2, start=-1), args.repeat
    )
    figures["glm_cusum_default_fallback_s"], glm_fallback = timed(
        lambda: [run("glm_cusum", y) for y in series], args.repeat
    )
    figures["glm_cusum_b2_loop_s"], _ = timed(
        lambda: [run("glm_cusum", y, b=2) for y in series], args.repeat
    )
    figures["glm_cusum_b2_s"], gb2 = timed(lambda: glm_cusum_many(series, b=2), args.repeat)
    figures["glm_cusum_b2_today_s"], _ = timed(
        lambda: glm_cusum_many(series, b=2, start=-1), args.repeat
    )
    figures["all_detectors_s"] = round(
        figures["daily_full_s"] + figures["farrington_b2_s"] + figures["glm_cusum_b2_s"], 3
    )
    figures["all_detectors_today_s"] = round(
        figures["daily_today_s"] + figures["farrington_b2_today_s"]
        + figures["glm_cusum_b2_today_s"], 3
    )
    fever = counts[:, 0, :]
    rng = np.random.default_rng(args.seed)
    coords = rng.uniform(0, 60, (TOWNSHIPS, 2))
    figures["scan_s"], clusters = timed(
        lambda: scan(fever, coords, replicates=args.replicates, seed=1), args.repeat
    )
    print_json({
        "benchmark": "warning_detectors",
        "at": now_iso(),
        "scale": {
            "townships": TOWNSHIPS, "signal_types": SIGNALS, "days": DAYS,
            "series": TOWNSHIPS * SIGNALS, "weeks": len(weekly[0]),
            "daily_methods": DAILY, "scan_replicates": args.replicates, "scan_study_days": 60,
        },
        "figures": figures,
        "targets": {"all_detectors_s": 2.0, "scan_s": 10.0},
        "checks": {
            "daily_full_alarms": full_alarms,
            "farrington_default_note": fallback[0].note,
            "farrington_b2_weeks_evaluated": int(np.isfinite(fb2[0].upper).sum()),
            "farrington_b2_alarms": int(sum(r.alarm.sum() for r in fb2)),
            "glm_cusum_default_note": glm_fallback[0].note,
            "glm_cusum_b2_days_evaluated": int(np.isfinite(gb2[0].upper).sum()),
            "glm_cusum_b2_alarms": int(sum(r.alarm.sum() for r in gb2)),
            "scan_top_p": clusters[0].p_value if clusters else None,
        },
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_gb": memory_gb(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            "load_average": os.getloadavg(),
        },
    })


if __name__ == "__main__":
    main()
