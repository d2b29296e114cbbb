"""Start-up of the command line: ``remission --help`` in a fresh process (target < 1 s).

    python benchmarks/run.py cli

Peer: ``python -c pass`` (the interpreter's own start-up) in the same run, so the figure reads as
"interpreter + remission's own imports". The test suite checks only that ``--help`` imports no
heavy library (tests/core/test_cli.py); the time is measured here, never asserted in a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import run_timed


def main(argv: list[str]) -> int:
    exe = Path(sys.executable).with_name("remission")
    cmd = [str(exe), "--help"] if exe.is_file() else [sys.executable, "-m", "remission.cli", "--help"]
    ours = run_timed(cmd, runs=7)
    peer = run_timed([sys.executable, "-c", "pass"], runs=7)
    print("| command | median s | min s | max s | peak MB |")
    print("|---|---|---|---|---|")
    for name, r in (("remission --help", ours), ("python -c pass", peer)):
        print(f"| {name} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | {r['peak_mb']:.0f} |")
    print(f"\nremission's own start-up above the interpreter: {ours['median_s'] - peer['median_s']:.3f} s")
    return 0 if ours["median_s"] < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
