"""Pipeline step ``sim_timeline``: the strategy timeline of virtual patients calibrated to the
case's bone-marrow MRD course (after the MRD engines and CAR-T monitoring). A model projection:
it shows assumptions beside each other and never recommends.

Parameters (``--param sim_timeline.NAME=VALUE``): the budget :data:`DEFAULTS` (``draws``
posterior draws kept and projected, ``proposals`` importance-sampling proposals, ``seed``,
``horizon_days``), and overrides of the simulator's rules (:mod:`remission.sim.parameters`).
A case without a dated bone-marrow MRD result gets no section (there is nothing to calibrate to).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from remission.domain import EngineSection
from remission.domain.results import SimTimelineResult
from remission.steps._base import MRD, StepContext, step

TITLE = "Strategy timeline (model projection)"

#: the budget of the fit and projection; the same draws as ``remission sim timeline`` and under
#: 0.35 s per example case on the shared VM (benchmarks/bench_sim_timeline.py, BENCHMARKS.md)
DEFAULTS: dict[str, int] = {"draws": 1000, "proposals": 2000, "seed": 20260101, "horizon_days": 365}


@step("sim_timeline", title=TITLE, needs=(MRD, "cart"))
def run(ctx: StepContext) -> EngineSection | None:
    import numpy as np

    from remission.domain.parameters import rests_on
    from remission.sim.case import case_inputs, patient_state
    from remission.sim.fit import fit_patient
    from remission.sim.parameters import resolve_sim
    from remission.sim.timeline import strategy_timeline

    params = ctx.params_for("sim_timeline")
    budget = {k: int(params.pop(k, v)) for k, v in DEFAULTS.items()}
    rules = resolve_sim(params)
    if not any(m.date is not None and m.material != "peripheral_blood" for m in ctx.mrd):
        return None
    cart_sec = ctx.section("cart")
    cart: dict[str, Any] | None = cart_sec.data() if cart_sec is not None and cart_sec.result is not None else None
    inputs = case_inputs(ctx.case, ctx.mrd, cart)
    fit = fit_patient(inputs.observations, seed=budget["seed"], history=inputs.history, stein=inputs.stein,
                      bca=inputs.bca, n_proposals=budget["proposals"], n_draws=budget["draws"], rules=rules)
    state = patient_state(ctx.case, float(np.median(fit.patients_now.burden0)))
    res = strategy_timeline(fit.patients_now, seed=budget["seed"], state=state,
                            horizon_days=budget["horizon_days"], rules=rules, now_offset_days=fit.now_day)
    rest = rests_on(rules.values())
    result = SimTimelineResult.model_validate({
        **res, "proposals": budget["proposals"], "effective_sample_size": fit.ess,
        "projection_start_date": inputs.t_ref + dt.timedelta(days=fit.now_day),
        "notes": [*fit.warnings, *inputs.notes], "rests_on": rest,
    })
    return EngineSection(name="sim_timeline", title=TITLE, result=result,
                         warnings=tuple(f"model projection: {w}" for w in fit.warnings), rests_on=tuple(result.rests_on))
