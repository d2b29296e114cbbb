"""ISAC Gating-ML 2.0 compliance: every truth file, event for event.

Expected values: ``tests/data/gatingml/truth/Results_<gate>.txt`` (one 0/1 line per event of
``data1.fcs``), the ISAC compliance suite as distributed with FlowKit 1.3.2 (BSD-3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remission.io.gatingml import parse_gatingml
from remission.mrd.gating import evaluate_gates

from .conftest import GML_DIR as _SHARED

#: truth files named differently from the gate id they hold
_ALIASES = {"ParQuadRect": "ParRectangle1"}


def _truth_names() -> list[str]:
    return sorted(p.stem[len("Results_"):] for p in (_SHARED / "truth").glob("Results_*.txt"))


def _files_defining(gate: str) -> list[Path]:
    out = []
    for f in sorted((_SHARED / "gml").glob("*.xml")):
        if f'gating:id="{gate}"' in f.read_text(encoding="utf-8"):
            out.append(f)
    return out


def test_suite_is_complete() -> None:
    # 51 truth files in the suite (tests/data/gatingml/README.md; FlowKit data/gate_ref)
    assert len(_truth_names()) == 51


@pytest.mark.parametrize("truth_name", _truth_names())
def test_gate_matches_truth(truth_name: str, data1, gml_dir: Path) -> None:
    truth = np.loadtxt(gml_dir / "truth" / f"Results_{truth_name}.txt", dtype=int).astype(bool)
    assert truth.size == data1.n_events == 13367
    gate = _ALIASES.get(truth_name, truth_name)
    files = _files_defining(gate)
    assert files, f"no Gating-ML file defines gate {gate}"
    for f in files:  # the gate in its own file and in gml_all_gates.xml, where both exist
        got = evaluate_gates(parse_gatingml(f), data1, [gate])[gate]
        mismatches = np.flatnonzero(got != truth)
        assert mismatches.size == 0, f"{f.name}: {mismatches.size} events differ, first {mismatches[:5]}"


def test_all_gates_file_matches_every_truth(data1, gml_dir: Path) -> None:
    doc = parse_gatingml(gml_dir / "gml" / "gml_all_gates.xml")
    res = evaluate_gates(doc, data1)
    checked = 0
    for name in _truth_names():
        if name in res:
            truth = np.loadtxt(gml_dir / "truth" / f"Results_{name}.txt", dtype=int).astype(bool)
            assert np.array_equal(res[name], truth), name
            checked += 1
    assert checked >= 45


def test_ellipse2_without_truth_matches_flowkit(data1, gml_dir: Path) -> None:
    """gml_ellipse2_gate.xml has no truth file: cross-check with FlowKit (optional extra)."""
    fk = pytest.importorskip("flowkit")
    path = gml_dir / "gml" / "gml_ellipse2_gate.xml"
    ours = evaluate_gates(parse_gatingml(path), data1)["myEllipse2"]
    strategy = fk.parse_gating_xml(str(path))
    sample = fk.Sample(str(gml_dir / "data1.fcs"))
    theirs = strategy.gate_sample(sample).get_gate_membership("myEllipse2")
    assert np.array_equal(ours, theirs)
