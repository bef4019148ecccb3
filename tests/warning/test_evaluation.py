"""Metrics, calibration and the `fangkong evaluate-detectors` command."""

import importlib
import json
import math
import os
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from fangkong.warning import evaluation as ev
from fangkong.warning import simulate as sim
from fangkong.warning.detectors import DETECTORS, run

cmd = importlib.import_module("fangkong.warning.management.commands.evaluate-detectors")


def _target(unit="week", n=12, eval_start=2, outbreak=(6, 8), excluded=(3,)):
    ob = np.zeros(n, dtype=bool)
    ob[outbreak[0] : outbreak[1] + 1] = True
    ex = np.zeros(n, dtype=bool)
    ex[list(excluded)] = True
    scale = 7.0 if unit == "week" else 1.0
    return ev.Target(
        scenario=1,
        replicate=0,
        unit=unit,
        counts=np.ones(n, dtype=int),
        eval_start=eval_start,
        outbreak=ob,
        excluded=ex,
        time=np.arange(n) * scale + (scale - 1),
        onset=outbreak[0] * scale + (scale - 1),
        duration=(outbreak[1] - outbreak[0] + 1) * scale,
    )


def _alarm(n, idx):
    a = np.zeros(n, dtype=bool)
    a[list(idx)] = True
    return a


def test_score_alarms_hand_made_weekly():
    t = _target()
    # eval points 2..11: outbreak 6,7,8; excluded 3; outbreak-free 2,4,5,9,10,11
    o = ev.score_alarms(t, _alarm(12, [0, 3, 4, 7, 8]))  # 0 is before eval_start: ignored
    assert (o.tp, o.fn, o.fp, o.tn) == (2, 1, 1, 5)
    assert o.has_outbreak and o.detected and not o.detected_first_week
    assert o.delay == 7.0  # one week after the first outbreak week
    assert o.timeliness == pytest.approx(1 / 3)
    o2 = ev.score_alarms(t, _alarm(12, [6]))
    assert o2.detected_first_week and o2.timeliness == 0.0 and o2.delay == 0.0
    o3 = ev.score_alarms(t, _alarm(12, [5, 9]))
    assert not o3.detected and o3.timeliness == 1.0 and math.isnan(o3.delay)
    assert (o3.tp, o3.fn, o3.fp, o3.tn) == (0, 3, 2, 4)


def test_score_alarms_daily_first_week():
    t = _target(unit="day", n=30, eval_start=5, outbreak=(10, 19), excluded=())
    o = ev.score_alarms(t, _alarm(30, [16]))
    assert o.delay == 6.0 and o.detected_first_week and o.timeliness == pytest.approx(0.6)
    o = ev.score_alarms(t, _alarm(30, [17]))
    assert o.delay == 7.0 and not o.detected_first_week


def test_summarise_exact_numbers():
    t = _target()
    outs = [ev.score_alarms(t, _alarm(12, [3, 4, 7, 8])), ev.score_alarms(t, _alarm(12, [5, 9]))]
    m = ev.summarise(outs)
    # tp 2+0, fn 1+3, fp 1+2, tn 5+4
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (2, 4, 3, 9)
    assert m["fpr"] == pytest.approx(3 / 12)
    assert m["specificity"] == pytest.approx(9 / 12)
    assert m["sensitivity"] == pytest.approx(2 / 6)
    assert m["ppv"] == pytest.approx(2 / 5)
    assert m["npv"] == pytest.approx(9 / 13)
    assert m["f1"] == pytest.approx(4 / (4 + 3 + 4))
    assert m["pod"] == 0.5 and m["pod1week"] == 0.0
    assert m["timeliness"] == pytest.approx((1 / 3 + 1) / 2)
    assert m["median_delay_days"] == 7.0
    assert m["outbreaks"] == 2 and m["series"] == 2


def test_no_outbreak_counts_only_false_positives():
    t = _target()
    t.onset = t.duration = None
    t.outbreak[:] = False
    o = ev.score_alarms(t, _alarm(12, [2]))
    assert not o.has_outbreak and (o.fp, o.tn) == (1, 8)
    assert math.isnan(ev.summarise([o])["pod"])


