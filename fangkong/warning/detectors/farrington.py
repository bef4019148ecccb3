"""Improved Farrington (Noufaily et al. 2013) = R ``surveillance::farringtonFlexible``.

A re-implementation, in numpy/scipy, of ``farringtonFlexible`` for a series indexed by
position (``epochAsDate = FALSE``, no dates) with ``freq`` periods per year, with the
Noufaily settings as defaults (reference ``early-warning.md`` §1.3):
b = 5, w = 3, noPeriods = 10, pastWeeksNotIncluded = 26, weightsThreshold = 2.58,
pThresholdTrend = 1, thresholdMethod = "nbPlugin" (or "muan"), limit54 = (5, 4),
alpha = 0.01.

For each evaluated week k (0-based index here, k+1 in R):

1. Reference data: the weeks k - i*freq ± w for i = 1..b (factor level ``noPeriods``),
   the gaps between consecutive windows split into ``noPeriods - 1`` blocks (levels
   1..noPeriods-1, the first ``rest`` blocks one week longer, as R's ``blocks()``), minus
   week k and the ``pastWeeksNotIncluded`` weeks before it. Because the series has no
   dates, the design is the same for every k up to a shift of the time axis, so all weeks
   (and series) are fitted together as one batch.
2. Quasi-Poisson GLM, log link, ``response ~ 1 + wtime + seasgroups``, fitted by the same
   IRLS as R's ``glm.fit`` (start mu = y + 0.1, convergence |dev - dev_old| /
   (|dev| + 0.1) < 1e-8, at most 25 iterations; working weights, the QR factor used for hat
   values and standard errors, and the dispersion taken exactly as ``glm.fit`` /
   ``summary.glm`` leave them). A fit that does not converge with the trend is redone
   without; without convergence either, the week is not evaluated (NaN).
3. phi = max(1, dispersion); Anscombe residuals s_i = 1.5 (y^(2/3) mu^(-1/6) - mu^(1/2))
   / sqrt(phi (1 - h_ii)); weights gamma * s^-2 where s > weightsThreshold else gamma, with
   sum = n; refit with these prior weights (statsmodels' ``var_weights``), phi again.
4. Trend kept iff its t-test p-value < pThresholdTrend, b >= 3 and exp(eta0) <= the largest
   reference count; otherwise steps 2-3 are redone without the trend.
5. eta0 and se(eta0) at week k, level ``noPeriods``. As in R, se is *not* scaled by phi:
   ``predict.glm`` recomputes a dispersion (the ``dispersion = model$phi`` in R's call sits
   inside ``newdata`` and is ignored), and after the reweighting R has replaced the model's
   working weights by omega, so that dispersion is sum(omega * ((y - mu) / mu)^2) / df
   (see ``_fit_fun``). The trend's t test uses the same.
6. U = the (1 - alpha) quantile of NB(size = mu0 / (phi - 1), prob = 1 / phi)
   (``scipy.stats.nbinom.ppf``; Poisson when phi = 1), mu0 = exp(eta0) (nbPlugin) or
   exp(eta0 + z_{1-alpha} se) (muan).
7. Alarm iff at least limit54[0] cases in the last limit54[1] weeks (week k included),
   score = (y_k - eta0) / (U - eta0) > 1 (R compares with eta0 on the link scale; since
   U > eta0 this is y_k > U) and y_k > 0.

Differences from R on purpose: R leaves ``upperbound`` NA when the limit54 condition fails;
here ``upper`` is always the threshold U (the board draws it), the alarm is False there as in
R. ``expected`` is exp(eta0), R's ``control$expected``.

Daily series: run this on 7-day sums aligned to weeks (``base.weekly_sums``), freq = 52.
Checked against R by ``tests/warning/test_farrington_r.py`` (``scripts/farrington_reference.R``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .base import Result, as_counts, empty_result, first_index

METHOD = "farrington"
DBL_EPS = np.finfo(float).eps
CHUNK = 128

DEFAULTS = {
    "b": 5,
    "w": 3,
    "freq": 52,
    "no_periods": 10,
    "past_weeks_not_included": 26,
    "weights_threshold": 2.58,
    "p_threshold_trend": 1.0,
    "threshold_method": "nbPlugin",
    "limit54": (5, 4),
    "alpha": 0.01,
    "trend": True,
    "reweight": True,
}


def min_history(*, b=5, w=3, freq=52, **_ignored) -> int:
    """Points needed to evaluate the last one: R's first default range point freq*b + w + 1."""
    return int(freq) * int(b) + int(w) + 1


