"""China CDC CIDARS moving-percentile method (``early-warning.md`` §1.4), daily series.

The statistic is C_t = the sum of the last ``block`` (7) days, t included. Its baseline is the
``block``-day sums at the same position in each of the previous ``years`` (3) years
(``period`` = 365 days back per year), plus the ``blocks`` (1) adjacent blocks before and
after it: with the defaults 3 × 3 = 9 sums, each ending on day t - j*365 + d*7 for
j = 1..3, d = -1, 0, +1.

upper_t = the ``percentile`` (default P80) of those sums, computed with
``numpy.percentile(method="linear")`` (numpy's default: the (n - 1) * P / 100-th order
statistic, interpolated linearly; with 9 values P80 lies 40 % of the way from the 7th to
the 8th smallest). Alarm when C_t > upper_t. expected_t = the mean of the sums.
**upper and expected are on the scale of the 7-day sum**, not of the daily count.

History: a day is evaluated once at least ``min_years`` (default 1) whole past years are
available (the oldest block plus its ``blocks`` neighbours before it); until ``years`` years
exist, the percentile is taken over the sums of the years available (3, then 6, then 9
values). ``MIN_HISTORY["mpm"]`` = 365 + 7 + 7 = 379 days.
"""

from __future__ import annotations

import numpy as np

from .base import Result, as_counts, empty_result, first_index


def min_history(*, period=365, block=7, blocks=1, min_years=1, **_ignored) -> int:
    return int(min_years) * int(period) + int(blocks) * int(block) + int(block)


def mpm(counts, *, start: int | None = None, percentile: float = 80.0, years: int = 3,
        min_years: int = 1, period: int = 365, block: int = 7, blocks: int = 1) -> Result:
    y = as_counts(counts)
    n = y.size
    res = empty_result(n, "mpm")
    t0 = first_index(n, min_history(period=period, block=block, blocks=blocks,
                                    min_years=min_years) - 1, start)
    if t0 >= n:
        return res
    csum = np.concatenate([[0.0], np.cumsum(y)])
    # S[i] = sum of y[i - block + 1 .. i] for i >= block - 1
    s = np.full(n, np.nan)
    s[block - 1 :] = csum[block:] - csum[: n - block + 1]
    ts = np.arange(t0, n)
    ends = np.array([-j * period + d * block for j in range(1, years + 1)
                     for d in range(-blocks, blocks + 1)])  # offsets of the block ends
    idx = ts[:, None] + ends[None, :]
    ok = idx >= block - 1
    hist = np.where(ok, s[np.clip(idx, 0, n - 1)], np.nan)
    # years are used from the most recent back, and only whole (all blocks present)
    width = 2 * blocks + 1
    per_year = hist.reshape(ts.size, years, width)
    avail = np.cumprod(np.all(np.isfinite(per_year), axis=2), axis=1).sum(axis=1)
    upper = np.full(ts.size, np.nan)
    expected = np.full(ts.size, np.nan)
    for j in range(max(min_years, 1), years + 1):
        rows = avail == j
        if rows.any():
            vals = hist[rows][:, : j * width]
            upper[rows] = np.percentile(vals, percentile, axis=1, method="linear")
            expected[rows] = vals.mean(axis=1)
    c = s[ts]
    res.upper[ts], res.expected[ts] = upper, expected
    res.alarm[ts] = c > upper
    return res
