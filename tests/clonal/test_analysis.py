"""``analyze_clonal`` options: roles, germline filter, purity, criterion, beta-binomial; clonotype step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from remission.clonal import adjusted_rand_index, analyze_clonal, infer_roles
from remission.errors import RemissionWarning, ValidationError
from remission.io.variants import VariantTable
from remission.synth.clonal import simulate_clonal


def test_infer_roles() -> None:
    assert infer_roles(["DX", "REM", "R1"]) == {"DX": "diagnosis", "REM": "remission", "R1": "relapse"}
    assert infer_roles(["P1-DX", "P1-REL"]) == {"P1-DX": "diagnosis", "P1-REL": "relapse"}
    assert infer_roles(["a", "b"]) == {"a": "diagnosis", "b": "relapse"}
    assert infer_roles(["a", "b"], {"a": "relapse", "b": "diagnosis"}) == {"a": "relapse", "b": "diagnosis"}
    with pytest.raises(ValidationError, match="roles names sample 'c'"):
        infer_roles(["a", "b"], {"c": "relapse"})


def _with_remission(seed: int) -> tuple[Any, VariantTable]:
    ds = simulate_clonal(seed, pattern="minor", n_clones=4)
    t = ds.table()
    rng = np.random.default_rng(seed)
    n = t.n_mutations
    # a remission sample: somatic variants absent (VAF ≈ 0); plus 5 germline het SNPs at VAF 0.5 everywhere
    g_depth = rng.poisson(400, size=(5, 3))
    g_alt = rng.binomial(g_depth, 0.5)
    rem_depth = rng.poisson(400, size=(n, 1))
    alt = np.vstack([np.hstack([t.alt, rng.binomial(rem_depth, 0.001)]), g_alt])
    depth = np.vstack([np.hstack([t.depth, rem_depth]), g_depth])
    table = VariantTable(("DX", "R1", "REM"), (*t.mutation_ids, *[f"germ{i}" for i in range(5)]),
                         (*t.chrom, *["1"] * 5), (*t.pos, *range(5)), (*t.genes, *[None] * 5), alt, depth)
    return ds, table


def test_germline_filter_and_remission_sample() -> None:
    ds, table = _with_remission(4)
    res = analyze_clonal(table, purity=ds.purity, segments=ds.segments)
    assert res.samples == ["DX", "R1"]  # the remission sample is not clustered
    assert res.roles["REM"] == "remission"
    assert len(res.mutations) == len(ds.labels)  # the 5 germline SNPs were dropped
    assert any("germline" in w for w in res.warnings)
    assert "germline_remission_vaf" in res.rules
    assert res.pattern is not None and res.pattern.pattern == "minor"


def test_missing_purity_warns_and_assumes_one() -> None:
    ds = simulate_clonal(2, pattern="major", n_clones=2)
    with pytest.warns(RemissionWarning, match="purity of sample 'R1' not given; assumed 1.0"):
        res = analyze_clonal(ds.table(), purity={"DX": ds.purity["DX"]})
    assert res.purity["R1"] == 1.0
    with pytest.raises(ValidationError, match="purity names sample 'X'"):
        analyze_clonal(ds.table(), purity={"X": 0.5, **ds.purity})


@pytest.mark.parametrize("kw", [{"criterion": "icl"}, {"precision": 200.0}])
def test_icl_and_beta_binomial(kw: dict[str, Any]) -> None:
    ds = simulate_clonal(9, pattern="ancestral", n_clones=4)
    res = analyze_clonal(ds.table(), purity=ds.purity, segments=ds.segments, roles=ds.roles, **kw)
    assert adjusted_rand_index(ds.labels, res.clusters.labels) >= 0.9
    assert res.pattern is not None and res.pattern.pattern == "ancestral"


def test_bad_counts() -> None:
    t = VariantTable(("DX",), ("m1",), ("1",), (5,), (None,), np.array([[5]]), np.array([[3]]))
    with pytest.raises(ValidationError, match="alt must be between 0 and depth"):
        analyze_clonal(t, purity={"DX": 0.5})


def test_unknown_rule_override() -> None:
    ds = simulate_clonal(2, pattern="major", n_clones=2)
    with pytest.raises(ValidationError, match="unknown parameter 'major_ccf'"):
        analyze_clonal(ds.table(), purity=ds.purity, parameters={"major_ccf": 0.3})


def test_step_clonotype_evolution_from_airr(tmp_path: Path) -> None:
    from remission.domain import Sample
    from remission.io.airr import write_airr
    from remission.io.casefile import load_case
    from remission.pipeline import StepContext
    from remission.steps.clonal import run
    from remission.synth.examples import write_examples

    case_path = write_examples(tmp_path / "ex", only=["t-all-early-combined"])[0]
    case = load_case(case_path)
    stem = "GGTATAGCAGCAGCTGGTACCCCTTTGACTACTGG"
    rows_dx = [{"sequence_id": "a", "locus": "IGH", "v_call": "IGHV3-23*01", "j_call": "IGHJ4*02",
                "junction": "TGTGCGAAAGA" + stem, "duplicate_count": 900},
               {"sequence_id": "b", "locus": "IGH", "v_call": "IGHV1-2*02", "j_call": "IGHJ6*01",
                "junction": "TGTGCGAGAGATCCCTTACGGTATGGACGTCTGG", "duplicate_count": 100}]
    rows_rel = [{"sequence_id": "c", "locus": "IGH", "v_call": "IGHV3-30*18", "j_call": "IGHJ4*02",
                 "junction": "TGTGCGAGAGG" + stem, "duplicate_count": 700},
                {"sequence_id": "d", "locus": "IGH", "v_call": "IGHV3-23*01", "j_call": "IGHJ4*02",
                 "junction": "TGTGCGAAAGA" + stem, "duplicate_count": 300}]
    # unrelated IGHJ4 clonotypes sharing only the J germline end: relatedness can be assessed
    j4 = [{"sequence_id": f"u{i}", "locus": "IGH", "v_call": "IGHV4-59*01", "j_call": "IGHJ4*02",
           "junction": "TGT" + n * 7 + "TTTGACTACTGG", "duplicate_count": 1} for i, n in enumerate("ACGT")]
    j4.append({**j4[0], "sequence_id": "u4", "junction": "TGTCACACACAGTGTGTTTGACTACTGG"})
    rows_dx += j4
    rows_rel += j4
    cols = ["sequence_id", "locus", "v_call", "j_call", "junction", "duplicate_count"]
    write_airr(case_path.parent / "dx.tsv", rows_dx, columns=cols)
    write_airr(case_path.parent / "rel.tsv", rows_rel, columns=cols)
    samples = (
        Sample(id="DX-NGS", date=case.diagnosis.date, material="bone_marrow", assay="ngs_mrd", role="diagnosis",
               files=("dx.tsv",)),
        Sample(id="R1-NGS", date=case.relapses[0].date, material="bone_marrow", assay="ngs_mrd", role="relapse",
               files=("rel.tsv",)),
    )
    case = case.model_copy(update={"samples": samples})
    sec = run(StepContext(case=case, case_dir=case_path.parent, parameters={}))
    clono = sec.data()["clonotypes"]
    assert clono["summary"] == {"shared": 1, "lost": 1, "new": 1, "related_groups": 1}
    assert clono["related_groups"][0]["v_calls"] == ["IGHV3-23", "IGHV3-30"]
    assert sec.data()["variant_samples"] == []
