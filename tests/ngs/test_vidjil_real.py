"""End-to-end tracking on a real ALL follow-up (Vidjil LIL-L3 demo, 5 samples, ~2 M reads each).

Data: ``../shared/data/vidjil/demo_lil_l3_tutorial.vidjil`` (GPL-3 test data, no code used; see its
README). Expected values are a regression on that real file, checked by hand against the raw
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


@pytest.fixture(scope="module")
def vidjil(shared_dir: Path) -> tuple[dict, list]:
    p = shared_dir / "data" / "vidjil" / "demo_lil_l3_tutorial.vidjil"
    if not p.is_file():
        pytest.skip("Vidjil demo file not available")
    return load(p)


def test_index_and_follow_up(vidjil: tuple[dict, list]) -> None:
    d, chunks = vidjil
    idx = index_clonotypes([chunks[0]])
    by = {(c.v_call, c.j_call, c.junction): c for c in idx.clones}
    top_igh = by[("IGHV3-9", "IGHJ6", "TGTGCACCCGGAGGTATGGACGTCTGG")]
    top_trg = by[("TRGV10", "TRGJP2", "TGTGCTGCGTGTCTGGGGATTGGATCAAGACGTTT")]
    returning = by[("TRGV10", "TRGJP1", "TGTGCGGACTGGTTGGTTCAAGATATTT")]
    assert {c.target for c in idx.clones} == {"IGH", "TRG"}
    assert all(c.fraction >= 0.05 for c in idx.clones)
    states = []
    for i in range(1, 5):
        res = quantify(idx, track_airr(idx, [chunks[i]]), cell_equivalents=d["reads"]["segmented"][i])
        m = {mk.clone.marker: mk for mk in res.markers}
        assert m[top_igh.marker].status == "negative"
        assert m[top_igh.marker].reads == 0
        states.append((m[returning.marker].status, m[returning.marker].reads, m[top_trg.marker].reads))
        # the J-germline suffix shared by every TRGJP1 rearrangement is not taken for a relative
        assert m[returning.marker].relatives_reads < 100
    assert [s[0] for s in states] == ["negative", "negative", "negative", "positive"]
    assert states[3][1] == 116
    assert [s[2] for s in states] == [1, 0, 0, 0]
