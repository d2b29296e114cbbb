"""Fixtures for the NGS-MRD tests: small seeded repertoires written once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remission.synth.ngs import (
    random_rearrangement,
    simulate_sample,
    write_sample_airr,
    write_sample_fastq,
)


@pytest.fixture(scope="session")
def ngs_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A diagnosis (IGH clone at 40 %) and a follow-up (clone at 1e-3 of 20,000 cells), as AIRR
    TSV and as FASTQ (plain, gzip and paired)."""
    d = tmp_path_factory.mktemp("ngs")
    rng = np.random.default_rng(20240601)
    clone = random_rearrangement(rng, "IGH")
    dx = simulate_sample(rng, cells=20_000, clones=[(clone, 0.4)], n_clonotypes=600,
                         total_reads=20_000, incomplete_fraction=0)
    fu = simulate_sample(rng, cells=20_000, clones=[(clone, 1e-3)], n_clonotypes=800,
                         reads_per_cell=5.0, incomplete_fraction=0)
    out: dict[str, object] = {"clone": clone, "dx_sample": dx, "fu_sample": fu, "dir": d}
    out["dx"] = write_sample_airr(d / "dx.tsv", dx)
    out["fu"] = write_sample_airr(d / "fu.tsv", fu)
    out["fu_fastq"] = write_sample_fastq(d / "fu.fastq", fu, np.random.default_rng(1))
    out["fu_fastq_gz"] = write_sample_fastq(d / "fu.fastq.gz", fu, np.random.default_rng(1),
                                            mate2=d / "fu_R2.fastq.gz")
    out["fu_r2"] = d / "fu_R2.fastq.gz"
    return out


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
