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

    shutil.copy(diva_path, tmp_path / "diva.fcs")
    data = dict(BASE_CASES["late-bm-bcp"])
    data["samples"] = [{"id": "vienna-tube", "date": "2019-07-08", "material": "bone_marrow",
                        "assay": "flow_mrd", "files": ["diva.fcs"], "parameters": {"method": "auto"}}]
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        analysis = analyze(tmp_path / "case.yaml", strict=True)
    sec = next(s for s in analysis.sections if s.name == "flow_mrd")
    res = sec.data()["samples"][0]["result"]
    assert res["events_total"] == 83411  # facs_diva_test.fcs, $TOT
    assert res["strategy"].startswith("cd19:")  # the Vienna panel has CD19 but no CD22/CD24
    html = str(render_section(sec, analysis))
    for title in ("CD19 vs CD10", "CD34 vs CD10", "CD45 vs SSC"):
        assert f"vienna-tube: {title}" in html
    assert html.count("<svg") == 3
    assert any(m.method == "flow" and m.sample_id == "vienna-tube" for m in analysis.mrd)


def test_example_cases_have_flow_sections(example_cases: dict[str, Path]) -> None:
    from remission.pipeline import analyze

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        a = analyze(example_cases["ph-like-very-early"])
    sec = next(s for s in a.sections if s.name == "flow_mrd")
    assert sec.error is None
    r = sec.data()["samples"][0]["result"]
    # CD19-negative population after CD19 CAR-T (synth.flow add_to_examples)
    assert r["strategy"].startswith("cd19_independent") and r["cd19_negative_population"] is True
    assert r["f1"] > 0.9
    b = analyze(example_cases["late-bm-bcp"])
    s2 = next(s for s in b.sections if s.name == "flow_mrd").data()["samples"][0]
    assert s2["result"]["method"] == "gating" and s2["auto"]["method"] == "auto"
    assert s2["result"]["status"] == "positive"
