"""Gating-ML documents that must be refused, with messages naming file and gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from remission.errors import GatingMLError
from remission.io.gatingml import parse_gatingml
from remission.mrd.gating import evaluate_gates

HEAD = ('<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
        'xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations" '
        'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">')


def _rect(gid: str, channel: str, comp: str = "uncompensated", extra: str = "") -> str:
    return (f'<gating:RectangleGate gating:id="{gid}" {extra}><gating:dimension gating:compensation-ref="{comp}" '
            f'gating:min="1"><data-type:fcs-dimension data-type:name="{channel}"/></gating:dimension>'
            "</gating:RectangleGate>")


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "g.xml"
    p.write_text(HEAD + body + "</gating:Gating-ML>", encoding="utf-8")
    return p


def test_gate_on_missing_channel(tmp_path: Path, data1) -> None:
    doc = parse_gatingml(_write(tmp_path, _rect("cd99", "CD99-PE")))
    with pytest.raises(GatingMLError, match=r"'g.xml', field gate cd99: channel 'CD99-PE' is not in "
                                            r"FCS file 'data1.fcs'; channels: FSC-H"):
        evaluate_gates(doc, data1)


def test_unknown_parent(tmp_path: Path) -> None:
    with pytest.raises(GatingMLError, match=r"field gate a: refers to gate 'nope'"):
        parse_gatingml(_write(tmp_path, _rect("a", "FSC-H", extra='gating:parent_id="nope"')))


def test_unknown_compensation_ref(tmp_path: Path, data1) -> None:
    doc = parse_gatingml(_write(tmp_path, _rect("a", "FSC-H", comp="Spill9")))
    with pytest.raises(GatingMLError, match="compensation-ref 'Spill9' names no spectrumMatrix"):
        evaluate_gates(doc, data1)


def test_malformed_xml(tmp_path: Path) -> None:
    p = tmp_path / "bad.xml"
    p.write_text(HEAD + "<gating:RectangleGate", encoding="utf-8")
    with pytest.raises(GatingMLError, match=r"'bad.xml', line 1: is not well-formed XML"):
        parse_gatingml(p)


def test_wrong_root(tmp_path: Path) -> None:
    p = tmp_path / "r.xml"
    p.write_text("<gates/>", encoding="utf-8")
    with pytest.raises(GatingMLError, match="root element must be gating:Gating-ML"):
        parse_gatingml(p)


def test_unsupported_transform(tmp_path: Path) -> None:
    body = ('<transforms:transformation transforms:id="t"><transforms:fexp transforms:T="1"/>'
            "</transforms:transformation>")
    with pytest.raises(GatingMLError, match="transformation 'fexp' is not supported"):
        parse_gatingml(_write(tmp_path, body))


def test_boolean_cycle(tmp_path: Path, data1) -> None:
    body = ('<gating:BooleanGate gating:id="a"><gating:not><gating:gateReference gating:ref="b"/></gating:not>'
            '</gating:BooleanGate><gating:BooleanGate gating:id="b"><gating:not>'
            '<gating:gateReference gating:ref="a"/></gating:not></gating:BooleanGate>')
    doc = parse_gatingml(_write(tmp_path, body))
    with pytest.raises(GatingMLError, match="cycle: a -> b -> a"):
        evaluate_gates(doc, data1, ["a"])
