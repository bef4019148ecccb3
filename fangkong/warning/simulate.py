"""Simulated surveillance series with injected outbreaks (Noufaily et al. 2013 protocol).

The weekly protocol follows ../shared/domain/early-warning.md §2.1 exactly:

* 624 weeks (t = 1…624); baseline mean
  μ(t) = exp(θ + βt + Σ_{j=1..m} [γ₁ cos(2πjt/52) + γ₂ sin(2πjt/52)])
  (the same γ₁, γ₂ for every harmonic, as in Noufaily's table and R's `sts_creation`);
* counts negative binomial with mean μ and variance φμ (size μ/(φ−1), prob 1/φ), Poisson when φ = 1;
* 42 scenarios = 7 parameter sets × m ∈ {0, 1, 2} × trend off/on (β = 0 when off), numbered
  1…42 set-major: scenario = 6·(set−1) + 2·m + trend + 1;
* 4 past outbreaks starting uniformly in weeks 313…575, each with k drawn from {2, 3, 5, 10};
* 1 current outbreak starting uniformly in the evaluation weeks 576…624 with k ∈ {1…10}
  (replicate r of scenario s gets k = 1 + (r + s − 1) mod 10, so 10 replicates cover every k
  once per scenario and a few replicates still spread k over the scenarios);
* outbreak size ~ Poisson(k · √(φ μ_start)) (the baseline SD at the start week — not R's
  `sts_creation`, which uses the variance), each case placed at start + ⌊X⌋ weeks with
  X ~ lognormal(0, 0.5) (R's `lognormDiscrete`: offset 0 for X ≤ 1); cases past the end are lost.

The daily variant keeps the same seven parameter sets, rescaled to days: θ − ln 7 (so a week
sums to about the weekly mean), β/7 per day, period 365.25 days, and multiplicative day-of-week
factors (mean 1; by default Saturday and Sunday lower). History is 1855 days (265 weeks,
so the weekly aggregate is long enough for the improved Farrington with b = 5, w = 3) plus a 364-day
evaluation window (52 whole weeks); day 0 is a Monday. Outbreak sizes use the SD of the weekly
count at the start (√(φ Σ_{7 days} μ)); cases are spread start + ⌊X⌋ days with
X ~ lognormal(ln 7, 0.5), the weekly spread expressed in days. Past outbreaks start in the second
half of the history.

Indices in the returned arrays are 0-based (week 576 is index 575). Every replicate draws from
its own `numpy.random.SeedSequence([seed, scenario, replicate])`, so a replicate is the same
whatever subset of scenarios or replicates is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# (θ, β, γ₁, γ₂, φ) per base parameter set (early-warning.md §2.1).
PARAMETER_SETS: tuple[tuple[float, float, float, float, float], ...] = (
    (0.1, 0.0025, 0.6, 0.6, 1.5),
    (-2.0, 0.005, 0.1, 0.3, 2.0),
    (1.5, 0.003, 0.2, -0.4, 1.0),
    (0.5, 0.002, 0.5, 0.5, 5.0),
    (2.5, 0.001, 1.0, 0.1, 3.0),
    (3.75, 0.001, 0.1, -0.1, 1.1),
    (5.0, 0.0001, 0.05, 0.01, 1.2),
)

WEEKS = 624
EVAL_START_WEEK = 576  # 1-based, inclusive
PAST_WINDOW = (313, 575)  # 1-based, inclusive
PAST_K = (2, 3, 5, 10)
N_PAST = 4
CURRENT_K = tuple(range(1, 11))
LOGNORMAL_WEEKS = (0.0, 0.5)
LOGNORMAL_MAX = 20  # R's lognormDiscrete(Dmax = 20)

DAILY_HISTORY_DAYS = 1855  # 265 weeks: 5 years + 4 weeks, enough for Farrington b = 5, w = 3
DAILY_EVAL_DAYS = 364  # 52 weeks
DAILY_PERIOD = 365.25
# Monday…Sunday, normalised to mean 1 before use: weekday consultations, fewer at the weekend.
DEFAULT_DOW = (1.1, 1.05, 1.05, 1.05, 1.0, 0.8, 0.7)
LOGNORMAL_DAYS = (float(np.log(7.0)), 0.5)


@dataclass(frozen=True)
class Scenario:
    number: int
    parameter_set: int
    theta: float
    beta: float
    gamma1: float
    gamma2: float
    phi: float
    m: int
    trend: bool

    @property
    def label(self) -> str:
        return (
            f"S{self.number} (set {self.parameter_set}, m={self.m}, "
            f"{'trend' if self.trend else 'no trend'}, φ={self.phi:g})"
        )


def scenarios() -> list[Scenario]:
    """The 42 Noufaily scenarios, numbered 1…42."""
    out = []
    for s, (theta, beta, g1, g2, phi) in enumerate(PARAMETER_SETS, start=1):
        for m in (0, 1, 2):
            for trend in (False, True):
                number = 6 * (s - 1) + 2 * m + int(trend) + 1
                out.append(
                    Scenario(number, s, theta, beta if trend else 0.0, g1, g2, phi, m, trend)
                )
    return out


def get_scenario(number: int) -> Scenario:
    if not 1 <= number <= 42:
        raise ValueError(f"scenario must be 1…42, got {number}")
    return scenarios()[number - 1]


@dataclass
class Replicate:
    """One simulated series with its truth.

    `outbreak` marks the current outbreak's span (first to last week/day holding one of its
    cases); `start`/`end` are those indices (None when the outbreak has no case in the series).
    `past_cases` holds the cases of the past outbreaks (they may spill into the first
    evaluation points; the evaluation excludes such points from the false-positive count).
    """

    scenario: int
    replicate: int
    unit: str  # "week" or "day"
    counts: np.ndarray
    baseline: np.ndarray
    outbreak: np.ndarray
    outbreak_cases: np.ndarray
    past_cases: np.ndarray
    eval_start: int
    k: int
    size: int
    start: int | None
    end: int | None
    seeded_start: int
    past_starts: list[int] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.counts)


def _rng(seed: int, scenario: int, replicate: int, daily: bool) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, scenario, replicate, int(daily)]))


def nb_counts(rng: np.random.Generator, mu: np.ndarray, phi: float) -> np.ndarray:
    """Negative binomial with mean μ and variance φμ; Poisson when φ = 1."""
    mu = np.asarray(mu, dtype=float)
    if phi <= 1.0:
        return rng.poisson(mu).astype(np.int64)
    size = mu / (phi - 1.0)
    return rng.negative_binomial(size, 1.0 / phi).astype(np.int64)


def weekly_mean(sc: Scenario, t: np.ndarray | None = None) -> np.ndarray:
    """Baseline mean μ(t) for weeks t (1-based; default 1…624)."""
    if t is None:
        t = np.arange(1, WEEKS + 1, dtype=float)
    eta = sc.theta + sc.beta * t
    for j in range(1, sc.m + 1):
        eta = (
            eta
            + sc.gamma1 * np.cos(2 * np.pi * j * t / 52)
            + sc.gamma2 * np.sin(2 * np.pi * j * t / 52)
        )
    return np.exp(eta)


def daily_mean(sc: Scenario, n_days: int, dow: tuple[float, ...] = DEFAULT_DOW) -> np.ndarray:
    """Baseline mean per day (day 0 = a Monday): the weekly model per day × day-of-week factor."""
    d = np.arange(n_days, dtype=float)
    t = d + 1.0
    eta = sc.theta - np.log(7.0) + sc.beta * t / 7.0
    for j in range(1, sc.m + 1):
        eta = (
            eta
            + sc.gamma1 * np.cos(2 * np.pi * j * t / DAILY_PERIOD)
            + sc.gamma2 * np.sin(2 * np.pi * j * t / DAILY_PERIOD)
        )
    f = np.asarray(dow, dtype=float)
    if f.shape != (7,) or np.any(f <= 0):
        raise ValueError("day-of-week factors must be 7 positive numbers (Monday…Sunday)")
    f = f / f.mean()
    return np.exp(eta) * f[np.arange(n_days) % 7]


def _spread(
    rng: np.random.Generator, size: int, start: int, n: int, meanlog: float, sdlog: float, dmax: int
) -> np.ndarray:
    """Place `size` cases at start + ⌊X⌋ (X lognormal, truncated at dmax as R does)."""
    cases = np.zeros(n, dtype=np.int64)
    if size <= 0:
        return cases
    x = rng.lognormal(meanlog, sdlog, size)
    # Redraw beyond the truncation point (R's lognormDiscrete renormalises to ≤ Dmax).
    while np.any(bad := x >= dmax):
        x[bad] = rng.lognormal(meanlog, sdlog, int(bad.sum()))
    idx = start + np.floor(x).astype(np.int64)
    idx = idx[idx < n]
    np.add.at(cases, idx, 1)
    return cases


def _finish(
    *,
    scenario: int,
    replicate: int,
    unit: str,
    baseline_counts: np.ndarray,
    baseline: np.ndarray,
    past_cases: np.ndarray,
    current: np.ndarray,
    eval_start: int,
    k: int,
    size: int,
    seeded_start: int,
    past_starts: list[int],
) -> Replicate:
    n = len(baseline_counts)
    outbreak = np.zeros(n, dtype=bool)
    hit = np.flatnonzero(current)
    start = end = None
    if hit.size:
        start, end = int(hit[0]), int(hit[-1])
        outbreak[start : end + 1] = True
    return Replicate(
        scenario=scenario,
        replicate=replicate,
        unit=unit,
        counts=baseline_counts + past_cases + current,
        baseline=baseline,
        outbreak=outbreak,
        outbreak_cases=current,
        past_cases=past_cases,
        eval_start=eval_start,
        k=k,
        size=size,
        start=start,
        end=end,
        seeded_start=seeded_start,
        past_starts=past_starts,
    )


def current_k(scenario: int, replicate: int) -> int:
    return CURRENT_K[(replicate + scenario - 1) % len(CURRENT_K)]


def simulate_weekly(
    scenario: Scenario | int,
    replicate: int = 0,
    *,
    seed: int = 0,
    k: int | None = None,
    past_k: int | None = None,
) -> Replicate:
    """One Noufaily weekly replicate (624 weeks, evaluation weeks 576…624).

    `k` is the current outbreak's multiple (default `current_k`); `past_k` fixes the
    past outbreaks' multiple (default: each drawn from {2, 3, 5, 10}; 0 = no past outbreaks).
    """
    sc = get_scenario(scenario) if isinstance(scenario, int) else scenario
    rng = _rng(seed, sc.number, replicate, False)
    mu = weekly_mean(sc)
    base = nb_counts(rng, mu, sc.phi)
    n = WEEKS
    meanlog, sdlog = LOGNORMAL_WEEKS

    past = np.zeros(n, dtype=np.int64)
    past_starts: list[int] = []
    if past_k != 0:
        lo, hi = PAST_WINDOW
        starts = rng.choice(np.arange(lo, hi + 1), size=N_PAST, replace=False) - 1
        ks = rng.choice(PAST_K, size=N_PAST) if past_k is None else np.full(N_PAST, past_k)
        for s0, kk in zip(starts, ks, strict=True):
            sz = int(rng.poisson(kk * np.sqrt(sc.phi * mu[s0])))
            past += _spread(rng, sz, int(s0), n, meanlog, sdlog, LOGNORMAL_MAX)
            past_starts.append(int(s0))

    kk = current_k(sc.number, replicate) if k is None else k
    s0 = int(rng.integers(EVAL_START_WEEK, WEEKS + 1)) - 1
    size = int(rng.poisson(kk * np.sqrt(sc.phi * mu[s0])))
    current = _spread(rng, size, s0, n, meanlog, sdlog, LOGNORMAL_MAX)
    return _finish(
        scenario=sc.number,
        replicate=replicate,
        unit="week",
        baseline_counts=base,
        baseline=mu,
        past_cases=past,
        current=current,
        eval_start=EVAL_START_WEEK - 1,
        k=kk,
        size=size,
        seeded_start=s0,
        past_starts=sorted(past_starts),
    )


def simulate_daily(
    scenario: Scenario | int,
    replicate: int = 0,
    *,
    seed: int = 0,
    k: int | None = None,
    past_k: int | None = None,
    history_days: int = DAILY_HISTORY_DAYS,
    eval_days: int = DAILY_EVAL_DAYS,
    dow: tuple[float, ...] = DEFAULT_DOW,
    onset: tuple[float, float] = LOGNORMAL_DAYS,
) -> Replicate:
    """One daily replicate: `history_days` of history then `eval_days` evaluated days."""
    sc = get_scenario(scenario) if isinstance(scenario, int) else scenario
    rng = _rng(seed, sc.number, replicate, True)
    n = history_days + eval_days
    mu = daily_mean(sc, n, dow)
    base = nb_counts(rng, mu, sc.phi)
    meanlog, sdlog = onset
    dmax = int(np.ceil(LOGNORMAL_MAX * np.exp(meanlog)))

    def week_sd(s0: int) -> float:
        return float(np.sqrt(sc.phi * mu[s0 : s0 + 7].sum()))

    past = np.zeros(n, dtype=np.int64)
    past_starts: list[int] = []
    if past_k != 0:
        starts = rng.choice(np.arange(history_days // 2, history_days), size=N_PAST, replace=False)
        ks = rng.choice(PAST_K, size=N_PAST) if past_k is None else np.full(N_PAST, past_k)
        for s0, kk in zip(starts, ks, strict=True):
            sz = int(rng.poisson(kk * week_sd(int(s0))))
            past += _spread(rng, sz, int(s0), n, meanlog, sdlog, dmax)
            past_starts.append(int(s0))

    kk = current_k(sc.number, replicate) if k is None else k
    s0 = int(rng.integers(history_days, n))
    size = int(rng.poisson(kk * week_sd(s0)))
    current = _spread(rng, size, s0, n, meanlog, sdlog, dmax)
    return _finish(
        scenario=sc.number,
        replicate=replicate,
        unit="day",
        baseline_counts=base,
        baseline=mu,
        past_cases=past,
        current=current,
        eval_start=history_days,
        k=kk,
        size=size,
        seeded_start=s0,
        past_starts=sorted(past_starts),
    )


def simulate(
    scenario_numbers: list[int],
    replicates: int,
    *,
    seed: int = 0,
    daily: bool = False,
    **kwargs,
) -> list[Replicate]:
    """All replicates for the given scenarios, scenario-major."""
    fn = simulate_daily if daily else simulate_weekly
    return [
        fn(get_scenario(s), r, seed=seed, **kwargs)
        for s in scenario_numbers
        for r in range(replicates)
    ]


def to_weeks(values: np.ndarray) -> np.ndarray:
    """Sum a daily array into whole weeks (day 0 is the first day of week 0)."""
    v = np.asarray(values)
    n = len(v) // 7 * 7
    return v[:n].reshape(-1, 7).sum(axis=1)
