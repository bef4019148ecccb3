"""The detectors library on small hand-computed series (no database, no R)."""

import math
import statistics

import numpy as np
import pytest

from fangkong.warning.detectors import (
    DEFAULT_PARAMS,
    DETECTORS,
    METHOD_LABELS,
    MIN_HISTORY,
    Result,
    run,
    weekly_sums,
)
from fangkong.warning.detectors.cusum import cusum
from fangkong.warning.detectors.ears import ears_c1, ears_c2, ears_c3
from fangkong.warning.detectors.farrington import farrington
from fangkong.warning.detectors.mpm import mpm
from fangkong.warning.detectors.scan import scan


def test_registry_is_complete():
    names = {"ears_c1", "ears_c2", "ears_c3", "cusum", "mpm", "farrington", "glm_cusum"}
    assert set(DETECTORS) == names
    assert set(METHOD_LABELS) == names == set(DEFAULT_PARAMS) == set(MIN_HISTORY)
    assert MIN_HISTORY["ears_c1"] == 8
    assert MIN_HISTORY["farrington"] == 52 * 5 + 3 + 1
    assert MIN_HISTORY["glm_cusum"] == 7 * (52 * 5 + 3 + 1) + 28  # days, with the warm-up
    from fangkong.warning.detectors.base import DETECTORS as again

    assert again is DETECTORS


def test_c1_on_a_ten_day_series():
    y = [1, 2, 3, 4, 5, 6, 7, 11, 4, 20]
    res = ears_c1(y)
    assert isinstance(res, Result) and res.method == "ears_c1"
    assert np.isnan(res.upper[:7]).all() and not res.alarm[:7].any()
    # t = 7: baseline 1..7, mean 4, sd sqrt(28/6)
    assert res.expected[7] == pytest.approx(4.0)
    assert res.upper[7] == pytest.approx(4 + 3 * math.sqrt(28 / 6))  # 10.48
    assert res.alarm[7]  # 11 > 10.48
    base = [2, 3, 4, 5, 6, 7, 11]
    assert res.upper[8] == pytest.approx(statistics.mean(base) + 3 * statistics.stdev(base))
    assert not res.alarm[8]
    assert res.alarm[9]


def test_c1_sigma_floor():
    res = ears_c1([2] * 7 + [4, 3])
    assert res.upper[7] == pytest.approx(2 + 3 * 0.5)  # sd 0 floored at 0.5
    assert res.alarm[7]  # 4 > 3.5
    assert res.upper[8] == pytest.approx(statistics.mean([2] * 6 + [4]) + 3 * statistics.stdev([2] * 6 + [4]))


def test_c2_guard_band_keeps_yesterdays_spike_out():
    y = [1, 3, 1, 3, 1, 3, 1, 1, 1, 10, 10]
    c1, c2 = ears_c1(y), ears_c2(y)
    assert not c1.alarm[10]  # yesterday's 10 is in C1's baseline
    # C2 at t = 10: baseline t-9..t-3 = [3,1,3,1,3,1,1], mean 13/7, variance (3*(8/7)^2+4*(6/7)^2)/6
    mean = 13 / 7
    sd = math.sqrt((3 * (8 / 7) ** 2 + 4 * (6 / 7) ** 2) / 6)
    assert c2.upper[10] == pytest.approx(mean + 3 * sd)  # 5.06
    assert c2.alarm[10] and c2.alarm[9]
    assert np.isnan(c2.upper[:9]).all()


def test_c3_accumulates_over_three_days():
    y = [2] * 12 + [3, 3, 3]
    c2, c3 = ears_c2(y), ears_c3(y)
    assert not c2.alarm.any()  # z = (3 - 2) / 0.5 = 2 each day
    # C3 = 1, 2, 3 on the three days: only the third exceeds 2
    assert list(c3.alarm[12:]) == [False, False, True]
    assert c3.upper[12] == pytest.approx(2 + 0.5 * 3)  # no lagged excess: z must pass 3
    assert c3.upper[13] == pytest.approx(2 + 0.5 * 2)  # one lagged excess of 1
    assert c3.upper[14] == pytest.approx(2 + 0.5 * 1)  # lagged excesses sum to 2
    assert np.isnan(c3.upper[:11]).all()


def test_cusum_resets_after_an_alarm():
    y = [5] * 30 + [7] * 4
    res = cusum(y)
    # t = 30, 31, 32: baseline all 5 (sd floored at 0.5), z = 4, S = 3.5, 7 (alarm, reset), 3.5
    # t = 33: baseline holds one 7: mean 5 + 2/28, sd < 0.5 -> 0.5, S = 3.5 + (7 - mean)/0.5 - 0.5
    assert list(res.alarm[30:]) == [False, True, False, True]
    assert res.upper[30] == pytest.approx(5 + 0.5 * 4.5)
    assert res.upper[31] == pytest.approx(5 + 0.5 * (4.5 - 3.5))
    assert res.upper[32] == pytest.approx(5 + 0.5 * 4.5)
    assert res.expected[33] == pytest.approx(5 + 2 / 28)
    no_reset = cusum(y, reset=False)
    assert list(no_reset.alarm[30:]) == [False, True, True, True]
    assert np.isnan(res.upper[:30]).all()


