"""NGS-MRD benchmark: direct FASTQ tracking vs tools labs use (bowtie2, seqkit), AIRR reading.

    python benchmarks/bench_ngs.py [--reads N] [--runs R] [--peer-reads N] [--airr-rows N]

Set-up for the peers (Debian packages; the test suite does not need them, and the benchmark
skips a peer that is not installed, saying so):

    apt-get update && apt-get install -y bowtie2 seqkit

Peers, on the same ``--peer-reads`` reads of the follow-up block, pinned to one core
(``taskset -c 0``), with sensitivity against the simulated truth (leukemic reads are named
``r{n}_L{clone}`` by ``write_sample_fastq(label_leukemic=True)``):

- ``bowtie2 --local -p 1`` against an index of the 20 junctions (``bowtie2-build``; its time is
  reported apart as set-up); a read counts when it aligns;
- ``seqkit grep -s -m 2 -j 1 -f junctions.txt`` (both strands, <= 2 mismatches);
- ours: the same scanner the command uses, in-process, mapped back to read names.

Inputs (seeded, under benchmarks/_data/, from ``remission.synth.ngs``):

- a diagnosis AIRR TSV with 20 leukemic IGH clonotypes at 4.5 % each (20 index junctions);
- a follow-up of 10^6 cells (the 20 clones at 1e-4 each, 20,000 polyclonal clonotypes, 0.3 %/base
  errors in the leukemic junctions) written as 150-bp FASTQ, 10^6 reads; the benchmark file is
  that block repeated until it has ``--reads`` reads (read names repeat; the content is realistic
  per block);
- a 100,000-row AIRR TSV repeated to ``--airr-rows`` rows.

Timed commands (fresh processes; median wall time including interpreter start-up; peak RSS is
the child's own VmHWM):

- ours, FASTQ: ``remission mrd ngs track --diagnosis DX --follow-up-fastq FU --cell-equivalents
  1e6 --json`` (index, seed-and-verify scan of every read for 20 junctions x 2 strands with
  <= 2 mismatches, quantification, SHA-256 of the inputs for the envelope);
- ours, scan only: ``track_fastq`` over ``iter_fastq_chunks`` timed inside the process (the
  command's time also holds interpreter start-up, the index and the SHA-256 of the input file
  that the JSON envelope records);
- ours, FASTQ gzip: the same on the 10^6-read block compressed with gzip level 1;
- peer, "full re-annotation": a per-read V/J annotation of every read in pure Python, written here
  as the baseline (k-mer affectation of the read to the synthetic V and J germlines, as Vidjil's
  first pass does, cut the junction between the Cys and Trp/Phe anchors, then look it up among the
  index junctions with the same V/J and length within 2 mismatches). It is timed on
  ``--peer-reads`` reads and its reads/s compared. It is not IgBLAST or MiXCR (not installable
  here); the spec's figures for those (Vidjil ~26-30 k reads/s, IgBLAST hundreds to a few
  thousand) are for orientation only;
- ours, AIRR: ``iter_airr_chunks`` over the whole ``--airr-rows`` file (strict validation);
- peer, AIRR: ``airr.read_rearrangement`` (airr 2.x) iterating the same file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _util import run_timed  # noqa: E402

DATA = HERE / "_data"

PEER = r"""
import sys, dnaio
from remission.io.airr import iter_airr_chunks
from remission.mrd.ngs import index_clonotypes, revcomp
from remission.synth.ngs import germline
dx, fq, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
idx = index_clonotypes(iter_airr_chunks(dx), {"index_min_fraction": 0.03})
K = 12
g = germline("IGH")
vk, jk = {}, {}
for name, (up, tail) in g.v.items():
    s = up + tail
    for i in range(len(s) - K + 1):
        vk[s[i:i + K]] = (name, len(s) - i)   # distance from k-mer start to the V end
for name, (head, down) in g.j.items():
    s = head + down
    for i in range(len(s) - K + 1):
        jk[s[i:i + K]] = (name, len(head) - i)  # distance from k-mer start to the J anchor end
