"""Pipeline step ``mrd_course``: every MRD result of a case (any method) as one course."""

from __future__ import annotations

import datetime as dt

from remission.domain import Case, CourseResult, EngineSection
from remission.mrd.course import Baseline, CourseEvent
from remission.steps._base import MRD, StepContext, step

TITLE = "MRD course"


def _has_mrd(case: Case) -> bool:
    return bool(case.mrd_reports) or any(
        s.assay in ("ngs_mrd", "flow_mrd", "pcr_mrd") for s in case.samples)


def course_inputs(case: Case, first_mrd_date: dt.date | None = None
                  ) -> tuple[Baseline | None, list[CourseEvent]]:
    """(baseline, events) of a case: relapse blasts as baseline; therapies, HSCT, CAR-T."""
    events = [CourseEvent(kind="diagnosis", date=case.diagnosis.date, label="Diagnosis")]
    for r in case.relapses:
        events.append(CourseEvent(kind="relapse", date=r.date, label=f"Relapse {r.number}"))
    for t in case.therapies:
        events.append(CourseEvent(kind="cart" if t.kind == "cart" else "therapy", date=t.start,
                                  end=t.end, label=t.name))
    for h in case.transplants:
        events.append(CourseEvent(kind="hsct", date=h.date, label="HSCT"))
    for c in case.cart_infusions:
        events.append(CourseEvent(kind="cart", date=c.date, label=f"CAR-T ({c.product})"))
    baseline = None
    candidates = [r for r in case.relapses if r.marrow_blasts_percent is not None
                  and (first_mrd_date is None or r.date <= first_mrd_date)]
    if candidates:
        r = candidates[-1]
        assert r.marrow_blasts_percent is not None
        baseline = Baseline(date=r.date, fraction=r.marrow_blasts_percent / 100.0,
                            source=f"relapse {r.number} marrow blasts {r.marrow_blasts_percent:g} %")
    return baseline, events


@step("mrd_course", title=TITLE, needs=(MRD,), applies=_has_mrd)
def run(ctx: StepContext) -> EngineSection:
    from remission.domain.parameters import resolve, rests_on
    from remission.mrd.course import COURSE_RULES, analyze_course

    params = ctx.params_for("mrd_course")
    dated = [m.date for m in ctx.mrd if m.date is not None]
    baseline, events = course_inputs(ctx.case, min(dated) if dated else None)
    result = analyze_course(ctx.mrd, baseline=baseline, events=events, parameters=params)
    warnings = list(result.get("warnings", []))
    if not ctx.mrd:
        warnings.append("no MRD result was available (the MRD engines produced none)")
    mr = result["molecular_relapse"]
    if mr.get("detected"):
        warnings.append(f"molecular relapse ({mr.get('method')}, {mr.get('date')}; rule: >= "
                        f"{mr['threshold']:g}, confirmation {'required' if mr['require_confirmation'] else 'not required'})")
    rules = resolve(COURSE_RULES, params)
    return EngineSection(name="mrd_course", title=TITLE, result=CourseResult.model_validate(result), warnings=tuple(warnings),
                         rests_on=tuple(rests_on(rules.values())))
