"""Prospective space-time permutation scan (Kulldorff et al. 2005; ``early-warning.md`` §1.5).

Input: ``counts[zone, day]`` (e.g. townships × days, the last column is today) and the zone
centroids ``coords[zone] = (x, y)`` (any planar units; for lon/lat the distortion over a county
does not matter for *nearest* neighbours). Only the last ``study_days`` (60) days enter.

* Expected counts: mu_zd = N_z N_d / C (zone total × day total / grand total).
* Cylinders: for every zone, circles of its 1, 2, … nearest zones up to ``max_fraction``
  (50 %) of the zones; heights of 1..``max_days`` (7) days, all **ending today**.
* Statistic: the log GLR c ln(c/mu) + (C - c) ln((C - c)/(C - mu)) where c > mu, else 0;
  the most likely cluster maximises it. Secondary clusters: the next best cylinders that share
  no zone with a cluster already reported (up to ``max_clusters``).
* Inference: ``replicates`` (999) Monte Carlo permutations of the days among the cases, each
  case keeping its zone, which preserves both margins (zone by zone a multivariate
  hypergeometric draw from the days still in the pool, done as a sequence of vectorised
  univariate hypergeometric draws over all replicates at once; ``numpy.random.Generator``,
  ``seed``). Since the margins are fixed, mu is the same in every replicate.
  p = (1 + #{replicates with max LLR >= LLR}) / (replicates + 1); recurrence interval
  RI = 1 / p days (act on RI >= 100 as in NYC practice).

A new sentinel (clinic, pharmacy) joining makes a step: a zone whose counts start on day d0
looks, under mu = N_z N_d / C, like a cluster of everything it reported. Mitigation: pass
``reporting[zone, day]`` (True where the zone was reporting, default all True); a zone's
expected counts are then spread only over the days it reported,
mu_zd = N_z r_zd N_d / sum_d' r_zd' N_d', and in the permutations its cases are drawn only
from those days (zones with the fewest reporting days first; if a zone's reporting days have
run out of cases in the pool, the rest comes from its other days so that both margins still
hold). A zone that has a case on a day marked not reporting is treated as reporting that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Cluster:
    zones: list[int]  # indices of the zones (rows of counts), nearest to the centre first
    days: list[int]  # indices of the days (columns of counts), oldest first; the last is today
    observed: int
    expected: float
    llr: float
    p_value: float
    recurrence_interval: float  # days, 1 / p
    center: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def relative_risk(self) -> float:
        return self.observed / self.expected if self.expected > 0 else float("inf")


def circles(coords, max_fraction: float = 0.5) -> np.ndarray:
    """Membership matrix (n_circles, n_zones) of the circles: every zone as centre with its
    1..M nearest zones, M = max(1, floor(max_fraction * zones)); duplicates removed."""
    xy = np.asarray(coords, dtype=float).reshape(-1, 2)
    z = xy.shape[0]
    size = max(1, int(np.floor(max_fraction * z)))
    dist = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    order = np.argsort(dist, axis=1, kind="stable")  # the centre first (distance 0)
    member = np.zeros((z, size, z), dtype=bool)
    for m in range(size):
        member[np.arange(z), m:, order[:, m]] = True
    flat = member.reshape(z * size, z)
    _, keep = np.unique(flat, axis=0, return_index=True)
    keep = np.sort(keep)
    centres = np.repeat(np.arange(z), size)[keep]
    return flat[keep], centres, order


def _llr(c, mu, total):
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = total - c
        a = np.where(c > 0, c * np.log(c / mu), 0.0)
        b = np.where(rest > 0, rest * np.log(rest / (total - mu)), 0.0)
        out = np.where(c > mu, a + b, 0.0)
    return np.nan_to_num(out, nan=0.0, posinf=0.0)


def _permute(counts, reporting, replicates, rng):
    """(replicates, zones, days) tables with the zone and day margins of ``counts``."""
    zones, days = counts.shape
    nz = counts.sum(axis=1)
    pool = np.broadcast_to(counts.sum(axis=0), (replicates, days)).astype(np.int64).copy()
    out = np.zeros((replicates, zones, days), dtype=np.int64)
    order = np.argsort(reporting.sum(axis=1), kind="stable")
    for z in order:
        need = np.full(replicates, int(nz[z]), dtype=np.int64)
        if need[0] == 0:
            continue
        allowed = reporting[z]
        for pass_days in (np.nonzero(allowed)[0], np.nonzero(~allowed)[0]):
            if pass_days.size == 0:
                continue
            left = pool[:, pass_days].sum(axis=1)
            take = np.minimum(need, left)
            for d in pass_days:
                left = left - pool[:, d]  # cases of these days still in the pool after d
                got = rng.hypergeometric(pool[:, d], left, take)
                out[:, z, d] = got
                pool[:, d] -= got
                take = take - got
                need = need - got
            if not need.any():
                break
    return out


def scan(counts, coords, *, max_days: int = 7, max_fraction: float = 0.5,
         study_days: int = 60, replicates: int = 999, seed=None, reporting=None,
         max_clusters: int = 5) -> list[Cluster]:
    """The clusters ending today, most likely first (empty if there are no cases)."""
    full = np.asarray(counts)
    if full.ndim != 2:
        raise ValueError("counts 必须是 区域×日期 的二维数组")
    if np.any(full < 0) or not np.all(np.isfinite(full)):
        raise ValueError("计数必须是非负有限数")
    zones, total_days = full.shape
    first_day = max(0, total_days - study_days)
    c = np.rint(full[:, first_day:]).astype(np.int64)
    days = c.shape[1]
    rep = (np.ones_like(c, dtype=bool) if reporting is None
           else np.asarray(reporting, dtype=bool)[:, first_day:].copy())
    rep |= c > 0
    total = int(c.sum())
    if total == 0 or zones == 0 or days == 0:
        return []
    height = min(max_days, days)
    nz = c.sum(axis=1).astype(float)
    nd = c.sum(axis=0).astype(float)
    weight = rep * nd[None, :]
    denom = weight.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(denom[:, None] > 0, nz[:, None] * weight / denom[:, None], 0.0)
    member, centres, order = circles(coords, max_fraction)
    if member.shape[1] != zones:
        raise ValueError("coords 的行数必须等于区域数")
    mf = member.astype(float)

    def cylinder_sums(x):  # x (..., zones, days) -> (..., circles, heights)
        tail = np.cumsum(x[..., ::-1][..., :height], axis=-1)  # sums of the last 1..height days
        return np.einsum("cz,...zh->...ch", mf, tail)

    obs = cylinder_sums(c.astype(float))
    exp_ = cylinder_sums(mu)
    llr = _llr(obs, exp_, float(total))

    rng = np.random.default_rng(seed)
    best = np.zeros(0)
    if replicates > 0:
        sims = _permute(c, rep, replicates, rng)
        sim_obs = cylinder_sums(sims[:, :, days - height :].astype(float))
        # the tail sums only need the last `height` days
        best = _llr(sim_obs, exp_[None], float(total)).reshape(replicates, -1).max(axis=1)

    clusters: list[Cluster] = []
    used = np.zeros(zones, dtype=bool)
    flat = np.argsort(-llr, axis=None, kind="stable")
    for f in flat:
        ci, hi = np.unravel_index(f, llr.shape)
        value = float(llr[ci, hi])
        if value <= 0 or len(clusters) >= max_clusters:
            break
        zs = np.nonzero(member[ci])[0]
        if used[zs].any():
            continue
        used[zs] = True
        p = (1 + int(np.sum(best >= value - 1e-9))) / (replicates + 1)
        rank = {int(z): r for r, z in enumerate(order[centres[ci]])}
        clusters.append(Cluster(
            zones=sorted((int(z) for z in zs), key=rank.get),
            days=list(range(first_day + days - hi - 1, first_day + days)),
            observed=int(round(obs[ci, hi])),
            expected=float(exp_[ci, hi]),
            llr=value,
            p_value=p,
            recurrence_interval=1.0 / p,
            center=int(centres[ci]),
        ))
    return clusters
