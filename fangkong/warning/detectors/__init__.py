"""Aberration detectors (pure numpy/scipy computation, no Django models).

Registry: ``DETECTORS[name](counts, *, start=None, **params) -> Result`` for the temporal
methods, ``METHOD_LABELS`` (Chinese), ``DEFAULT_PARAMS[name]`` (documented below),
``MIN_HISTORY[name]`` (points of history the method needs with its default parameters;
``min_history(name, **params)`` for other parameters) and ``run(name, counts, **params)``,
which falls back to EARS C1 when the series is shorter than the method needs and says so in
``Result.note``. The space-time permutation scan has its own entry point (``scan.scan``):
it takes a zone × day matrix, not a series.

Series: ears_*, cusum, mpm and glm_cusum are for daily counts; farrington for weekly counts
(freq = 52). For a daily series run farrington on ``weekly_sums(daily)`` (7-day sums, the
last week ending on the last day) and map each week's result to its last day.

DEFAULT_PARAMS:

* ears_c1 / ears_c2: threshold 3 (z = (y - mean) / sd of a 7-day baseline), min_sigma 0.5
  (floor under sd), baseline 7; C2 with guard 2 (baseline t-9..t-3).
* ears_c3: threshold 2 on the 3-day sum of max(0, C2 - 1); min_sigma, baseline, guard as C2.
* cusum: k 0.5, h 4, baseline 28 days, guard 2 days, min_sigma 0.5, reset after an alarm.
* mpm: percentile 80 (numpy "linear" interpolation), years 3 (at least min_years 1),
  period 365 days, block 7 days, blocks 1 (± one adjacent block).
* farrington: Noufaily settings b 5, w 3, no_periods 10, past_weeks_not_included 26,
  weights_threshold 2.58, p_threshold_trend 1, threshold_method "nbPlugin" (or "muan"),
  limit54 (5, 4), alpha 0.01, freq 52.
* glm_cusum: k 0.5, h 4.7 (in-control run length ≈ 700 days for normal scores, one false alarm
  per 100 weeks), reset after an alarm, limit (3, 7) (at least 3 cases in the last 7 days),
  warmup 28 days, dow_weeks 52 (weekday shares from the past year), and the Farrington fit on the
  weekly sums with the Noufaily settings above (b 5, w 3, no_periods 10,
  past_weeks_not_included 26, weights_threshold 2.58, p_threshold_trend 1, trend, reweight).
"""

from __future__ import annotations

from .base import Result, as_counts, weekly_sums
from .cusum import cusum
from .ears import ears_c1, ears_c2, ears_c3
from .farrington import DEFAULTS as FARRINGTON_DEFAULTS
from .farrington import farrington
from .farrington import min_history as _farrington_min_history
from .glm_cusum import DEFAULTS as GLM_CUSUM_DEFAULTS
from .glm_cusum import glm_cusum
from .glm_cusum import min_history as _glm_cusum_min_history
from .mpm import min_history as _mpm_min_history
from .mpm import mpm

DETECTORS = {
    "ears_c1": ears_c1,
    "ears_c2": ears_c2,
    "ears_c3": ears_c3,
    "cusum": cusum,
    "mpm": mpm,
    "farrington": farrington,
    "glm_cusum": glm_cusum,
}

METHOD_LABELS = {
    "ears_c1": "EARS C1（7天基线，无保护期）",
    "ears_c2": "EARS C2（7天基线，2天保护期）",
    "ears_c3": "EARS C3（近3天 C2 超出累积）",
    "cusum": "累积和（CUSUM）",
    "mpm": "移动百分位数法（CIDARS）",
    "farrington": "改进 Farrington 法",
    "glm_cusum": "回归基线日累积和（Farrington 期望值 + CUSUM）",
}

DEFAULT_PARAMS = {
    "ears_c1": {"threshold": 3.0, "min_sigma": 0.5, "baseline": 7},
    "ears_c2": {"threshold": 3.0, "min_sigma": 0.5, "baseline": 7, "guard": 2},
    "ears_c3": {"threshold": 2.0, "min_sigma": 0.5, "baseline": 7, "guard": 2},
    "cusum": {"k": 0.5, "h": 4.0, "baseline": 28, "guard": 2, "min_sigma": 0.5, "reset": True},
    "mpm": {"percentile": 80.0, "years": 3, "min_years": 1, "period": 365, "block": 7,
            "blocks": 1},
    "farrington": dict(FARRINGTON_DEFAULTS),
    "glm_cusum": dict(GLM_CUSUM_DEFAULTS),
}


def min_history(name: str, **params) -> int:
    """Length of series the method needs to evaluate its last point, with these params."""
    p = {**DEFAULT_PARAMS[name], **params}
    if name == "ears_c1":
        return int(p["baseline"]) + 1
    if name == "ears_c2":
        return int(p["baseline"]) + int(p["guard"]) + 1
    if name == "ears_c3":
        return int(p["baseline"]) + int(p["guard"]) + 3
    if name == "cusum":
        return int(p["baseline"]) + int(p["guard"]) + 1
    if name == "mpm":
        return _mpm_min_history(**p)
    if name == "farrington":
        return _farrington_min_history(**p)
    if name == "glm_cusum":
        return _glm_cusum_min_history(**p)
    raise KeyError(name)


MIN_HISTORY = {name: min_history(name) for name in DETECTORS}

FALLBACK = "ears_c1"


def run(name: str, counts, *, start: int | None = None, **params) -> Result:
    """Run detector ``name``; if the series is shorter than it needs (with these params), run
    EARS C1 instead (with its default params) and say so in ``Result.note``."""
    if name not in DETECTORS:
        raise KeyError(f"未知的检测方法：{name}")
    y = as_counts(counts)
    need = min_history(name, **params)
    if y.size < need and name != FALLBACK:
        result = ears_c1(y, start=start)
        result.note = f"历史数据不足（需要 {need} 个时间点，现有 {y.size} 个），改用 EARS C1"
        return result
    return DETECTORS[name](y, start=start, **params)


__all__ = [
    "DEFAULT_PARAMS",
    "DETECTORS",
    "METHOD_LABELS",
    "MIN_HISTORY",
    "Result",
    "min_history",
    "run",
    "weekly_sums",
]
