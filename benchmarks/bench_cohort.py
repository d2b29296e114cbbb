"""Cohort benchmark: 100,000 patients (KM + CIF + Gray) and a 1 M-interval time-varying Cox,
vs lifelines and R (Rscript) in the same run.

    python benchmarks/bench_cohort.py [--patients N] [--visits K] [--runs R] [--peer-runs R]
                                      [--subset-patients M] [--tasks survival,cox,cox-subset]

Inputs (seeded, written under benchmarks/_data/ as CSV): ``remission.synth.cohort``:
``simulate_cohort(N, seed=1)`` (time, event 0/1/2, group S1..S4) and
``simulate_mrd_intervals(N, visits=K, seed=2)`` (id, start, stop, event, log10_mrd, group).

Each tool runs as a fresh process R times; it loads the CSV, then times its own computation
(printed as JSON), so the table reports the compute median (ex. start-up and CSV read) and the
peak RSS of the whole child (``benchmarks/_util.run_timed``).

- survival task: KM by group with log-rank + CIF of both causes by group + Gray's test for both
  causes. ours: remission.cohort; lifelines: KaplanMeierFitter per group + multivariate log-rank
  + AalenJohansenFitter per group and cause (no Gray's test in lifelines; its AJ jitters ties);
  R: survfit + survdiff + cmprsk::cuminc (which includes Gray's test).
- Cox task: Efron ties, covariates log10_mrd + group indicators, (start, stop] rows.
  ours: remission.cohort.cox_ph; R: survival::coxph; lifelines' CoxTimeVaryingFitter only on
  the first ``--subset-patients`` patients' intervals (all three tools run there too).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "_data"
sys.path.insert(0, str(HERE))


OURS_SURV = r"""
import json, sys, time, numpy as np, pandas as pd
from remission.cohort import kaplan_meier_groups, logrank_test, cumulative_incidence_groups, gray_test
d = pd.read_csv(sys.argv[1]); t, e, g = d.time.to_numpy(), d.event.to_numpy(), d.group.to_numpy()
t0 = time.perf_counter()
km = kaplan_meier_groups(t, e != 0, g); lr = logrank_test(t, e != 0, g)
ci = cumulative_incidence_groups(t, e, g)
gt = [gray_test(t, e, g, cause=c) for c in (1, 2)]
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "logrank": lr.chisq, "gray": [x.statistic for x in gt],
                  "cif1_S1_1000": float(ci["S1"].cif_at([1000])[0, 0])}))
"""

LIFELINES_SURV = r"""
import json, sys, time, warnings, numpy as np, pandas as pd
warnings.simplefilter("ignore")
from lifelines import KaplanMeierFitter, AalenJohansenFitter
from lifelines.statistics import multivariate_logrank_test
d = pd.read_csv(sys.argv[1])
t0 = time.perf_counter()
for k, s in d.groupby("group"):
    KaplanMeierFitter().fit(s.time, s.event != 0)
lr = multivariate_logrank_test(d.time, d.group, d.event != 0)
cif = None
for k, s in d.groupby("group"):
    for c in (1, 2):
        aj = AalenJohansenFitter(seed=0).fit(s.time, s.event, event_of_interest=c)
        if k == "S1" and c == 1:
            cif = float(aj.cumulative_density_.loc[:1000.5].iloc[-1, 0])
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "logrank": float(lr.test_statistic), "gray": None, "cif1_S1_1000": cif}))
"""

R_SURV = r"""
suppressMessages({library(survival); library(cmprsk)})
d <- read.csv(commandArgs(TRUE)[1])
t0 <- proc.time()[["elapsed"]]
km <- survfit(Surv(time, event != 0) ~ group, data = d)
lr <- survdiff(Surv(time, event != 0) ~ group, data = d)
ci <- cuminc(d$time, d$event, d$group, cencode = 0)
dt <- proc.time()[["elapsed"]] - t0
cat(sprintf('{"seconds": %.6f, "logrank": %.10g, "gray": [%.10g, %.10g], "cif1_S1_1000": %.10g}\n',
            dt, lr$chisq, ci$Tests[1, 1], ci$Tests[2, 1], timepoints(ci, 1000)$est["S1 1", 1]))
"""

OURS_COX = r"""
import json, sys, time, numpy as np, pandas as pd
from remission.cohort import cox_ph
d = pd.read_csv(sys.argv[1])
x = np.column_stack([d.log10_mrd, d.group == 1, d.group == 2, d.group == 3]).astype(float)
t0 = time.perf_counter()
f = cox_ph(x, d.stop.to_numpy(), d.event.to_numpy(), start=d.start.to_numpy(), ids=d.id.to_numpy())
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "coef": f.coef.tolist(), "loglik": f.loglik}))
"""

LIFELINES_COX = r"""
import json, sys, time, warnings, numpy as np, pandas as pd
warnings.simplefilter("ignore")
from lifelines import CoxTimeVaryingFitter
d = pd.read_csv(sys.argv[1])
for k in (1, 2, 3):
    d[f"g{k}"] = (d.group == k).astype(float)
d = d[["id", "start", "stop", "event", "log10_mrd", "g1", "g2", "g3"]]
t0 = time.perf_counter()
f = CoxTimeVaryingFitter().fit(d, id_col="id", start_col="start", stop_col="stop", event_col="event")
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "coef": f.params_.tolist(), "loglik": float(f.log_likelihood_)}))
"""

R_COX = r"""
suppressMessages(library(survival))
d <- read.csv(commandArgs(TRUE)[1])
t0 <- proc.time()[["elapsed"]]
f <- coxph(Surv(start, stop, event) ~ log10_mrd + factor(group), data = d)
dt <- proc.time()[["elapsed"]] - t0
cat(sprintf('{"seconds": %.6f, "coef": [%s], "loglik": %.10g}\n', dt,
            paste(sprintf("%.10g", coef(f)), collapse = ", "), f$loglik[2]))
