"""`fangkong evaluate-detectors`: the detectors on simulated outbreaks (Noufaily protocol).

Simulates the 42 Noufaily weekly scenarios (or the daily variant with `--daily`), runs every
detector, and prints FPR, POD, POD in the first week, sensitivity, specificity, PPV, NPV, F1 and
timeliness per method — at the nominal parameters and calibrated to a matched false-positive
rate (`--fpr`, default 1 %). `--compare-r` adds R's surveillance::farringtonFlexible (Noufaily
settings, α = 0.01 nominal, calibrated the same way) run on the same series through
scripts/farrington_evaluate.R, and says whether the issue's goal is met.

Defaults: all 42 scenarios × 10 replicates (k = 1…10 once per scenario), 2 worker processes.
Measured on the 2-core development machine (shared with other jobs): the weekly run takes about
3 minutes without R (most of it the improved Farrington: one fit per week gives the nominal
alarms and the p-values for the whole calibration search, then one run at the calibrated α)
and about 7 minutes with `--compare-r` (R's farringtonFlexible ≈ 0.5–1 s per series). The
paper's setting is `--replicates 100` (4200 series per method): about ten times as long, i.e.
roughly half an hour without R and over an hour with it.
"""

from __future__ import annotations

import json
import math
import os
import time
import unicodedata

from django.core.management.base import BaseCommand, CommandError

from fangkong.warning import evaluation as ev
from fangkong.warning import simulate as sim


