"""Calibration of the projected 5 %-blast date interval (seeded simulation; slow).

The study and its full-size result (coverage of the 95 % interval with the small-sample F
calibration, and with the asymptotic χ² cut-off for comparison) are in
``benchmarks/validate_projection.py`` and BENCHMARKS.md ("MRD course: projection coverage").
This test reruns a small seeded slice of it.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from remission.mrd.course import lr_threshold

_SPEC = importlib.util.spec_from_file_location(
    "validate_projection", Path(__file__).parents[2] / "benchmarks" / "validate_projection.py")
assert _SPEC and _SPEC.loader
vp = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(vp)


def test_lr_threshold_values() -> None:
    # chi2(1) 95 % quantile = 3.8415 (tables); F calibration with n = 5: F(1, 3) 95 % = 10.128
    # (tables), so 5 * ln(1 + 10.128 / 3) = 7.3800
    assert lr_threshold(0.95, 5, "chi2") == pytest.approx(3.8415, abs=1e-4)
    assert lr_threshold(0.95, 5, "f") == pytest.approx(5 * math.log(1 + 10.128 / 3), abs=1e-3)
    # large n: the F calibration approaches chi2
    assert lr_threshold(0.95, 10_000, "f") == pytest.approx(3.8415, abs=2e-3)


@pytest.mark.slow
def test_projection_interval_covers_near_nominal() -> None:
    r = vp.study(60, 7, "f")
    # nominal 95 %; with 60 replicates the binomial SE is ~2.8 points, so >= 85 % is a 3.5-SE
    # floor under the 5-point target of the issue (the 400-replicate result is in BENCHMARKS.md)
    assert r["used"] >= 50
    assert r["coverage"] >= 0.85