def test_weekly_target_of_daily_replicate_uses_days():
    rep = sim.simulate_daily(37, 5, seed=1)
    wt = ev.weekly_target_for(rep)
    assert len(wt.counts) == rep.n // 7 and wt.eval_start == rep.eval_start // 7
    assert wt.counts.sum() == rep.counts.sum()
    assert wt.time[0] == 6.0 and wt.onset == rep.start
    w0 = rep.start // 7
    assert wt.outbreak[w0] and wt.outbreak[rep.end // 7]
    o = ev.score_alarms(wt, _alarm(len(wt.counts), [w0]))
    assert o.detected_first_week and o.delay == 7 * w0 + 6 - rep.start


def test_calibrate_bisection_on_known_curve():
    # FPR(level) = level / 10: the largest level with FPR <= 0.01 is 0.1
    level, fpr, reached, trace = ev.calibrate(lambda x: x / 10, 0.01, iterations=60)
    assert reached and level == pytest.approx(0.1, rel=1e-6) and fpr <= 0.01
    level, fpr, reached, _ = ev.calibrate(lambda x: 0.5, 0.01)
    assert not reached and level == ev.LEVEL_RANGE[0]


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_params_for_level_runs_and_is_monotone(name):
    y = np.random.default_rng(0).poisson(5, 1500)
    strict = run(name, y, start=1400, **ev.params_for_level(name, 1e-6)).alarm.sum()
    loose = run(name, y, start=1400, **ev.params_for_level(name, 0.2)).alarm.sum()
    assert loose >= strict
    assert ev.params_for_level("farrington", 0.003)["alpha"] == 0.003


def test_farrington_pvalue_shortcut_matches_detector():
    for r in sim.simulate([5, 26], 1, seed=3):
        base = ev.params_for_level("farrington", 0.01)
        pv, elig, alarm = ev.farrington_pvalues(r.counts, r.eval_start, base)
        np.testing.assert_array_equal(
            alarm, run("farrington", r.counts, start=r.eval_start, **base).alarm
        )
        for alpha in (0.002, 0.05):
            res = run(
                "farrington",
                r.counts,
                start=r.eval_start,
                **ev.params_for_level("farrington", alpha),
            )
            np.testing.assert_array_equal(elig & (np.nan_to_num(pv, nan=1) <= alpha), res.alarm)


def test_calibration_reaches_target_on_small_run():
    reps = sim.simulate([1, 13, 25, 37], 3, seed=11, daily=True)
    targets = [ev.target_for(r) for r in reps]
    with ev.Runner(1) as runner:
        for name in ("ears_c1", "cusum"):
            c = ev.calibrate_method(name, targets, 0.01, runner)
            assert c.reached and c.fpr <= 0.01
            nominal = ev.pooled_fpr(
                targets, runner.alarms(name, targets, ev.params_for_level(name, 0.2))
            )
            assert nominal > 0.01  # the search did have to tighten


def test_parse_scenarios():
    assert cmd.parse_scenarios("all") == list(range(1, 43))
    assert cmd.parse_scenarios("1-3,7, 9") == [1, 2, 3, 7, 9]
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        cmd.parse_scenarios("0-5")
    with pytest.raises(CommandError):
        cmd.parse_scenarios("x")


def test_format_table_pads_chinese():
    out = cmd.format_table(["方法 m", "b"], [["ab", "1"]])
    lines = out.splitlines()
    assert cmd._width(lines[0]) == cmd._width(lines[2])


def test_command_end_to_end_tiny(tmp_path):
    out = StringIO()
    path = tmp_path / "r.json"
    call_command(
        "evaluate-detectors",
        "--scenarios",
        "1,20",
        "--replicates",
        "2",
        "--methods",
        "farrington",
        "ears_c2",
        "cusum",
        "--json",
        str(path),
        "--workers",
        "1",
        stdout=out,
    )
    text = out.getvalue()
    assert "误报率 FPR" in text and "检出率 POD" in text and "及时性 timeliness" in text
    assert "名义参数 nominal settings" in text and "匹配误报率" in text
    assert "(farrington)" in text and "(ears_c2)" in text and "(cusum)" in text
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["series"] == 4 and data["scenarios"] == [1, 20]
    names = [m["method"] for m in data["methods"]]
    assert names == ["farrington", "ears_c2", "cusum"]
    for m in data["methods"]:
        assert m["calibration"]["fpr"] <= 0.01 or not m["calibration"]["reached"]


def test_command_rejects_unknown_method():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command(
            "evaluate-detectors", "--methods", "nope", "--replicates", "1", stdout=StringIO()
        )


@pytest.mark.slow
def test_command_daily_tiny():
    out = StringIO()
    call_command(
        "evaluate-detectors",
        "--daily",
        "--scenarios",
        "25",
        "--replicates",
        "2",
        "--workers",
        "1",
        stdout=out,
    )
    text = out.getvalue()
    assert "日数据 daily" in text and "(mpm)" in text and "日 day" in text


@pytest.mark.slow
def test_command_compare_r_tiny():
    ok, info = ev.r_available()
    if not ok:  # CI installs R (.ci/run): there a missing R is a failure, on a developer's machine a skip
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI 中必须有 R：{info}")
        pytest.skip(info)
    out = StringIO()
    call_command(
        "evaluate-detectors",
        "--scenarios",
        "19,26",
        "--replicates",
        "2",
        "--methods",
        "farrington",
        "--compare-r",
        "--workers",
        "1",
        stdout=out,
    )
    text = out.getvalue()
    assert "R farringtonFlexible" in text and "目标 goal" in text
    assert "与 R 一致性" in text
