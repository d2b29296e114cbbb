"""Time the ``sim_timeline`` step (fit + strategy timeline) on each bundled example case.

    PYTHONPATH=src python benchmarks/bench_sim_timeline.py [--repeats 3]

In-process, after one warm-up analysis per case: the step's time is taken from the pipeline's
progress callback (its start to the end of the analysis; it is the last step). Median of the
repeats, default budget (:data:`remission.steps.sim_timeline.DEFAULTS`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from remission.pipeline import analyze
    from remission.steps.sim_timeline import TITLE
    from remission.synth.examples import write_examples

    with tempfile.TemporaryDirectory() as tmp:
        for case in write_examples(Path(tmp)):
            analyze(case, targets=("sim_timeline",))  # warm-up (imports, caches)
            times = []
            for _ in range(args.repeats):
                marks: dict[str, float] = {}
                analyze(case, targets=("sim_timeline",),
                        progress=lambda title, m=marks: m.__setitem__(title, time.perf_counter()))
                times.append(time.perf_counter() - marks[TITLE])
            print(f"{case.parent.name:24s} sim_timeline step median {statistics.median(times):.3f} s "
                  f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeats} runs)")


if __name__ == "__main__":
    main()
