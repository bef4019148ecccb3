"""One-sided upper CUSUM on standardised daily counts (``early-warning.md`` §1.2).

For every t from ``start``: mu_t and sigma_t are the mean and the sample SD (floored at
``min_sigma``) of a ``baseline``-day window ending ``guard`` days before t (defaults: 28 days,
2-day guard band, so t-30..t-3); z_t = (y_t - mu_t) / sigma_t;
S_t = max(0, S_{t-1} + z_t - k) with S = 0 before ``start``; alarm when S_t > h, and S is
reset to 0 after an alarm (``reset=True``). Defaults k = 0.5 (a 1-SD shift), h = 4
(ARL0 ≈ 168 for normal data; for counts calibrate h by simulation).

upper_t is the count at which S_t would exceed h given S_{t-1}:
mu_t + sigma_t (h + k - S_{t-1}); expected_t = mu_t.
"""

from __future__ import annotations

import numpy as np

from .base import Result, as_counts, empty_result, first_index, rolling_windows


def cusum(counts, *, start: int | None = None, k: float = 0.5, h: float = 4.0,
          baseline: int = 28, guard: int = 2, min_sigma: float = 0.5,
          reset: bool = True) -> Result:
    y = as_counts(counts)
    n = y.size
    res = empty_result(n, "cusum")
    lo = baseline + guard
    t0 = first_index(n, lo, start)
    if t0 >= n:
        return res
    rows = rolling_windows(y, baseline)[t0 - lo : n - lo]  # t uses y[t - lo : t - guard]
    mu = rows.mean(axis=1)
    sigma = np.maximum(rows.std(axis=1, ddof=1) if baseline > 1 else 0.0, min_sigma)
    z = (y[t0:] - mu) / sigma
    m = z.size
    upper = np.empty(m)
    alarm = np.zeros(m, dtype=bool)
    s_prev = 0.0
    for i in range(m):  # the recursion is sequential; n is a few thousand at most
        upper[i] = mu[i] + sigma[i] * (h + k - s_prev)
        s = max(0.0, s_prev + z[i] - k)
        if s > h:
            alarm[i] = True
            if reset:
                s = 0.0
        s_prev = s
    res.upper[t0:], res.alarm[t0:], res.expected[t0:] = upper, alarm, mu
    return res