def reference_offsets(*, b=5, w=3, freq=52, no_periods=10, past_weeks_not_included=26):
    """(offsets, levels): the reference weeks as offsets o >= 1 before week k (index k - o),
    oldest first, and their factor level (1..no_periods), as R's ``blocks()`` assigns them."""
    span = freq * b + w
    levels = np.zeros(span + 1, dtype=int)  # by offset 0..span, 0 = not a reference week
    p = no_periods
    levels[0 : w + 1] = p  # the current window (removed again below)
    for i in range(1, b + 1):
        ref = i * freq  # offset of the reference week
        levels[ref - w : ref + w + 1] = p
        if p != 1:
            period = freq - 2 * w - 1  # weeks between this window and the next younger one
            if period < p - (2 * w + 1):
                raise ValueError("noPeriods 过大")
            base_len, rest = divmod(period, p - 1)
            lengths = np.full(p - 1, base_len)
            lengths[:rest] += 1
            # R: block j covers index refWeek + w + 1 + cumsum(...) upwards (towards week k)
            first = ref - w - 1  # offset of the first week after the window
            cum = np.concatenate([[0], np.cumsum(lengths)])
            for j in range(1, p):
                lo, hi = cum[j - 1], cum[j]  # weeks first - lo ... first - hi + 1
                levels[first - hi + 1 : first - lo + 1] = j
    pwni = w if past_weeks_not_included is None else past_weeks_not_included
    levels[0 : pwni + 1] = 0
    offsets = np.nonzero(levels)[0][::-1]
    return offsets, levels[offsets]


def _design(offsets, levels, freq, no_periods, with_trend):
    """Design matrix: intercept, (time in years relative to week k), dummies of every level but
    ``no_periods`` (the reference level, so the prediction row is e_0)."""
    cols = [np.ones(offsets.size)]
    if with_trend:
        cols.append(-offsets / float(freq))
    if no_periods != 1:
        for lev in range(1, no_periods):
            cols.append((levels == lev).astype(float))
    return np.column_stack(cols)


def _dev(y, mu, pw):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return 2.0 * np.sum(pw * (r - (y - mu)), axis=-1)


class _Fit:
    """A batch of quasi-Poisson fits (rows = weeks), the pieces R's glm object carries:
    coefficients, fitted values, dispersion, hat values, the unscaled covariance
    (X'WX)^-1 with W the working weights of the last iteration (R's ``qr``), convergence."""

    __slots__ = ("beta", "mu", "disp", "cov", "conv", "df", "resid", "w2", "X")

    def hat(self):
        """Diagonal of the hat matrix of the last IRLS step (R's ``hatvalues``)."""
        return self.w2 * np.sum((self.X @ self.cov) * self.X, axis=2)


def _solve_spd(A, rhs):
    """Batched solve of symmetric positive definite systems, with Jacobi scaling (a level whose
    counts are all zero gets a vanishing weight; scaling keeps that from spoiling the rest)."""
    d = 1.0 / np.sqrt(np.maximum(np.einsum("mii->mi", A), 1e-300))
    As = A * d[:, :, None] * d[:, None, :]
    x = np.linalg.solve(As, (rhs * d)[:, :, None])[:, :, 0]
    return x * d


def _inv_spd(A):
    d = 1.0 / np.sqrt(np.maximum(np.einsum("mii->mi", A), 1e-300))
    As = A * d[:, :, None] * d[:, None, :]
    return np.linalg.inv(As) * d[:, :, None] * d[:, None, :]