def parse_scenarios(text: str) -> list[int]:
    """'all', '1-42', '1,5,7-9' → sorted scenario numbers."""
    text = (text or "all").strip().lower()
    if text == "all":
        return list(range(1, 43))
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                out.update(range(a, b + 1))
            else:
                out.add(int(part))
        except ValueError as e:
            raise CommandError(f"场景编号无效 / bad scenarios: {text!r}") from e
    if not out or min(out) < 1 or max(out) > 42:
        raise CommandError("场景编号须在 1–42 之间 / scenarios must be within 1-42")
    return sorted(out)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, w: int, right: bool = False) -> str:
    gap = " " * max(0, w - _width(s))
    return gap + s if right else s + gap


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    cols = list(zip(headers, *rows, strict=True))
    widths = [max(_width(c) for c in col) for col in cols]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                _pad(c, w, right=i > 0) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _pct(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _num(x: float, fmt: str = ".2f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


HEADERS = [
    "方法 method",
    "单位 unit",
    "误报率 FPR",
    "周误报率 FPR/week",
    "检出率 POD",
    "首周检出 POD1w",
    "灵敏度 sens",
    "特异度 spec",
    "阳性预测值 PPV",
    "阴性预测值 NPV",
    "F1",
    "及时性 timeliness",
    "中位延迟(天) delay_d",
    "参数 params",
]


def _params_text(name: str, params: dict) -> str:
    keys = {
        "farrington": ["alpha"],
        ev.R_METHOD: ["alpha"],
        "ears_c1": ["z", "threshold"],
        "ears_c2": ["z", "threshold"],
        "ears_c3": ["threshold", "h"],
        "cusum": ["h", "k"],
        "mpm": ["percentile"],
        "glm_cusum": ["h", "k"],
    }.get(name, list(params)[:2])
    parts = []
    for k in keys:
        if k in params:
            v = params[k]
            parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def metric_rows(methods: list[dict], which: str) -> list[list[str]]:
    rows = []
    for m in methods:
        r = m[which]
        if r is None:
            continue
        params = m["nominal_params"] if which == "nominal" else m["calibration"]["params"]
        note = (
            "" if which == "nominal" or m["calibration"]["reached"] else " (未达目标 not reached)"
        )
        rows.append(
            [
                f"{m['label']} ({m['method']})",
                "周 week" if m["unit"] == "week" else "日 day",
                _pct(r["fpr"]),
                _pct(r.get("fpr_week")),
                _pct(r["pod"]),
                _pct(r["pod1week"]),
                _pct(r["sensitivity"]),
                _pct(r["specificity"]),
                _pct(r["ppv"]),
                _pct(r["npv"]),
                _num(r["f1"]),
                _num(r["timeliness"]),
                _num(r["median_delay_days"], ".1f"),
                _params_text(m["method"], params) + note,
            ]
        )
    return rows


class Command(BaseCommand):
    help = (
        "在模拟疫情数据上评估预警算法（Noufaily 方案，42 个场景），按匹配误报率比较检出率与及时性 / "
        "evaluate the detectors on simulated outbreaks at a matched false-positive rate"
    )

    def add_arguments(self, parser):
        parser.add_argument("--scenarios", default="all", help="all | 1-42 | 1,5,7-9 (默认 all)")
        parser.add_argument(
            "--replicates", type=int, default=10, help="每个场景的重复数（默认 10；论文设置为 100）"
        )
        parser.add_argument(
            "--daily", action="store_true", help="按日模拟（含星期效应）；周方法在周合计上运行"
        )
        parser.add_argument(
            "--methods",
            nargs="+",
            default=None,
            help="方法名（默认：周模拟 farrington ears_c1 ears_c2 ears_c3 cusum；"
            "日模拟 ears_c1 ears_c2 ears_c3 cusum mpm farrington）",
        )
        parser.add_argument("--fpr", type=float, default=0.01, help="匹配误报率目标（默认 0.01）")
        parser.add_argument(
            "--daily-fpr",
            type=float,
            default=None,
            help="日方法（按日计）的误报率目标（默认：与周方法每周误报次数相同，1 − (1 − fpr)^(1/7)，"
            "--fpr 0.01 时约 0.00143）",
        )
        parser.add_argument("--seed", type=int, default=20130401)
        parser.add_argument("--json", dest="json_path", default=None, help="把完整结果写成 JSON")
        parser.add_argument(
            "--compare-r",
            action="store_true",
            help="同时运行 R surveillance::farringtonFlexible（需 Rscript）",
        )
        parser.add_argument("--no-calibrate", action="store_true", help="只报告名义参数的结果")
        parser.add_argument(
            "--workers", type=int, default=min(2, os.cpu_count() or 1), help="并行进程数（默认 2）"
        )
        parser.add_argument(
            "--by-scenario", action="store_true", help="另列各场景的检出率 POD（匹配误报率时）"
        )

    def handle(self, *args, **opts):
        scen = parse_scenarios(opts["scenarios"])
        reps = opts["replicates"]
        if reps < 1:
            raise CommandError("--replicates 须 ≥ 1")
        if not 0 < opts["fpr"] < 1:
            raise CommandError("--fpr 须在 0 与 1 之间")
        daily = opts["daily"]
        from fangkong.warning import detectors

        methods = opts["methods"] or list(
            (*ev.DAILY_METHODS, "farrington") if daily else ev.WEEKLY_METHODS
        )
        methods = [m for part in methods for m in part.split(",") if m]
        unknown = [m for m in methods if m not in detectors.DETECTORS]
        if unknown:
            raise CommandError(
                f"未知方法 unknown methods: {', '.join(unknown)}; "
                f"可选 {', '.join(sorted(detectors.DETECTORS))}"
            )
        verbosity = opts["verbosity"]
        t0 = time.perf_counter()

        def say(msg):
            if verbosity >= 2:
                self.stderr.write(f"[{time.perf_counter() - t0:6.1f}s] {msg}")

        say(
            f"simulating {len(scen)} scenarios × {reps} replicates ({'daily' if daily else 'weekly'})"
        )
        replicates = sim.simulate(scen, reps, seed=opts["seed"], daily=daily)
        report = ev.evaluate(
            replicates,
            methods,
            fpr=opts["fpr"],
            daily_fpr=opts["daily_fpr"] if opts["daily_fpr"] is not None else (
                ev.daily_equivalent_fpr(opts["fpr"]) if daily else None),
            calibrate_fpr=not opts["no_calibrate"],
            compare_r=opts["compare_r"],
            workers=opts["workers"],
            progress=say,
        )
        elapsed = time.perf_counter() - t0
        report["seconds"] = elapsed
        report["seed"] = opts["seed"]
        self.print_report(report, opts)
        if opts["json_path"]:
            with open(opts["json_path"], "w", encoding="utf-8") as f:
                json.dump(_finite(report), f, ensure_ascii=False, indent=1, default=_json_default)
            self.stdout.write(f"JSON: {opts['json_path']}")

    def print_report(self, report: dict, opts: dict) -> None:
        w = self.stdout.write
        kind = "日数据 daily" if report["daily"] else "周数据 weekly (Noufaily 2013)"
        w(f"预警算法评估 detector evaluation — {kind}")
        w(
            f"场景 scenarios: {len(report['scenarios'])}  每场景重复 replicates: "
            f"{report['replicates_per_scenario']}  序列 series: {report['series']}  "
            f"种子 seed: {report['seed']}  用时 {report['seconds']:.0f}s"
        )
        w("")
        w("名义参数 nominal settings")
        w(format_table(HEADERS, metric_rows(report["methods"], "nominal")))
        if any(m["calibrated"] for m in report["methods"]):
            w("")
            extra = ""
            if report["daily"] and report["daily_fpr_target"] != report["fpr_target"]:
                extra = f" (日方法 daily methods ≤ {100 * report['daily_fpr_target']:g}% per day)"
            w(f"匹配误报率 calibrated to FPR ≤ {100 * report['fpr_target']:g}%{extra}")
            w(format_table(HEADERS, metric_rows(report["methods"], "calibrated")))
        r = report.get("r")
        if r is not None:
            w("")
            if not r["available"]:
                w(f"R 不可用 R not available: {r['error']}")
            else:
                w(f"R surveillance {r['surveillance']}")
                agr = r.get("agreement_alpha_0.01")
                if agr:
                    w(
                        f"与 R 一致性 agreement with R at α=0.01: alarms "
                        f"{100 * agr['alarm_agreement']:.3f}% of {agr['points']} weeks, "
                        f"max relative upper-bound difference {agr['max_rel_upper_diff']:.2e}"
                    )
        g = report.get("goal")
        if g and g.get("evaluated"):
            w("")
            w(f"目标 goal (FPR ≤ {100 * report['fpr_target']:g}%):")
            w(
                f"  POD ≥ R ({_pct(g['r_pod'])}): "
                f"{'达成 met' if g['pod_met'] else '未达成 not met'} "
                f"{', '.join(g['pod_at_least_r'])}"
            )
            if report["daily"]:
                w(
                    f"  日方法及时性优于 R daily timeliness better than R ({_num(g['r_timeliness'])}): "
                    f"{'达成 met' if g['timeliness_met'] else '未达成 not met'} "
                    f"{', '.join(g['daily_timeliness_better'])}"
                )
            else:
                w("  日方法及时性 daily timeliness: 需用 --daily 评估 run with --daily")
        if opts.get("by_scenario"):
            self.print_by_scenario(report)

    def print_by_scenario(self, report: dict) -> None:
        ms = report["methods"]
        headers = ["场景 scenario"] + [m["method"] for m in ms]
        rows = []
        for s in report["scenarios"]:
            sc = sim.get_scenario(s)
            row = [f"S{s} set{sc.parameter_set} m{sc.m}{' T' if sc.trend else ''}"]
            for m in ms:
                d = m["by_scenario"].get(s) or m["by_scenario"].get(str(s))
                row.append(f"{_pct(d['pod'])}/{_pct(d['fpr'])}" if d else "—")
            rows.append(row)
        self.stdout.write("")
        self.stdout.write("各场景 检出率/误报率 POD/FPR per scenario")
        self.stdout.write(format_table(headers, rows))


def _finite(o):
    """NaN → None, recursively, so the JSON is strict."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite(v) for v in o]
    return o


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(type(o).__name__)
