"""``remission analyze`` of each bundled example case: whole command and breakdown by engine.

    python benchmarks/run.py analyze

Whole command: a fresh process per run (median of 5, or ``--runs N``), ``--no-store``, report
written; wall seconds and CPU seconds (user + sys of the child, which a shared machine inflates
less); ``--pyc`` lets the children write and use the bytecode cache (as an installed package
does) even where the environment sets ``PYTHONDONTWRITEBYTECODE``. Breakdown: one in-process run per case, CPU seconds of the imports, each engine step
(through the pipeline's progress callback), report rendering, and the store save (``--wall``:
wall seconds instead). Peer: the same command at the previous release
(0.1.0), measured at 8-12 s per case on this machine class (see BENCHMARKS.md); no outside tool
does this job.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import run_timed


def _breakdown(case: Path, work: Path, clock: Callable[[], float] = time.process_time) -> dict[str, float]:
    out: dict[str, float] = {}
    t0 = clock()
    from remission.pipeline import analyze, registered_steps
    from remission.report import render_html

    registered_steps()
    out["imports"] = clock() - t0
    marks: list[tuple[str, float]] = []
    t1 = clock()
    analysis = analyze(case, progress=lambda title: marks.append((title, clock())))
    end = clock()
    for (title, start), nxt in zip(marks, [*(m[1] for m in marks[1:]), end], strict=True):
        out[title] = nxt - start
    out["reading the case + timeline"] = (marks[0][1] if marks else end) - t1
    t2 = clock()
    render_html(analysis)
    out["report rendering"] = clock() - t2
    from remission.store import Store

    t3 = clock()
    with Store(f"sqlite:///{work / (case.parent.name + '.db')}") as st:
        st.save_analysis(analysis)
    out["store save (new SQLite file, migrations included)"] = clock() - t3
    return out


def main(argv: list[str]) -> int:
    # the in-process breakdown runs as `remission analyze` does: one BLAS thread (set before
    # NumPy is imported; see remission.cli.common.single_threaded_blas)
    from remission.cli.common import single_threaded_blas

    single_threaded_blas()
    from remission.synth.examples import write_examples

    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 5
    clock = time.perf_counter if "--wall" in argv else time.process_time
    # --pyc: measure as an installed package runs (compiled .pyc files), also where the
    # environment sets PYTHONDONTWRITEBYTECODE (an empty value switches it off)
    pyc = {"PYTHONDONTWRITEBYTECODE": ""} if "--pyc" in argv else None

    exe = Path(sys.executable).with_name("remission")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = write_examples(work / "examples")
        print("bytecode cache: " + ("written and used (--pyc)" if pyc else
                                    "as the environment says (PYTHONDONTWRITEBYTECODE="
                                    f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"))
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("| case | whole command median s | min s | max s | CPU median s | peak MB |")
        print("|---|---|---|---|---|---|")
        for case in cases:
            cmd = [str(exe), "analyze", str(case), "--no-store", "-o", str(work / case.parent.name)]
            if pyc:  # one untimed run writes the bytecode cache, as installing a package does
                run_timed(cmd, runs=1, env=pyc)
            r = run_timed(cmd, runs=runs, env=pyc)
            print(f"| {case.parent.name} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} "
                  f"| {r['cpu_median_s']:.2f} | {r['peak_mb']:.0f} |")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"\nbreakdown ({'wall' if '--wall' in argv else 'CPU'} seconds, in process):")
        for case in cases:
            parts = _breakdown(case, work, clock)
            print(f"{case.parent.name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
