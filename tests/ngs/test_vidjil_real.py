"""End-to-end tracking on a real ALL follow-up (Vidjil LIL-L3 demo, 5 samples, ~2 M reads each).

Data: ``tests/data/vidjil/demo_lil_l3_tutorial.vidjil`` (vendored from the Vidjil repository's
``doc/``; GPL-3 test data, no code used; see ``tests/data/vidjil/README.md`` and ``LICENSE-vidjil``). Expected values are a regression on that real file, checked by hand against the raw
``clones[].reads`` lists: the largest diagnostic IGH clonotype (IGHV3-9/IGHJ6, 189,991 reads in
its main window) has 0 reads at every later time point; the largest TRG one (TRGV10/TRGJP2)
falls to 1 read on 2013-05-15 and 0 afterwards; TRGV10/TRGJP1 (``13//5``) has 0 reads in
samples 2-4 and 116 reads on 2014-01-30: the clone that returns.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from remission.mrd.ngs import index_clonotypes, quantify, track_airr

sys.path.insert(0, str(Path(__file__).parent))
from vidjil_data import load

DATA = Path(__file__).parent.parent / "data" / "vidjil" / "demo_lil_l3_tutorial.vidjil"


@pytest.fixture(scope="module")
def vidjil() -> tuple[dict, list]:
    return load(DATA)


def test_index_and_follow_up(vidjil: tuple[dict, list]) -> None:
    _d, chunks = vidjil
    idx = index_clonotypes([chunks[0]])
    by = {(c.v_call, c.j_call, c.junction): c for c in idx.clones}
    top_igh = by[("IGHV3-9", "IGHJ6", "TGTGCACCCGGAGGTATGGACGTCTGG")]
    top_trg = by[("TRGV10", "TRGJP2", "TGTGCTGCGTGTCTGGGGATTGGATCAAGACGTTT")]
    returning = by[("TRGV10", "TRGJP1", "TGTGCGGACTGGTTGGTTCAAGATATTT")]
    assert {c.target for c in idx.clones} == {"IGH", "TRG"}
    assert all(c.fraction >= 0.05 for c in idx.clones)
    states = []
    for i in range(1, 5):
        # no DNA input or spike-in is recorded in the file: a read fraction, not MRD
        res = quantify(idx, track_airr(idx, [chunks[i]]))
        assert res.quantity == "read_fraction" and res.mrd is None
        m = {mk.clone.marker: mk for mk in res.markers}
        assert m[top_igh.marker].status == "not_detected"
        assert m[top_igh.marker].reads == 0
        states.append((m[returning.marker].status, m[returning.marker].reads, m[top_trg.marker].reads))
        # the J-germline suffix shared by every TRGJP1 rearrangement is not taken for a relative
        assert m[returning.marker].relatives_reads < 100
    assert [s[0] for s in states] == ["not_detected", "not_detected", "not_detected", "detected"]
    assert states[3][1] == 116
    assert [s[2] for s in states] == [1, 0, 0, 0]


def test_sample_six_weeks_before_relapse_is_not_a_plain_response(vidjil: tuple[dict, list]) -> None:
    """2013-12-16, six weeks before the clinical relapse of 2014-01-30, with default parameters.

    Hand check on ``clones[].reads``: TRGV2/TRGJP1 ``...GGTTGGTTCAAGATATTT`` (51 nt) has 5,542
    reads at diagnosis (four Vidjil windows with that junction: 5,517 + 17 + 1 + 7) (0.54 % of the 1,023,907 TRG reads of the clone table: below the 5 % index
    rule) and 12,181 of 418,812 TRG reads on 2013-12-16 (its exact junction: 12,020 + 137 + 9 + 15);
    with its one-mismatch sequencing-error satellites (same V, J and length; summed from the file)
    it is 5,542 + 223 = 5,765 reads at diagnosis (0.563 %) and 12,181 + 522 = 12,703 (3.03 %) then;
    on 2014-01-30 it holds 91 % of TRG reads: the relapse clone. No DNA input is recorded in the file, so the
    result is a read fraction, and the case-level call carries the marker caveat.
    """
    from remission.mrd.course import analyze_course

    _d, chunks = vidjil
    idx = index_clonotypes([chunks[0]])
    relapse_clone = "TGTGCCACCTGGGACGGGCCGGAGGATACCACTGGTTGGTTCAAGATATTT"
    assert relapse_clone not in {c.junction for c in idx.clones}
    assert relapse_clone in {w["junction"] for w in idx.watch}
    res = quantify(idx, track_airr(idx, [chunks[3]]))
    assert res.quantity == "read_fraction" and res.mrd is None
    em = {e["junction"]: e for e in res.emerging if e["v_call"] == "TRGV2" and e["j_call"] == "TRGJP1"}
    e = em[relapse_clone]
    assert e["kind"] == "expanding"
    assert e["diagnosis_fraction"] == pytest.approx(5765 / 1_023_907, rel=1e-6)
    assert e["fraction"] == pytest.approx(12_703 / 418_812, rel=1e-6)
    assert e["reads_exact"] == 12_181  # the exact junction (four Vidjil windows)
    assert "3.03 % of TRG reads, present at diagnosis at 0.563 %" in e["alert"]
    assert res.marker_caveat is not None and "may no longer represent the disease" in res.marker_caveat
    # the course: a read fraction is never MRD, so nothing here reads as an MRD response, and the
    # emerging clone is raised as an alert
    import datetime as dt

    m = res.to_mrd_result(sample_id="LIL-L3-3", date=dt.date(2013, 12, 16), material="bone_marrow")
    assert m is not None
    course = analyze_course([m])
    assert course["latest_response"] is None
    assert any(relapse_clone[:12] in a["text"] or "TRGV2 TRGJP1" in a["text"] for a in course["alerts"])
