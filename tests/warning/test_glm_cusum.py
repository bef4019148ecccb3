"""The daily CUSUM on the improved-Farrington expectation (glm_cusum), its calibration in the
evaluation, and the daily job and board running it."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from fangkong.warning import alerts
from fangkong.warning import evaluation as ev
from fangkong.warning.detectors import DEFAULT_PARAMS, run
from fangkong.warning.detectors.glm_cusum import (
    glm_cusum,
    glm_cusum_many,
    in_control_arl,
    scores,
)
from fangkong.warning.models import DetectorConfig
from tests.base import WorldTestCase

DAYS = 1876 + 364  # the default history (five years and a warm-up) and a year to evaluate
EVAL = DAYS - 364
WEEKDAYS = np.array([1.6, 1.3, 1.2, 1.1, 1.0, 0.5, 0.3])  # Monday … Sunday


def _series(level=6.0, seed=1, weekdays=None, days=DAYS):
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    mu = level * np.exp(0.3 * np.cos(2 * np.pi * t / 365.25))
    if weekdays is not None:
        mu = mu * weekdays[t % 7] / weekdays.mean()
    return rng.poisson(mu).astype(float), mu


def test_flat_series_raises_no_alarm():
    y = np.full(DAYS, 6.0)
    res = run("glm_cusum", y, start=EVAL)
    assert res.method == "glm_cusum" and res.note == ""
    assert not res.alarm.any()
    assert np.isnan(res.upper[:EVAL]).all() and np.isfinite(res.upper[EVAL:]).all()
    np.testing.assert_allclose(res.expected[EVAL:], 6.0, rtol=0.02)
    assert (res.upper[EVAL:] >= 6).all()


def test_noise_alone_rarely_alarms():
    alarms = [run("glm_cusum", _series(seed=seed)[0], start=EVAL).alarm.sum() for seed in range(4)]
    assert sum(alarms) <= 4  # about one false alarm in 700 days by design


def test_weekday_pattern_is_expected_not_alarmed():
    y, mu = _series(level=10.0, seed=2, weekdays=WEEKDAYS)
    res = run("glm_cusum", y, start=EVAL)
    assert res.alarm.sum() <= 1
    days = np.arange(EVAL, DAYS)
    monday = res.expected[days[days % 7 == 0]].mean()
    sunday = res.expected[days[days % 7 == 6]].mean()
    assert monday / sunday == pytest.approx(WEEKDAYS[0] / WEEKDAYS[6], rel=0.15)


def test_injected_outbreak_alarms_within_days():
    y, _mu = _series(seed=3)
    onset = DAYS - 20
    y[onset : onset + 6] += [3, 5, 7, 7, 5, 3]
    res = run("glm_cusum", y, start=EVAL)
    hits = np.flatnonzero(res.alarm[onset:])
    assert hits.size and hits[0] <= 3
    first = onset + hits[0]
    assert y[first] > res.upper[first] > res.expected[first]
    assert not res.alarm[EVAL:onset].any()


def test_upper_is_the_count_that_alarms():
    y, _mu = _series(seed=4)
    y[-30:-25] += 6
    res = run("glm_cusum", y, start=EVAL, limit=(0, 7))
    days = np.arange(EVAL, DAYS)
    np.testing.assert_array_equal(res.alarm[days], y[days] > res.upper[days])


def test_score_is_the_mid_p_normal_score():
    mu, phi = np.array([4.0, 4.0, 4.0]), np.array([1.0, 1.0, 2.0])
    z = scores(np.array([0.0, 4.0, 4.0]), mu, phi)
    from scipy import stats

    assert z[0] == pytest.approx(stats.norm.ppf(0.5 * stats.poisson.pmf(0, 4)))
    assert z[1] == pytest.approx(stats.norm.ppf(stats.poisson.cdf(3, 4) + 0.5 * stats.poisson.pmf(4, 4)))
    assert z[2] == pytest.approx(stats.norm.ppf(0.5 * (stats.nbinom.cdf(3, 4, 0.5) + stats.nbinom.cdf(4, 4, 0.5))))


@pytest.mark.filterwarnings("error")
def test_all_zeros_and_the_minimum_cases():
    y = np.zeros(DAYS)
    res = run("glm_cusum", y, start=DAYS - 60)
    assert not res.alarm.any() and not np.isinf(res.upper).any()
    y[-1] = 1  # one case after years of none: too few to alarm on
    assert not run("glm_cusum", y, start=DAYS - 60).alarm.any()
    y[-3:] = 1  # three in the last week
    res = run("glm_cusum", y, start=DAYS - 60)
    assert res.alarm[-1] and not res.alarm[:-1].any()
    assert (res.expected[-60:] == 0).all() and (res.upper[-60:] == 0).all()


def test_short_history_falls_back_with_a_note():
    y, _mu = _series(days=400)
    res = run("glm_cusum", y)
    assert res.method == "ears_c1"
    assert res.note == "历史数据不足（需要 1876 个时间点，现有 400 个），改用 EARS C1"
    # fewer years back need less history
    assert run("glm_cusum", y, b=1, warmup=0).method == "glm_cusum"


def test_todays_run_carries_the_days_before():
    y, _mu = _series(seed=5)
    y[-4:-1] += [4, 5, 5]  # three high days: the sum is up but has not alarmed yet by yesterday
    full = run("glm_cusum", y, start=EVAL)
    today = run("glm_cusum", y, start=DAYS - 1)
    assert np.isnan(today.upper[:-1]).all()
    assert today.upper[-1] == full.upper[-1] and today.alarm[-1] == full.alarm[-1]
    assert today.expected[-1] == pytest.approx(full.expected[-1])
    cold = run("glm_cusum", y, start=DAYS - 1, warmup=0)
    assert cold.upper[-1] > today.upper[-1]  # without the warm-up the sum starts again at 0


def test_many_series_give_the_same_results():
    ys = [_series(seed=s, days=DAYS - 3 * s)[0] for s in range(3)] + [np.zeros(30)]
    for one, many in zip([glm_cusum(y, start=len(y) - 100) for y in ys],
                         glm_cusum_many(ys, start=-100), strict=True):
        np.testing.assert_array_equal(one.alarm, many.alarm)
        np.testing.assert_allclose(one.upper, many.upper, equal_nan=True)
        np.testing.assert_allclose(one.expected, many.expected, equal_nan=True)


def test_default_h_gives_one_false_alarm_in_about_700_days():
    assert in_control_arl(DEFAULT_PARAMS["glm_cusum"]["h"]) == pytest.approx(692, abs=1)
    for level in (0.01, 1 / 700, 1e-5):
        h = ev.params_for_level("glm_cusum", level)["h"]
        assert 1 / in_control_arl(h) == pytest.approx(level)
    assert ev.nominal_level("glm_cusum") == pytest.approx(1 / 692, rel=1e-3)


def test_calibration_reruns_only_the_recursion_and_matches_the_detector():
    from fangkong.warning import simulate as sim

    reps = sim.simulate([5, 36], 2, seed=7, daily=True)
    targets = [ev.target_for(r) for r in reps]
    with ev.Runner(1) as runner:
        c = ev.calibrate_method("glm_cusum", targets, 0.004, runner)
        assert c.reached and c.fpr <= 0.004
        for t, alarm in zip(targets, runner.alarms("glm_cusum", targets, c.params), strict=True):
            own = run("glm_cusum", t.counts, start=t.eval_start, **c.params).alarm
            np.testing.assert_array_equal(alarm, own)


def test_weekly_false_alarms_of_a_daily_method():
    n = 5 + 21
    outbreak = np.zeros(n, dtype=bool)
    outbreak[12:14] = True  # in the second week
    target = ev.Target(scenario=1, replicate=0, unit="day", counts=np.ones(n), eval_start=5,
                       outbreak=outbreak, excluded=np.zeros(n, dtype=bool), time=np.arange(n, dtype=float),
                       onset=12.0, duration=2.0)
    alarm = np.zeros(n, dtype=bool)
    alarm[[6, 7, 20]] = True  # two false alarm days in week 1, one in week 3
    o = ev.score_alarms(target, alarm)
    assert (o.fp, o.fp_weeks, o.free_weeks) == (3, 2, 2)
    assert ev.summarise([o])["fpr_week"] == 1.0


def _report(method, unit, fpr, pod, timeliness, fpr_week=None):
    calibrated = {"fpr": fpr, "fpr_week": fpr if fpr_week is None else fpr_week, "pod": pod,
                  "timeliness": timeliness}
    return ev.MethodReport(method, method, unit, {}, calibrated, {"reached": True}, calibrated, {})


def test_goal_is_judged_at_equal_weekly_false_alarms():
    assert ev.daily_equivalent_fpr(0.01) == pytest.approx(0.001435, abs=1e-6)
    r = _report(ev.R_METHOD, "week", 0.01, 0.55, 0.68)
    matched = _report("glm_cusum", "day", 0.00142, 0.66, 0.51, fpr_week=0.0096)
    per_day = _report("cusum", "day", 0.0099, 0.65, 0.47)  # 1 % of days: seven times as many
    clustered = _report("ears_c1", "day", 0.0014, 0.60, 0.50, fpr_week=0.012)
    goal = ev.goal_check([matched, per_day, clustered, r], 0.01)
    assert goal["timeliness_met"] and goal["daily_timeliness_better"] == ["glm_cusum"]
    assert goal["pod_at_least_r"] == ["glm_cusum"]
    assert not ev.goal_check([per_day, r], 0.01)["timeliness_met"]


class DailyJobTests(WorldTestCase):
    """The board and the daily job run glm_cusum on a township's fever-clinic visits."""

    def test_detect_day_and_series_run_glm_cusum(self):
        from fangkong.sentinels.models import Sentinel
        from fangkong.sentinels.services import record_daily_counts
        from fangkong.warning.services import detect_day, series

        w = self.w
        config = DetectorConfig.objects.get(signal_type="fever_clinic_visits")
        # one year back; the weeks of the last 26 kept, or a year's blocks would be left empty
        params = {"b": 1, "past_weeks_not_included": 3}
        alerts.update_detector(w.hq, config, {"method": "glm_cusum", "params": params})
        need = alerts.min_history_days("glm_cusum", config.baseline_days, params)
        self.assertEqual(need, 7 * (52 + 3 + 1) + 28)
        today = timezone.localdate()
        clinic = Sentinel.objects.create(kind="fever_clinic", name="甲镇卫生院发热门诊", area=w.village_a,
                                         joined_on=today - timedelta(days=need + 10))
        pattern = (9, 8, 8, 7, 8, 5, 4)
        for back in range(need + 10, 0, -1):
            day = today - timedelta(days=back)
            record_daily_counts(w.hq, clinic, day, pattern[day.weekday()] + back % 3)
        record_daily_counts(w.hq, clinic, today, 30)
        body = series(w.township_a, "fever_clinic_visits", days=14)
        self.assertEqual((body["method"], body["note"]), ("glm_cusum", ""))
        self.assertEqual(body["statistic"], body["counts"])  # the threshold is on the day's count
        self.assertEqual(body["alarm"], [False] * 13 + [True])
        self.assertTrue(all(u is not None and u > e > 0 for u, e in zip(body["upper"], body["expected"],
                                                                          strict=True)))
        self.assertLess(body["upper"][-1], 30)
        raised = detect_day(today)
        self.assertEqual([(a.area, a.size) for a in raised], [(w.township_a, 30)])
        self.assertEqual(raised[0].details["used_method"], "glm_cusum")
