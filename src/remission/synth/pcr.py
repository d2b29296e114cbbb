"""Seeded synthetic RQ-PCR plates and MRD courses (no real patient data).

- :func:`simulate_plate` writes the wells of an allele-specific Ig/TR RQ-PCR plate: a
  10⁻¹…10⁻⁵ standard dilution series per marker, background (polyclonal DNA), no-template
  controls, a control gene (albumin) and follow-up samples with known MRD. Low-level targets
  are sampled as Poisson copy numbers (500 ng DNA ≈ 75 000 cells, EuroMRD practice after van
  der Velden VHJ et al., *Leukemia* 2007;21:604 [R]), so the deepest dilutions amplify in some
  replicates only, as on real plates.
- :func:`simulate_course` draws an MRD course with exponential regrowth
  (``log10 MRD(t) = log10 MRD0 + t/Td · log10 2``), log-normal measurement noise and LoD/LoQ
  censoring: the truth (doubling time) is returned beside the results.
- :func:`add_to_examples` gives the T-ALL example case PCR plates (TRG/TRD markers) and the
  Ph-like case a reported MRD course, so every example case has an MRD course.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from remission.domain.mrd import MrdResult
from remission.io.qpcr import QpcrWell, write_plate

if TYPE_CHECKING:
    from remission.synth.examples import ExampleCase

__all__ = ["CourseTruth", "add_to_examples", "simulate_course", "simulate_plate"]

LEVELS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
CELLS_PER_REACTION = 75_000  # 500 ng DNA at 6.6 pg/cell (van der Velden, Leukemia 2007, [R])
_ROWS = "ABCDEFGHIJKLMNOP"


def _ct(rng: np.random.Generator, level: float, slope: float, intercept: float, noise: float,
        cells: float = CELLS_PER_REACTION) -> float | None:
    """Ct of one replicate with leukaemic fraction ``level`` among ``cells`` cells.

    Copies are Poisson; ``None`` = no amplification. The Ct depends on the absolute copy number
    (the curve is calibrated on a full 500 ng input).
    """
    lam = level * cells
    k = rng.poisson(lam) if lam < 1e6 else lam
    if k < 1:
        return None
    return round(float(slope * math.log10(k / CELLS_PER_REACTION) + intercept
                       + rng.normal(0, noise)), 2)


def simulate_plate(
    rng: np.random.Generator,
    *,
    markers: Mapping[str, tuple[float, float]],
    follow_ups: Mapping[str, Mapping[str, float]],
    reference: str = "DX",
    control_gene: str | None = "ALB",
    control_ct: float = 24.0,
    control_delta: Mapping[str, float] | None = None,
    background_ct: float | None = 40.5,
    ntc_ct: float | None = None,
    replicates: int = 3,
    noise: float = 0.2,
    levels: Sequence[float] = LEVELS,
) -> list[QpcrWell]:
    """Wells of one plate.

    ``markers``: target -> (slope, intercept) of the true standard curve; ``follow_ups``:
    sample -> target -> true MRD (fraction); ``control_delta``: sample -> control-gene ΔCt
    (positive: less DNA). ``background_ct``: Ct of non-specific amplification in one background
    replicate (None: background silent); ``ntc_ct``: Ct of an amplifying NTC (contamination).
    """
    wells: list[QpcrWell] = []
    pos = 0

    def add(sample: str, target: str, kind: str, level: float | None, ct: float | None,
            rep: int) -> None:
        nonlocal pos
        name = f"{_ROWS[(pos // 24) % 16]}{pos % 24 + 1}"
        pos += 1
        wells.append(QpcrWell(well=name, sample=sample, target=target, kind=kind,  # type: ignore[arg-type]
                              level=level, ct=ct, replicate=rep))

    deltas = dict(control_delta or {})
    for target, (slope, intercept) in markers.items():
        for level in levels:
            for rep in range(1, replicates + 1):
                add(reference, target, "standard", level, _ct(rng, level, slope, intercept, noise), rep)
        for rep in range(1, replicates + 1):
            bg = round(background_ct + rng.normal(0, 0.3), 2) if (background_ct and rep == 1) else None
            add("BUFFY", target, "background", None, bg, rep)
        for rep in range(1, 3):
            add("WATER", target, "ntc", None, ntc_ct if rep == 1 else None, rep)
        for sample, truth in follow_ups.items():
            mrd = truth.get(target, 0.0)
            # less DNA (control-gene ΔCt > 0) means fewer cells in the reaction
            cells = CELLS_PER_REACTION * 2.0 ** (-deltas.get(sample, 0.0))
            for rep in range(1, replicates + 1):
                ct = _ct(rng, mrd, slope, intercept, noise, cells=cells) if mrd > 0 else None
                add(sample, target, "follow_up", None, ct, rep)
    if control_gene:
        for sample in [reference, *follow_ups]:
            for rep in range(1, replicates + 1):
                add(sample, control_gene, "control_gene", None,
                    round(control_ct + deltas.get(sample, 0.0) + rng.normal(0, 0.1), 2), rep)
    return wells


@dataclass(frozen=True)
class CourseTruth:
    """What :func:`simulate_course` drew from."""

    doubling_time_days: float
    mrd0: float
    start: dt.date
    sigma_log10: float

    def log10_mrd(self, day: float) -> float:
        return math.log10(self.mrd0) + day / self.doubling_time_days * math.log10(2)

    def date_reaching(self, fraction: float) -> dt.date:
        days = (math.log10(fraction) - math.log10(self.mrd0)) / math.log10(2) * self.doubling_time_days
        return self.start + dt.timedelta(days=days)


def simulate_course(
    rng: np.random.Generator,
    *,
    doubling_time_days: float,
    mrd0: float,
    days: Sequence[float],
    start: dt.date = dt.date(2022, 1, 1),
    lod: float = 1e-5,
    loq: float = 1e-4,
    sigma_log10: float = 0.15,
    method: str = "pcr",
) -> tuple[list[MrdResult], CourseTruth]:
    """An MRD course with exponential regrowth, noise and LoD/LoQ censoring.

    Observed ``log10 y = log10 MRD(t) + N(0, sigma_log10²)``; ``y < lod`` is reported negative,
    ``lod <= y < loq`` positive not quantifiable (with its point estimate), else positive.
    """
    truth = CourseTruth(doubling_time_days, mrd0, start, sigma_log10)
    out = []
    for d in days:
        y = 10.0 ** (truth.log10_mrd(d) + rng.normal(0, sigma_log10))
        y = min(y, 1.0)
        status = "negative" if y < lod else "positive_not_quantifiable" if y < loq else "positive"
        out.append(MrdResult(method=method, status=status,
                             value=None if status == "negative" else y, lod=lod, loq=loq,
                             date=start + dt.timedelta(days=float(d)), source="computed",
                             sample_id=f"S{int(d)}"))
    return out, truth


# -- example cases -------------------------------------------------------------------------------

_TALL_MARKERS = {"TRG_Vg9-Jg1.3": (-3.38, 19.6), "TRD_Vd2-Dd3": (-3.45, 20.4)}


def _tall_plates(ex: ExampleCase) -> None:
    rng = ex.rng("pcr_plates")
    # truth: end-of-induction residue, negative around HSCT, then post-HSCT regrowth with a
    # 12-day doubling time from 1e-6 on 2021-06-01 (log-linear)
    regrow0, td = dt.date(2021, 6, 1), 12.0
    plan: list[tuple[str, dt.date, float | None]] = [
        ("PCR-EOI", dt.date(2021, 1, 4), 2.4e-3),
        ("PCR-PRE-HSCT", dt.date(2021, 3, 1), 0.0),
        ("PCR-D56", dt.date(2021, 6, 7), None),
        ("PCR-D112", dt.date(2021, 8, 2), None),
        ("PCR-D147", dt.date(2021, 9, 6), None),
        ("PCR-D175", dt.date(2021, 10, 4), None),
    ]
    for sid, date, fixed in plan:
        mrd = fixed if fixed is not None else 1e-6 * 2 ** ((date - regrow0).days / td)
        truth = {"TRG_Vg9-Jg1.3": mrd, "TRD_Vd2-Dd3": mrd * 0.8}
        wells = simulate_plate(rng, markers=_TALL_MARKERS, follow_ups={sid: truth},
                               control_delta={sid: round(float(rng.normal(0.3, 0.2)), 2)})
        rel = f"pcr/{sid.lower()}.csv"
        def writer(path: Path, w: list[QpcrWell] = wells) -> None:
            write_plate(path, w)

        ex.write_file(rel, writer)
        ex.add_sample({"id": sid, "date": date.isoformat(), "material": "bone_marrow",
                       "assay": "pcr_mrd", "role": "follow_up", "files": [rel]})


def _phlike_course(ex: ExampleCase) -> None:
    """Reported NGS-MRD (fractions) around blinatumomab and tisagenlecleucel.

    The story matches the other example data of this case: NGS-MRD 2e-3 at the end of
    induction (NGS sample) and a CD19-negative population at 1e-3 by flow on CAR-T day 28
    (flow sample), i.e. antigen escape. Truth after blinatumomab: a clone regrowing with a
    12-day doubling time through 1e-3 on 2022-08-02; reported values carry 0.1 log10 noise.
    """
    rng = ex.rng("mrd_course")
    ex.add("mrd_reports", {"date": "2022-05-18", "method": "ngs", "value": 2.1e-4, "lod": 1e-6,
                           "loq": 5e-6, "timepoint": "end_of_blinatumomab", "marker": "IGH"})
    anchor, td = dt.date(2022, 8, 2), 12.0
    for date, tp in ((dt.date(2022, 6, 20), "pre_cart"), (dt.date(2022, 8, 16), "cart_day_42"),
                     (dt.date(2022, 8, 30), "cart_day_56"), (dt.date(2022, 9, 13), "cart_day_70")):
        v = 1e-3 * 2 ** ((date - anchor).days / td) * 10 ** float(rng.normal(0, 0.1))
        ex.add("mrd_reports", {"date": date.isoformat(), "method": "ngs",
                               "value": float(f"{v:.3g}"), "lod": 1e-6, "loq": 5e-6,
                               "timepoint": tp, "marker": "IGH"})


def add_to_examples(cases: dict[str, ExampleCase]) -> None:
    """T-ALL case: RQ-PCR plates (TRG/TRD); Ph-like case: a reported MRD course."""
    if "t-all-early-combined" in cases:
        _tall_plates(cases["t-all-early-combined"])
    if "ph-like-very-early" in cases:
        _phlike_course(cases["ph-like-very-early"])
