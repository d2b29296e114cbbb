"""Pipeline step ``options``: evidence-linked therapy options evaluated against the disease
state (order 90, after risk, CAR-T and state).

Parameters (``--param options.NAME=VALUE``): ``knowledge`` (a knowledge-base folder instead of
the bundled one), ``allow_unknown_lesions`` (ignore lesion names the vocabulary does not know,
listing them, instead of failing), and overrides of :data:`remission.clinic.options.OPTIONS_RULES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remission.domain import EngineSection
from remission.pipeline import StepContext, step

TITLE = "Therapy options"


def cart_facts(cart: Mapping[str, Any] | None) -> dict[str, bool | None]:
    """CAR-T persistence and B-cell aplasia from a ``cart`` section result (shape-tolerant).

    Persistence: CAR-T detectable at the last kinetics sample (not below the LoD). B-cell
    aplasia: ``b_cell_aplasia.ongoing``.
    """
    out: dict[str, bool | None] = {"persistence": None, "b_cell_aplasia": None}
    if not cart:
        return out
    bca = cart.get("b_cell_aplasia")
    if isinstance(bca, Mapping) and isinstance(bca.get("ongoing"), bool):
        out["b_cell_aplasia"] = bca["ongoing"]
    elif isinstance(bca, bool):
        out["b_cell_aplasia"] = bca
    kin = cart.get("kinetics")
    obs = kin.get("observed") if isinstance(kin, Mapping) else None
    if isinstance(obs, Mapping) and obs.get("below_lod"):
        out["persistence"] = not bool(obs["below_lod"][-1])
    elif isinstance(cart.get("persistence"), bool):
        out["persistence"] = cart["persistence"]
    return out


@step("options", title=TITLE, order=90, applies=lambda case: True)
def run(ctx: StepContext) -> EngineSection:
    from remission.clinic.options import OPTIONS_RULES, patient_profile, propose_options
    from remission.knowledge import load_knowledge_base

    params = ctx.params_for("options")
    kb_dir = params.pop("knowledge", None)
    allow_unknown = bool(params.pop("allow_unknown_lesions", False))
    kb = load_knowledge_base(kb_dir, rule_names=OPTIONS_RULES)
    risk = ctx.sections.get("risk")
    cart = ctx.sections.get("cart")
    state = ctx.sections.get("state")
    profile = patient_profile(
        ctx.case, vocabulary=kb.vocabulary, mrd=ctx.mrd,
        risk=risk.result if risk is not None and not risk.error else None,
        cart=cart_facts(cart.result if cart is not None and not cart.error else None),
        allow_unknown_lesions=allow_unknown, rules=params,
        state=state.result if state is not None and not state.error else None,
    )
    result = propose_options(profile, kb, rules=params)
    return EngineSection(name="options", title=TITLE, result=result,
                         warnings=tuple(result["notes"]), rests_on=tuple(result["rules"]))
