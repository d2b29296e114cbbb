"""Run the benchmarks: every ``benchmarks/bench_*.py`` module's ``main(argv)``.

    python benchmarks/run.py            # all
    python benchmarks/run.py ngs flow   # only bench_ngs.py and bench_flow.py

Each module times whole commands or functions over several runs (median), measures peak memory
(``resource.getrusage`` of a child process) and prints a Markdown table; results are copied
into BENCHMARKS.md with the command that produced them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    rc = 0
    for f in sorted(HERE.glob("bench_*.py")):
        name = f.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(f.stem, f)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print(f"## {name}", flush=True)
        rc |= int(mod.main([]) or 0)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
