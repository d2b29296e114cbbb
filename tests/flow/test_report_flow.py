"""The flow step and report section on the real B-ALL tube and on the example cases."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import yaml

from remission.errors import LowSensitivityWarning


def test_real_tube_in_report(diva_path: Path, tmp_path: Path) -> None:
    from remission.pipeline import analyze
    from remission.report.html import render_section
    from remission.synth.examples import BASE_CASES
    from remission.synth.flow import write_demo_reference

    shutil.copy(diva_path, tmp_path / "diva.fcs")
    # Vienna panel (facs_diva_test.fcs $PnS): CD20, CD10, CD45, CD34, Syto 41, CD19, CD38
    write_demo_reference(tmp_path / "demo-ref.json", ("CD10", "CD19", "CD20", "CD34", "CD38", "CD45", "SYTO41"))
    data = dict(BASE_CASES["late-bm-bcp"])
    data["samples"] = [{"id": "vienna-tube", "date": "2019-07-08", "material": "bone_marrow",
                        "assay": "flow_mrd", "files": ["diva.fcs", "demo-ref.json"], "parameters": {"method": "auto"}}]
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        analysis = analyze(tmp_path / "case.yaml", strict=True)
    sec = next(s for s in analysis.sections if s.name == "flow_mrd")
    res = sec.data()["samples"][0]["result"]
    assert res["events_total"] == 83411  # facs_diva_test.fcs, $TOT
    assert res["strategy"].startswith("cd19:")  # the Vienna panel has CD19 but no CD22/CD24
    assert res["illustrative"] is True and res["f1"] is None
    html = str(render_section(sec, analysis))
    for title in ("CD19 vs CD10", "CD34 vs CD10", "CD45 vs SSC"):
        assert f"vienna-tube: {title}" in html
    assert html.count("<svg") == 3
    assert "ILLUSTRATIVE (demo reference" in html and "density valley" in html
    assert "F1" not in html  # synthetic truth never reaches a clinical report
    m = next(m for m in analysis.mrd if m.method == "flow" and m.sample_id == "vienna-tube")
    assert m.details["illustrative"] is True


def test_example_cases_have_flow_sections(example_cases: dict[str, Path]) -> None:
    from remission.pipeline import analyze
    from remission.steps.flow import analyze_file
    from remission.synth.flow import DEMO_REFERENCE_FILE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        a = analyze(example_cases["ph-like-very-early"])
    sec = next(s for s in a.sections if s.name == "flow_mrd")
    assert sec.error is None
    r = sec.data()["samples"][0]["result"]
    # CD19-negative population after CD19 CAR-T (synth.flow add_to_examples); the engine's rule
    # switched the strategy because of the CAR-T infusion recorded in the case
    assert r["strategy"].startswith("cd19_independent") and r["cd19_negative_population"] is True
    assert any("rule cd19_independent_after_cd19_therapy" in w for w in sec.warnings)
    assert r["illustrative"] is True and r["f1"] is None
    # validation mode (truth labels of the synthetic tube) only outside the clinical report
    folder = example_cases["ph-like-very-early"].parent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        v = analyze_file(folder / "flow" / "flow-d28-cart.fcs", auto=True, validation=True,
                         strategy="cd19_independent", reference=folder / "flow" / DEMO_REFERENCE_FILE)
    assert v["result"].f1 > 0.9
    b = analyze(example_cases["late-bm-bcp"])
    s2 = next(s for s in b.sections if s.name == "flow_mrd").data()["samples"][0]
    assert s2["result"]["method"] == "gating" and s2["auto"]["method"] == "auto"
    assert s2["result"]["status"] == "positive" and s2["auto"]["illustrative"] is True
