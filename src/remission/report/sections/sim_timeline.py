"""Report section "sim_timeline": the strategy timeline of the ``sim_timeline`` step, drawn by
the same renderer as ``remission sim timeline`` (:func:`remission.report.sections.sim.render_result`)."""

from __future__ import annotations

from remission.domain import CaseAnalysis, EngineSection
from remission.report.sections.sim import render_result

__all__ = ["render"]


def render(section: EngineSection, analysis: CaseAnalysis) -> str:
    return render_result(section.data())
