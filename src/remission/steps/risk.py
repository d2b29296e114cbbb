"""Pipeline step ``risk``: relapse risk groups and the transplant MRD rule (order 60)."""

from __future__ import annotations

from remission.domain import EngineSection, RiskResult
from remission.steps._base import MRD, StepContext, step

TITLE = "Relapse risk stratification"


@step("risk", title=TITLE, needs=(MRD,), applies=lambda case: bool(case.relapses))
def run(ctx: StepContext) -> EngineSection:
    from remission.clinic.risk import stratify

    res = stratify(ctx.case, ctx.mrd, rules=ctx.params_for("risk"))
    warnings = list(res.warnings)
    warnings += [f.message for f in res.flags]
    return EngineSection(name="risk", title=TITLE, result=RiskResult.model_validate(res.to_json()), warnings=tuple(warnings),
                         rests_on=tuple(res.rules))