def _glm_batch(X, Y, PW, maxit=25, epsilon=1e-8) -> _Fit:
    """R's glm.fit(family = quasipoisson(log)) on each row of Y with prior weights PW.

    Same start (mu = y + 0.1), same iterations and stopping rule as R; each weighted least
    squares step is solved by (scaled) normal equations instead of R's QR, which changes the
    iterates by rounding only.
    """
    m, n = Y.shape
    pcols = X.shape[1]
    XX = np.einsum("ni,nj->nij", X, X).reshape(n, pcols * pcols)
    mu = Y + 0.1
    eta = np.log(mu)
    devold = _dev(Y, mu, PW)
    conv = np.zeros(m, dtype=bool)
    done = np.zeros(m, dtype=bool)
    beta = np.zeros((m, pcols))
    w2_last = np.zeros((m, n))
    for _ in range(maxit):
        act = np.nonzero(~done)[0]
        if act.size == 0:
            break
        mu_a, eta_a, y_a, pw_a = mu[act], eta[act], Y[act], PW[act]
        w2 = pw_a * mu_a  # weights * mu.eta^2 / variance: mu for the log link
        z = eta_a + (y_a - mu_a) / mu_a
        A = (w2 @ XX).reshape(-1, pcols, pcols)
        with np.errstate(all="ignore"):
            try:
                b = _solve_spd(A, (w2 * z) @ X)
            except np.linalg.LinAlgError:
                b = np.stack([_solve_one(a, r) for a, r in zip(A, (w2 * z) @ X, strict=True)])
            eta_new = b @ X.T
            mu_new = np.maximum(np.exp(eta_new), DBL_EPS)
            dev = _dev(y_a, mu_new, pw_a)
            bad = ~np.isfinite(dev) | ~np.all(np.isfinite(b), axis=1)
            converged = (np.abs(dev - devold[act]) / (np.abs(dev) + 0.1) < epsilon) & ~bad
        beta[act], eta[act], mu[act] = b, eta_new, mu_new
        w2_last[act] = w2
        devold[act] = dev
        conv[act] = converged
        done[act] = converged | bad
    fit = _Fit()
    fit.beta, fit.mu, fit.conv = beta, mu, conv
    fit.df = n - pcols
    with np.errstate(all="ignore"):
        A = (w2_last @ XX).reshape(m, pcols, pcols)
        try:
            fit.cov = _inv_spd(A)
        except np.linalg.LinAlgError:
            fit.cov = np.stack([np.linalg.pinv(a) for a in A])
        fit.w2, fit.X = w2_last, X
        fit.resid = (Y - mu) / mu
        fit.disp = np.sum(w2_last * fit.resid**2, axis=1) / fit.df
    return fit


def _solve_one(a, r):
    try:
        return np.linalg.solve(a, r)
    except np.linalg.LinAlgError:
        return np.full(r.shape, np.nan)


def _anscombe_weights(Y, fit, phi, threshold):
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 1.5 * (Y ** (2.0 / 3.0) * fit.mu ** (-1.0 / 6.0) - np.sqrt(fit.mu))
        s = s / np.sqrt(phi[:, None] * (1.0 - fit.hat()))
        big = s > threshold
        inv = np.where(big, s ** (-2.0), 1.0)
        gamma = Y.shape[1] / np.sum(inv, axis=1)
        return gamma[:, None] * inv


