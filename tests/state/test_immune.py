"""T-cell context from a flow T-cell panel: arithmetic on gate counts (hand-calculated), the step
gating a real FCS file with a Gating-ML strategy, and the context shown beside immunotherapy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import yaml

from remission.state.immune import immune_context, immune_point

D = dt.date


def test_ratio_and_shares_from_counts():
    # CD4 600, CD8 300 -> ratio 2.0; Treg 60 / CD4 600 = 10 %; exhausted 45 / CD8 300 = 15 %
    p = immune_point(D(2022, 8, 2), "T1", "peripheral_blood",
                     {"cd3": 900, "cd4": 600, "cd8": 300, "treg": 60, "cd8_exhausted": 45})
    assert (p.cd4_cd8_ratio, p.treg_percent_of_cd4, p.cd8_exhausted_percent) == (2.0, 10.0, 15.0)
    assert p.cd4_exhausted_percent is None  # not gated: not guessed
    # an empty denominator gives no value, not a division error
    assert immune_point(D(2022, 8, 2), "T2", "peripheral_blood", {"cd4": 5, "cd8": 0}).cd4_cd8_ratio is None


def test_trend_is_latest_against_the_one_before():
    a = immune_point(D(2022, 8, 2), "A", "peripheral_blood", {"cd4": 600, "cd8": 300, "cd8_exhausted": 30})
    b = immune_point(D(2022, 9, 2), "B", "peripheral_blood", {"cd4": 300, "cd8": 300, "cd8_exhausted": 90})
    r = immune_context([b, a])
    assert [p.sample_id for p in r.points] == ["A", "B"]
    # ratio 2.0 -> 1.0 falling; exhausted 10 % -> 30 % rising
    assert r.trends["cd4_cd8_ratio"] == "falling" and r.trends["cd8_exhausted_percent"] == "rising"
    assert "no published reference range" in r.reference.lower()


_GATES = """<?xml version="1.0" encoding="UTF-8"?>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
    xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
  <gating:RectangleGate gating:id="CD3">{cd3}</gating:RectangleGate>
  <gating:RectangleGate gating:id="CD4" gating:parent_id="CD3">{cd4}</gating:RectangleGate>
  <gating:RectangleGate gating:id="CD8" gating:parent_id="CD3">{cd8}</gating:RectangleGate>
  <gating:RectangleGate gating:id="Treg" gating:parent_id="CD4">{cd25}{cd127}</gating:RectangleGate>
  <gating:RectangleGate gating:id="CD8_PD1_TIM3" gating:parent_id="CD8">{pd1}{tim3}</gating:RectangleGate>
</gating:Gating-ML>
"""


def _dim(ch: str, lo: float | None = None, hi: float | None = None) -> str:
    a = ' gating:compensation-ref="uncompensated"'
    a += f' gating:min="{lo}"' if lo is not None else ""
    a += f' gating:max="{hi}"' if hi is not None else ""
    return f'<gating:dimension{a}><data-type:fcs-dimension data-type:name="{ch}"/></gating:dimension>'


def _panel(path):
    from remission.io.fcs import write_fcs

    chans = ["CD3", "CD4", "CD8", "CD25", "CD127", "PD1", "TIM3"]
    rows = []
    lo, hi = 10.0, 1000.0
    rows += [[lo, lo, lo, lo, lo, lo, lo]] * 100                          # CD3- events
    rows += [[hi, hi, lo, hi, lo, lo, lo]] * 60                           # Treg (CD25+CD127-)
    rows += [[hi, hi, lo, lo, hi, lo, lo]] * 540                          # other CD4
    rows += [[hi, lo, hi, lo, lo, hi, hi]] * 30                           # CD8 PD-1+TIM-3+
    rows += [[hi, lo, hi, lo, lo, lo, lo]] * 270                          # other CD8
    write_fcs(path, np.array(rows, dtype=np.float32), chans)


def test_step_gates_the_panel_and_options_show_it(tmp_path):
    from _clinic_factory import make_case

    from remission.pipeline import analyze_case

    _panel(tmp_path / "tcell.fcs")
    (tmp_path / "gates.xml").write_text(_GATES.format(
        cd3=_dim("CD3", 100), cd4=_dim("CD4", 100), cd8=_dim("CD8", 100),
        cd25=_dim("CD25", 100), cd127=_dim("CD127", None, 100), pd1=_dim("PD1", 100),
        tim3=_dim("TIM3", 100)))
    c = make_case(extra={
        "antigen_expression": [{"date": "2019-01-10", "CD19_percent": 97}],
        "samples": [{"id": "TC-1", "date": "2019-01-20", "material": "peripheral_blood",
                     "assay": "tcell_panel", "files": ["tcell.fcs"],
                     "parameters": {"gates": "gates.xml",
                                    "populations": {"cd3": "CD3", "cd4": "CD4", "cd8": "CD8",
                                                    "treg": "Treg",
                                                    "cd8_exhausted": "CD8_PD1_TIM3"}}}]})
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(c.model_dump(mode="json", by_alias=True)))
    a = analyze_case(c, tmp_path)
    immune = a.section("immune")
    assert immune is not None and immune.error is None, immune.error if immune else None
    p = immune.data()["points"][0]
    # 600 CD4 / 300 CD8 = 2.0; 60 Treg / 600 CD4 = 10 %; 30 PD-1+TIM-3+ / 300 CD8 = 10 %
    assert p["counts"] == {"cd3": 900, "cd4": 600, "cd8": 300, "treg": 60, "cd8_exhausted": 30}
    assert (p["cd4_cd8_ratio"], p["treg_percent_of_cd4"], p["cd8_exhausted_percent"]) == (2.0, 10.0, 10.0)
    assert a.section("state").data()["immune"][0]["cd4_cd8_ratio"] == 2.0
    blin = next(o for o in a.section("options").data()["options"] if o["id"] == "blinatumomab")
    assert "CD4/CD8 2" in blin["immune_context"] and "no validated threshold" in blin["immune_context"]
