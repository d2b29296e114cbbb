"""Timing helpers for benchmarks: run a command as a child process several times and report
the median wall time and the peak resident memory (max RSS of the child)."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["run_timed"]


def run_timed(cmd: Sequence[str], runs: int = 5, env: dict[str, str] | None = None) -> dict[str, float]:
    """Median/min/max wall seconds and peak RSS (MB) over ``runs`` runs of ``cmd``.

    Peak RSS is read with ``os.wait4`` per child, so it is that child's own maximum.
    """
    times: list[float] = []
    peaks: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env={**os.environ, **(env or {})},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"benchmark command failed: {' '.join(cmd)}\n{err}")
        times.append(dt)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)  # KiB -> MiB on Linux
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "peak_mb": max(peaks),
        "cpu_median_s": statistics.median(cpus),  # user + sys of the child: fair on a shared machine
        "runs": runs,
    }


if __name__ == "__main__":  # tiny self-check
    print(run_timed([sys.executable, "-c", "pass"], runs=3))
    print(resource.getrlimit(resource.RLIMIT_AS))
