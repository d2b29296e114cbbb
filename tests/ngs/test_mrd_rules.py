"""NGS-MRD rules built one case each: cells from DNA input, read fraction, one denominator,
relatives beyond the J germline, the emerging-clone watch."""

from __future__ import annotations

import numpy as np
import pytest

from remission.io.airr import AirrChunk
from remission.mrd.ngs import index_clonotypes, quantify, track_airr

# an index IGH junction whose last 21 nt are IGHJ4-like "germline" (synthetic, shared below by
# unrelated clonotypes), and 15 nt of N-D-N before it
J_TAIL = "TTACTACTTTGACTACTGGGG"[:21]
INDEX = "TGTGCGAGAG" + "GATCGGTTACCCATG" + J_TAIL  # 46 nt
V_IDX, J_IDX = "IGHV3-23*01", "IGHJ4*02"


def block(rows: list[tuple[str, str, str, str, str, int]]) -> AirrChunk:
    """rows: (locus, v_call, d_call, j_call, junction, count)."""
    cols = {name: np.array([r[i] for r in rows], dtype=object)
            for i, name in enumerate(("locus", "v_call", "d_call", "j_call", "junction"))}
    return AirrChunk(columns=cols, count=np.array([r[5] for r in rows], dtype=np.int64), first_line=2)


