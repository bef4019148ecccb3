"""Shared types and helpers of the detectors (pure numpy, no Django).

Every temporal detector is a function ``f(counts, *, start=None, **params) -> Result``:
``counts`` is a 1-D series of non-negative counts (any length, NaN-free), ``start`` the
first index to evaluate (default: the first index with enough baseline); the arrays of the
Result have the length of ``counts`` and hold NaN / False before ``start`` and wherever
the detector could not evaluate.

The registry (``DETECTORS``, ``METHOD_LABELS``, ``DEFAULT_PARAMS``, ``MIN_HISTORY``,
``run``) lives in the package ``__init__``; it is re-exported here lazily so that
``from fangkong.warning.detectors.base import DETECTORS`` works as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Result:
    """What a detector returns, one value per time point of the input series.

    upper: the threshold (NaN where not evaluated). An alarm is raised when the statistic
        exceeds it; for EARS, CUSUM and Farrington it is on the scale of the daily/weekly
        count, for MPM on the scale of the 7-day sum (see ``mpm``).
    alarm: bool per time point (False where not evaluated).
    expected: the baseline expectation (NaN where not evaluated).
    method: the registry name of the method that actually ran.
    note: a Chinese note for the user, e.g. when a fallback method was used.
    """

    upper: np.ndarray
    alarm: np.ndarray
    expected: np.ndarray
    method: str
    note: str = ""


def as_counts(counts) -> np.ndarray:
    """The series as a 1-D float array (copy); negative values are not counts."""
    y = np.asarray(counts, dtype=float).reshape(-1)
    if y.size and (not np.all(np.isfinite(y)) or y.min() < 0):
        raise ValueError("计数序列必须是非负有限数")
    return y


def empty_result(n: int, method: str, note: str = "") -> Result:
    return Result(
        upper=np.full(n, np.nan),
        alarm=np.zeros(n, dtype=bool),
        expected=np.full(n, np.nan),
        method=method,
        note=note,
    )


def first_index(n: int, needed: int, start: int | None) -> int:
    """The first index to evaluate: ``start`` but never before ``needed`` (clipped to n)."""
    if start is None:
        return min(max(needed, 0), n)
    if start < 0:
        start += n
    return min(max(start, needed, 0), n)


def rolling_windows(y: np.ndarray, length: int) -> np.ndarray:
    """Windows of ``length`` consecutive values: row i is y[i : i + length]."""
    if y.size < length:
        return np.empty((0, length))
    return np.lib.stride_tricks.sliding_window_view(y, length)


def weekly_sums(daily, *, align_end: bool = True) -> np.ndarray:
    """7-day sums of a daily series, aligned so that the last week ends on the last day.

    The weekly detectors (Farrington) run on these for daily data; leading days that do not
    fill a whole week are dropped (``align_end=True``) or, with ``align_end=False``, the
    weeks start on the first day and trailing days are dropped.
    """
    y = as_counts(daily)
    whole = y.size // 7
    if whole == 0:
        return np.zeros(0)
    part = y[y.size - whole * 7 :] if align_end else y[: whole * 7]
    return part.reshape(whole, 7).sum(axis=1)


def __getattr__(name):  # lazy re-export of the registry (avoids a circular import)
    if name in {"DETECTORS", "METHOD_LABELS", "DEFAULT_PARAMS", "MIN_HISTORY", "run", "min_history"}:
        from fangkong.warning import detectors

        return getattr(detectors, name)
    raise AttributeError(name)
