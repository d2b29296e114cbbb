"""Gating-ML documents that must be refused, with messages naming file and gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import GatingMLError, ValidationError
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


def test_nan_bound_is_refused(tmp_path: Path) -> None:
    body = _rect("a", "FSC-H").replace('gating:min="1"', 'gating:min="nan"')
    with pytest.raises(GatingMLError, match=r"field RectangleGate a: attribute min='nan' must be a finite number"):
        parse_gatingml(_write(tmp_path, body))


@pytest.mark.parametrize(("params", "message"), [
    ('T="262144" W="-7" M="4.5" A="0"', r"logicle W must be in \[0, M/2\] = \[0, 2.25\], but was -7"),
    ('T="0" W="0.5" M="4.5" A="0"', r"logicle T must be > 0, but was 0"),
    ('T="262144" W="0.5" M="4.5" A="4"', r"logicle A must be in \[-W, M - 2W\] = \[-0.5, 3.5\], but was 4"),
])
def test_invalid_logicle_parameters_are_refused(tmp_path: Path, params: str, message: str) -> None:
    attrs = " ".join(f"transforms:{kv}" for kv in params.split())
    body = f'<transforms:transformation transforms:id="L"><transforms:logicle {attrs}/></transforms:transformation>'
    with pytest.raises(GatingMLError, match=r"'g.xml', field transformation L: " + message):
        parse_gatingml(_write(tmp_path, body))


def test_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GatingMLError, match=rf"Gating-ML file '{tmp_path.name}': is a directory, not a Gating-ML file"):
        parse_gatingml(tmp_path)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, 10**5), st.booleans())
def test_any_byte_mutation_parses_or_raises_gatingml_error(tmp_path_factory, edits: list[tuple[int, int]],
                                                          cut: int, truncate: bool) -> None:
    """Property: a mutated compliance document parses (and evaluates on data1.fcs) or raises
    GatingMLError (FcsFormatError never: the FCS file is intact) - nothing else."""
    from remission.io.fcs import read_fcs

    from .conftest import GML_DIR

    raw = bytearray((GML_DIR / "gml" / "gml_all_gates.xml").read_bytes())
    for pos, val in edits:
        raw[pos % len(raw)] = val
    if truncate:
        raw = raw[: cut % len(raw)]
    p = tmp_path_factory.mktemp("g") / "m.xml"
    p.write_bytes(bytes(raw))
    try:
        doc = parse_gatingml(p)
        out = evaluate_gates(doc, _data1(read_fcs))
    except GatingMLError as exc:
        assert str(exc).startswith("Gating-ML file 'm.xml'") and "\n" not in str(exc)
    except ValidationError as exc:  # a transform parameter the evaluator refuses
        assert "\n" not in str(exc)
    else:
        assert all(v.dtype == bool for v in out.values())


_DATA1: list = []


def _data1(read_fcs):
    from .conftest import GML_DIR

    if not _DATA1:
        _DATA1.append(read_fcs(GML_DIR / "data1.fcs"))
    return _DATA1[0]


_VALUES = ["nan", "inf", "-inf", "", "0", "-7", "1e400", "abc", "-0", "262144", "0.5"]


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_VALUES)), min_size=1, max_size=4))
def test_any_attribute_value_parses_or_raises_gatingml_error(edits: list[tuple[int, str]]) -> None:
    """Property: replacing numeric attribute values of the compliance document (bounds, transform
    parameters, coordinates) with odd values gives a document that evaluates, or GatingMLError /
    ValidationError naming the problem - never NaN gates or another exception."""
    import re

    from remission.io.fcs import read_fcs

    from .conftest import GML_DIR

    text = (GML_DIR / "gml" / "gml_all_gates.xml").read_text(encoding="utf-8")
    spans = [m.span(1) for m in re.finditer(r'="(-?[0-9][0-9.eE+-]*)"', text)]
    chosen = {pos % len(spans): val for pos, val in edits}  # one value per attribute
    for k in sorted(chosen, reverse=True):  # from the end, so earlier spans keep their offsets
        a, b = spans[k]
        text = text[:a] + chosen[k] + text[b:]
    try:
        doc = parse_gatingml(text.encode("utf-8"))
        out = evaluate_gates(doc, _data1(read_fcs))
    except (GatingMLError, ValidationError) as exc:
        assert "\n" not in str(exc)
    else:
        assert all(v.dtype == bool for v in out.values())


def test_unknown_encoding_declaration_is_a_gatingml_error() -> None:
    # found by the mutation fuzz above ('UTF-8' -> 'ATF-8' in the XML declaration): the XML parser
    # raised a bare LookupError
    from remission.errors import GatingMLError
    from remission.io.gatingml import parse_gatingml

    with pytest.raises(GatingMLError, match="cannot be decoded: unknown encoding: ATF-8"):
        parse_gatingml(b'<?xml version="1.0" encoding="ATF-8"?><a/>')
