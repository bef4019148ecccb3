"""Shared helpers for the benchmark scripts: Django set-up, machine facts, percentiles, JSON."""

import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    import django

    django.setup()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def database_info() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
        else:
            cursor.execute("show server_version")
        version = cursor.fetchone()[0]
    return {"engine": connection.vendor, "version": version}


def speed() -> dict:
    """How fast this machine is right now, to tell a slow machine from a regression between sessions.

    Machines of the same kind have differed 2-3x (RESULTS.md, issue 5): a fixed pure-Python loop (best of 5)
    and a bare system call (mean of 200,000), both measured the same way every time.
    """
    loops = []
    for _ in range(5):
        start = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        loops.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(200_000):
        os.getppid()
    syscall = (time.perf_counter() - start) / 200_000
    return {"python_loop_ms": round(min(loops) * 1000, 1), "syscall_us": round(syscall * 1e6, 3)}


def backend_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) that processes PIDS (database server backends on this machine) have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_info() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": database_info(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "speed": speed(),
    }


def percentile(values, p: float) -> float:
    """The P-th percentile (0-100) by linear interpolation."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summarize(ms_values) -> dict:
    values = list(ms_values)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "max_ms": round(max(values), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


class Timer:
    """with Timer() as t: ...; t.ms"""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.ms = (time.perf_counter() - self.start) * 1000
        return False


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def print_json(result: dict) -> None:
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def ensure_data(people: int | None) -> int:
    """The number of current people; generate the demo county first if the database is empty and PEOPLE is given."""
    from django.core.management import call_command

    from fangkong.core import crypto

    crypto.write_key_file_if_missing()
    call_command("migrate", interactive=False, verbosity=0)
    from fangkong.people.models import Person

    count = Person.objects.current().count()
    if count == 0 and people:
        call_command("demo", "--no-serve", "--people", str(people), stdout=sys.stderr)
        count = Person.objects.current().count()
    if count == 0:
        raise SystemExit("数据库中没有人员：请先运行 fangkong demo --no-serve --people N，或加 --people N。")
    return count