"""


def _write_inputs(n: int, visits: int, subset: int) -> None:
    """Run in a child process (see main), so this parent stays small: a forked child's peak RSS
    starts from the parent's, which would otherwise hide small tools."""
    import pandas as pd

    from remission.synth.cohort import simulate_cohort, simulate_mrd_intervals

    DATA.mkdir(exist_ok=True)
    surv, cox, _ = _paths(n, visits, subset)
    if not surv.exists():
        c = simulate_cohort(n, seed=1)
        pd.DataFrame({k: c[k] for k in ("time", "event", "group", "mrd_day28")}).to_csv(
            surv, index=False)
    if not cox.exists():
        iv = simulate_mrd_intervals(n, visits=visits, seed=2)
        pd.DataFrame({k: iv[k] for k in ("id", "start", "stop", "event", "log10_mrd",
                                         "group")}).to_csv(cox, index=False)
    sub = _paths(n, visits, subset)[2]
    if not sub.exists():
        d = pd.read_csv(cox)
        d[d.id < subset].to_csv(sub, index=False)


def _paths(n: int, visits: int, subset: int) -> tuple[Path, Path, Path]:
    return (DATA / f"cohort_{n}.csv", DATA / f"cohort_intervals_{n}_{visits}.csv",
            DATA / f"cohort_intervals_{n}_{visits}_first{subset}.csv")


def _measure(cmd: list[str], runs: int) -> dict[str, object]:
    """Compute seconds (median of the tool's own timings) and the child's peak RSS (wait4)."""
    secs: list[float] = []
    peaks: list[float] = []
    last: dict[str, object] = {}
    for _ in range(runs):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stderr is not None
        out = proc.stdout.read()
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"benchmark command failed: {cmd[0]}\n{err[-2000:]}")
        last = json.loads(out.strip().splitlines()[-1])
        secs.append(float(last["seconds"]))  # type: ignore[arg-type]
        peaks.append(usage.ru_maxrss / 1024)  # KiB -> MiB
    return {"median_s": statistics.median(secs), "min_s": min(secs), "runs": runs,
            "peak_mb": max(peaks), "out": last}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--visits", type=int, default=30)  # 1,025,283 intervals at 100k
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tasks", default="survival,cox,cox-subset",
                    help="comma-separated subset of survival, cox, cox-subset")
    ap.add_argument("--peer-runs", type=int, default=3)
    ap.add_argument("--subset-patients", type=int, default=5_000,
                    help="lifelines' CoxTimeVaryingFitter is too slow for 1 M rows (about 6 s "
                         "for 25 k); all three Cox fits also run on the intervals of this many "
                         "patients, for the ratio to lifelines")
    args = ap.parse_args(argv)
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                    "import bench_cohort as b; b._write_inputs(*map(int, sys.argv[2:]))",
                    str(HERE), str(args.patients), str(args.visits), str(args.subset_patients)],
                   check=True)
    surv, cox, sub = _paths(args.patients, args.visits, args.subset_patients)
    with cox.open() as fh:
        rows = sum(1 for _ in fh) - 1
    with sub.open() as fh:
        sub_rows = sum(1 for _ in fh) - 1
    py = sys.executable
    rscript = shutil.which("Rscript")
    tasks = [
        ("survival", "remission.cohort", [py, "-c", OURS_SURV, str(surv)], args.runs),
        ("survival", "lifelines 0.30", [py, "-c", LIFELINES_SURV, str(surv)], args.peer_runs),
    ]
    if rscript:
        tasks.append(("survival", "R survival + cmprsk", [rscript, "-e", R_SURV, str(surv)],
                      args.peer_runs))
    tasks.append(("cox", "remission.cohort", [py, "-c", OURS_COX, str(cox)], args.runs))
    if rscript:
        tasks.append(("cox", "R survival", [rscript, "-e", R_COX, str(cox)], args.peer_runs))
    tasks.append(("cox-subset", "remission.cohort", [py, "-c", OURS_COX, str(sub)], args.runs))
    tasks.append(("cox-subset", "lifelines 0.30", [py, "-c", LIFELINES_COX, str(sub)],
                  args.peer_runs))
    if rscript:
        tasks.append(("cox-subset", "R survival", [rscript, "-e", R_COX, str(sub)],
                      args.peer_runs))
    wanted = set(args.tasks.split(","))
    tasks = [t for t in tasks if t[0] in wanted]
    results = []
    for task, tool, cmd, runs in tasks:
        r = _measure(cmd, runs)
        results.append((task, tool, r))
        print(f"{task:9s} {tool:22s} median {r['median_s']:.3f} s  peak {r['peak_mb']:.0f} MB  "
              f"{json.dumps(r['out'])}", flush=True)
    print()
    print(f"survival: {args.patients:,} patients; cox: {rows:,} intervals "
          f"({args.patients:,} patients, up to {args.visits} visits); cox-subset: {sub_rows:,} "
          f"intervals ({args.subset_patients:,} patients)")
    print("| task | tool | compute median s | min s | runs | peak RSS MB | ratio to ours |")
    print("|---|---|---:|---:|---:|---:|---:|")
    ours = {t: r["median_s"] for t, tool, r in results if tool == "remission.cohort"}
    for task, tool, r in results:
        ratio = float(r["median_s"]) / float(ours[task])  # type: ignore[arg-type]
        print(f"| {task} | {tool} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['runs']} | "
              f"{r['peak_mb']:.0f} | {ratio:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