index = {}
for c in idx.clones:
    index.setdefault((c.v_call, c.j_call, len(c.junction)), []).append(c.junction)
counts = {c.junction: 0 for c in idx.clones}
n = 0
def annotate(seq):
    v = j = None
    for i in range(len(seq) - K + 1):
        h = vk.get(seq[i:i + K])
        if h and v is None:
            v = (h[0], i)
        h2 = jk.get(seq[i:i + K])
        if h2:
            j = (h2[0], i + h2[1])
    if v is None or j is None:
        return None
    # junction: from the V Cys codon (searched near the V end) to the J anchor end
    cys = seq.rfind("TGT", 0, j[1])
    if cys < 0:
        return None
    return v[0], j[0], seq[cys:j[1]]
with dnaio.open(fq) as f:
    for rec in f:
        n += 1
        if n > limit:
            n -= 1
            break
        for s in (rec.sequence, revcomp(rec.sequence.encode()).decode()):
            a = annotate(s)
            if a is None:
                continue
            for cand in index.get((a[0], a[1], len(a[2])), ()):
                if sum(x != y for x, y in zip(cand, a[2])) <= 2:
                    counts[cand] += 1
                    break
            break
print(n, sum(counts.values()))
"""

# Runs the timed code and appends the process's own peak RSS (VmHWM: this mm only, so not the
# benchmark parent's memory that a forked child's ru_maxrss would also count) to a file.
WRAP = r"""
import sys
out, code = sys.argv[1], sys.argv[2]
sys.argv = [sys.argv[0], *sys.argv[3:]]
try:
    if code == "remission":
        from remission.cli import main
        rc = main(sys.argv[1:])
    else:
        exec(compile(code, "<bench>", "exec"), {"__name__": "__main__"})
        rc = 0
finally:
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
    with open(out, "a") as fh:
        fh.write(hwm + "\n")
