"""Our improved Farrington against R's surveillance::farringtonFlexible on the same series.

Needs Rscript and the R package surveillance (Debian: r-base-core, r-cran-surveillance);
skipped without them, except under CI=true where their absence is a failure. Checked with
R 4.2.2 and surveillance 1.20.3 (the versions are printed by the R script on stderr).
"""

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fangkong.warning.detectors.farrington import farrington

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "farrington_reference.R"
WEEKS = 624
# Noufaily et al. 2013 base sets (theta, beta, gamma1, gamma2, phi)
SETS = [
    (0.1, 0.0025, 0.6, 0.6, 1.5),
    (-2, 0.005, 0.1, 0.3, 2),
    (1.5, 0.003, 0.2, -0.4, 1),
    (0.5, 0.002, 0.5, 0.5, 5),
    (2.5, 0.001, 1, 0.1, 3),
    (3.75, 0.001, 0.1, -0.1, 1.1),
    (5, 0.0001, 0.05, 0.01, 1.2),
]


def simulate(seed=20240609):
    """20 weekly series: negative binomial (variance phi * mu) with m harmonics, with and
    without trend, 4 past outbreaks and a current one (Noufaily protocol, §2.1)."""
    rng = np.random.default_rng(seed)
    combos = [(s, 1, True) for s in range(7)] + [(s, 2, False) for s in range(7)]
    combos += [(s, 0, True) for s in range(6)]
    t = np.arange(1, WEEKS + 1)
    series = []
    for set_index, harmonics, with_trend in combos:
        theta, beta, g1, g2, phi = SETS[set_index]
        eta = theta + (beta if with_trend else 0.0) * t
        for j in range(1, harmonics + 1):
            eta = eta + g1 * np.cos(2 * np.pi * j * t / 52) + g2 * np.sin(2 * np.pi * j * t / 52)
        mu = np.exp(eta)
        y = rng.poisson(mu) if phi == 1 else rng.negative_binomial(mu / (phi - 1), 1 / phi)
        outbreaks = [(int(rng.integers(312, 575)), int(rng.choice([2, 3, 5, 10]))) for _ in range(4)]
        outbreaks.append((int(rng.integers(575, 610)), int(rng.integers(1, 11))))
        for start, k in outbreaks:
            size = rng.poisson(k * np.sqrt(phi * mu[start]))
            weeks = start + np.floor(rng.lognormal(0, 0.5, size)).astype(int)
            np.add.at(y, weeks[weeks < WEEKS], 1)
        series.append(y.astype(int))
    return series


def _need_r():
    problem = None
    if shutil.which("Rscript") is None:
        problem = "Rscript 不在 PATH 上（apt-get install r-base-core r-cran-surveillance）"
    else:
        check = subprocess.run(
            ["Rscript", "-e", "quit(status = !requireNamespace('surveillance', quietly = TRUE))"],
            capture_output=True, timeout=120,
        )
        if check.returncode != 0:
            problem = "R 包 surveillance 未安装（apt-get install r-cran-surveillance）"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI 中必须有 R：{problem}")
        pytest.skip(problem)


def _run_r(tmp_path, series, weeks, method):
    src = tmp_path / "series.csv"
    out = tmp_path / f"r_{method}.csv"
    with src.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["series", "t", "count"])
        for i, y in enumerate(series):
            writer.writerows([i, t, int(c)] for t, c in enumerate(y, start=1))
    done = subprocess.run(
        ["Rscript", str(SCRIPT), str(src), str(out), "--range", str(weeks), "--method", method,
         "--alpha", "0.01"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = {}
    with out.open() as f:
        for row in csv.DictReader(f):
            ub = row["upperbound"]
            rows[(int(row["series"]), int(row["t"]) - 1)] = (
                float(ub) if ub not in ("NA", "") else np.nan,
                row["alarm"] == "TRUE",
            )
    return rows


@pytest.mark.parametrize(("method", "weeks"), [("nbPlugin", 49), ("muan", 30)])
def test_thresholds_and_alarms_match_r(tmp_path, method, weeks):
    _need_r()
    series = simulate()
    golden = _run_r(tmp_path, series, weeks, method)
    ours = [farrington(y, start=WEEKS - weeks, threshold_method=method, alpha=0.01) for y in series]
    compared = alarms = 0
    mismatches = []
    for (i, t), (r_upper, r_alarm) in sorted(golden.items()):
        upper, alarm = ours[i].upper[t], bool(ours[i].alarm[t])
        if np.isfinite(r_upper):
            compared += 1
            if not (np.isfinite(upper) and abs(upper - r_upper) <= 1e-6 * abs(r_upper)):
                mismatches.append((i, t, "upper", r_upper, upper))
        if alarm != r_alarm:
            mismatches.append((i, t, "alarm", r_alarm, alarm))
        alarms += r_alarm
    assert not mismatches, mismatches[:20]
    assert len(golden) == len(series) * weeks
    assert compared > 0.8 * len(golden) and alarms > 0  # the comparison is not vacuous
