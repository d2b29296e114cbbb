"""``remission mrd ngs index|track``, the ``ngs_mrd`` pipeline step and its report section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remission.cli import main


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_index_json(ngs_files: dict, capsys: pytest.CaptureFixture[str]) -> None:
    env = _json(capsys, ["mrd", "ngs", "index", str(ngs_files["dx"]), "--json"])
    assert env["schema"] == "remission.ngs_index/1"
    res = env["result"]
    assert res["status"] == "markers" and len(res["markers"]) == 1
    m = res["markers"][0]
    assert m["junction"] == ngs_files["clone"].junction and m["locus"] == "IGH"
    assert set(m) >= {"locus", "v_call", "j_call", "junction", "reads", "diagnosis_fraction"}
    assert env["parameters"]["index_min_fraction"] == 0.05


def test_track_json_keys_airr_and_fastq(ngs_files: dict, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--json"]
    a = _json(capsys, [*base, "--follow-up", str(ngs_files["fu"]), "--cell-equivalents", "20000"])["result"]
    assert set(a) >= {"mrd", "status", "lod", "loq", "cell_equivalents", "total_reads", "markers"}
    assert set(a["markers"][0]) >= {"locus", "v_call", "j_call", "junction", "diagnosis_fraction", "reads", "mrd"}
    f = _json(capsys, [*base, "--follow-up-fastq", str(ngs_files["fu_fastq_gz"]), "--mate2",
                       str(ngs_files["fu_r2"]), "--dna-ng", "130"])["result"]
    assert f["markers"][0]["reads"] == a["markers"][0]["reads"]
    assert f["cell_equivalents"] == pytest.approx(20_000)  # 130 ng x 1000 / 6.5 pg
    # truth: 1e-3 of 20,000 cells; the estimate is within Poisson noise (a few x 10 cells)
    assert a["status"] == "positive" and 3e-4 < a["mrd"] < 3e-3


def test_many_follow_ups_through_dask(ngs_files: dict, capsys: pytest.CaptureFixture[str]) -> None:
    env = _json(capsys, ["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--json",
                         "--follow-up", str(ngs_files["fu"]), "--follow-up", str(ngs_files["dx"]),
                         "--follow-up-fastq", str(ngs_files["fu_fastq"]), "--cell-equivalents", "20000"])
    samples = env["result"]["samples"]
    assert [Path(s["follow_up"]).name for s in samples] == ["fu.tsv", "dx.tsv", "fu.fastq"]
    # the same index reads in the table and in the raw reads
    assert samples[0]["markers"][0]["reads"] == samples[2]["markers"][0]["reads"]
    # the table supports reads per template from its polyclonal background (truth 1e-3, the
    # fixture's clone fraction); raw reads do not, so the FASTQ result states the locus-reads
    # assumption (every analysed cell one template), which over-estimates in a polyclonal sample
    assert samples[0]["reads_per_cell_model"] == "background_coverage"
    assert 5e-4 < samples[0]["mrd"] < 2e-3
    assert samples[2]["reads_per_cell_model"] == "locus_reads" and samples[2]["mrd"] > samples[0]["mrd"]
    assert samples[1]["mrd"] > 0.3  # the diagnosis itself
    env2 = _json(capsys, ["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--json",
                          "--follow-up", str(ngs_files["fu"]), "--follow-up", str(ngs_files["dx"]),
                          "--cell-equivalents", "20000", "--scheduler", "synchronous"])
    assert [s["mrd"] for s in env2["result"]["samples"]] == [s["mrd"] for s in samples[:2]]


def test_errors_are_one_line_exit_1(ngs_files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.tsv"
    text = Path(ngs_files["fu"]).read_text().splitlines()
    cols = text[0].split("\t")
    i = cols.index("duplicate_count")
    row = text[3].split("\t")
    row[i] = "many"
    bad.write_text("\n".join([*text[:3], "\t".join(row)]) + "\n")
    code = main(["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--follow-up", str(bad),
                 "--cell-equivalents", "1000"])
    err = capsys.readouterr().err
    assert code == 1
    assert "AIRR file 'bad.tsv', line 4, field duplicate_count: expected a non-negative integer" in err
    assert "Traceback" not in err
    # without --dna-ng, --cell-equivalents or --spike-in: a read fraction, labelled, never MRD
    code = main(["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--follow-up", str(ngs_files["fu"])])
    out = capsys.readouterr().out
    assert code == 0 and "not an MRD value" in out and "NGS-MRD:" not in out


def test_no_marker_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from remission.synth.ngs import simulate_sample, write_sample_airr

    poly = simulate_sample(np.random.default_rng(3), cells=5000, n_clonotypes=2000, total_reads=5000)
    p = write_sample_airr(tmp_path / "poly.tsv", poly)
    res = _json(capsys, ["mrd", "ngs", "index", str(p), "--json"])["result"]
    assert res["status"] == "no_marker" and res["markers"] == []
    res = _json(capsys, ["mrd", "ngs", "track", "--diagnosis", str(p), "--follow-up", str(p),
                         "--cell-equivalents", "5000", "--json"])["result"]
    assert res["status"] == "no_marker" and res["mrd"] is None and res["markers"] == []


def test_human_output(ngs_files: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--follow-up",
                 str(ngs_files["fu"]), "--cell-equivalents", "20000"]) == 0
    out = capsys.readouterr().out
    assert "NGS-MRD" in out and "LoD" in out and "not a medical device" in out


def test_step_on_example_case(example_cases: dict[str, Path]) -> None:
    """The ngs_mrd step alone (the other engines are tested in their areas)."""
    from remission.io.casefile import load_case
    from remission.pipeline import StepContext
    from remission.report.sections.ngs_mrd import render
    from remission.steps.ngs import run

    path = example_cases["late-bm-bcp"]
    ctx = StepContext(case=load_case(path), case_dir=path.parent, parameters={})
    sec = run(ctx)
    assert sec.name == "ngs_mrd" and sec.error is None
    ngs = [m for m in ctx.mrd if m.method == "ngs"]
    assert [m.sample_id for m in ngs] == ["EOI-NGS", "EOC-NGS"]
    assert ngs[0].status == "positive" and 1e-4 < ngs[0].value < 1e-3  # truth 3e-4 (synth/ngs.py)
    assert {d.name for d in sec.rests_on} >= {"index_min_fraction"}
    html = render(sec, None)
    assert "Index clonotypes" in html and "NGS (fastq)" in html and "<svg" in html
    # the NGS files keep the case folder small (< ~5 MB in all, shared with other assays)
    folder = example_cases["late-bm-bcp"].parent / "ngs"
    assert sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) < 2.5e6


def test_spike_in_calibration(ngs_files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Calibrators at 10/40/160 copies (Vidjil's example levels) in a sample sequenced at 2 reads
    per cell: reads per copy ~ 2, so leukemic cells = index reads / ~2."""
    import numpy as np

    from remission.synth.ngs import simulate_sample, spike_rearrangements, write_sample_airr

    spikes = spike_rearrangements((10, 40, 160))
    fu = simulate_sample(np.random.default_rng(11), cells=20_000, clones=[(ngs_files["clone"], 1e-3)],
                         n_clonotypes=800, reads_per_cell=2.0, incomplete_fraction=0, spikes=spikes)
    p = write_sample_airr(tmp_path / "spiked.tsv", fu)
    spec = tmp_path / "spikes.tsv"
    spec.write_text("name\tcopies\tjunction\n" + "".join(f"s{i}\t{c:g}\t{r.junction}\n"
                                                         for i, (r, c) in enumerate(spikes)))
    res = _json(capsys, ["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--follow-up", str(p),
                         "--spike-in", str(spec), "--cell-equivalents", "20000", "--json"])["result"]
    assert res["quantification"] == "spike_in"
    # 210 calibrator copies x 2 reads/copy: Poisson noise on ~420 reads is ~5 %
    assert 1.7 < res["spike"]["reads_per_copy"] < 2.3 and res["spike"]["r2"] > 0.95
    m = res["markers"][0]
    assert m["leukemic_cell_equivalents"] == pytest.approx(m["reads"] / res["spike"]["reads_per_copy"])
    inline = ",".join(f"{c:g}:{r.junction}" for r, c in spikes)
    res2 = _json(capsys, ["mrd", "ngs", "track", "--diagnosis", str(ngs_files["dx"]), "--follow-up", str(p),
                          "--spike-in", inline, "--cell-equivalents", "20000", "--json"])["result"]
    assert res2["mrd"] == res["mrd"]