def rand(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


def polyclonal(n: int, reads: int, seed: int, *, j: str = "IGHJ3*01", tail: str = "") -> list[tuple]:
    """n distinct IGH clonotypes with ``reads`` reads each (one cell each: a polyclonal background)."""
    rng = np.random.default_rng(seed)
    return [("IGH", "IGHV4-34*01", "", j, "TGT" + rand(rng, 40 - len(tail)) + tail, reads) for _ in range(n)]


def diagnosis(extra: list[tuple] | None = None) -> AirrChunk:
    return block([("IGH", V_IDX, "IGHD3-10*01", J_IDX, INDEX, 900), *polyclonal(50, 2, 1), *(extra or [])])


# -- 1. MRD = leukemic cells / cells analysed -------------------------------------------------


def test_aplastic_marrow_same_order_as_normal_marrow() -> None:
    """10 index reads among 50 IGH reads (B-cell aplasia after CAR-T) vs among ~10,000 IGH reads
    (many normal B cells), both at 500 ng DNA with the same library coverage (2 reads per template)."""
    idx = index_clonotypes([diagnosis()])
    aplastic = block([("IGH", V_IDX, "", J_IDX, INDEX, 10), *polyclonal(20, 2, 2)])  # 10 + 40 = 50 reads
    normal = block([("IGH", V_IDX, "", J_IDX, INDEX, 10), *polyclonal(5000, 2, 3)])  # 10 + 10,000 reads
    ra = quantify(idx, track_airr(idx, [aplastic]), dna_ng=500)
    rn = quantify(idx, track_airr(idx, [normal]), dna_ng=500)
    # hand calculation: cells = 500 ng x 1000 / 6.5 pg = 76,923; reads per template = median
    # reads of the distinct non-marker clonotypes = 2; leukemic cells = 10 / 2 = 5;
    # MRD = 5 / 76,923 = 6.5e-5 in both marrows
    for r in (ra, rn):
        assert r.quantity == "mrd" and r.reads_per_cell_model == "background_coverage"
        assert r.cell_equivalents == pytest.approx(500 * 1000 / 6.5)
        assert r.markers[0].reads_per_cell == pytest.approx(2.0)
        assert r.mrd == pytest.approx(5 / (500 * 1000 / 6.5))
    # the old read-fraction "MRD" would have been 10/50 = 20 % vs 10/10,010 = 0.1 %: reported only
    # as a read fraction, with its denominator
    assert ra.markers[0].read_fraction == pytest.approx(0.2)
    assert ra.as_dict()["markers"][0]["denominator"] == "reads of target IGH"
    assert rn.markers[0].read_fraction == pytest.approx(10 / 10_010)


def test_locus_reads_model_is_named_and_used_when_background_is_too_small() -> None:
    idx = index_clonotypes([diagnosis()])
    few = block([("IGH", V_IDX, "", J_IDX, INDEX, 10), *polyclonal(5, 8, 4)])  # 5 clonotypes < 20
    r = quantify(idx, track_airr(idx, [few]), cell_equivalents=1000)
    # reads per template = 50 IGH reads / (1000 cells x 1 template per cell) = 0.05;
    # leukemic cells = 10 / 0.05 = 200; MRD = 200 / 1000 = 0.2 (the stated assumption's result)
    assert r.reads_per_cell_model == "locus_reads"
    assert r.mrd == pytest.approx(0.2)
    assert any("every analysed cell contributes 1 template" in w for w in r.warnings)


def test_neither_dna_nor_spike_is_a_read_fraction_never_mrd() -> None:
    idx = index_clonotypes([diagnosis()])
    fu = block([("IGH", V_IDX, "", J_IDX, INDEX, 10), *polyclonal(20, 2, 2)])
    r = quantify(idx, track_airr(idx, [fu]))
    assert r.quantity == "read_fraction" and r.status == "not_evaluable" and r.mrd is None
    assert r.read_fraction == pytest.approx(10 / 50)  # 10 index reads / 50 IGH reads
    assert r.markers[0].status == "detected" and r.markers[0].lod is None
    m = r.to_mrd_result(sample_id="FU")
    assert m is not None and m.status == "not_evaluable" and m.value is None
    assert "read fraction only" in m.details["reason"]


# -- 4. one denominator ----------------------------------------------------------------------


def test_one_denominator_index_tracking_and_read_fraction() -> None:
    # an IGH DJ row is a different target: it is in neither the index nor the tracking denominator
    dx = diagnosis([("IGH", "", "IGHD2-2*01", "IGHJ6*02", "GGTATAGCAGCAGCTGGTACTACTACTACGGTATGGACGTC", 5000)])
    idx = index_clonotypes([dx])
    # hand count: IGH (VDJ) reads at diagnosis = 900 + 50 x 2 = 1000; the DJ row's 5000 are IGH_DJ
    assert idx.target_reads == {"IGH": 1000, "IGH_DJ": 5000}
    m = next(c for c in idx.clones if c.junction == INDEX)
    assert m.fraction == pytest.approx(0.9) and m.target_reads == 1000
    fu = block([("IGH", V_IDX, "", J_IDX, INDEX, 10), *polyclonal(20, 2, 2),
                ("IGH", "", "IGHD2-2*01", "IGHJ6*02", "GGTATAGCAGCAGCTGGTACTACTACTACGGTATGGACGTC", 950)])
    r = quantify(idx, track_airr(idx, [fu]))
    mk = next(x for x in r.markers if x.clone.junction == INDEX)
    assert mk.target_reads == 50 and mk.read_fraction == pytest.approx(0.2)  # not 10 / 1000
    assert r.as_dict()["denominator"].startswith("reads of each marker's target")
    assert idx.as_dict()["denominator"].startswith("reads of the clonotype's target")


# -- 3. related rearrangements ---------------------------------------------------------------


def test_shared_j_germline_is_not_relatedness() -> None:
    """Unrelated clonotypes sharing 15-21 nt of J germline with the index are not relatives."""
    rng = np.random.default_rng(11)
    # 10 unrelated IGHJ4 clonotypes at diagnosis sharing the last 15..21 nt (J germline only)
    unrelated_dx = [("IGH", "IGHV1-2*01", "", J_IDX, "TGT" + rand(rng, 22) + J_TAIL[-k:].rjust(21, "C"), 2)
                    for k in range(15, 22) for _ in range(2)]
    idx = index_clonotypes([diagnosis(unrelated_dx)])
    m = next(c for c in idx.clones if c.junction == INDEX)
    # the stem reaches 6 nt (relative_stem_beyond_germline_nt) past the 95th percentile of the
    # suffixes unrelated clonotypes share (21 nt of J, by construction): >= 27 nt
    assert m.stem_nt >= 21 + 6
    assert m.relatives == ()
    # follow-up: unrelated clonotypes with the same J sharing 15-21 nt, and a true VH replacement
    # (new V, same N-D-N + J: the last 36 nt of the index)
    unrelated_fu = [("IGH", "IGHV4-59*01", "", J_IDX, "TGT" + rand(rng, 24) + J_TAIL[-k:].rjust(21, "A"), 30)
                    for k in range(15, 22)]
    vh_repl = ("IGH", "IGHV1-69*01", "", J_IDX, "TGTGCGAAAGG" + INDEX[-36:], 12)
    fu = block([("IGH", V_IDX, "", J_IDX, INDEX, 10), *unrelated_fu, vh_repl, *polyclonal(30, 2, 5)])
    tr = track_airr(idx, [fu])
    mc = tr.counts[[c.junction for c in idx.clones].index(INDEX)]
    assert mc.relatives_reads == 12  # only the VH replacement; none of the 7 x 30 J-sharing reads
    assert list(mc.relatives) == [("IGHV1-69", "IGHJ4", vh_repl[4])]


def test_relatives_need_enough_same_j_clonotypes_to_see_the_j_germline() -> None:
    # no other IGHJ4 clonotype at diagnosis: where the J germline ends is unknown
    idx = index_clonotypes([diagnosis()])
    m = idx.clones[0]
    assert m.stem_nt == 0 and "relatives not assessed" in m.relatives_note
    rng = np.random.default_rng(3)
    fu = block([("IGH", V_IDX, "", J_IDX, INDEX, 10),
                ("IGH", "IGHV4-59*01", "", J_IDX, "TGT" + rand(rng, 22) + J_TAIL, 40), *polyclonal(30, 2, 5)])
    assert track_airr(idx, [fu]).counts[0].relatives_reads == 0


def test_vh_replacement_is_igh_only() -> None:
    rng = np.random.default_rng(5)
    trg_index = "TGTGCCACCTGGGACGGGCCGGAGGATACCACTGGTTGGTTCAAGATATTT"
    rows = [("TRG", "TRGV2*01", "", "TRGJP1*01", trg_index, 900)]
    rows += [("TRG", "TRGV9*01", "", "TRGJP1*01", "TGT" + rand(rng, 30) + trg_index[-15:], 2) for _ in range(10)]
    idx = index_clonotypes([block(rows)])
    m = idx.clones[0]
    assert m.target == "TRG" and m.stem_nt == 0
    assert "no VH-replacement" in m.relatives_note
    # an IGH index with enough same-J unrelated clonotypes flags a different-V relative as VH replacement
    unrelated = [("IGH", "IGHV1-2*01", "", J_IDX, "TGT" + rand(rng, 22) + J_TAIL, 2) for _ in range(8)]
    vh = ("IGH", "IGHV1-69*01", "", J_IDX, "TGTGCGAAAGG" + INDEX[-36:], 20)
    idx2 = index_clonotypes([diagnosis([*unrelated, vh])])
    rel = next(c for c in idx2.clones if c.junction == INDEX).relatives
    assert [r["junction"] for r in rel] == [vh[4]] and rel[0]["vh_replacement_candidate"] is True


# -- 2. emerging-clone watch -----------------------------------------------------------------


def test_emerging_minor_diagnostic_clone_alerts_and_qualifies_the_call() -> None:
    rng = np.random.default_rng(9)
    minor = ("IGH", "IGHV3-30*01", "", "IGHJ6*02", "TGTGCGAAAGATCTTTTCCCGAGGGTACGGTATGGACGTCTGG", 6)
    dx = diagnosis([minor])  # IGH reads at diagnosis: 900 + 100 + 6 = 1006; minor at 6/1006 = 0.60 %
    idx = index_clonotypes([dx])
    # the watch list: minor clonotypes >= 0.1 % (rule watch_min_dx_fraction), largest first; the
    # 2-read background clonotypes (0.2 %) follow the minor clone
    assert idx.watch[0]["junction"] == minor[4]
    assert idx.watch[0]["diagnosis_fraction"] == pytest.approx(6 / 1006)
    new = ("IGH", "IGHV4-4*01", "", "IGHJ5*02", "TGT" + rand(rng, 30) + "GGCC", 25)
    fu = block([("IGH", V_IDX, "", J_IDX, INDEX, 0), (*minor[:5], 300), new, *polyclonal(200, 3, 8)])
    r = quantify(idx, track_airr(idx, [fu]), dna_ng=500)
    # the index is gone, but the minor clone holds 300 / (300 + 25 + 600) = 32.4 % of IGH reads
    # (54x its diagnostic 0.60 %) and a new clonotype 25 / 925 = 2.7 % (>= 1 %, >= 20 reads)
    assert r.status == "negative"
    got = {e["junction"]: e for e in r.emerging}
    assert set(got) == {minor[4], new[4]}
    e = got[minor[4]]
    assert e["kind"] == "expanding" and e["fraction"] == pytest.approx(300 / 925)
    assert e["alert"] == ("emerging non-index clone (IGH IGHV3-30 IGHJ6), same locus as an index marker, "
                          "32.4 % of IGH reads, present at diagnosis at 0.596 %")
    assert got[new[4]]["kind"] == "new" and "absent at diagnosis" in got[new[4]]["alert"]
    assert r.marker_caveat is not None and "may no longer represent the disease" in r.marker_caveat
    mr = r.to_mrd_result(sample_id="FU")
    assert mr is not None and mr.details["marker_caveat"] == r.marker_caveat
    assert r.watch[0]["junction"] == minor[4] and r.watch[0]["follow_up_reads"] == 300
    # thresholds are parameters: at 40 % the minor clone does not alert
    r2 = quantify(idx, track_airr(idx, [fu]), dna_ng=500, parameters={"emerging_min_fraction": 0.4})
    assert r2.emerging == () and r2.marker_caveat is None


@pytest.mark.parametrize(("name", "bad", "message"), [
    ("emerging_min_fraction", 0, r"emerging_min_fraction must be a fraction in \(0, 1\], but was 0"),
    ("emerging_min_fraction", "x", r"emerging_min_fraction must be a fraction in \(0, 1\], but was 'x'"),
    ("emerging_min_fold", -1, "emerging_min_fold must be a finite number > 0, but was -1"),
    ("watch_min_dx_fraction", 2, r"watch_min_dx_fraction must be a fraction in \(0, 1\], but was 2"),
    ("reads_per_cell_model", "guess", "reads_per_cell_model must be one of background_coverage, locus_reads"),
])
def test_watch_and_model_parameters_are_checked(name: str, bad: object, message: str) -> None:
    from remission.errors import ValidationError

    with pytest.raises(ValidationError, match=message):
        idx = index_clonotypes([diagnosis()], {name: bad})
        quantify(idx, track_airr(idx, [block([("IGH", V_IDX, "", J_IDX, INDEX, 10)])]), dna_ng=500)
