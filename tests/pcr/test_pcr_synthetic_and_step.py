"""Seeded synthetic plates (truth known), the pipeline step and the report section."""

from __future__ import annotations

import numpy as np
import pytest

from remission.mrd.pcr import analyze_plate
from remission.synth.pcr import simulate_plate

MARKERS = {"TRG": (-3.38, 19.6), "TRD": (-3.45, 20.4)}


@pytest.mark.parametrize("seed", range(8))
def test_synthetic_plate_recovers_truth(seed):
    # truth (from the generator): FU1 at 1e-3 (TRG) / 8e-4 (TRD), 1.0 Ct less DNA than the
    # reference; FU0 has no leukaemic DNA. Poisson copies + 0.2 Ct noise: expect the value
    # within a factor 1.6 (about 0.2 log10) of the truth at this level, and FU0 negative.
    rng = np.random.default_rng(seed)
    wells = simulate_plate(rng, markers=MARKERS,
                           follow_ups={"FU1": {"TRG": 1e-3, "TRD": 8e-4}, "FU0": {}},
                           control_delta={"FU1": 1.0})
    res = analyze_plate(wells)
    assert all(m.accepted for m in res.markers), [m.reasons for m in res.markers]
    got = {(s.sample, s.target): s for s in res.samples}
    qr = {m.target: m.quantitative_range for m in res.markers}
    for target, truth in (("TRG", 1e-3), ("TRD", 8e-4)):
        s = got[("FU1", target)]
        # quantifiable unless the raw (un-normalised) level fell below this plate's QR (Poisson
        # spread at 1e-4 sometimes pushes the QR to 1e-3): then PNQ, as the rules say
        assert s.category == "positive" or (s.category == "positive_not_quantifiable"
                                            and s.mrd_raw < qr[target])
        assert 1 / 1.6 < s.value / truth < 1.6
        assert s.control_gene_delta_ct == pytest.approx(1.0, abs=0.3)
        assert got[("FU0", target)].category == "negative"


def test_synthetic_plate_with_contaminated_ntc_is_rejected():
    wells = simulate_plate(np.random.default_rng(1), markers=MARKERS,
                           follow_ups={"FU1": {"TRG": 1e-3}}, ntc_ct=36.8)
    res = analyze_plate(wells)
    assert not any(m.accepted for m in res.markers)
    assert all(s.value is None for s in res.samples)


@pytest.fixture(scope="session")
def tall_analysis(example_cases):
    from remission.pipeline import analyze

    return analyze(example_cases["t-all-early-combined"])


def test_step_adds_case_level_pcr_mrd(tall_analysis):
    sec = tall_analysis.section("pcr_mrd")
    assert sec is not None and sec.error is None
    ids = [s["sample_id"] for s in sec.data()["samples"]]
    assert ids == ["PCR-EOI", "PCR-PRE-HSCT", "PCR-D56", "PCR-D112", "PCR-D147", "PCR-D175"]
    pcr = {m.sample_id: m for m in tall_analysis.mrd if m.method == "pcr"}
    assert set(pcr) == set(ids)
    # truth of the example (synth/pcr.py): EOI 2.4e-3, pre-HSCT 0, then 1e-6·2^(days/12) from
    # 2021-06-01: D56 1.4e-6 (below sensitivity), D147 2.7e-4, D175 1.4e-3
    assert pcr["PCR-PRE-HSCT"].status == "negative"
    assert pcr["PCR-D56"].status == "negative"
    assert pcr["PCR-EOI"].status == "positive" and 1e-3 < pcr["PCR-EOI"].value < 6e-3
    assert pcr["PCR-D175"].status == "positive" and 5e-4 < pcr["PCR-D175"].value < 4e-3
    assert all(m.date is not None and m.lod and m.loq for m in pcr.values())
    assert any(r.name == "qr_background_gap" for r in sec.rests_on)


def test_report_section_never_prints_pnq_values(tall_analysis):
    from markupsafe import Markup

    from remission.report.html import render_section

    sec = tall_analysis.section("pcr_mrd")
    html = str(render_section(sec, tall_analysis))
    assert isinstance(render_section(sec, tall_analysis), Markup)
    assert "<svg" in html and "Standard curves" in html
    for s in sec.data()["samples"]:
        for r in s["plate"]["samples"]:
            if r["category"] == "positive_not_quantifiable":
                assert f"{r['value']:.2e}" not in html
                assert f"{r['value'] * 100:.2g} %" not in html
    assert "positive, &lt; LoQ" in html or "positive, < LoQ" in html


def test_bad_plate_in_a_case_gives_reasons_and_keeps_the_rest(example_cases, tmp_path):
    # copy the T-ALL example, corrupt one plate and contaminate the NTC of another
    import shutil

    from remission.pipeline import analyze

    src = example_cases["t-all-early-combined"].parent
    dst = tmp_path / "case"
    shutil.copytree(src, dst)
    bad = dst / "pcr" / "pcr-d147.csv"
    bad.write_text(bad.read_text().replace("follow_up,,", "follow_up,,n/a#", 1))
    ntc = dst / "pcr" / "pcr-d175.csv"
    lines = ntc.read_text().splitlines()
    lines = [ln.replace(",ntc,,Undetermined,2", ",ntc,,36.1,2") for ln in lines]
    ntc.write_text("\n".join(lines) + "\n")
    a = analyze(dst / "case.yaml")
    sec = a.section("pcr_mrd")
    assert sec.error is None
    by_id = {s["sample_id"]: s for s in sec.data()["samples"]}
    assert "line" in by_id["PCR-D147"]["error"] and "field ct" in by_id["PCR-D147"]["error"]
    assert by_id["PCR-D175"]["mrd"] is None  # every marker rejected: reasons, no number
    assert by_id["PCR-D175"]["case_level"]["category"] == "not_evaluable"
    assert any("PCR-D175" in w and "rejected" in w for w in sec.warnings)
    assert any("PCR-D147" in w for w in sec.warnings)
    pcr_ids = {m.sample_id for m in a.mrd if m.method == "pcr"}
    assert pcr_ids == {"PCR-EOI", "PCR-PRE-HSCT", "PCR-D56", "PCR-D112"}
