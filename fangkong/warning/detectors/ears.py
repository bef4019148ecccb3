"""CDC EARS C1, C2, C3 (daily, short baseline), classical rule (``early-warning.md`` §1.1).

ybar and s are the mean and the sample SD (n - 1) of a 7-day baseline, s floored at
``min_sigma`` (default 0.5, Burkom) so that flat or all-zero baselines do not divide by 0.

* C1: baseline t-7..t-1; C1_t = (y_t - ybar) / s; alarm if C1_t > 3; upper = ybar + 3 s.
* C2: baseline t-9..t-3 (2-day guard band); alarm if C2_t > 3; upper = ybar + 3 s.
* C3: C3_t = sum_{i=t-2..t} max(0, C2_i - 1); alarm if C3_t > 2. upper is the y_t at which
  C3 would reach 2 given the two lagged terms L: ybar_t + s_t (3 - L) while L <= 2; once the
  lagged terms alone exceed 2 every y_t alarms and upper is 0.

This is not R's ``earsC`` (which uses z_{0.999} ≈ 3.09 and builds C3's bound around the
observed value); ``threshold`` (default 3 for C1/C2, 2 for C3) can be changed.
"""

from __future__ import annotations

import numpy as np

from .base import Result, as_counts, empty_result, first_index, rolling_windows

BASELINE = 7


def _baseline_stats(y, guard, baseline, min_sigma):
    """Mean and floored SD of the baseline for every t >= baseline + guard (index t)."""
    win = rolling_windows(y, baseline)  # row i = y[i : i + baseline]
    n = y.size
    lo = baseline + guard  # first t with a full baseline
    mean = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    if n > lo:
        rows = win[: n - lo]  # t = lo.. n-1 uses y[t - lo : t - guard]
        mean[lo:] = rows.mean(axis=1)
        sd[lo:] = np.maximum(rows.std(axis=1, ddof=1), min_sigma)
    return mean, sd


def _c(y, guard, *, start, threshold, min_sigma, baseline, method):
    n = y.size
    res = empty_result(n, method)
    t0 = first_index(n, baseline + guard, start)
    if t0 >= n:
        return res
    mean, sd = _baseline_stats(y, guard, baseline, min_sigma)
    z = (y[t0:] - mean[t0:]) / sd[t0:]
    res.expected[t0:] = mean[t0:]
    res.upper[t0:] = mean[t0:] + threshold * sd[t0:]
    res.alarm[t0:] = z > threshold
    return res


def ears_c1(counts, *, start: int | None = None, threshold: float = 3.0,
            min_sigma: float = 0.5, baseline: int = BASELINE) -> Result:
    """EARS C1 (MILD): baseline the 7 days before t, no guard band."""
    return _c(as_counts(counts), 0, start=start, threshold=threshold, min_sigma=min_sigma,
              baseline=baseline, method="ears_c1")


def ears_c2(counts, *, start: int | None = None, threshold: float = 3.0,
            min_sigma: float = 0.5, baseline: int = BASELINE, guard: int = 2) -> Result:
    """EARS C2 (MEDIUM): baseline t-9..t-3 (2-day guard band)."""
    return _c(as_counts(counts), guard, start=start, threshold=threshold, min_sigma=min_sigma,
              baseline=baseline, method="ears_c2")


def ears_c3(counts, *, start: int | None = None, threshold: float = 2.0,
            min_sigma: float = 0.5, baseline: int = BASELINE, guard: int = 2) -> Result:
    """EARS C3 (HIGH): the last three days' C2 excesses over 1, summed; alarm if > 2."""
    y = as_counts(counts)
    n = y.size
    res = empty_result(n, "ears_c3")
    need = baseline + guard + 2  # C2 at t-2 must exist
    t0 = first_index(n, need, start)
    if t0 >= n:
        return res
    mean, sd = _baseline_stats(y, guard, baseline, min_sigma)
    c2 = (y - mean) / sd  # NaN before baseline + guard
    part = np.maximum(0.0, c2 - 1.0)
    ts = np.arange(t0, n)
    lag = part[ts - 1] + part[ts - 2]
    c3 = lag + part[ts]
    res.expected[ts] = mean[ts]
    room = threshold - lag
    res.upper[ts] = np.where(room >= 0, mean[ts] + sd[ts] * (1.0 + room), 0.0)
    res.alarm[ts] = c3 > threshold
    return res
