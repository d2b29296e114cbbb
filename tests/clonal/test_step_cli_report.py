"""The ``clonal`` pipeline step on the example case, the ``remission clonal`` command and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from remission.cli import main
from remission.synth.clonal import simulate_clonal, write_maf


@pytest.fixture(scope="module")
def late_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from remission.synth.examples import write_examples

    return write_examples(tmp_path_factory.mktemp("ex"), only=["late-bm-bcp"])[0]


@pytest.fixture(scope="module")
def section(late_case: Path) -> object:
    """Only the clonal step (the other engines of the case are other areas' tests)."""
    from remission.io.casefile import load_case
    from remission.pipeline import StepContext, registered_steps

    case = load_case(late_case)
    step = next(s for s in registered_steps() if s.name == "clonal")
    assert step.applies(case)
    return step.run(StepContext(case=case, case_dir=late_case.parent, parameters={}))


def test_example_case_relapse_from_minor_crebbp_subclone(section: object) -> None:
    # the example is simulated (remission.synth.clonal._late_bm_bcp) with a CREBBP minor subclone at
    # diagnosis (CCF 0.19) that founds the relapse (0.95) and gains NT5C2 p.R367Q (relapse only)
    sec: Any = section
    assert sec.name == "clonal" and sec.error is None  # type: ignore[attr-defined]
    v = sec.data()["variant_samples"][0]
    assert v["purity"] == {"DX": 0.85, "R1": 0.64}
    assert v["relapse_pattern"]["pattern"] == "minor"
    lesions = {le["gene"]: le for le in v["lesions"]}
    assert lesions["NT5C2"]["clone_status"] == "relapse_only"
    assert "thiopurine" in lesions["NT5C2"]["resistance"]
    assert lesions["CREBBP"]["clone_status"] == "shared"
    assert lesions["CREBBP"]["clone"] in v["relapse_pattern"]["founders"]
    founder = v["clusters"][lesions["CREBBP"]["clone"]]
    assert founder["ccf"]["DX"] < 0.5 < founder["ccf"]["R1"]
    assert v["n_clones"] == 4  # trunk, lost dominant subclone, CREBBP subclone, NT5C2 subclone
    names = {r.name for r in sec.rests_on}
    assert {"major_clone_ccf", "present_ccf"} <= names


def test_report_has_fish_plot_tree_and_threshold(section: object) -> None:
    from remission.report.html import render_section

    html = str(render_section(section, None))  # type: ignore[arg-type]
    start = html.index("Relapse pattern: minor")
    part = html[start:]
    assert "Fish plot of clone fractions" in part and "Clone tree" in part
    assert part.count("<svg") >= 2
    assert "major_clone_ccf" in part and "Waanders E et al. Blood Cancer Discov 2020;1:96" in part


def test_cli_json(late_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = late_case.parent / "variants"
    code = main(["clonal", str(folder / "dx_r1.vcf.gz"), str(folder / "dx_r1_copy_number.tsv"),
                 "--purity", "DX=0.85", "--purity", "R1=0.64", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    env = json.loads(out)
    assert env["schema"] == "remission.clonal/1"
    assert len(env["inputs"]) == 2 and all(len(i["sha256"]) == 64 for i in env["inputs"])
    assert env["parameters"]["purity"] == {"DX": 0.85, "R1": 0.64}
    assert env["result"]["relapse_pattern"]["pattern"] == "minor"


def test_cli_human_and_maf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = simulate_clonal(5, pattern="ancestral", n_clones=3)
    maf = write_maf(tmp_path / "calls.maf", ds)
    out_file = tmp_path / "out.txt"
    code = main(["clonal", str(maf), "--purity", f"DX={ds.purity['DX']}", "--purity", f"R1={ds.purity['R1']}",
                 "-o", str(out_file)])
    assert code == 0
    text = out_file.read_text()
    assert "relapse pattern: ancestral" in text and "not a medical device" in text


def test_cli_bad_input_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "no_ad.vcf"
    p.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n"
                 '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tDX\n1\t5\t.\tA\tC\t.\tPASS\t.\tDP\t50\n")
    assert main(["clonal", str(p)]) == 1
    err = capsys.readouterr().err.strip()
    assert "no_ad.vcf" in err and "FORMAT/AD" in err and len(err.splitlines()) == 1
    assert main(["clonal", str(p), "--purity", "DX"]) == 1


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clonal", "--help"]) == 0
    assert "--purity" in capsys.readouterr().out


def test_case_lesions_in_section(section: Any) -> None:
    genes = {(le["gene"], le["found_at"]) for le in section.data()["case_lesions"]}
    assert ("NT5C2", "relapse 1") in genes and ("CREBBP", "diagnosis") in genes