sys.exit(rc)
"""

ENGINE = r"""
import sys, time
from remission.io.airr import iter_airr_chunks
from remission.io.fastq import iter_fastq_chunks
from remission.mrd.ngs import index_clonotypes, track_fastq
idx = index_clonotypes(iter_airr_chunks(sys.argv[1]), {"index_min_fraction": 0.03})
track_fastq(idx, iter_fastq_chunks(sys.argv[3], engine="auto" if len(sys.argv) < 5 else sys.argv[4]))
t = time.process_time()  # after a warm-up on 1,000 reads: numba's import and kernel load apart
tr = track_fastq(idx, iter_fastq_chunks(sys.argv[2]))
print(time.process_time() - t, tr.total_reads, sum(c.reads for c in tr.counts))
"""

READ_AIRR = r"""
import sys
from remission.io.airr import iter_airr_chunks
print(sum(len(c) for c in iter_airr_chunks(sys.argv[1])))
"""

READ_AIRR_PEER = r"""
import sys, airr
print(sum(1 for _ in airr.read_rearrangement(sys.argv[1])))
"""


def _count_reads(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(16 << 20):
            n += block.count(b"\n")
    return n // 4


def _inputs(reads: int, airr_rows: int) -> tuple[Path, Path, Path]:
    import numpy as np

    from remission.synth.ngs import (
        random_rearrangement,
        simulate_sample,
        write_sample_airr,
        write_sample_fastq,
    )

    DATA.mkdir(exist_ok=True)
    dx_p, block_p = DATA / "ngs_dx_v2.tsv", DATA / "ngs_fu_block_v2.fastq"
    fq_p, airr_p = DATA / f"ngs_fu_v2_{reads}.fastq", DATA / f"ngs_airr_{airr_rows}.tsv"
    rng = np.random.default_rng(2024)
    clones = [random_rearrangement(rng, "IGH") for _ in range(20)]
    if not dx_p.exists() or not block_p.exists():
        # "pooled" background: every cell one template, so 10^6 cells give ~10^6 reads
        dx = simulate_sample(rng, cells=100_000, clones=[(c, 0.045) for c in clones],
                             n_clonotypes=3000, total_reads=100_000, incomplete_fraction=0,
                             background="pooled")
        write_sample_airr(dx_p, dx)
        fu = simulate_sample(rng, cells=1_000_000, clones=[(c, 1e-4) for c in clones],
                             n_clonotypes=20_000, total_reads=1_000_000, incomplete_fraction=0,
                             background="pooled")
        write_sample_fastq(block_p, fu, rng, label_leukemic=True)
    if not fq_p.exists():
        n_block = _count_reads(block_p)
        reps = max(1, -(-reads // n_block))  # ceil: at least ``reads`` reads
        with open(fq_p, "wb") as out:
            for _ in range(reps):
                with open(block_p, "rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
    if not airr_p.exists():
        base = DATA / "ngs_airr_base.tsv"
        if not base.exists():
            s = simulate_sample(np.random.default_rng(7), cells=2_000_000, clones=[(clones[0], 0.01)],
                                n_clonotypes=100_000, total_reads=2_000_000, incomplete_fraction=0,
                                background="pooled")
            write_sample_airr(base, s)
        lines = base.read_text().splitlines(keepends=True)
        header, body = lines[0], lines[1:]
        with open(airr_p, "w") as out:
            out.write(header)
            left = airr_rows
            while left > 0:
                out.writelines(body[:left])
                left -= min(left, len(body))
    return dx_p, fq_p, airr_p


OURS_NAMES = r"""
import sys, time
from pathlib import Path
from remission.io.airr import iter_airr_chunks
from remission.io.fastq import _index, _jit, iter_fastq_chunks
from remission.mrd.ngs import index_clonotypes, track_fastq
from remission.mrd.ngs.index import effective_mismatches
from remission.mrd.ngs.scan import JunctionScanner
idx = index_clonotypes(iter_airr_chunks(sys.argv[1]), {"index_min_fraction": 0.03})
pats = [c.junction for c in idx.clones]
# start-up, timed apart: numba's import and loading the compiled kernels (compiling them on a
# cache miss), by checking and scanning one record
w0 = time.process_time()
sc = JunctionScanner(pats, [effective_mismatches(len(p), 2, 10) for p in pats], min_seed=10)
ch = _index(b"@w\n" + pats[0].encode() + b"\n+\n" + b"I" * len(pats[0]) + b"\n", Path("warm"), 0, _jit())
sc.scan(ch.data, ch.seq_start, ch.seq_end)
warm = time.process_time() - w0
hits, off = set(), 0
t0, c0 = time.perf_counter(), time.process_time()
for ch in iter_fastq_chunks(sys.argv[2]):
    rr, _pp, _mm = sc.scan(ch.data, ch.seq_start, ch.seq_end)
    hits.update((rr + off).tolist())
    off += ch.n_reads
print(time.perf_counter() - t0, time.process_time() - c0, warm, sc.engine, file=sys.stderr)
names = []
with open(sys.argv[2]) as fh:
    for i, line in enumerate(fh):
        if i % 4 == 0:
            names.append(line[1:].split()[0].split("/")[0])
