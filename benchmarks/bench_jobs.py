"""Background FASTQ check (issue #15): what the job mechanism costs on top of the scan itself.

A seeded synthetic follow-up FASTQ (``remission.synth.ngs``: one IGH clone at 1e-3 in a
pooled background, every cell one template) is tracked against the diagnostic index clone twice, each in its own child
process (CPU = user + sys of the child, peak RSS of the child):

- ``direct``: ``iter_fastq_chunks`` → ``track_fastq`` (what the re-analysis does);
- ``job``: the web application's path after the upload is spooled — a ``jobs`` row, the worker
  thread, ``results.file_job`` (the same scan plus progress writes to the store), the draft stored
  in one transaction.

    .venv/bin/python benchmarks/bench_jobs.py --cells 20000 --total-reads 200000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _util import run_timed


def build(tmp: Path, cells: int, total_reads: int) -> dict[str, str]:
    import numpy as np

    from remission.domain import Case
    from remission.pipeline import analyze_case
    from remission.store import Store
    from remission.synth.ngs import (
        random_rearrangement,
        simulate_sample,
        write_sample_airr,
        write_sample_fastq,
    )

    rng = np.random.default_rng(20261202)
    clone = random_rearrangement(rng, "IGH")
    dx = simulate_sample(rng, cells=2000, clones=[(clone, 0.4)], n_clonotypes=100, total_reads=4000,
                         incomplete_fraction=0)
    fu = simulate_sample(rng, cells=cells, clones=[(clone, 1e-3)], n_clonotypes=cells // 25,
                         total_reads=total_reads, incomplete_fraction=0, background="pooled")
    files = tmp / "files" / "BENCH"
    files.mkdir(parents=True)
    write_sample_airr(files / "dx.tsv", dx)
    fastq = write_sample_fastq(tmp / "fu.fastq", fu, np.random.default_rng(1))
    case = Case.model_validate({
        "patient": {"id": "BENCH", "sex": "female", "date_of_birth": "2014-03-01"},
        "diagnosis": {"date": "2019-05-10", "lineage": "B"},
        "samples": [{"id": "DX-NGS", "date": "2019-05-10", "material": "bone_marrow", "assay": "ngs_mrd",
                     "role": "diagnosis", "files": ["dx.tsv"]}],
    })
    db = tmp / "bench.db"
    with Store(f"sqlite:///{db}") as st:
        st.save_analysis(analyze_case(case, files))
    return {"fastq": str(fastq), "dx": str(files / "dx.tsv"), "db": str(db), "files": str(tmp / "files"),
            "reads": str(int(fu.counts.sum())), "bytes": str(fastq.stat().st_size)}


def child_direct(cfg: dict[str, str]) -> None:
    from remission.io.airr import AIRR_REQUIRED, iter_airr_chunks
    from remission.io.fastq import iter_fastq_chunks
    from remission.mrd.ngs import index_clonotypes, track_fastq

    index = index_clonotypes(iter_airr_chunks(cfg["dx"], required=AIRR_REQUIRED))
    track = track_fastq(index, iter_fastq_chunks(cfg["fastq"]))
    assert track.total_reads == int(cfg["reads"])


def child_job(cfg: dict[str, str]) -> None:
    from remission.app.jobs import JobRunner
    from remission.app.results import file_job
    from remission.store import Store

    work = Path(tempfile.mkdtemp(prefix="bench-job-"))
    try:
        db = work / "bench.db"
        shutil.copy(cfg["db"], db)
        files = work / "files"
        shutil.copytree(cfg["files"], files)
        with Store(f"sqlite:///{db}") as st:
            runner = JobRunner(st, work / "spool", {"fastq": file_job(files_dir=files)})
            job_id, spool = runner.spool("fu.fastq", limit=1 << 40)
            spool.discard()  # the upload is already on disk: link it into the spool folder instead
            spool.folder.mkdir(parents=True)
            os.link(cfg["fastq"], spool.path)
            runner.submit(job_id, "fastq", "BENCH", actor="bench", address="local",
                          params={"filename": "fu.fastq", "date": "2023-06-01", "material": "bone_marrow",
                                  "sha256": "0" * 64, "size": int(cfg["bytes"])})
            job = runner.wait(job_id)
            runner.shutdown(wait=True)
            assert job.state == "done", job.error
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=20000)
    ap.add_argument("--total-reads", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", choices=["direct", "job", "build"])
    ap.add_argument("--cfg")
    a = ap.parse_args(argv)
    if a.child == "build":
        cfg = build(Path(a.cfg).parent, a.cells, a.total_reads)
        Path(a.cfg).write_text(json.dumps(cfg))
        return 0
    if a.child:
        cfg = json.loads(Path(a.cfg).read_text())
        (child_direct if a.child == "direct" else child_job)(cfg)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as t:
        tmp = Path(t)
        # built in a child process: a child's peak RSS includes its parent's at fork (the high-water
        # mark survives exec), so the parent stays small
        subprocess.run([sys.executable, __file__, "--child", "build", "--cfg", str(tmp / "cfg.json"),
                        "--cells", str(a.cells), "--total-reads", str(a.total_reads)], check=True)
        cfg = json.loads((tmp / "cfg.json").read_text())
        out = {"reads": int(cfg["reads"]), "mb": round(int(cfg["bytes"]) / 1e6, 1),
               "load": os.getloadavg()[0]}
        for mode in ("direct", "job"):
            r = run_timed([sys.executable, __file__, "--child", mode, "--cfg", str(tmp / "cfg.json")], runs=a.runs)
            out[mode] = {k: round(v, 3) for k, v in r.items()}
        out["cpu_ratio_job_over_direct"] = round(out["job"]["cpu_median_s"] / out["direct"]["cpu_median_s"], 3)  # type: ignore[index]
        out["load_after"] = os.getloadavg()[0]
        print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
