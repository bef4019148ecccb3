"""The Noufaily simulator (fangkong.warning.simulate)."""

import numpy as np
import pytest

from fangkong.warning import simulate as sim


def test_42_scenarios_numbered_set_major():
    scs = sim.scenarios()
    assert [s.number for s in scs] == list(range(1, 43))
    s1, s2, s6, s42 = scs[0], scs[1], scs[5], scs[41]
    assert (s1.parameter_set, s1.m, s1.trend, s1.beta) == (1, 0, False, 0.0)
    assert (s2.parameter_set, s2.m, s2.trend, s2.beta) == (1, 0, True, 0.0025)
    assert (s6.m, s6.trend) == (2, True)
    assert (s42.parameter_set, s42.theta, s42.phi, s42.m, s42.trend) == (7, 5.0, 1.2, 2, True)
    assert {(s.m, s.trend) for s in scs} == {(m, t) for m in (0, 1, 2) for t in (False, True)}
    with pytest.raises(ValueError):
        sim.get_scenario(43)


def test_weekly_mean_formula():
    sc = sim.get_scenario(6 * 4 + 2 * 2 + 1 + 1)  # set 5, m = 2, trend
    assert (sc.parameter_set, sc.m, sc.trend) == (5, 2, True)
    t = 100.0
    season = sum(
        1.0 * np.cos(2 * np.pi * j * t / 52) + 0.1 * np.sin(2 * np.pi * j * t / 52) for j in (1, 2)
    )
    expected = np.exp(2.5 + 0.001 * t + season)
    assert sim.weekly_mean(sc)[99] == pytest.approx(expected, rel=1e-12)


def test_same_seed_same_series_and_subset_independent():
    a = sim.simulate_weekly(17, 3, seed=5)
    b = sim.simulate_weekly(17, 3, seed=5)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.outbreak, b.outbreak)
    assert (a.start, a.end, a.size, a.k) == (b.start, b.end, b.size, b.k)
    c = sim.simulate_weekly(17, 3, seed=6)
    assert not np.array_equal(a.counts, c.counts)
    # a replicate does not depend on which others are simulated with it
    many = sim.simulate([16, 17], 4, seed=5)
    np.testing.assert_array_equal(many[4 + 3].counts, a.counts)
    d1 = sim.simulate_daily(3, 1, seed=5)
    d2 = sim.simulate_daily(3, 1, seed=5)
    np.testing.assert_array_equal(d1.counts, d2.counts)


@pytest.mark.parametrize(("mu", "phi"), [(12.18, 3.0), (4.48, 1.0), (1.1, 1.5), (0.14, 2.0)])
def test_nb_counts_mean_and_variance(mu, phi):
    rng = np.random.default_rng(1)
    x = sim.nb_counts(rng, np.full(400_000, mu), phi)
    assert x.dtype == np.int64
    assert x.mean() == pytest.approx(mu, rel=0.01)
    assert x.var() == pytest.approx(phi * mu, rel=0.03)


def test_simulated_baseline_mean_and_variance():
    # set 5, m = 0, no trend: constant mean e^2.5, variance 3μ
    sc = sim.get_scenario(25)
    assert (sc.parameter_set, sc.m, sc.trend) == (5, 0, False)
    base = []
    for r in range(30):
        rep = sim.simulate_weekly(sc, r, seed=2)
        base.append(rep.counts - rep.past_cases - rep.outbreak_cases)
        np.testing.assert_allclose(rep.baseline, np.exp(2.5))
    base = np.concatenate(base)
    mu = np.exp(2.5)
    assert base.mean() == pytest.approx(mu, rel=0.02)
    assert base.var() == pytest.approx(3 * mu, rel=0.06)


def test_weekly_outbreaks_inside_their_windows():
    for r in range(30):
        rep = sim.simulate_weekly(9, r, seed=3)
        assert rep.n == 624 and rep.eval_start == 575
        assert rep.k == 1 + (r + 9 - 1) % 10
        # current outbreak: starts in weeks 576…624, cases only after its start
        assert 575 <= rep.seeded_start <= 623
        assert rep.outbreak_cases[: rep.seeded_start].sum() == 0
        assert rep.outbreak_cases.sum() <= rep.size
        if rep.start is None:
            assert not rep.outbreak.any()
        else:
            assert rep.seeded_start <= rep.start <= rep.end < 624
            assert rep.outbreak[rep.start : rep.end + 1].all()
            assert rep.outbreak.sum() == rep.end - rep.start + 1
            assert rep.outbreak_cases[rep.start] > 0 and rep.outbreak_cases[rep.end] > 0
            assert rep.end - rep.seeded_start < sim.LOGNORMAL_MAX
        # four past outbreaks starting in weeks 313…575
        assert len(rep.past_starts) == 4
        assert all(312 <= s <= 574 for s in rep.past_starts)
        assert rep.past_cases[: min(rep.past_starts)].sum() == 0


def test_outbreak_size_scales_with_k_and_sd():
    sc = sim.get_scenario(25)
    sizes = {1: [], 10: []}
    for r in range(200):
        for k in sizes:
            sizes[k].append(sim.simulate_weekly(sc, r, seed=4, k=k, past_k=0).size)
    sd = np.sqrt(3 * np.exp(2.5))
    assert np.mean(sizes[10]) == pytest.approx(10 * sd, rel=0.05)
    assert np.mean(sizes[1]) == pytest.approx(sd, rel=0.15)


def test_no_past_outbreaks_when_past_k_zero():
    rep = sim.simulate_weekly(1, 0, seed=1, past_k=0)
    assert rep.past_cases.sum() == 0 and rep.past_starts == []


def test_daily_variant_shape_window_and_day_of_week():
    rep = sim.simulate_daily(31, 2, seed=1)
    assert rep.unit == "day"
    assert rep.n == sim.DAILY_HISTORY_DAYS + sim.DAILY_EVAL_DAYS
    assert rep.eval_start == sim.DAILY_HISTORY_DAYS and rep.eval_start % 7 == 0
    assert rep.eval_start <= rep.seeded_start < rep.n
    if rep.start is not None:
        assert rep.start >= rep.seeded_start
    assert all(sim.DAILY_HISTORY_DAYS // 2 <= s < sim.DAILY_HISTORY_DAYS for s in rep.past_starts)
    # a week of daily means sums to about the weekly mean (θ − ln 7, dow factors of mean 1)
    sc = sim.get_scenario(37)  # set 7, m = 0, no trend
    mu = sim.daily_mean(sc, 700)
    assert mu[:7].sum() == pytest.approx(np.exp(5.0), rel=1e-9)
    f = np.array(sim.DEFAULT_DOW) / np.mean(sim.DEFAULT_DOW)
    np.testing.assert_allclose(mu[:7] / mu[:7].mean(), f)
    # simulated counts show the weekend dip
    counts = np.concatenate(
        [
            (lambda r: r.counts - r.past_cases - r.outbreak_cases)(
                sim.simulate_daily(sc, i, seed=9)
            )
            for i in range(5)
        ]
    )
    by_dow = np.array([counts[d::7].mean() for d in range(7)])
    np.testing.assert_allclose(by_dow / by_dow.mean(), f, rtol=0.03)


def test_daily_custom_dow_validated():
    with pytest.raises(ValueError):
        sim.daily_mean(sim.get_scenario(1), 14, dow=(1, 1, 1))


def test_to_weeks():
    x = np.arange(16)
    np.testing.assert_array_equal(sim.to_weeks(x), [21, 70])
