"""``remission analyze`` of each bundled example case: whole command and breakdown by engine.

    python benchmarks/run.py analyze

Whole command: a fresh process per run (median of 5), ``--no-store``, report written. Breakdown:
one in-process run per case, timing imports, each engine step (through the pipeline's progress
callback), report rendering, and the store save. Peer: the same command at the previous release
(0.1.0), measured at 8-12 s per case on this machine class (see BENCHMARKS.md); no outside tool
does this job.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import run_timed


def _breakdown(case: Path, work: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    from remission.pipeline import analyze, registered_steps
    from remission.report import render_html

    registered_steps()
    out["imports"] = time.perf_counter() - t0
    marks: list[tuple[str, float]] = []
    t1 = time.perf_counter()
    analysis = analyze(case, progress=lambda title: marks.append((title, time.perf_counter())))
    end = time.perf_counter()
    for (title, start), nxt in zip(marks, [*(m[1] for m in marks[1:]), end], strict=True):
        out[title] = nxt - start
    out["reading the case + timeline"] = (marks[0][1] if marks else end) - t1
    t2 = time.perf_counter()
    render_html(analysis)
    out["report rendering"] = time.perf_counter() - t2
    from remission.store import Store

    t3 = time.perf_counter()
    with Store(f"sqlite:///{work / (case.parent.name + '.db')}") as st:
        st.save_analysis(analysis)
    out["store save (new SQLite file, migrations included)"] = time.perf_counter() - t3
    return out


def main(argv: list[str]) -> int:
    from remission.synth.examples import write_examples

    exe = Path(sys.executable).with_name("remission")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = write_examples(work / "examples")
        print("| case | whole command median s | min s | max s | peak MB |")
        print("|---|---|---|---|---|")
        for case in cases:
            r = run_timed([str(exe), "analyze", str(case), "--no-store", "-o", str(work / case.parent.name)],
                          runs=5)
            print(f"| {case.parent.name} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} "
                  f"| {r['peak_mb']:.0f} |")
        print()
        for case in cases:
            parts = _breakdown(case, work)
            print(f"{case.parent.name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