def test_mpm_percentile_of_nine_block_sums():
    n = 1110
    t = n - 1
    y = np.zeros(n)
    values = iter([3, 1, 4, 1, 5, 9, 2, 6, 5])
    for j in (1, 2, 3):
        for d in (-1, 0, 1):
            y[t - 365 * j + 7 * d] = next(values)  # one case day per 7-day block
    y[t] = 8
    res = mpm(y)
    # sorted: 1 1 2 3 4 5 5 6 9; P80 at (9 - 1) * 0.8 = 6.4: 5 + 0.4 * (6 - 5)
    assert res.upper[t] == pytest.approx(5.4)
    assert res.expected[t] == pytest.approx(36 / 9)
    assert res.alarm[t]  # C = 8 > 5.4
    y[t] = 5
    assert not mpm(y).alarm[t]
    assert mpm(y, percentile=50).upper[t] == pytest.approx(4.0)


def test_mpm_uses_the_years_available():
    y = np.ones(400)
    res = mpm(y)
    assert MIN_HISTORY["mpm"] == 379
    assert np.isnan(res.upper[:378]).all()
    assert res.upper[378] == pytest.approx(7.0)
    assert not res.alarm.any()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("length", [0, 1, 5, 40, 400, 1200])
def test_all_zero_series(name, length):
    # Farrington's fits on all-zero data run R's 25 IRLS iterations: the last 30 weeks suffice
    start = max(length - 30, 0) if name == "farrington" else None
    res = run(name, np.zeros(length), start=start)
    assert res.upper.shape == res.alarm.shape == res.expected.shape == (length,)
    assert not res.alarm.any()
    assert not np.isinf(res.upper).any()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_any_length_and_start(name):
    rng = np.random.default_rng(5)
    for length in (3, 9, 31, 380):
        y = rng.poisson(3, length)
        res = run(name, y, start=length - 1)
        assert res.upper.shape == (length,)
        assert np.isnan(res.upper[: length - 1]).all()


def test_short_history_falls_back_to_c1():
    y = np.arange(100) % 5
    res = run("farrington", y)
    assert res.method == "ears_c1"
    assert res.note == "历史数据不足（需要 264 个时间点，现有 100 个），改用 EARS C1"
    np.testing.assert_array_equal(res.upper, ears_c1(y).upper, strict=False)
    # a baseline configured longer than the history
    res = run("cusum", y[:40], baseline=60)
    assert res.method == "ears_c1" and "需要 63 个时间点，现有 40 个" in res.note
    assert run("cusum", y[:40]).method == "cusum"
    assert run("mpm", y).note.startswith("历史数据不足")


def test_weekly_sums_align_to_the_last_day():
    daily = np.arange(1, 17)  # 16 days: the first two are dropped
    np.testing.assert_array_equal(weekly_sums(daily), [3 + 4 + 5 + 6 + 7 + 8 + 9, sum(range(10, 17))])


def test_farrington_flags_a_spike_and_keeps_quiet_otherwise():
    rng = np.random.default_rng(11)
    t = np.arange(400)
    mu = np.exp(2 + 0.5 * np.sin(2 * np.pi * t / 52))
    y = rng.poisson(mu)
    res = farrington(y)
    assert np.isnan(res.upper[:263]).all() and np.isfinite(res.upper[263:]).all()
    assert res.alarm[263:].mean() < 0.05
    y[399] = int(res.upper[399]) + 30
    spiked = farrington(y, start=399)
    assert spiked.alarm[399] and spiked.upper[399] == res.upper[399]
    assert farrington(y, start=399, threshold_method="muan").upper[399] >= res.upper[399]


# The space-time permutation scan -----------------------------------------------------------------
def _county(seed=3, zones=20, days=365):
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 50, (zones, 2))
    rates = rng.uniform(3, 15, zones)
    return rng, coords, rng.poisson(rates[:, None] * np.ones(days))


def test_scan_finds_an_injected_cluster():
    rng, coords, counts = _county()
    near = np.argsort(np.linalg.norm(coords - coords[4], axis=1))[:2]
    counts[near, -3:] += rng.poisson(8, (2, 3))
    clusters = scan(counts, coords, seed=1)
    top = clusters[0]
    assert set(top.zones) <= set(near.tolist())
    assert top.days[-1] == counts.shape[1] - 1 and len(top.days) <= 4
    assert top.observed > top.expected
    assert top.p_value < 0.05 and top.recurrence_interval > 20
    assert all(c.p_value > 0.05 for c in clusters[1:])


def test_scan_on_quiet_data_finds_nothing_significant():
    _, coords, counts = _county(seed=4)
    assert all(c.p_value > 0.05 for c in scan(counts, coords, seed=2))
    assert scan(np.zeros((5, 30)), np.arange(10).reshape(5, 2), seed=1) == []


def test_scan_new_sentinel_step_is_not_a_cluster():
    _, coords, counts = _county(seed=6)
    counts[7, :-5] = 0  # zone 7's clinic joined five days ago
    reporting = np.ones(counts.shape, dtype=bool)
    reporting[7, :-5] = False
    # without the reporting matrix the step looks like a cluster …
    naive = scan(counts, coords, seed=1)
    assert naive[0].zones == [7] and naive[0].p_value < 0.05
    # … with it, it does not
    clusters = scan(counts, coords, seed=1, reporting=reporting)
    assert all(c.p_value > 0.05 for c in clusters)


def test_scan_permutations_keep_both_margins():
    from fangkong.warning.detectors.scan import _permute

    rng = np.random.default_rng(0)
    counts = rng.poisson(3, (6, 12))
    reporting = np.ones_like(counts, dtype=bool)
    reporting[2, :8] = False
    counts[2, :8] = 0
    sims = _permute(counts, reporting, 50, rng)
    assert (sims.sum(axis=2) == counts.sum(axis=1)).all()
    assert (sims.sum(axis=1) == counts.sum(axis=0)).all()
    assert (sims[:, 2, :8] == 0).all()