def _fit_fun(X, Y, reweight, threshold):
    """R's algo.farrington.fitGLM.flexible for one formula (no fallback): (first, final, phi).

    R then overwrites ``model$weights`` (the working weights) with the prior weights omega,
    so every later ``summary.glm`` / ``predict.glm`` on the model (the trend p-value, se(eta0)
    for muan) uses the dispersion sum(omega * ((y - mu) / mu)^2) / df; ``final.disp`` is set
    to that, ``phi`` is the clamped dispersion computed before the overwrite.
    """
    ones = np.ones_like(Y)
    first = _glm_batch(X, Y, ones)
    phi = np.maximum(first.disp, 1.0)
    if not reweight:
        return first, first, phi
    omega = _anscombe_weights(Y, first, phi, threshold)
    omega = np.where(np.isfinite(omega), omega, 1.0)
    final = _glm_batch(X, Y, omega)
    phi = np.maximum(final.disp, 1.0)
    final.disp = np.sum(omega * final.resid**2, axis=1) / final.df
    return first, final, phi


def _select(mask, a, b):
    return np.where(mask, a, b)


def farrington_rows(Y, y0, recent, *, offsets, levels, b=5, w=3, freq=52, no_periods=10,
                    weights_threshold=2.58, p_threshold_trend=1.0, threshold_method="nbPlugin",
                    limit54=(5, 4), alpha=0.01, trend=True, reweight=True, **_ignored):
    """The core on a batch: Y (m, n_ref) reference counts in ``offsets`` order, y0 (m,) the
    counts of the weeks tested, recent (m,) the case sums of the last limit54[1] weeks.
    Returns (upper, alarm, expected, mu0, phi, trend_used)."""
    m = Y.shape[0]
    if m > CHUNK:  # large batches spill the cache: fit them in chunks
        parts = [
            farrington_rows(Y[i : i + CHUNK], y0[i : i + CHUNK], recent[i : i + CHUNK],
                            offsets=offsets, levels=levels, b=b, w=w, freq=freq,
                            no_periods=no_periods, weights_threshold=weights_threshold,
                            p_threshold_trend=p_threshold_trend,
                            threshold_method=threshold_method, limit54=limit54, alpha=alpha,
                            trend=trend, reweight=reweight)
            for i in range(0, m, CHUNK)
        ]
        return tuple(np.concatenate(x) for x in zip(*parts, strict=True))
    if threshold_method not in {"nbPlugin", "muan"}:
        raise ValueError("threshold_method 只能是 nbPlugin 或 muan")
    Xn = _design(offsets, levels, freq, no_periods, with_trend=False)
    no_first, no_final, no_phi = _fit_fun(Xn, Y, reweight, weights_threshold)
    ok_no = no_first.conv
    eta_no = no_final.beta[:, 0]
    se_no = np.sqrt(no_final.cov[:, 0, 0] * no_final.disp)
    if trend:
        Xt = _design(offsets, levels, freq, no_periods, with_trend=True)
        tr_first, tr_final, tr_phi = _fit_fun(Xt, Y, reweight, weights_threshold)
        ok_tr = tr_first.conv
        eta_tr = tr_final.beta[:, 0]
        se_tr = np.sqrt(tr_final.cov[:, 0, 0] * tr_final.disp)
        # the t test of the time coefficient (summary.glm, quasi family: t with df.residual)
        with np.errstate(divide="ignore", invalid="ignore"):
            se_beta = np.sqrt(tr_final.cov[:, 1, 1] * tr_final.disp)
            tval = tr_final.beta[:, 1] / se_beta
        pval = 2.0 * stats.t.sf(np.abs(tval), tr_final.df)
        significant = pval < p_threshold_trend
        fit_resp = np.maximum(np.exp(eta_tr), DBL_EPS)
        no_extrapolation = fit_resp <= Y.max(axis=1)
        do_trend = ok_tr & significant & (b >= 3) & no_extrapolation
    else:
        do_trend = np.zeros(m, dtype=bool)
        eta_tr = se_tr = tr_phi = np.zeros(m)
    ok = do_trend | ok_no
    eta0 = _select(do_trend, eta_tr, eta_no)
    se0 = _select(do_trend, se_tr, se_no)
    phi = _select(do_trend, tr_phi, no_phi)

    with np.errstate(over="ignore", invalid="ignore"):
        if threshold_method == "nbPlugin":
            mu0 = np.exp(eta0)
        else:
            mu0 = np.exp(eta0 + stats.norm.ppf(1.0 - alpha) * se0)
    upper = np.full(m, np.nan)
    finite = ok & np.isfinite(mu0)
    nb = finite & (phi > 1.0)
    po = finite & ~(phi > 1.0)
    if nb.any():
        size = mu0[nb] / (phi[nb] - 1.0)
        upper[nb] = stats.nbinom.ppf(1.0 - alpha, size, 1.0 / phi[nb])
    if po.any():
        upper[po] = stats.poisson.ppf(1.0 - alpha, mu0[po])
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (y0 - eta0) / (upper - eta0)
    enough = recent >= limit54[0]
    alarm = finite & enough & (score > 1.0) & (y0 != 0)
    expected = np.where(ok, np.exp(eta0), np.nan)
    return upper, alarm, expected, mu0, phi, do_trend


