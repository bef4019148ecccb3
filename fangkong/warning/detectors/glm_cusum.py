"""Daily CUSUM on the improved-Farrington expectation (``glm_cusum``).

A daily detector for series with years of history: the expectation of each day comes from the
same quasi-Poisson regression as the improved Farrington method (Noufaily et al. 2013, the
``farrington`` module: past years' windows around the date, 10-level seasonal factor, trend,
down-weighting of past outbreaks), fitted on the weekly sums, and split over the days of the week
by the weekday shares of the past year; each day's count is turned into a normal score under the
fitted negative binomial and a one-sided CUSUM with reset accumulates the scores.

Steps, for a daily series ``y`` (oldest first):

1. Weeks: 7-day sums aligned so that the last week ends on the last day (``base.weekly_sums``).
   For every week j holding a day to evaluate, the Farrington fit of week j (``farrington_rows``
   with the Noufaily settings b = 5, w = 3, no_periods = 10, past_weeks_not_included = 26,
   weights_threshold 2.58, trend always tested, freq 52) gives E_j = exp(eta0), the expected sum
   of week j, and phi_j, its dispersion. The fit reads only weeks 27 and more weeks back, so a
   current outbreak does not raise its own expectation. When every reference week is 0 the fit
   cannot converge (nor does R's); E_j is then 0 and any case is an excess (see ``limit``).
2. Weekday shares: s_d = 7 (n_d + 0.5) / (sum_d n_d + 3.5), n_d the counts on weekday d over the
   ``dow_weeks`` whole weeks before week j (0.5 per weekday keeps sparse series near 1).
   mu_t = E_j s_d(t) / 7.
3. Score: z_t = Phi^-1 of the mid-p value of y_t under the negative binomial with mean mu_t and
   variance phi_j mu_t (Poisson when phi_j = 1): Phi^-1(P(Y < y_t) + P(Y = y_t) / 2). The mid-p
   normal score is 0 at the median and stays bounded for small counts (a tail probability
   below 1e-12 counts as 1e-12, so one day adds at most 7.03).
4. CUSUM: S_t = max(0, S_{t-1} + z_t - k), k = 0.5 (a shift of one SD); alarm when S_t > h, and
   S_t is reset to 0 after an alarm (``reset``); an alarm needs at least ``limit[0]`` cases in
   the last ``limit[1]`` days, today included (default 3 in 7: no alarm on one or two cases of
   a near-zero series). Days whose week could not be fitted are skipped (S carries over).
   The recursion starts ``warmup`` days before ``start`` (default 28, never before the first day
   with enough history), so that a run for today only (the daily job) carries the excess of
   the days before it; only days from ``start`` on are reported.

Default h = 4.7: for normal scores a one-sided CUSUM with k = 0.5 then has an in-control run
length of about 700 days (Siegmund's approximation, ``in_control_arl``), one false alarm per
100 weeks, as many as the weekly Farrington at alpha = 0.01.

``upper`` is the count the day had to exceed to alarm given S_{t-1} (the largest y with
z(y) <= h + k - S_{t-1}), on the scale of the daily count; ``expected`` is mu_t.
The first day it can evaluate is the first day of week 52 b + w (weeks counted from the first
whole week); ``min_history(b, w, warmup)`` = 7 (52 b + w + 1) + warmup days (1,876 with the
defaults) is what it asks for, so that the daily job fetches the warm-up as well.

``glm_cusum_many`` runs several series with one batch of fits (all townships × signal types:
faster than a loop of ``glm_cusum``, same results).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .base import Result, as_counts, empty_result, first_index
from .farrington import farrington_rows, reference_offsets
from .farrington import min_history as farrington_min_history

METHOD = "glm_cusum"
FREQ = 52  # weeks per year for the Farrington fit
DOW_PRIOR = 0.5
MIN_TAIL = 1e-12

DEFAULTS = {
    "k": 0.5,
    "h": 4.7,
    "reset": True,
    "limit": (3, 7),
    "warmup": 28,
    "dow_weeks": 52,
    "b": 5,
    "w": 3,
    "no_periods": 10,
    "past_weeks_not_included": 26,
    "weights_threshold": 2.58,
    "p_threshold_trend": 1.0,
    "trend": True,
    "reweight": True,
}
FIT_PARAMS = ("b", "w", "no_periods", "past_weeks_not_included", "weights_threshold",
              "p_threshold_trend", "trend", "reweight")


def min_history(*, b=5, w=3, warmup=28, **_ignored) -> int:
    """Days needed to evaluate the last day: the weeks the Farrington fit reads, plus the warm-up."""
    return 7 * farrington_min_history(b=b, w=w, freq=FREQ) + int(warmup)


def in_control_arl(h: float, k: float = 0.5) -> float:
    """Siegmund's approximation of a one-sided CUSUM's in-control average run length (days) for
    N(0, 1) scores: (exp(2 k b) - 2 k b - 1) / (2 k^2), b = h + 1.166."""
    if k <= 0:
        return math.inf
    x = 2.0 * k * (h + 1.166)
    return (math.exp(x) - x - 1.0) / (2.0 * k * k)


def _nb_tails(y, mu, phi):
    """P(Y > y) and P(Y >= y) under the negative binomial with mean mu, variance phi mu
    (Poisson where phi <= 1)."""
    above = np.empty_like(mu)
    at_least = np.empty_like(mu)
    po = phi <= 1.0
    nb = ~po
    if po.any():
        above[po] = stats.poisson.sf(y[po], mu[po])
        at_least[po] = stats.poisson.sf(y[po] - 1, mu[po])
    if nb.any():
        size, prob = mu[nb] / (phi[nb] - 1.0), 1.0 / phi[nb]
        above[nb] = stats.nbinom.sf(y[nb], size, prob)
        at_least[nb] = stats.nbinom.sf(y[nb] - 1, size, prob)
    return above, at_least


def scores(y, mu, phi) -> np.ndarray:
    """Mid-p normal scores Phi^-1(P(Y < y) + P(Y = y) / 2) of counts y under NB(mu, phi mu)."""
    above, at_least = _nb_tails(y, mu, phi)
    return stats.norm.isf(np.clip(0.5 * (above + at_least), MIN_TAIL, 1.0))


def _count_limit(mu, phi, c):
    """The largest count y with score(y) <= c (vectors)."""
    p = stats.norm.cdf(c)
    po = phi <= 1.0
    q = np.empty_like(mu)
    if po.any():
        q[po] = stats.poisson.ppf(p[po], mu[po])
    if (~po).any():
        q[~po] = stats.nbinom.ppf(p[~po], mu[~po] / (phi[~po] - 1.0), 1.0 / phi[~po])
    # q is the smallest y with P(Y <= y) >= p: score(q + 1) > c and score(q - 1) < c. Below 0
    # only while ``limit`` holds an alarm back, and a day without cases never alarms.
    return np.maximum(np.where(scores(q, mu, phi) <= c, q, q - 1.0), 0.0)


def _weekday_shares(y, week_first_days, weeks):
    """Shares (mean 1) of each position in the week, from the `weeks` whole weeks before each
    of `week_first_days` (fewer where the series is shorter); row i, column (t - first) % 7."""
    csum = np.concatenate([[0.0], np.cumsum(y)])
    out = np.empty((week_first_days.size, 7))
    for i, first in enumerate(week_first_days):
        lo = first - 7 * min(int(weeks), first // 7)
        by_day = y[lo:first].reshape(-1, 7).sum(axis=0) if first > lo else np.zeros(7)
        # Position d of a week starting at `first` is day lo + d of the block (first - lo is a
        # multiple of 7).
        out[i] = 7.0 * (by_day + DOW_PRIOR) / (csum[first] - csum[lo] + 7 * DOW_PRIOR)
    return out


@dataclass
class Scores:
    """What the CUSUM reads, for the days ``days`` (from the warm-up on): the expectation mu,
    the dispersion phi, the score z (NaN where the week could not be fitted), the cases of the
    last ``limit[1]`` days, and ``shown``, the days from ``start`` on."""

    days: np.ndarray
    mu: np.ndarray
    phi: np.ndarray
    z: np.ndarray
    recent: np.ndarray
    shown: np.ndarray


def daily_scores_many(series, *, start: int | None = None, **params) -> list[Scores | None]:
    """Steps 1-3 of the module doc for each series (none of it depends on k, h or reset), the
    Farrington fits of all series in one batch; None for a series with no day to evaluate from
    ``start`` on."""
    p = {**DEFAULTS, **params}
    offsets, levels = reference_offsets(
        b=p["b"], w=p["w"], freq=FREQ, no_periods=p["no_periods"],
        past_weeks_not_included=p["past_weeks_not_included"],
    )
    kmin = farrington_min_history(b=p["b"], w=p["w"], freq=FREQ) - 1  # the first week fitted
    plans, rows = [], []
    for counts in series:
        y = as_counts(counts)
        n = y.size
        weeks = n // 7
        d0 = n - 7 * weeks  # the first day of week 0; days before it are in no whole week
        first_day = d0 + 7 * kmin
        t_report = first_index(n, first_day, start)
        if t_report >= n:
            plans.append(None)
            continue
        t_run = max(first_day, t_report - int(p["warmup"]))
        ks = np.arange((t_run - d0) // 7, weeks)
        week_sums = y[d0:].reshape(weeks, 7).sum(axis=1)
        rows.append(week_sums[ks[:, None] - offsets[None, :]])
        plans.append((y, d0, ks, t_run, t_report))
    if not rows:
        return plans
    fit = {key: p[key] for key in FIT_PARAMS}
    fit["trend"] = fit["trend"] and fit["b"] >= 3  # the trend is never kept with b < 3: no fit
    batch = np.concatenate(rows)
    _upper, _alarm, expected_week, _mu0, phi_week, _trend = farrington_rows(
        batch, np.zeros(len(batch)), np.zeros(len(batch)), offsets=offsets, levels=levels,
        freq=FREQ, **fit,
    )
    # No case in any reference week: the fit cannot converge (as in R), the expectation is 0.
    silent = batch.max(axis=1) == 0
    expected_week[silent], phi_week[silent] = 0.0, 1.0
    out, pos = [], 0
    for plan in plans:
        if plan is None:
            out.append(None)
            continue
        y, d0, ks, t_run, t_report = plan
        expected, phis = expected_week[pos : pos + ks.size], phi_week[pos : pos + ks.size]
        pos += ks.size
        shares = _weekday_shares(y, d0 + 7 * ks, p["dow_weeks"])
        days = np.arange(t_run, y.size)
        j = (days - d0) // 7 - ks[0]
        mu = expected[j] / 7.0 * shares[j, (days - d0) % 7]
        phi = phis[j]
        ok = np.isfinite(mu) & np.isfinite(phi)
        z = np.full(days.size, np.nan)
        z[ok] = scores(y[days[ok]], mu[ok], phi[ok])
        csum = np.concatenate([[0.0], np.cumsum(y)])
        recent = csum[days + 1] - csum[np.maximum(days + 1 - int(p["limit"][1]), 0)]
        out.append(Scores(days, mu, phi, z, recent, days >= t_report))
    return out


def cusum_path(sc: Scores, *, k: float, h: float, reset: bool = True, cases: float = 0.0):
    """Step 4 on the scores: (room, alarm) per day of ``sc.days``, room = h + k - S_{t-1}, the
    score that would have alarmed (NaN on days not evaluated)."""
    z, recent = sc.z, sc.recent
    room = np.full(z.size, np.nan)
    alarm = np.zeros(z.size, dtype=bool)
    s = 0.0
    for i in range(z.size):  # the recursion is sequential; a few hundred days per call
        if math.isnan(z[i]):
            continue
        room[i] = h + k - s
        s = max(0.0, s + z[i] - k)
        if s > h and recent[i] >= cases:
            alarm[i] = True
            if reset:
                s = 0.0
    return room, alarm


def from_scores(n: int, sc: Scores | None, **params) -> Result:
    """Step 4 and the Result for a series of length n whose scores are ``sc`` (the calibration
    of the evaluation reruns this for many h on one set of fits)."""
    p = {**DEFAULTS, **params}
    res = empty_result(n, METHOD)
    if sc is None:
        return res
    room, alarm = cusum_path(sc, k=float(p["k"]), h=float(p["h"]), reset=bool(p["reset"]),
                             cases=float(p["limit"][0]))
    ok = ~np.isnan(room)
    upper = np.full(room.size, np.nan)
    upper[ok] = _count_limit(sc.mu[ok], sc.phi[ok], room[ok])
    shown = sc.shown
    days = sc.days[shown]
    res.upper[days] = upper[shown]
    res.alarm[days] = alarm[shown]
    res.expected[days] = np.where(ok, sc.mu, np.nan)[shown]
    return res


def glm_cusum_many(series, *, start: int | None = None, **params) -> list[Result]:
    """``glm_cusum`` on several daily series, their fits in one batch. Same results."""
    p = {**DEFAULTS, **params}
    ys = [as_counts(s) for s in series]
    return [from_scores(y.size, sc, **p)
            for y, sc in zip(ys, daily_scores_many(ys, start=start, **p), strict=True)]


def glm_cusum(counts, *, start: int | None = None, **params) -> Result:
    """Daily CUSUM on the improved-Farrington expectation, see the module doc.

    Params (defaults in ``DEFAULTS``): k, h, reset, limit (cases, days), warmup, dow_weeks and the
    Farrington fit's b, w, no_periods, past_weeks_not_included, weights_threshold,
    p_threshold_trend, trend, reweight.
    """
    return glm_cusum_many([counts], start=start, **params)[0]
