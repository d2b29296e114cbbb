"""NGS-MRD engine: index criteria, tracking (tolerance, V/J, relatives), quantification."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import ValidationError
from remission.io.airr import AirrChunk
from remission.mrd.ngs import (
    NGS_RULES,
    MarkerCount,
    NgsMrd,
    SpikeIn,
    TrackResult,
    cells_from_dna,
    effective_mismatches,
    index_clonotypes,
    quantify,
    reads_per_copy,
    target_of,
    track_airr,
)

A = "TGTGCGAGAGATCGGTTACCCATGGGGTCGACTTGG"  # 36 nt
B = "TGTGCGAAAGGGCTATTACTCCGGTTTTGACTACTGG"
C = "TGTGCCACCTGGGACGGGCCGGAGGATACCACTGGTTGGTTCAAGATATTT"  # 51 nt (TRG)


def mut(s: str, *pos: int) -> str:
    b = list(s)
    for p in pos:
        b[p] = {"A": "C", "C": "G", "G": "T", "T": "A"}[b[p]]
    return "".join(b)


def block(rows: list[tuple[str, str, str, str, str, int]]) -> AirrChunk:
    """rows: (locus, v_call, d_call, j_call, junction, count)."""
    cols = {name: np.array([r[i] for r in rows], dtype=object)
            for i, name in enumerate(("locus", "v_call", "d_call", "j_call", "junction"))}
    return AirrChunk(columns=cols, count=np.array([r[5] for r in rows], dtype=np.int64), first_line=2)


def filler(locus: str, v: str, j: str, n: int, reads: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    return [(locus, v, "", j, "TGT" + "".join(rng.choice(list("ACGT"), 33)), reads) for _ in range(n)]


def dx_table() -> AirrChunk:
    # IGH: A 600 + its 1-mismatch satellite 30, B 40, 27 + 6 others x 10 = 1000 reads
    # TRG: C 90 + 10 others x 1 = 100 reads
    rows = [("IGH", "IGHV3-23*01", "IGHD3-10*01", "IGHJ4*02", A, 600),
            ("IGH", "IGHV3-23*01", "", "IGHJ4*02", mut(A, 20), 30),
            ("IGH", "IGHV1-69*01", "", "IGHJ6*01", B, 40)]
    rows += filler("IGH", "IGHV4-34*01", "IGHJ3*01", 27, 10, 1)
    # 6 unrelated IGHJ4 clonotypes sharing only A's last 12 nt (taken as its J germline): they
    # show where the J germline ends, so relatedness can be assessed (rule
    # relative_min_same_j_clonotypes = 5)
    rows += [(r[0], r[1], r[2], "IGHJ4*02", r[4][:24] + A[-12:], r[5])
             for r in filler("IGH", "IGHV4-34*01", "IGHJ4*02", 6, 10, 7)]
    rows += [("TRG", "TRGV2*01", "", "TRGJP1*01", C, 90)]
    rows += filler("TRG", "TRGV9*01", "TRGJ1*01", 10, 1, 2)
    return block(rows)


def test_target_of() -> None:
    assert target_of("IGH", "IGHV3-23*01", "IGHD3-10*01", "IGHJ4*02") == "IGH"
    assert target_of("IGH", "", "IGHD3-10*01", "IGHJ4*02") == "IGH_DJ"
    assert target_of("", "IGKV1-5*01", "", "IGKDEL*01") == "IGK_KDE"
    assert target_of("", "IGKINTR*01", "", "IGKDEL*01") == "IGK_KDE"
    assert target_of("TRD", "TRDV2*01", "TRDD3*01", "") == "TRD_INC"
    assert target_of("custom", "TRGV10*01", "", "TRGJP1*01") == "TRG"


def test_index_criteria() -> None:
    idx = index_clonotypes([dx_table()])
    # hand calculation: A = (600 + 30 satellite) / 1000 = 0.63; C = 90 / 100 = 0.9; B = 0.04 < 0.05
    got = {c.junction: (c.target, c.reads, c.reads_exact, round(c.fraction, 6)) for c in idx.clones}
    assert got == {A: ("IGH", 630, 600, 0.63), C: ("TRG", 90, 90, 0.9)}
    assert [c.marker for c in idx.clones] == ["M1", "M2"]  # by fraction, highest first
    assert idx.target_reads == {"IGH": 1000, "TRG": 100}
    assert any(n["junction"] == B and n["fraction"] == pytest.approx(0.04) for n in idx.near_threshold)
    # every threshold is a parameter: 3 % admits B (4 %), a 100-read minimum drops B (40) and C (90)
    assert {c.junction for c in index_clonotypes([dx_table()], {"index_min_fraction": 0.03}).clones} == {A, B, C}
    idx2 = index_clonotypes([dx_table()], {"index_min_fraction": 0.03, "index_min_reads": 100})
    assert {c.junction for c in idx2.clones} == {A}


def test_no_marker_is_explicit() -> None:
    idx = index_clonotypes([block(filler("IGH", "IGHV4-34*01", "IGHJ3*01", 40, 10, 3))])
    assert idx.clones == () and idx.as_dict()["status"] == "no_marker"
    track = track_airr(idx, [block(filler("IGH", "IGHV4-34*01", "IGHJ3*01", 5, 10, 4))])
    res = quantify(idx, track, cell_equivalents=1e5)
    assert res.status == "no_marker" and res.mrd is None and res.markers == ()
    assert res.to_mrd_result() is None
    assert "no NGS-MRD marker" in res.warnings[0]


def ia(idx: object) -> int:
    """Position of marker A (markers are sorted by diagnosis fraction: C 0.9 first, A 0.63)."""
    return [c.junction for c in idx.clones].index(A)  # type: ignore[attr-defined]


def fu_rows() -> list[tuple]:
    rel = "TGTGCGAAAGGAAAT" + A[-27:]  # VH-replacement-like: new 5' part, same 3' N-D-N-J stem
    rows = [("IGH", "IGHV3-23*01", "", "IGHJ4*02", A, 10),
            ("IGH", "IGHV3-23*01,IGHV3-23D*01", "", "IGHJ4*02", mut(A, 5), 3),
            ("IGH", "IGHV3-23*01", "", "IGHJ4*02", mut(A, 5, 30), 2),
            ("IGH", "IGHV3-23*01", "", "IGHJ4*02", mut(A, 5, 17, 30), 5),   # 3 mismatches: no
            ("IGH", "IGHV1-2*01", "", "IGHJ4*02", mut(A, 12), 4),            # other V gene
            ("IGH", "IGHV1-69*01", "", "IGHJ4*02", rel, 6)]                  # evolved relative
    rows += filler("IGH", "IGHV4-34*01", "IGHJ3*01", 1, 19970, 5)  # IGH total = 20,000 reads
    return rows


def test_tracking_tolerance_vj_and_relatives() -> None:
    idx = index_clonotypes([dx_table()])
    tr = track_airr(idx, [block(fu_rows())])
    a = tr.counts[ia(idx)]
    # exact 10, 1 mismatch 3, 2 mismatches 2 -> 15; the 3-mismatch row and the other-V row excluded
    assert (a.reads, a.by_mismatches) == (15, [10, 3, 2])
    # relatives share the 3' stem: the VH-replacement row (6) and the other-V 1-mismatch row (4,
    # whose mismatch lies 5' of the stem) -- reported apart, not counted in MRD
    assert a.relatives_reads == 10
    assert tr.target_reads["IGH"] == 20_000
    # without the V/J requirement the other-V row counts as the index
    tr2 = track_airr(idx, [block(fu_rows())], {"require_vj_consistency": False})
    assert tr2.counts[ia(idx)].reads == 19
    # a stricter tolerance
    tr3 = track_airr(idx, [block(fu_rows())], {"max_mismatches": 0})
    assert tr3.counts[ia(idx)].reads == 10


def test_quantify_hand_calculation() -> None:
    idx = index_clonotypes([dx_table()])
    res = quantify(idx, track_airr(idx, [block(fu_rows())]), cell_equivalents=10_000)
    m = res.markers[ia(idx)]
    # reads per cell = 20,000 IGH reads / 10,000 cells = 2; leukemic cells = 15 / 2 = 7.5
    assert m.leukemic_cells == pytest.approx(7.5)
    assert m.mrd == pytest.approx(7.5e-4) and m.status == "positive"
    # LoD = -ln(1 - 0.95) / 10,000 = 2.9957e-4; LoQ = max(3 / 10,000, 5 / (2 * 10,000)) = 3e-4
    assert m.lod == pytest.approx(-math.log(0.05) / 1e4)
    assert m.loq == pytest.approx(3e-4)
    # the TRG marker had no reads: negative, value null, with its LoD (TRG reads 0 -> rpc 0 -> 1.0)
    assert res.markers[1 - ia(idx)].status == "negative" and res.markers[1 - ia(idx)].mrd is None
    assert res.status == "positive" and res.mrd == pytest.approx(7.5e-4)  # highest marker
    mr = res.to_mrd_result(sample_id="FU1")
    assert mr is not None and mr.method == "ngs" and mr.value == pytest.approx(7.5e-4)
    assert {d["name"] for d in res.as_dict()["rests_on"]} >= {"index_min_fraction", "loq_min_cells"}


def test_status_pnq_and_negative() -> None:
    idx = index_clonotypes([dx_table()])
    def tr(reads: int) -> TrackResult:
        counts = [MarkerCount(by_mismatches=[0, 0, 0]), MarkerCount(by_mismatches=[0, 0, 0])]
        counts[ia(idx)] = MarkerCount(reads=reads, by_mismatches=[reads, 0, 0])
        return TrackResult(counts=counts, total_reads=20_000, target_reads={"IGH": 20_000, "TRG": 2000}, spike_reads=[], mode="airr")
    r4 = quantify(idx, tr(4), cell_equivalents=10_000)
    # 4 reads < loq_min_reads 5 -> positive, not quantifiable (value 2e-4 kept for plotting only)
    assert r4.status == "positive_not_quantifiable" and r4.markers[ia(idx)].mrd == pytest.approx(2e-4)
    assert "LoQ" in r4.to_mrd_result().display()
    r0 = quantify(idx, tr(0), cell_equivalents=10_000)
    assert r0.status == "negative" and r0.mrd is None
    assert r0.lod == pytest.approx(-math.log(0.05) / 1e4)
    # LoD 3e-4 > 1e-4: flagged as insufficient sensitivity
    assert any("insufficient sensitivity" in w for w in r0.warnings)


def test_dna_input_and_spike_in() -> None:
    assert cells_from_dna(650) == pytest.approx(100_000)  # 650 ng x 1000 / 6.5 pg
    assert cells_from_dna(600, 6.0) == pytest.approx(100_000)  # Vidjil's NG600 constant
    # hand calculation: sum(c*r) / sum(c^2) = (200 + 3200 + 51200) / (100 + 1600 + 25600) = 2.0
    coef, r2 = reads_per_copy([10, 40, 160], [20, 80, 320])
    assert coef == pytest.approx(2.0) and r2 == pytest.approx(1.0)
    idx = index_clonotypes([dx_table()])
    spikes = [SpikeIn(f"s{i}", c, j) for i, (c, j) in enumerate([(10, C[:40] + "A"), (40, B + "AAAA"), (160, A + "CCCC")])]
    rows = [*fu_rows(), ("TRD", "SPIKE", "", "SPIKE1", spikes[0].junction, 20), ("TRD", "SPIKE", "", "SPIKE2", spikes[1].junction, 80), ("TRD", "SPIKE", "", "SPIKE3", spikes[2].junction, 320)]
    res = quantify(idx, track_airr(idx, [block(rows)], spikes=spikes), dna_ng=65, spikes=spikes)
    # cells = 65 * 1000 / 6.5 = 10,000; leukemic cells = 15 reads / 2 reads per copy = 7.5
    assert res.quantification == "spike_in" and res.spike["reads_per_copy"] == pytest.approx(2.0)
    assert res.markers[ia(idx)].mrd == pytest.approx(7.5e-4)
    with pytest.raises(ValidationError, match="spike-in calibration must have"):
        quantify(idx, TrackResult(counts=[MarkerCount(by_mismatches=[0, 0, 0])] * 2, total_reads=1,
                                  target_reads={}, spike_reads=[300, 5, 3], mode="airr"),
                 cell_equivalents=1e4, spikes=spikes)


@pytest.mark.parametrize("bad", [None, -1, 0, float("nan"), float("inf")])
def test_parameter_checks(bad: object) -> None:
    idx = index_clonotypes([dx_table()])
    tr = track_airr(idx, [block(fu_rows())])
    with pytest.raises(ValidationError, match=r"cell_equivalents must be a finite number > 0, but was"):
        quantify(idx, tr, cell_equivalents=bad if bad is not None else "x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown parameter 'max_mismatch'"):
        index_clonotypes([dx_table()], {"max_mismatch": 1})
    with pytest.raises(ValidationError, match="case_combine must be one of max, min, mean"):
        quantify(idx, tr, cell_equivalents=1e4, parameters={"case_combine": "median"})
    # neither DNA input nor spike-in: a read fraction, labelled, never an MRD value
    rf = quantify(idx, tr)
    assert rf.quantity == "read_fraction" and rf.mrd is None and rf.status == "not_evaluable"
    # marker A: 15 reads / 20,000 IGH reads (the fu_rows hand count) = 7.5e-4
    assert rf.markers[ia(idx)].read_fraction == pytest.approx(15 / 20_000)
    mr = rf.to_mrd_result()
    assert mr is not None and mr.status == "not_evaluable" and mr.value is None
    assert mr.details["read_fraction"] == pytest.approx(15 / 20_000)


def test_effective_mismatches() -> None:
    # (L - d) // (d + 1) >= 10: L = 32 allows 2 (30 // 3 = 10); L = 31 allows 1 (30 // 2 = 15)
    assert effective_mismatches(32, 2, 10) == 2
    assert effective_mismatches(31, 2, 10) == 1
    assert effective_mismatches(20, 2, 10) == 0


def test_fit_style_wrapper() -> None:
    model = NgsMrd({"index_min_fraction": 0.05}).fit([dx_table()])
    assert len(model.index_.clones) == 2
    res = model.track_airr([block(fu_rows())], cell_equivalents=10_000)
    assert res.mrd == pytest.approx(7.5e-4)
    assert model.parameter_values["index_min_fraction"] == 0.05
    assert set(NGS_RULES) == set(model.parameter_values)


@settings(max_examples=60, deadline=None)
@given(r1=st.integers(0, 10**6), r2=st.integers(0, 10**6), cells=st.floats(1.0, 1e7))
def test_mrd_monotone_and_bounded(r1: int, r2: int, cells: float) -> None:
    """MRD never falls when leukemic reads rise, and never exceeds 1."""
    idx = index_clonotypes([dx_table()])
    lo, hi = sorted((r1, r2))
    def mrd(reads: int) -> float:
        counts = [MarkerCount(by_mismatches=[0, 0, 0]), MarkerCount(by_mismatches=[0, 0, 0])]
        counts[ia(idx)] = MarkerCount(reads=reads, by_mismatches=[reads, 0, 0])
        t = TrackResult(counts=counts,
                        total_reads=10**6, target_reads={"IGH": 10**6, "TRG": 10**5}, spike_reads=[], mode="airr")
        r = quantify(idx, t, cell_equivalents=cells)
        assert r.mrd is None or 0 <= r.mrd <= 1
        return r.mrd or 0.0
    assert mrd(lo) <= mrd(hi)


@pytest.mark.parametrize(("how", "expected"), [("max", 5e-3), ("min", 7.5e-4), ("mean", (5e-3 + 7.5e-4) / 2)])
def test_case_level_combination(how: str, expected: float) -> None:
    idx = index_clonotypes([dx_table()])
    counts = [MarkerCount(by_mismatches=[0, 0, 0]), MarkerCount(by_mismatches=[0, 0, 0])]
    counts[ia(idx)] = MarkerCount(reads=15, by_mismatches=[15, 0, 0])      # 15 / (20,000 / 1e4) = 7.5 cells
    counts[1 - ia(idx)] = MarkerCount(reads=10, by_mismatches=[10, 0, 0])  # 10 / (2,000 / 1e4) = 50 cells
    t = TrackResult(counts=counts, total_reads=22_000, target_reads={"IGH": 20_000, "TRG": 2_000},
                    spike_reads=[], mode="airr")
    res = quantify(idx, t, cell_equivalents=10_000, parameters={"case_combine": how})
    assert res.status == "positive" and res.mrd == pytest.approx(expected)