def farrington(counts, *, start: int | None = None, **params) -> Result:
    """Improved Farrington on a weekly series (freq = 52 by default), see the module doc.

    Params (defaults in ``DEFAULTS``): b, w, freq, no_periods, past_weeks_not_included,
    weights_threshold, p_threshold_trend, threshold_method ("nbPlugin" | "muan"),
    limit54 (cases, weeks), alpha, trend, reweight.
    """
    p = {**DEFAULTS, **params}
    y = as_counts(counts)
    n = y.size
    res = empty_result(n, METHOD)
    k0 = first_index(n, min_history(**p) - 1, start)
    if k0 >= n:
        return res
    offsets, levels = reference_offsets(
        b=p["b"], w=p["w"], freq=p["freq"], no_periods=p["no_periods"],
        past_weeks_not_included=p["past_weeks_not_included"],
    )
    ks = np.arange(k0, n)
    Y = y[ks[:, None] - offsets[None, :]]
    cases, weeks = p["limit54"]
    csum = np.concatenate([[0.0], np.cumsum(y)])
    recent = csum[ks + 1] - csum[np.maximum(ks + 1 - int(weeks), 0)]
    upper, alarm, expected, *_ = farrington_rows(
        Y, y[ks], recent, offsets=offsets, levels=levels, **p
    )
    res.upper[ks], res.alarm[ks], res.expected[ks] = upper, alarm, expected
    return res


def farrington_many(series, *, start: int | None = None, **params) -> list[Result]:
    """``farrington`` on several weekly series at once (one batch of fits: faster than a
    loop for many short series, e.g. all townships × signal types). Same results."""
    p = {**DEFAULTS, **params}
    ys = [as_counts(s) for s in series]
    offsets, levels = reference_offsets(
        b=p["b"], w=p["w"], freq=p["freq"], no_periods=p["no_periods"],
        past_weeks_not_included=p["past_weeks_not_included"],
    )
    need = min_history(**p) - 1
    _, weeks = p["limit54"]
    blocks_y, blocks_y0, blocks_recent, where = [], [], [], []
    results = []
    for i, y in enumerate(ys):
        results.append(empty_result(y.size, METHOD))
        k0 = first_index(y.size, need, start)
        if k0 >= y.size:
            continue
        ks = np.arange(k0, y.size)
        csum = np.concatenate([[0.0], np.cumsum(y)])
        blocks_y.append(y[ks[:, None] - offsets[None, :]])
        blocks_y0.append(y[ks])
        blocks_recent.append(csum[ks + 1] - csum[np.maximum(ks + 1 - int(weeks), 0)])
        where.append((i, ks))
    if not where:
        return results
    upper, alarm, expected, *_ = farrington_rows(
        np.concatenate(blocks_y), np.concatenate(blocks_y0), np.concatenate(blocks_recent),
        offsets=offsets, levels=levels, **p,
    )
    pos = 0
    for i, ks in where:
        sl = slice(pos, pos + ks.size)
        results[i].upper[ks], results[i].alarm[ks], results[i].expected[ks] = (
            upper[sl], alarm[sl], expected[sl])
        pos += ks.size
    return results
