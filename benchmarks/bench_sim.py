"""Virtual-patient benchmark: a 100,000-patient cohort over 2 years, vs a per-patient loop, and Dask.

    python benchmarks/bench_sim.py [--n N] [--runs R] [--loop-n M] [--dask-n K] [--dask-runs R] [--no-dask]

Timed (each a fresh child process; median wall time and peak RSS of the child):

- ours: ``run_cohort(N, "cart", horizon_days=730)`` — morphological-relapse population, CAR-T after
  the cited enrolment-to-infusion time, daily steps, vectorised over patients (one chunk);
- loop: the same model written as a straightforward per-patient NumPy loop (below, ``LOOP``: one
  patient at a time, a day loop over a 4-element clone array, the Stein closed form per day), run
  on ``--loop-n`` patients and scaled linearly to N (its cost is linear in patients);
- Dask: ``run_cohort(K, ..., chunk_size=100_000)`` in this process (chunks in order), on a
  ``LocalCluster`` with 1 worker and with 2 workers (one thread each); the per-chunk SHA-256 of the
  outcome columns must be identical in all three (the seeds are derived per chunk).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _util import run_timed  # noqa: E402

OURS = r"""
import sys, time
from remission.sim.cohort import run_cohort
n = int(sys.argv[1])
t0 = time.perf_counter()
run_cohort(n, "cart", seed=20260101, horizon_days=730, chunk_size=n, summary_only=True)
print(time.perf_counter() - t0)
"""

LOOP = r"""
import math, sys
import numpy as np
from remission.sim.model import VirtualPatients, cart_log_level
from remission.sim.parameters import resolve_sim, value
from remission.sim.strategies import cart_infusion_days

n = int(sys.argv[1])
r = resolve_sim()
rng = np.random.default_rng(20260101)
pts = VirtualPatients.sample(n, rng, r, log10_burden0_range=(math.log10(0.05), math.log10(0.95)))
cart = cart_infusion_days(n, rng, r)
m_cells, thr = value(r, "marrow_cells"), value(r, "relapse_blast_fraction")
small, kmax, c50 = value(r, "stochastic_below_cells"), value(r, "cart_kill_max_per_day"), value(r, "cart_kill_half_copies")
cfun, p_dys = value(r, "cart_functional_copies"), value(r, "cart_dysfunction_probability")
relapse = np.full(n, np.nan)
import time
t0 = time.perf_counter()
for i in range(n):                                   # one patient at a time
    neg = pts.cd19neg_fraction0[i]
    cells = pts.burden0[i] * m_cells * np.array([1 - neg, neg])
    works = rng.random() >= p_dys
    stein = {k: v[i:i + 1] for k, v in pts.stein.items()}
    remitted = pts.burden0[i] < thr
    for d in range(731):
        total = cells.sum() / m_cells
        if total < thr:
            remitted = True
        elif remitted:
            relapse[i] = d
            break
        kill = 0.0
        if np.isfinite(cart[i]) and d >= cart[i] and works:
            level = float(np.exp(cart_log_level(np.array([d - cart[i] + 0.5]), stein))[0])
            if level >= cfun:
                kill = kmax * level / (level + c50)
        g = pts.growth_per_day[i]
        cells = cells * np.exp(np.array([g - kill, g]))
        low = (cells < small) & (cells > 0)
        cells[low] = rng.poisson(cells[low])
print(time.perf_counter() - t0)
"""

DASK = r"""
import json, sys, time
from remission.sim.cohort import run_cohort
n, workers = int(sys.argv[1]), sys.argv[2]
kw = {} if workers == "none" else {"scheduler": "local", "n_workers": int(workers)}
t0 = time.perf_counter()
res = run_cohort(n, "cart", seed=20260101, horizon_days=730, chunk_size=100_000, summary_only=True, **kw)
print(json.dumps({"seconds": time.perf_counter() - t0, "digests": [c["digest"] for c in res["chunks"]],
                  "events": sum(c["events"] for c in res["chunks"])}))
