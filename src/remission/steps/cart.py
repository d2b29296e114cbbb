"""Pipeline step "cart": toxicity grading, cellular kinetics, B-cell aplasia and antigen course.

Reads the case's ``observations``, ``cart_kinetics`` and ``b_cells`` samples with
:mod:`remission.io.cart` and calls the :mod:`remission.cart` engines. Keys other engines may read
from ``ctx.sections["cart"].result``:

* ``persistence`` — ``{"last_detectable_day", "last_sample_day", "present"}`` (``present``: CAR-T
  detectable at the latest kinetics sample) or ``None``; ``persistence_day`` — the last detectable
  day alone (days since infusion);
* ``b_cell_aplasia`` — ``{"ongoing": bool | None, "recovery_date": ISO date | None, ...}``;
* ``cd19_negative`` — CD19-negative disease after the infusion (bool).

User overrides: ``parameters["cart"]`` maps rule names of ``TOXICITY_RULES``,
``KINETICS_RULES`` or ``BCELL_RULES`` to values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from remission.domain import CartResult, Case, EngineSection, Sample
from remission.domain.case import CarTInfusion
from remission.errors import ValidationError
from remission.steps._base import StepContext, step

_ASSAYS = ("observations", "cart_kinetics", "b_cells")


def _applies(case: Case) -> bool:
    return bool(case.cart_infusions) or any(case.samples_of(a) for a in _ASSAYS)  # type: ignore[arg-type]


def _infusion_for(case: Case, when: dt.date | None) -> CarTInfusion | None:
    infs = sorted(case.cart_infusions, key=lambda c: c.date)
    if not infs:
        return None
    if when is None:
        return infs[-1]
    before = [c for c in infs if c.date <= when]
    return before[-1] if before else infs[0]


def _split_overrides(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    from remission.cart.bcells import BCELL_RULES
    from remission.cart.kinetics import KINETICS_RULES
    from remission.cart.toxicity import TOXICITY_RULES

    tox, kin, bc = {}, {}, {}
    for k, v in params.items():
        if k in TOXICITY_RULES:
            tox[k] = v
        elif k in KINETICS_RULES:
            kin[k] = v
        elif k in BCELL_RULES:
            bc[k] = v
        else:
            known = ", ".join(sorted([*TOXICITY_RULES, *KINETICS_RULES, *BCELL_RULES]))
            raise ValidationError(f"unknown parameter cart.{k}; known parameters: {known}")
    return tox, kin, bc


def _latest(case: Case, assay: str, warnings: list[str]) -> Sample | None:
    samples = sorted(case.samples_of(assay), key=lambda s: s.date)  # type: ignore[arg-type]
    if len(samples) > 1:
        warnings.append(f"{len(samples)} {assay} samples: the latest ({samples[-1].id}) is analysed")
    return samples[-1] if samples else None


def _band_days(last_day: float) -> list[float]:
    import numpy as np

    end = max(28.0, float(last_day))
    return sorted({*np.linspace(0.0, 28.0, 57).tolist(), *np.geomspace(28.0, end, 40).tolist()}) \
        if end > 28.0 else np.linspace(0.0, 28.0, 57).tolist()


@step("cart", title="CAR-T monitoring", applies=_applies)
def run(ctx: StepContext) -> EngineSection:
    from remission.cart.bcells import antigen_course, b_cell_aplasia
    from remission.cart.kinetics import analyze_kinetics, population_band
    from remission.cart.toxicity import TOXICITY_RULES, grade_course
    from remission.io.cart import read_b_cells, read_kinetics, read_observations

    case = ctx.case
    tox_o, kin_o, bc_o = _split_overrides(ctx.params_for("cart"))
    warnings: list[str] = []
    rules: dict[str, dict[str, Any]] = {}
    result: dict[str, Any] = {"infusion": None, "toxicity": None, "kinetics": None, "b_cells": None,
                              "antigen": None, "persistence": None, "persistence_day": None,
                              "b_cell_aplasia": {"ongoing": None, "recovery_date": None},
                              "cd19_negative": False, "signals": []}
    first_inf = _infusion_for(case, None)
    if first_inf is not None:
        result["infusion"] = {"product": first_inf.product, "date": first_inf.date.isoformat(),
                              "target": first_inf.target}

    obs = _latest(case, "observations", warnings)
    if obs is not None:
        inf = _infusion_for(case, obs.date)
        age = case.age_at(inf.date if inf else obs.date)
        boundary = float({**{k: r.value for k, r in TOXICITY_RULES.items()}, **tox_o}["capd_age_below_years"])
        assessments = []
        for p in ctx.sample_paths(obs):
            assessments += read_observations(p, age_years=age, infusion_date=inf.date if inf else None,
                                             capd_age_below_years=boundary)
        course = grade_course(assessments, age_years=age, overrides=tox_o)
        result["toxicity"] = {"sample": obs.id, **course.as_dict()}
        rules.update({r["name"]: r for r in course.rests_on})

    kin_s = _latest(case, "cart_kinetics", warnings)
    if kin_s is not None:
        inf = _infusion_for(case, kin_s.date)
        series = read_kinetics(ctx.sample_paths(kin_s)[0], infusion_date=inf.date if inf else None)
        kres = analyze_kinetics(series, overrides=kin_o)
        kd = kres.as_dict()
        grid = _band_days(series.days[-1])
        kd["observed"] = {"days": list(series.days), "values": list(series.values),
                          "below_lod": list(series.below_lod)}
        if kres.fit is not None:
            kd["fit_curve"] = {"days": grid, "values": kres.fit.curve(grid).tolist()}
        if series.unit == "copies_per_ug":
            kd["population_band"] = population_band(grid)
        result["kinetics"] = {"sample": kin_s.id, **kd}
        last_q = kres.nca.last_detectable_day
        result["persistence"] = {
            "last_detectable_day": last_q,
            "last_sample_day": series.days[-1],
            # detectable at the latest sample = CAR-T persisting (as of that day)
            "present": last_q is not None and last_q == series.days[-1],
        }
        result["persistence_day"] = last_q
        if kres.fit is not None and not kres.fit.converged:
            warnings.append("Stein fit: the optimiser did not report convergence; read the fitted curve with care")
        if kres.fit_error:
            warnings.append(f"Stein fit not possible: {kres.fit_error}")
        rules.update({r["name"]: r for r in kres.rests_on})

    bc_s = _latest(case, "b_cells", warnings)
    bca_ongoing: bool | None = None
    if bc_s is not None:
        inf = _infusion_for(case, bc_s.date)
        bseries = read_b_cells(ctx.sample_paths(bc_s)[0], infusion_date=inf.date if inf else None)
        bres = b_cell_aplasia(bseries, infusion_date=inf.date if inf else None, overrides=bc_o)
        result["b_cells"] = {"sample": bc_s.id, **bres.as_dict()}
        bca_ongoing = bres.ongoing
        result["b_cell_aplasia"] = {"ongoing": bres.ongoing, "recovery_date":
                                    bres.recovery_date.isoformat() if bres.recovery_date else None,
                                    "recovery_day": bres.recovery_day, "early_loss": bres.early_loss,
                                    "aplasia_reached": bres.aplasia_reached, "status": bres.status}
        result["signals"] += list(bres.signals)
        rules.update({r["name"]: r for r in bres.rests_on})

    if case.antigen_expression:
        ac = antigen_course(case.antigen_expression, infusion_date=first_inf.date if first_inf else None,
                            bca_ongoing=bca_ongoing, overrides=bc_o)
        result["antigen"] = ac.as_dict()
        result["cd19_negative"] = ac.cd19_negative
        result["signals"] += list(ac.signals)
        rules.update({r["name"]: r for r in ac.rests_on})
    return EngineSection(name="cart", title="CAR-T monitoring", result=CartResult.model_validate(result), warnings=tuple(warnings),
                         rests_on=tuple(rules.values()))
