"""Measurement model: MRD as an assay reports it (NGS, flow, RQ-PCR), with LoD, LoQ and noise.

An assay analyses about ``3 / LoD`` cells (three leukaemic events is the usual detection
requirement at the LoD), so the number of leukaemic events seen is Poisson(MRD × cells). No event
→ ``negative`` (below the LoD); events but an estimate below the LoQ (``loq_over_lod × LoD``) →
``positive_not_quantifiable``; otherwise ``positive`` with log-normal measurement error of SD
``mrd_noise_log10_sd``. The statuses and limits are those of :class:`remission.domain.MrdResult`,
so a simulated course is read by the same censored fits as a real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from remission.domain.parameters import Rule
from remission.errors import ValidationError
from remission.sim.parameters import resolve_sim, value

__all__ = ["MeasuredMrd", "Method", "assay_limits", "measure_mrd"]

Method = Literal["ngs", "flow", "pcr"]
STATUS_NEGATIVE, STATUS_PNQ, STATUS_POSITIVE = 0, 1, 2


@dataclass(frozen=True)
class MeasuredMrd:
    """Measured MRD for an array of true fractions: status codes 0/1/2, value (NaN if none)."""

    method: str
    lod: float
    loq: float
    status: np.ndarray  # 0 negative, 1 positive not quantifiable, 2 positive
    value: np.ndarray

    @property
    def negative(self) -> np.ndarray:
        return self.status == STATUS_NEGATIVE


def assay_limits(method: str, rules: Mapping[str, Rule] | None = None) -> tuple[float, float]:
    """(LoD, LoQ) of an MRD method from the rules."""
    r = resolve_sim() if rules is None else rules
    if method not in ("ngs", "flow", "pcr"):
        raise ValidationError(f"method must be one of ngs, flow, pcr, but was {method!r}")
    lod = value(r, f"lod_{method}")
    return lod, lod * value(r, "loq_over_lod")


def measure_mrd(true_fraction: np.ndarray, method: str, rng: np.random.Generator,
                rules: Mapping[str, Rule] | None = None) -> MeasuredMrd:
    """Sample what the assay reports for each true leukaemic fraction (any array shape)."""
    r = resolve_sim() if rules is None else rules
    lod, loq = assay_limits(method, r)
    f = np.clip(np.asarray(true_fraction, dtype=float), 0.0, 1.0)
    cells = 3.0 / lod
    events = rng.poisson(f * cells)
    est = events / cells
    noisy = est * 10.0 ** rng.normal(0.0, value(r, "mrd_noise_log10_sd"), f.shape)
    status = np.where(events == 0, STATUS_NEGATIVE, np.where(est < loq, STATUS_PNQ, STATUS_POSITIVE))
    val = np.where(status == STATUS_POSITIVE, np.minimum(noisy, 1.0), np.nan)
    return MeasuredMrd(method, lod, loq, status, val)
