"""Automated flow MRD against a manual expert-style gating on a real B-ALL tube.

Data: ``facs_diva_test.fcs`` from the fcsparser 0.2.8 wheel (MIT): a real paediatric B-ALL MRD
tube of St. Anna CCRI Vienna (BD FACSDiva, FCS 3.0, 83,411 events, $SPILL 8x8), panel CD20
FITC, CD10 PE, CD45 PerCP, CD34 PE-Cy7, SYTO 41 Pacific Blue, CD19 APC, CD38 Alexa700. Values
below are on the tube's own compensation ($SPILL) and logicle (T 262144, W 0.5, M 4.5, A 0),
exactly what :func:`remission.mrd.flow.prepare_tube` produces.

Manual gating, written down from the tube's one-dimensional histograms (the way an analyst
places gates in valleys between populations; read off 0.03-logicle and log-SSC bins):

1. nucleated: FSC-A >= 20,000 (debris lies below; the acquisition threshold was FSC 5,000) and
   SYTO 41 >= 0.55 (the whole tube is SYTO 41-bright, 1st percentile 0.61);
2. lymphoid/blast scatter: SSC-A <= 150,000 - the histogram minimum between the blast peak
   (SSC ~37,000) and the granulocytes, which saturate the SSC scale (262,143);
3. B lineage: CD19 >= 0.42, the valley between CD19- (mode ~0.25) and CD19+ (mode ~0.69);
4. leukaemic blasts: CD10 >= 0.55 (valley between CD10- and CD10-bright), CD34 >= 0.20 (CD34+;
   the CD34- shoulder of the CD19+ CD10+ events lies below) and CD45 < 0.80 (excludes the few
   CD45-bright mature B cells; the blasts' CD45 mode is 0.70-0.75 on this tube).

MRD (manual) = blasts / nucleated events. The automated method must agree within a stated
tolerance: 15 % relative difference in MRD, and an event-level F1 >= 0.85 between the two
event sets. Both are test tolerances chosen here (this tube is a blast-rich sample at ~40 %, far
from any clinical threshold), not clinical limits. The automated path runs against the demo
reference for this panel, because no normal tubes of this instrument are public; its result
says it is illustrative.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from remission.errors import LowSensitivityWarning


@pytest.fixture(scope="module")
def vienna(diva_path: Path):
    from remission.io.fcs import read_fcs
    from remission.mrd.flow import prepare_tube

    return prepare_tube(read_fcs(diva_path, dtype=np.float32))


def _manual(t) -> tuple[np.ndarray, np.ndarray]:
    c = t.col
    nucleated = (c("FSC") >= 20_000) & (c("SYTO41") >= 0.55)
    blasts = (nucleated & (c("SSC") <= 150_000) & (c("CD19") >= 0.42) & (c("CD10") >= 0.55)
              & (c("CD34") >= 0.20) & (c("CD45") < 0.80))
    return nucleated, blasts


def test_manual_gating_numbers(vienna) -> None:
    nucleated, blasts = _manual(vienna)
    # regression values of the manual gates above on this file (computed once, kept as written)
    assert nucleated.sum() == 82_488
    assert blasts.sum() == 32_248
    assert blasts.sum() / nucleated.sum() == pytest.approx(0.391, abs=0.001)
    # the blast cluster straddles SSC 40,000 (median ~41,000): a fixed cut there splits it
    assert 40_000 < float(np.median(vienna.col("SSC")[blasts])) < 44_000
    assert 0.45 < float((vienna.col("SSC")[blasts] > 40_000).mean()) < 0.6


def test_automated_agrees_with_manual_gating(vienna) -> None:
    from remission.mrd.flow import DifferentFromNormal, derive_gates
    from remission.synth.flow import demo_reference

    nucleated, blasts = _manual(vienna)
    manual_mrd = blasts.sum() / nucleated.sum()
    det = DifferentFromNormal(reference=demo_reference(vienna.panel))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)  # 82,807 cells: LoD 2.4e-4 > 1e-4
        r = det.detect(vienna)
    assert r.status == "positive" and r.illustrative
    assert abs(r.mrd - manual_mrd) / manual_mrd <= 0.15, (r.mrd, manual_mrd)
    auto = det.last_labels_
    tp = int((auto & blasts).sum())
    assert 2 * tp / (auto.sum() + blasts.sum()) >= 0.85
    # the scatter gate comes from the tube: above the blast cluster, below the granulocytes
    g = derive_gates(vienna, "cd19")
    cut = float(g.rules_shown[0].split()[2].rstrip(":").replace(",", ""))
    assert 100_000 < cut < 200_000
    assert (g.b_lineage & blasts).sum() >= 0.99 * blasts.sum()
