"""Seeded synthetic CAR-T monitoring data: kinetics, a toxicity course, B-cell counts.

* Kinetics: the Stein 2019 closed form (``remission.cart.kinetics.stein_log_curve``) with
  log-normal measurement noise and values below the limit of detection marked (censored).
* Toxicity: a typical tisagenlecleucel course — fever from day 1, grade 3 CRS on day 3
  (one vasopressor and low-flow oxygen) treated with tocilizumab, ICANS grade 1 on day 5-6.
* B cells: CD19+ B cells (% of lymphocytes) falling into aplasia after infusion, optionally
  recovering on a given day.

``add_to_examples`` adds ``observations``, ``cart_kinetics`` and ``b_cells`` samples to the
CAR-T example case ("ph-like-very-early", tisagenlecleucel infused 2022-07-05; the patient is
12.8 years old at infusion, so neurotoxicity is scored with the ICE score).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from remission.domain.cart import Assessment, BCellSeries, KineticsSeries

__all__ = ["add_to_examples", "simulate_b_cells", "simulate_kinetics", "simulate_observations"]

#: default sampling schedule (days after infusion) of a CAR-T kinetics profile
KINETICS_DAYS = (0, 1, 4, 7, 10, 14, 21, 28, 42, 56, 90, 120, 180, 270, 365)


def simulate_kinetics(params: Mapping[str, float], days: Sequence[float], rng: np.random.Generator, *,
                      sigma_log: float = 0.3, lod: float = 5.0,
                      unit: str = "copies_per_ug") -> KineticsSeries:
    """A Stein 2019 profile at ``days`` with log-normal noise; values < ``lod`` are censored."""
    from remission.cart.kinetics import stein_log_curve

    d = np.asarray(days, dtype=float)
    lc = stein_log_curve(d, **{k: float(params[k]) for k in ("cmax", "tmax", "foldx", "alpha", "fb", "beta")})
    y = np.exp(lc + rng.normal(0.0, sigma_log, len(d)))
    blq = y < lod
    y = np.where(blq, lod, y)
    return KineticsSeries(days=tuple(float(x) for x in d), values=tuple(float(f"{v:.4g}") for v in y),
                          below_lod=tuple(bool(b) for b in blq), unit=unit)  # type: ignore[arg-type]


def simulate_observations(rng: np.random.Generator) -> list[Assessment]:
    """Daily assessments, day 0-14: CRS max grade 3 (day 3), ICANS max grade 1 (ICE 8)."""

    def temp(base: float) -> float:
        return round(base + float(rng.normal(0.0, 0.1)), 1)

    rows: list[dict[str, Any]] = [
        {"day": 0, "temperature_c": temp(36.9)},
        {"day": 1, "temperature_c": temp(38.6), "antipyretic": True},
        {"day": 2, "temperature_c": temp(39.3), "antipyretic": True, "hypotension": True},
        {"day": 3, "temperature_c": temp(39.8), "antipyretic": True, "anti_cytokine": True, "hypotension": True,
         "vasopressors": 1, "oxygen": "low_flow", "oxygen_l_min": 2.0},
        {"day": 4, "temperature_c": temp(37.6), "anti_cytokine": True, "hypotension": True,
         "oxygen": "low_flow", "oxygen_l_min": 1.0},
        {"day": 5, "temperature_c": temp(37.2), "antipyretic": True, "oxygen": "low_flow", "oxygen_l_min": 0.5,
         "ice_score": 8},
        {"day": 6, "temperature_c": temp(37.0), "ice_score": 9},
        {"day": 7, "temperature_c": temp(36.9), "ice_score": 10},
    ]
    for d in range(8, 15):
        rows.append({"day": d, "temperature_c": temp(36.8), "ice_score": 10})
    out = []
    for r in rows:
        r.setdefault("ice_score", 10)
        r.setdefault("consciousness", "awake")
        r.setdefault("seizure", "none")
        r.setdefault("motor", "none")
        r.setdefault("cerebral_edema", "none")
        out.append(Assessment(**r))
    return out


def simulate_b_cells(rng: np.random.Generator, days: Sequence[float], *, baseline_percent: float = 6.0,
                     recovery_day: float | None = None) -> BCellSeries:
    """CD19+ B cells (% of lymphocytes): depleted within ~1 week, recovering at ``recovery_day``."""
    vals = []
    for d in days:
        if d < 0:
            v = baseline_percent * math.exp(float(rng.normal(0, 0.2)))
        elif recovery_day is not None and d >= recovery_day:
            v = 2.0 + 4.0 * (1 - math.exp(-(d - recovery_day) / 60.0)) + float(rng.normal(0, 0.2))
        else:
            v = max(0.0, baseline_percent * math.exp(-d / 2.0) + abs(float(rng.normal(0, 0.03))))
        vals.append(round(max(v, 0.0), 2))
    return BCellSeries(days=tuple(float(d) for d in days), dates=tuple(None for _ in days),
                       values=tuple(vals), unit="percent_lymphocytes")


def add_to_examples(cases: dict[str, Any]) -> None:
    """Add CAR-T observation, kinetics and B-cell files to the CAR-T example case."""
    from remission.io.cart import write_b_cells, write_kinetics, write_observations

    ex = cases.get("ph-like-very-early")
    if ex is None:
        return
    infusion = dt.date(2022, 7, 5)
    obs = simulate_observations(ex.rng("cart/observations"))
    kin = simulate_kinetics({"cmax": 31000.0, "tmax": 10.0, "foldx": 2600.0, "alpha": 0.14, "fb": 0.012,
                             "beta": 0.004}, KINETICS_DAYS, ex.rng("cart/kinetics"))
    bc = simulate_b_cells(ex.rng("cart/b_cells"), (-6, 7, 14, 28, 56, 90, 120, 180, 270, 365))
    f_obs = ex.write_file("cart/observations.csv", lambda p: write_observations(p, obs))
    f_kin = ex.write_file("cart/kinetics.csv", lambda p: write_kinetics(p, kin))
    f_bc = ex.write_file("cart/b_cells.csv", lambda p: write_b_cells(p, bc))
    ex.add_sample({"id": "cart-observations", "date": infusion.isoformat(), "material": "peripheral_blood",
                   "assay": "observations", "files": [f_obs]})
    ex.add_sample({"id": "cart-kinetics", "date": infusion.isoformat(), "material": "peripheral_blood",
                   "assay": "cart_kinetics", "files": [f_kin], "parameters": {"method": "qPCR transgene"}})
    ex.add_sample({"id": "cart-b-cells", "date": infusion.isoformat(), "material": "peripheral_blood",
                   "assay": "b_cells", "files": [f_bc]})