"""


def _inner(script: str, n: int) -> float:
    out = subprocess.run([sys.executable, "-c", script, str(n)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _cpu(script: str, n: int) -> float:
    """User + system CPU seconds of one child (the single-core cost whatever else runs on the machine)."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(n)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("benchmark child failed")
    return usage.ru_utime + usage.ru_stime


def _dask_once(n: int, workers: str) -> dict:
    out = subprocess.run([sys.executable, "-c", DASK, str(n), workers], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loop-n", type=int, default=200)
    ap.add_argument("--dask-n", type=int, default=1_000_000)
    ap.add_argument("--dask-runs", type=int, default=1)
    ap.add_argument("--no-dask", action="store_true")
    a = ap.parse_args(argv)

    ours = run_timed([sys.executable, "-c", OURS, str(a.n)], runs=a.runs)
    loop = run_timed([sys.executable, "-c", LOOP, str(a.loop_n)], runs=a.runs)
    # compute-only seconds (printed by the children; import time excluded) for the ratio
    ours_c = statistics.median(_inner(OURS, a.n) for _ in range(a.runs))
    loop_c = statistics.median(_inner(LOOP, a.loop_n) for _ in range(a.runs))
    loop_scaled = loop_c * a.n / a.loop_n
    ours_cpu = statistics.median(_cpu(OURS, a.n) for _ in range(a.runs))
    loop_cpu = statistics.median(_cpu(LOOP, a.loop_n) for _ in range(a.runs))
    print("| what | size | median s (min-max) | peak RSS MB | runs |")
    print("|---|---|---|---|---|")
    print(f"| vectorised cohort (`run_cohort`, cart, 730 d) | {a.n:,} patients | {ours['median_s']:.2f} "
          f"({ours['min_s']:.2f}-{ours['max_s']:.2f}) | {ours['peak_mb']:.0f} | {a.runs} |")
    print(f"| per-patient NumPy loop | {a.loop_n:,} patients | {loop['median_s']:.2f} "
          f"({loop['min_s']:.2f}-{loop['max_s']:.2f}) | {loop['peak_mb']:.0f} | {a.runs} |")
    print(f"\ncompute only (imports excluded), median of {a.runs}: vectorised {ours_c:.2f} s for {a.n:,}; "
          f"loop {loop_c:.2f} s for {a.loop_n:,} -> {loop_scaled:.1f} s scaled to {a.n:,}")
    print(f"speed-up vectorised / per-patient loop: {loop_scaled / ours_c:.1f}x")
    print(f"CPU seconds (user+sys, whole child incl. imports), median of {a.runs}: vectorised {ours_cpu:.2f} "
          f"for {a.n:,}; loop {loop_cpu:.2f} for {a.loop_n:,}")
    if a.no_dask:
        return 0
    rows = {}
    for workers in ("none", "1", "2"):
        runs = [_dask_once(a.dask_n, workers) for _ in range(a.dask_runs)]
        secs = sorted(r["seconds"] for r in runs)
        rows[workers] = {"median_s": secs[len(secs) // 2], "digests": runs[0]["digests"], "events": runs[0]["events"]}
    same = rows["none"]["digests"] == rows["1"]["digests"] == rows["2"]["digests"]
    print(f"\n| Dask, {a.dask_n:,} patients in chunks of 100,000 | median s | events |")
    print("|---|---|---|")
    for k, label in (("none", "this process, chunks in order"), ("1", "LocalCluster, 1 worker"),
                     ("2", "LocalCluster, 2 workers")):
        print(f"| {label} | {rows[k]['median_s']:.1f} | {rows[k]['events']:,} |")
    print(f"\nidentical per-chunk digests in all three: {same}; speed-up 1 -> 2 workers: "
          f"{rows['1']['median_s'] / rows['2']['median_s']:.2f}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
