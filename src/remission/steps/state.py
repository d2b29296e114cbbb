"""Pipeline step ``state``: the disease-state timeline and where the patient stands now
(after the MRD engines, the MRD course, CAR-T monitoring and risk; before options).

Parameters (``--param state.NAME=VALUE``): overrides of :data:`remission.state.STATE_RULES`.
"""

from __future__ import annotations

from remission.domain import EngineSection
from remission.pipeline import StepContext, step

TITLE = "Where the patient stands"


@step("state", title=TITLE, order=70, applies=lambda case: True)
def run(ctx: StepContext) -> EngineSection:
    from remission.state import disease_state

    cart = ctx.sections.get("cart")
    res = disease_state(ctx.case, ctx.mrd,
                        cart=cart.result if cart is not None and not cart.error else None,
                        rules=ctx.params_for("state"))
    warnings = tuple(f"{a.label}: {a.message}" for a in res.alerts
                     if a.code in ("site_inconsistent",))
    return EngineSection(name="state", title=TITLE, result=res.to_json(), warnings=warnings,
                         rests_on=tuple(res.rules))
