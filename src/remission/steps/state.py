"""Pipeline step ``state``: the disease-state timeline and where the patient stands now
(after the MRD engines, the MRD course, CAR-T monitoring and risk; before options).

Parameters (``--param state.NAME=VALUE``): overrides of :data:`remission.state.STATE_RULES`.
"""

from __future__ import annotations

from remission.domain import CartResult, EngineSection
from remission.domain.state import ImmuneResult
from remission.steps._base import MRD, StepContext, step

TITLE = "Disease-state timeline"


@step("state", title=TITLE, needs=(MRD, "mrd_course", "cart", "immune"))
def run(ctx: StepContext) -> EngineSection:
    from remission.state import disease_state

    cart_sec = ctx.section("cart")
    cart = cart_sec.result if cart_sec is not None else None
    immune_sec = ctx.section("immune")
    immune = immune_sec.result if immune_sec is not None else None
    res = disease_state(ctx.case, ctx.mrd, cart=cart if isinstance(cart, CartResult) else None,
                        rules=ctx.params_for("state"),
                        immune=immune.points if isinstance(immune, ImmuneResult) else ())
    warnings = tuple(f"{a.label}: {a.message}" for a in res.alerts
                     if a.code in ("site_inconsistent",))
    return EngineSection(name="state", title=TITLE, result=res, warnings=warnings,
                         rests_on=tuple(res.rules))
