"""Pipeline step ``immune``: T-cell context from flow T-cell panels (assay ``tcell_panel``).

Each sample names its Gating-ML strategy and which gate is which population::

    - id: TCELL-D28
      assay: tcell_panel
      files: [flow/tcell_d28.fcs]
      parameters: {gates: flow/tcell_gates.xml,
                   populations: {cd3: CD3, cd4: CD4, cd8: CD8, treg: Treg,
                                 cd8_exhausted: CD8_PD1_TIM3}}
"""

from __future__ import annotations

from remission.domain import EngineSection
from remission.errors import InputError
from remission.steps._base import StepContext, step

TITLE = "T-cell context"


@step("immune", title=TITLE, applies=lambda case: bool(case.samples_of("tcell_panel")))
def run(ctx: StepContext) -> EngineSection:
    from remission.io.fcs import read_fcs
    from remission.io.gatingml import parse_gatingml
    from remission.mrd.gating import gate_counts
    from remission.state.immune import ROLES, immune_context, immune_point

    points = []
    for sample in ctx.case.samples_of("tcell_panel"):
        pops = sample.parameters.get("populations")
        gates = sample.parameters.get("gates")
        if not isinstance(pops, dict) or not gates:
            raise InputError(f"sample {sample.id!r}, field parameters: a tcell_panel needs 'gates' "
                             f"(a Gating-ML file) and 'populations' (role -> gate id; roles "
                             f"{', '.join(ROLES)})")
        unknown = sorted(set(pops) - set(ROLES))
        if unknown:
            raise InputError(f"sample {sample.id!r}, field parameters.populations: unknown role(s) "
                             f"{', '.join(unknown)}; expected {', '.join(ROLES)}")
        fcs = read_fcs(ctx.path(sample.files[0]))
        by_gate = gate_counts(parse_gatingml(ctx.path(str(gates))), fcs, gate_ids=list(pops.values()))
        counts = {role: int(by_gate[gid]) for role, gid in pops.items()}
        points.append(immune_point(sample.date, sample.id, sample.material, counts))
    return EngineSection(name="immune", title=TITLE, result=immune_context(points))
