"""Fixtures of the clonal tests: seeded synthetic data sets written as VCF/MAF."""

from __future__ import annotations

from pathlib import Path

import pytest

from remission.synth.clonal import (
    ClonalDataset,
    simulate_clonal,
    write_copy_number,
    write_maf,
    write_vcf,
)


@pytest.fixture(scope="session")
def minor_dataset() -> ClonalDataset:
    return simulate_clonal(7, pattern="minor", n_clones=4)


@pytest.fixture
def written(tmp_path: Path, minor_dataset: ClonalDataset) -> dict[str, Path]:
    return {
        "vcf": write_vcf(tmp_path / "dx_r1.vcf", minor_dataset),
        "vcf_gz": write_vcf(tmp_path / "dx_r1.vcf.gz", minor_dataset),
        "maf": write_maf(tmp_path / "dx_r1.maf", minor_dataset),
        "cn": write_copy_number(tmp_path / "cn.tsv", minor_dataset.segments),
    }
