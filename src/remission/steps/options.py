"""Pipeline step ``options``: evidence-linked therapy options evaluated against the disease
state (after risk, CAR-T and state).

Parameters (``--param options.NAME=VALUE``): ``knowledge`` (a knowledge-base folder instead of
the bundled one), ``allow_unknown_lesions`` (ignore lesion names the vocabulary does not know,
listing them, instead of failing), and overrides of :data:`remission.clinic.options.OPTIONS_RULES`.
"""

from __future__ import annotations

from remission.domain import CartResult, EngineSection, OptionsResult, RiskResult
from remission.domain.state import DiseaseState
from remission.steps._base import MRD, StepContext, step

TITLE = "Therapy options"


@step("options", title=TITLE, needs=(MRD, "risk", "cart", "state"))
def run(ctx: StepContext) -> EngineSection:
    from remission.clinic.options import OPTIONS_RULES, patient_profile, propose_options
    from remission.knowledge import load_knowledge_base

    params = ctx.params_for("options")
    kb_dir = params.pop("knowledge", None)
    allow_unknown = bool(params.pop("allow_unknown_lesions", False))
    kb = load_knowledge_base(kb_dir, rule_names=OPTIONS_RULES)
    risk_sec, cart_sec, state_sec = ctx.section("risk"), ctx.section("cart"), ctx.section("state")
    risk = risk_sec.result if risk_sec is not None else None
    cart = cart_sec.result if cart_sec is not None else None
    state = state_sec.result if state_sec is not None else None
    profile = patient_profile(
        ctx.case, vocabulary=kb.vocabulary, mrd=ctx.mrd,
        risk=risk if isinstance(risk, RiskResult) else None,
        cart=cart if isinstance(cart, CartResult) else None,
        allow_unknown_lesions=allow_unknown, rules=params,
        state=state if isinstance(state, DiseaseState) else None,
    )
    result = propose_options(profile, kb, rules=params)
    return EngineSection(name="options", title=TITLE, result=OptionsResult.model_validate(result),
                         warnings=tuple(result["notes"]), rests_on=tuple(result["rules"]))