print("\n".join(names[i] for i in sorted(hits)))
"""


def _names(text: str, sam: bool = False) -> set[str]:
    """Read names (without ``/1``) in SAM output (mapped records) or in a list of names/headers."""
    out = set()
    for line in text.splitlines():
        if not line or (sam and line.startswith("@")):
            continue
        if sam:
            f = line.split("\t")
            if not int(f[1]) & 4:
                out.add(f[0].split("/")[0])
        else:
            out.add(line.lstrip("@").split()[0].split("/")[0])
    return out


STARTUP: dict[str, float] = {}


def _run_cpu(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str, str]:
    """Run ``cmd``; (wall s, CPU s = user + sys of the child, stdout, stderr). CPU time is the fair
    measure on a shared machine: wall time there depends on the other jobs."""
    import os
    import tempfile
    import time as _t

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = _t.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env={**os.environ, **(env or {})})
        _, status, ru = os.wait4(proc.pid, 0)
        wall = _t.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        so, se = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark command failed: {' '.join(cmd)}\n{se}")
    return wall, ru.ru_utime + ru.ru_stime, so, se


def _sensitivity(found: set[str], truth: set[str]) -> tuple[float, int]:
    tp = len(found & truth)
    return (tp / len(truth) if truth else float("nan")), len(found - truth)


def peers(dx: Path, block: Path, n: int, n_seqkit: int) -> list[dict[str, object]]:
    """bowtie2 --local and seqkit grep -m 2 vs ours on the first ``n`` reads of ``block``:
    seconds (one core), reads/s and sensitivity/false positives against the simulated truth."""
    sub = DATA / f"ngs_peer_{n}.fastq"
    if not sub.exists():
        with open(block) as src, open(sub, "w") as out:
            for i, line in enumerate(src):
                if i >= 4 * n:
                    break
                out.write(line)
    truth = set()
    with open(sub) as fh:
        for i, line in enumerate(fh):
            if i % 4 == 0 and "_L" in line:
                truth.add(line[1:].split()[0].split("/")[0])
    one = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    rows: list[dict[str, object]] = []
    wall, cpu, so, se = _run_cpu([*one, sys.executable, "-c", OURS_NAMES, str(dx), str(sub)])
    sens, fp = _sensitivity(_names(so), truth)
    rows.append({"tool": "ours, whole process (Python start-up, index of the diagnosis, scan, names)",
                 "wall": wall, "s": cpu, "sens": sens, "fp": fp, "truth": len(truth), "n": n})
    sw, sc, warm, engine = se.split()[-4:]
    rows.append({"tool": f"ours, scan only (same process; read + check + scan, engine {engine})",
                 "wall": float(sw), "s": float(sc), "sens": sens, "fp": fp, "truth": len(truth), "n": n})
    # the numpy fallback (no numba), same reads
    _w, _c, so_np, se_np = _run_cpu([*one, sys.executable, "-c", OURS_NAMES, str(dx), str(sub)],
                                    env={"REMISSION_JIT": "0"})
    sens_np, fp_np = _sensitivity(_names(so_np), truth)
    sw_np, sc_np, _warm, engine_np = se_np.split()[-4:]
    rows.append({"tool": f"ours, scan only, numpy fallback (REMISSION_JIT=0, engine {engine_np})",
                 "wall": float(sw_np), "s": float(sc_np), "sens": sens_np, "fp": fp_np,
                 "truth": len(truth), "n": n})
    # start-up of the kernels: numba import + cache load (warm), and a compile (empty cache)
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        _w, _c, _so, se_cold = _run_cpu([*one, sys.executable, "-c", OURS_NAMES, str(dx),
                                         str(DATA / "ngs_fu_1000.fastq")], env={"NUMBA_CACHE_DIR": cache})
    STARTUP["kernel_warm_cpu_s"] = float(warm)
    STARTUP["kernel_cold_cpu_s"] = float(se_cold.split()[-2])
    from remission.io.airr import iter_airr_chunks
    from remission.mrd.ngs import index_clonotypes

    idx = index_clonotypes(iter_airr_chunks(dx), {"index_min_fraction": 0.03})
    fa, txt = DATA / "ngs_junctions.fa", DATA / "ngs_junctions.txt"
    fa.write_text("".join(f">{c.marker}\n{c.junction}\n" for c in idx.clones))
    txt.write_text("".join(f"{c.junction}\n" for c in idx.clones))
    if shutil.which("bowtie2") and shutil.which("bowtie2-build"):
        _w, build, _o, _e = _run_cpu(["bowtie2-build", "-q", str(fa), str(DATA / "ngs_junctions")])
        wall, cpu, so, _e = _run_cpu([*one, "bowtie2", "--local", "-p", "1", "--no-unal", "--no-hd",
                                      "-x", str(DATA / "ngs_junctions"), "-U", str(sub)])
        sens, fp = _sensitivity(_names(so, sam=True), truth)
        rows.append({"tool": f"bowtie2 --local -p 1 (index build {build:.2f} CPU s apart)", "wall": wall,
                     "s": cpu, "sens": sens, "fp": fp, "truth": len(truth), "n": n})
    else:
        print("bowtie2 not installed (apt-get install -y bowtie2): peer skipped")
    if shutil.which("seqkit"):
        # seqkit's mismatch search runs at a few hundred reads/s: its own, smaller slice
        sub_sk = DATA / f"ngs_peer_sk_{n_seqkit}.fastq"
        with open(sub) as src, open(sub_sk, "w") as out:
            for i, line in enumerate(src):
                if i >= 4 * n_seqkit:
                    break
                out.write(line)
        truth_sk = {t for t in truth if int(t[1:].split("_")[0]) <= n_seqkit}
        wall, cpu, so, _e = _run_cpu([*one, "seqkit", "grep", "-s", "-m", "2", "-j", "1", "-f", str(txt),
                                      str(sub_sk)])
        heads = "\n".join(line for i, line in enumerate(so.splitlines()) if i % 4 == 0)
        sens, fp = _sensitivity(_names(heads), truth_sk)
        rows.append({"tool": f"seqkit grep -s -m 2 -j 1 (first {n_seqkit:,} reads)", "wall": wall, "s": cpu,
                     "sens": sens, "fp": fp, "truth": len(truth_sk), "n": n_seqkit})
    else:
        print("seqkit not installed (apt-get install -y seqkit): peer skipped")
    for r in rows:
        r["rate"] = float(r["n"]) / float(r["s"])  # type: ignore[arg-type]
    return rows


def _timed(code: str, args: list[str], runs: int, env: dict[str, str] | None = None) -> dict[str, float]:
    """run_timed of ``code`` (Python source, or "remission" for the CLI) with its own peak RSS."""
    hwm = DATA / "ngs_hwm.txt"
    hwm.unlink(missing_ok=True)
    res = run_timed([sys.executable, "-c", WRAP, str(hwm), code, *args], runs=runs, env=env)
    res["peak_mb"] = max(int(x) for x in hwm.read_text().split()) / 1024
    return res


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-reads", type=int, default=1_000_000)
    ap.add_argument("--airr-rows", type=int, default=1_000_000)
    ap.add_argument("--peers-only", action="store_true", help="only the bowtie2/seqkit comparison")
    ap.add_argument("--seqkit-reads", type=int, default=20_000)
    a = ap.parse_args(argv)
    dx, fq, airr_p = _inputs(a.reads, a.airr_rows)
    block = DATA / "ngs_fu_block_v2.fastq"
    tiny = DATA / "ngs_fu_1000.fastq"
    if not tiny.exists():
        with open(block) as src, open(tiny, "w") as out:
            for i, line in enumerate(src):
                if i >= 4000:
                    break
                out.write(line)
    rows = peers(dx, block, a.peer_reads, a.seqkit_reads)
    base = next((r for r in rows if str(r["tool"]).startswith("bowtie2")), None)
    import os as _os

    print(f"peers on the first reads of the follow-up block, one core (taskset -c 0); load average "
          f"{', '.join(f'{x:.1f}' for x in _os.getloadavg())} (2-core machine)")
    print()
    print("| tool | reads | CPU s | wall s | reads per CPU s | leukemic reads (truth) | sensitivity "
          "| false positives | speed vs bowtie2 (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{float(r['rate']) / float(base['rate']):.1f}x" if base else "–"  # type: ignore[arg-type]
        print(f"| {r['tool']} | {int(r['n']):,} | {float(r['s']):.2f} | {float(r['wall']):.2f} | "  # type: ignore[arg-type]
              f"{float(r['rate']):,.0f} | "  # type: ignore[arg-type]
              f"{r['truth']} | {float(r['sens']) * 100:.2f} % | {r['fp']} | {ratio} |")  # type: ignore[arg-type]
    print()
    print(f"start-up of the compiled kernels (numba import + loading them from the cache), apart from "
          f"the scan: {STARTUP['kernel_warm_cpu_s']:.2f} CPU s; with an empty cache (JIT compile on "
          f"first use, once per install): {STARTUP['kernel_cold_cpu_s']:.2f} CPU s")
    print()
    if a.peers_only:
        return 0
    n_reads = _count_reads(fq)
    track = ["mrd", "ngs", "track", "--diagnosis", str(dx), "--cell-equivalents", "1e6", "--json",
             "--param", "index_min_fraction=0.03"]  # 20 clones at 4.5 % each (20 x 5 % > 100 %)
    check = subprocess.run([str(Path(sys.executable).with_name("remission")), *track, "--follow-up-fastq",
                            str(DATA / "ngs_fu_block_v2.fastq")], capture_output=True, text=True, check=True)
    res = json.loads(check.stdout)["result"]
    assert len(res["markers"]) == 20, "the benchmark must track 20 index junctions"
    found = sum(m["reads"] for m in res["markers"])
    startup = _timed("remission", [*track, "--follow-up-fastq", str(tiny)], a.runs)
    import tempfile

    block_cmd = [*track, "--follow-up-fastq", str(block)]  # 10^6 reads: the compiled path
    warm_block = _timed("remission", block_cmd, a.runs)
    with tempfile.TemporaryDirectory() as cache:  # the first run after an install: JIT compile
        cold_block = _timed("remission", block_cmd, 1, env={"NUMBA_CACHE_DIR": cache})
    ours = _timed("remission", [*track, "--follow-up-fastq", str(fq)], a.runs)
    engine_s = statistics.median(
        float(subprocess.run([sys.executable, "-c", ENGINE, str(dx), str(fq), str(tiny), "numba"],
                             capture_output=True, text=True, check=True).stdout.split()[0])
        for _ in range(a.runs))
    peer = _timed(PEER, [str(dx), str(fq), str(a.peer_reads)], 1)
    gz = DATA / "ngs_fu_block_v2.fastq.gz"
    if not gz.exists():
        from isal import igzip

        with open(DATA / "ngs_fu_block_v2.fastq", "rb") as src, igzip.open(gz, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 16 << 20)
    n_gz = _count_reads(DATA / "ngs_fu_block_v2.fastq")
    ours_gz = _timed("remission", [*track, "--follow-up-fastq", str(gz)], a.runs)
    ours_rate = n_reads / ours["median_s"]
    peer_rate = a.peer_reads / peer["median_s"]
    airr_ours = _timed(READ_AIRR, [str(airr_p)], a.runs)
    airr_peer = _timed(READ_AIRR_PEER, [str(airr_p)], 1)
    import os

    print(f"load average during the run (1/5/15 min, 2-core machine shared with other jobs): "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"check on one 10^6-read block: 20 markers, {found:,} index reads found "
          f"(truth: 20 clones x ~100 leukemic cells x 1 read per cell ~ 2,000)")
    print(f"input: {n_reads:,} reads x 150 bp ({fq.stat().st_size / 1e9:.2f} GB plain FASTQ), "
          f"20 index junctions, <= 2 mismatches, both strands; AIRR {a.airr_rows:,} rows "
          f"({airr_p.stat().st_size / 1e6:.0f} MB)")
    print()
    print("| task | command | input | median s (runs) | throughput | peak RSS MB | ratio |")
    print("|---|---|---|---|---|---|---|")
    print(f"| FASTQ tracking | `remission mrd ngs track --follow-up-fastq` | {n_reads:,} reads | "
          f"{ours['median_s']:.2f} ({a.runs}) | {ours_rate:,.0f} reads/s | {ours['peak_mb']:.0f} | "
          f"{ours_rate / peer_rate:.0f}x the re-annotation peer |")
    print(f"| same, CPU time (user + sys; the machine is shared) | | {n_reads:,} reads | "
          f"{ours['cpu_median_s']:.2f} CPU s | {n_reads / ours['cpu_median_s']:,.0f} reads per CPU s | | |")
    print(f"| start-up cost: same command on 1,000 reads (interpreter, imports, index, envelope) | "
          f"`remission mrd ngs track` | 1,000 reads | {startup['median_s']:.2f} ({a.runs}); "
          f"{startup['cpu_median_s']:.2f} CPU s | | {startup['peak_mb']:.0f} | |")
    print(f"| start-up of the compiled kernels (numba import + cache load; inputs >= 64 MiB only) | "
          f"in-process | | {STARTUP['kernel_warm_cpu_s']:.2f} CPU s | | | |")
    print(f"| first run after an install (empty numba cache: JIT compile), one 10^6-read block | same | "
          f"1,001,725 reads | {cold_block['cpu_median_s']:.2f} CPU s vs {warm_block['cpu_median_s']:.2f} "
          f"with the cache: compile {cold_block['cpu_median_s'] - warm_block['cpu_median_s']:.2f} CPU s | | "
          f"{cold_block['peak_mb']:.0f} | |")
    from remission.io.fastq import JIT_MIN_BYTES

    kernel_s = STARTUP["kernel_warm_cpu_s"] if fq.stat().st_size >= JIT_MIN_BYTES else 0.0
    net_cpu = max(ours["cpu_median_s"] - startup["cpu_median_s"] - kernel_s, 1e-9)
    print(f"| FASTQ tracking CPU without the start-up cost (minus the 1,000-read run and the kernels' "
          f"start-up) | | {n_reads:,} reads | {net_cpu:.2f} CPU s | "
          f"{n_reads / net_cpu:,.0f} reads per CPU s | | |")
    net = max(ours["median_s"] - startup["median_s"] - kernel_s, 1e-9)
    print(f"| FASTQ tracking without the start-up cost (median minus the 1,000-read run and the "
          f"kernels' start-up) | | {n_reads:,} reads | {net:.2f} | {n_reads / net:,.0f} reads/s | | |")
    print(f"| FASTQ scan only (in-process `track_fastq` after a warm-up; no start-up/index/SHA-256) | "
          f"`-c ENGINE` | {n_reads:,} reads | {engine_s:.2f} CPU s ({a.runs}) | "
          f"{n_reads / engine_s:,.0f} reads per CPU s | | |")
    print(f"| FASTQ tracking, gzip | same, `.fastq.gz` (level 1) | {n_gz:,} reads | "
          f"{ours_gz['median_s']:.2f} ({a.runs}) | {n_gz / ours_gz['median_s']:,.0f} reads/s | "
          f"{ours_gz['peak_mb']:.0f} | |")
    print(f"| peer: per-read re-annotation (pure Python k-mer V/J + junction cut) | `-c PEER` | "
          f"{a.peer_reads:,} reads | {peer['median_s']:.2f} (1) | {peer_rate:,.0f} reads/s | "
          f"{peer['peak_mb']:.0f} | 1 |")
    print(f"| AIRR TSV read + validate | `iter_airr_chunks` | {a.airr_rows:,} rows | "
          f"{airr_ours['median_s']:.2f} ({a.runs}) | {a.airr_rows / airr_ours['median_s']:,.0f} rows/s | "
          f"{airr_ours['peak_mb']:.0f} | {airr_peer['median_s'] / airr_ours['median_s']:.1f}x faster |")
    print(f"| peer: airr.read_rearrangement | `-c READ_AIRR_PEER` | {a.airr_rows:,} rows | "
          f"{airr_peer['median_s']:.2f} (1) | {a.airr_rows / airr_peer['median_s']:,.0f} rows/s | "
          f"{airr_peer['peak_mb']:.0f} | 1 |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
