"""FCS reading, compensation and transforms (remission.io.fcs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from remission.errors import FcsFormatError, ValidationError
from remission.io.fcs import Spillover, read_fcs, write_fcs
from remission.mrd.cytometry import (
    arcsinh,
    compensate_sample,
    flin,
    flog,
    hyperlog,
    logicle,
    transform_sample,
)

# ----------------------------------------------------------------------------- real files


def test_data1_names_and_channel_to_scale(data1) -> None:
    # data1.fcs (ISAC compliance suite): FCS 2.0, 13,367 events, 8 channels ($TOT, $PAR)
    assert data1.version == "FCS2.0"
    assert data1.n_events == 13367
    assert data1.channels == ("FSC-H", "SSC-H", "FL1-H", "FL2-H", "FL3-H", "FL2-A", "FL4-H", "Time")
    assert data1.markers[2] == "CD4 FITC"
    assert data1.spill is None
    # $P1G = 3.67: channel value / gain (Gating-ML 2.0 §3.1; flowio as_array(preprocess=True))
    import flowio

    ref = flowio.FlowData(str(data1.path)).as_array(preprocess=True)
    np.testing.assert_array_equal(data1.events, ref)


def test_real_ball_tube(diva_path: Path) -> None:
    # facs_diva_test.fcs (fcsparser 0.2.8 wheel; flow_mrd.md §2.2): 83,411 events, 12 parameters,
    # FCS 3.0, $SPILL 8x8, Vienna B-ALL MRD panel
    d = read_fcs(diva_path)
    assert d.version == "FCS3.0"
    assert d.n_events == 83411
    assert d.channels == ("Time", "FSC-A", "FSC-W", "SSC-A", "FITC-A", "PE-A", "PerCP-A", "PE-Cy7-A",
                          "PacificBlue-A", "APC-A", "Alexa700-A", "APC-Cy7-A")
    assert d.markers[4:11] == ("CD20", "CD10", "CD45", "CD34", "Syto 41", "CD19", "CD38")
    assert d.spill is not None and d.spill.matrix.shape == (8, 8)
    assert d.spill.channels == ("FITC-A", "PE-A", "PerCP-A", "PE-Cy7-A", "PacificBlue-A", "APC-A",
                                "Alexa700-A", "APC-Cy7-A")
    assert d.index("CD19") == 9


def test_real_tube_compensation_matches_flowkit(diva_path: Path) -> None:
    fk = pytest.importorskip("flowkit")
    ours = compensate_sample(read_fcs(diva_path))
    s = fk.Sample(str(diva_path))
    s.apply_compensation(s.metadata["spill"])
    theirs = s.get_events(source="comp")
    # identical to float32 precision (the FCS data are float32)
    np.testing.assert_array_equal(ours.events.astype(np.float32), theirs.astype(np.float32))
    assert ours.compensated == "$SPILL"


def test_real_tube_logicle_matches_flowkit(diva_path: Path) -> None:
    fk = pytest.importorskip("flowkit")
    d = compensate_sample(read_fcs(diva_path))
    ours = transform_sample(d, "logicle", T=262144, W=0.5, M=4.5, A=0)
    s = fk.Sample(str(diva_path))
    s.apply_compensation(s.metadata["spill"])
    xf = fk.transforms.LogicleTransform(262144, 0.5, 4.5, 0)
    s.apply_transform({c: xf for c in d.spill.channels})
    theirs = s.get_events(source="xform")
    np.testing.assert_allclose(ours.events, theirs, rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------ bad input


def _good(tmp_path: Path, n: int = 500) -> Path:
    rng = np.random.default_rng(0)
    return write_fcs(tmp_path / "good.fcs", rng.normal(1000, 300, (n, 3)), ["FSC-A", "FL1-A", "FL2-A"],
                     ["", "CD19", "CD10"],
                     spill=Spillover(("FL1-A", "FL2-A"), np.array([[1.0, 0.1], [0.05, 1.0]])))


def test_not_fcs(tmp_path: Path) -> None:
    p = tmp_path / "x.fcs"
    p.write_bytes(b"hello, this is not a flow file" * 4)
    with pytest.raises(FcsFormatError, match=r"FCS file 'x.fcs': is not an FCS file"):
        read_fcs(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FcsFormatError, match="cannot be read"):
        read_fcs(tmp_path / "absent.fcs")


def test_truncated(tmp_path: Path) -> None:
    good = _good(tmp_path).read_bytes()
    p = tmp_path / "cut.fcs"
    p.write_bytes(good[: len(good) - 1000])
    with pytest.raises(FcsFormatError, match=r"'cut.fcs', field DATA: is truncated"):
        read_fcs(p)


def test_truncated_inside_text(tmp_path: Path) -> None:
    good = _good(tmp_path).read_bytes()
    p = tmp_path / "cut2.fcs"
    p.write_bytes(good[:200])
    with pytest.raises(FcsFormatError, match=r"'cut2.fcs', field HEADER: is truncated: the TEXT segment ends"):
        read_fcs(p)


def test_corrupt_header_offsets(tmp_path: Path) -> None:
    good = bytearray(_good(tmp_path).read_bytes())
    good[10:18] = b"   abc!!"
    p = tmp_path / "bad.fcs"
    p.write_bytes(bytes(good))
    with pytest.raises(FcsFormatError, match=r"corrupt HEADER"):
        read_fcs(p)


def test_offset_off_by_one_names_the_flag(tmp_path: Path) -> None:
    raw = bytearray(_good(tmp_path, n=500).read_bytes())
    # HEADER bytes 34-41 hold the DATA end offset; write it one byte too far, and append a byte
    end = int(raw[34:42])
    raw[34:42] = f"{end + 1:>8d}".encode()
    raw += b"\x00"
    p = tmp_path / "off.fcs"
    p.write_bytes(bytes(raw))
    with pytest.raises(FcsFormatError, match=r"'off.fcs', field HEADER: .*set ignore_offset_discrepancy=True"):
        read_fcs(p)
    d = read_fcs(p, ignore_offset_discrepancy=True)  # the named tolerance reads it
    assert d.n_events == 500


def test_compensation_without_spill(tmp_path: Path) -> None:
    p = write_fcs(tmp_path / "nospill.fcs", np.ones((10, 2)), ["FSC-A", "FL1-A"])
    d = read_fcs(p)
    with pytest.raises(FcsFormatError, match=r"'nospill.fcs'.*no spillover matrix"):
        compensate_sample(d)


def test_unknown_channel(tmp_path: Path) -> None:
    d = read_fcs(_good(tmp_path))
    with pytest.raises(FcsFormatError, match=r"channel 'CD99' is not in the file; channels: FSC-A"):
        d.column("CD99")


def test_bad_spill_keyword(tmp_path: Path) -> None:
    p = write_fcs(tmp_path / "badspill.fcs", np.ones((10, 2)), ["FSC-A", "FL1-A"],
                  metadata={"SPILL": "2,FL1-A,0.5"})
    with pytest.raises(FcsFormatError, match=r"\$SPILL is not a valid spillover matrix"):
        read_fcs(p)


@pytest.mark.parametrize("bad", [None, -1, float("nan"), float("inf")])
def test_transform_parameter_checks(bad) -> None:
    with pytest.raises(ValidationError, match=r"^T must be (a finite number|> 0), but was"):
        logicle(np.zeros(3), T=bad)


# ---------------------------------------------------------------------------- round trip


@settings(max_examples=25, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 5)),
              elements=st.floats(-1e6, 1e6, width=32)))
def test_write_read_round_trip_is_exact(tmp_path_factory, ev: np.ndarray) -> None:
    p = tmp_path_factory.mktemp("rt") / "rt.fcs"
    names = [f"C{i}" for i in range(ev.shape[1])]
    write_fcs(p, ev, names)
    d = read_fcs(p, dtype=np.float32)
    assert d.channels == tuple(names)
    np.testing.assert_array_equal(d.events, ev)


# ---------------------------------------------------------------------------- transforms


def test_gatingml_formulas_by_hand() -> None:
    # Gating-ML 2.0 §6: flin(x) = (x + A)/(T + A); flog(x) = log10(x/T)/M + 1;
    # fasinh(x) = (asinh(x sinh(M ln10)/T) + A ln10)/((M + A) ln10)
    assert flin(np.array([500.0]), T=10000, A=500)[0] == pytest.approx(1000 / 10500)
    assert flog(np.array([100.0]), T=10000, M=5)[0] == pytest.approx(1 - 2 / 5)
    assert np.isnan(flog(np.array([0.0]), T=10000, M=5)[0])
    x = 10000.0  # at the top of scale fasinh is (M ln10... )/(M+A)ln10 ~= 1 for A = 0
    assert arcsinh(np.array([x]), T=10000, M=4, A=0)[0] == pytest.approx(1.0, abs=1e-8)
    assert logicle(np.array([262144.0]))[0] == pytest.approx(1.0, abs=1e-9)


def test_fast_biexponentials_match_exact() -> None:
    import flowutils.transforms as ft

    x = np.random.default_rng(1).normal(2000, 20000, 400_000)  # above the interpolation threshold
    np.testing.assert_allclose(logicle(x), ft.logicle(x, None), atol=1e-8)
    np.testing.assert_allclose(hyperlog(x, W=1, M=4.5), ft.hyperlog(x, None, w=1, m=4.5), atol=1e-8)


def test_multiple_data_sets_need_the_named_flag(tmp_path: Path) -> None:
    # two data sets in one file: the first's $NEXTDATA points at the second (FCS 3.1 §3.2.19);
    # a padding keyword keeps the TEXT length when the offset is written in
    a = write_fcs(tmp_path / "a.fcs", np.ones((10, 2)), ["A", "B"], metadata={"PAD": "x" * 20}).read_bytes()
    b = write_fcs(tmp_path / "b.fcs", np.full((7, 2), 2.0), ["A", "B"]).read_bytes()
    off = str(len(a)).encode()
    a = a.replace(b"NEXTDATA/0/", b"NEXTDATA/" + off + b"/").replace(b"x" * 20, b"x" * (21 - len(off)))
    p = tmp_path / "multi.fcs"
    p.write_bytes(a + b)
    with pytest.raises(FcsFormatError, match=r"'multi.fcs', field \$NEXTDATA: holds more than one data set; "
                                             r"choose one with dataset=<index>"):
        read_fcs(p)
    assert read_fcs(p, dataset=0).n_events == 10
    second = read_fcs(p, dataset=1)
    assert second.n_events == 7 and float(second.events[0, 0]) == 2.0
    with pytest.raises(FcsFormatError, match=r"dataset must be in 0\.\.1, but was 5"):
        read_fcs(p, dataset=5)


# ------------------------------------------------------- unusable values and layouts (issue 12)


def _edit(tmp_path: Path, name: str, old: bytes, new: bytes) -> Path:
    raw = _good(tmp_path).read_bytes()
    assert old in raw
    p = tmp_path / name
    p.write_bytes(raw.replace(old, new))
    return p


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_event_values_are_refused(tmp_path: Path, bad: float) -> None:
    ev = np.random.default_rng(0).normal(1000, 300, (50, 3))
    ev[3, 1] = bad
    p = write_fcs(tmp_path / "nan.fcs", ev, ["FSC-A", "FL1-A", "FL2-A"])
    with pytest.raises(FcsFormatError, match=r"^FCS file 'nan.fcs', record event 4, field FL1-A: value "
                                             r"(nan|inf|-inf) is not a finite number"):
        read_fcs(p)


def test_byteord_that_is_no_byte_order_is_refused(tmp_path: Path) -> None:
    p = _edit(tmp_path, "bo.fcs", b"BYTEORD/1,2,3,4/", b"BYTEORD/9,9,9,9/")
    with pytest.raises(FcsFormatError, match=r"'bo.fcs', field \$BYTEORD: has unsupported \$BYTEORD '9,9,9,9'"):
        read_fcs(p)


def test_unsupported_datatype_has_its_own_message(tmp_path: Path) -> None:
    p = _edit(tmp_path, "ascii.fcs", b"DATATYPE/F/", b"DATATYPE/A/")
    with pytest.raises(FcsFormatError, match=r"field \$DATATYPE: has unsupported \$DATATYPE 'A'") as ei:
        read_fcs(p)
    assert "$TOT" not in str(ei.value)


def test_logicle_parameters_outside_the_standard_are_refused() -> None:
    # Gating-ML 2.0 / Moore & Parks 2012: 0 <= W <= M/2 and -W <= A <= M - 2W
    with pytest.raises(ValidationError, match=r"^W must be in \[0, M/2\] = \[0, 2.25\], but was -7"):
        logicle(np.zeros(3), W=-7)
    with pytest.raises(ValidationError, match=r"^A must be in \[-W, M - 2W\]"):
        hyperlog(np.zeros(3), W=0.5, M=4.5, A=9)
    with pytest.raises(ValidationError, match=r"^M must be > 0, but was 0"):
        arcsinh(np.zeros(3), M=0)


# ------------------------------------------------------------------ mutation fuzz (issue 12)


@pytest.fixture(scope="module")
def small_fcs(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("fuzz")
    return write_fcs(d / "seed.fcs", rng.normal(1000, 300, (40, 3)), ["FSC-A", "FL1-A", "FL2-A"],
                     ["", "CD19", "CD10"],
                     spill=Spillover(("FL1-A", "FL2-A"), np.array([[1.0, 0.1], [0.05, 1.0]]))).read_bytes()


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, 2), st.integers(0, 10**6))
def test_any_byte_mutation_parses_or_raises_fcs_error(tmp_path_factory, small_fcs: bytes,
                                                      edits: list[tuple[int, int]], mode: int, cut: int) -> None:
    """Property: a mutated FCS file is read, or refused with FcsFormatError - nothing else."""
    raw = bytearray(small_fcs)
    for pos, val in edits:
        raw[pos % len(raw)] = val
    if mode == 1:  # truncate
        raw = raw[: cut % len(raw)]
    elif mode == 2:  # duplicate a slice
        i = cut % len(raw)
        raw = raw[:i] + raw[i: i + 64] + raw[i:]
    p = tmp_path_factory.mktemp("m") / "m.fcs"
    p.write_bytes(bytes(raw))
    try:
        d = read_fcs(p)
    except FcsFormatError as exc:
        assert str(exc).startswith("FCS file 'm.fcs'") and "\n" not in str(exc)
    else:
        assert d.events.ndim == 2 and np.isfinite(d.events).all()
