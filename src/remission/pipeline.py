"""Orchestration: the one place that wires readers to engines for a case.

``analyze(path)`` reads the case, builds the timeline, then runs every step whose
``applies(case)`` is true, in the order their declared inputs need (:func:`run_order`). A step is
a small adapter in ``remission/steps/`` (listed in :data:`remission.steps.MODULES`) that reads the
assay files through ``remission.io`` and calls a pure engine::

    # remission/steps/course.py
    from remission.steps._base import MRD, StepContext, step

    @step("mrd_course", title="MRD course", needs=(MRD,), applies=_has_mrd)
    def run(ctx: StepContext) -> EngineSection: ...

Later steps see earlier results: ``ctx.mrd`` (every MRD value so far, computed and reported)
and ``ctx.section(name)`` (an earlier engine's typed section).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from remission import __version__
from remission.domain import (
    Case,
    CaseAnalysis,
    EngineSection,
    InputFile,
    Provenance,
    TimelineEvent,
)
from remission.errors import RemissionError, ValidationError
from remission.io.casefile import case_inputs, load_case
from remission.io.checksums import sha256_file
from remission.steps import Step, StepContext, all_steps

__all__ = [
    "Step",
    "StepContext",
    "analyze",
    "analyze_case",
    "build_timeline",
    "registered_steps",
    "run_order",
    "upstream_of",
]


def run_order(steps: Iterable[Step], targets: Iterable[str] | None = None) -> list[Step]:
    """The steps in an order that satisfies every ``needs`` (stable: ties keep module order).

    ``targets``: run only these steps and what they need (transitively). A need that no step
    provides is an error in the step declarations, not in the data.
    """
    steps = list(steps)
    by_name = {st.name: st for st in steps}
    providers: dict[str, list[str]] = {}
    for st in steps:
        for fact in st.provides:
            providers.setdefault(fact, []).append(st.name)
    for st in steps:
        missing = [n for n in st.needs if n not in providers]
        if missing:
            raise ValidationError(f"step {st.name!r} needs {missing}, which no step provides")
    wanted: set[str] = set(by_name)
    if targets is not None:
        wanted = set()
        todo = list(targets)
        while todo:
            name = todo.pop()
            if name not in by_name:
                raise ValidationError(f"unknown step {name!r}; steps: {', '.join(by_name)}")
            if name in wanted:
                continue
            wanted.add(name)
            todo.extend(p for need in by_name[name].needs for p in providers[need])
    done: set[str] = set()
    order: list[Step] = []
    pending = [st for st in steps if st.name in wanted]
    while pending:
        ready = next((st for st in pending
                      if all(p in done or p not in wanted
                             for need in st.needs for p in providers[need] if p != st.name)), None)
        if ready is None:
            raise ValidationError("steps need each other in a circle: "
                                  + ", ".join(st.name for st in pending))
        order.append(ready)
        done.add(ready.name)
        pending.remove(ready)
    return order


def registered_steps(targets: Iterable[str] | None = None) -> list[Step]:
    """Every step (or ``targets`` and what they need), in run order."""
    return run_order(all_steps(), targets)


def upstream_of(*names: str) -> list[str]:
    """The steps that ``names`` need (transitively), without ``names`` themselves."""
    return [st.name for st in registered_steps(names) if st.name not in names]


def build_timeline(case: Case) -> list[TimelineEvent]:
    """The patient's course as dated events (diagnosis, relapses, therapies, HSCT, CAR-T)."""
    ev: list[TimelineEvent] = [
        TimelineEvent(
            kind="diagnosis",
            start=case.diagnosis.date,
            label=f"Diagnosis ({case.diagnosis.lineage}-ALL)",
            detail=", ".join(lesion.name for lesion in case.diagnosis.lesions) or None,
        )
    ]
    if case.frontline.end_date is not None:
        ev.append(
            TimelineEvent(
                kind="frontline",
                start=case.diagnosis.date,
                end=case.frontline.end_date,
                label=case.frontline.protocol or "Frontline therapy",
            )
        )
    for r in case.relapses:
        blasts = f", {r.marrow_blasts_percent:g} % marrow blasts" if r.marrow_blasts_percent is not None else ""
        ev.append(TimelineEvent(kind="relapse", start=r.date, label=f"Relapse {r.number}",
                                detail=f"{r.site}{blasts}"))
    for t in case.therapies:
        ev.append(TimelineEvent(kind="therapy", start=t.start, end=t.end, label=t.name,
                                detail=t.best_response))
    for h in case.transplants:
        ev.append(TimelineEvent(kind="hsct", start=h.date, label="Allogeneic HSCT", detail=h.donor))
    for c in case.cart_infusions:
        ev.append(TimelineEvent(kind="cart", start=c.date, label=f"CAR-T: {c.product}", detail=c.target))
    for s in case.samples:
        ev.append(TimelineEvent(kind="sample", start=s.date, label=s.id, detail=f"{s.assay} ({s.material})"))
    return sorted(ev, key=lambda e: (e.start, e.kind))


def analyze_case(
    case: Case,
    case_dir: Path,
    *,
    inputs: list[InputFile] | None = None,
    parameters: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    strict: bool = False,
    targets: Iterable[str] | None = None,
) -> CaseAnalysis:
    """Run every applicable step on an already loaded case.

    A step that fails on bad data is recorded as a section with ``error`` set (the rest of the
    analysis still runs) unless ``strict``, in which case the error propagates.
    ``targets`` runs only those steps and the steps they need (e.g. ``upstream_of("risk")`` for
    a command that computes risk itself), so commands never compute what they discard.
    """
    from remission.knowledge.version import knowledge_base_version

    params = dict(parameters or {})
    ctx = StepContext(case=case, case_dir=case_dir, parameters=params,
                      mrd=[rep.to_result() for rep in case.mrd_reports])
    warnings: list[str] = []
    failed_steps: list[str] = []  # steps whose section or samples failed (names, run order)
    for st in registered_steps(targets):
        if not st.applies(case):
            continue
        if progress:
            progress(st.title)
        n_failures = len(ctx.failures)
        try:
            section = st.run(ctx)
        except RemissionError as exc:
            if strict:
                raise
            section = EngineSection(name=st.name, title=st.title, error=str(exc))
            warnings.append(f"{st.title}: {exc}")
        except Exception as exc:  # an engine bug must not hide the rest of the analysis
            if strict:
                raise
            section = EngineSection(name=st.name, title=st.title,
                                    error=f"internal error: {exc!r}")
            warnings.append(f"{st.title}: internal error {exc!r}\n{traceback.format_exc(limit=3)}")
        if section is not None:
            ctx.sections[st.name] = section
            if section.error:
                ctx.failures.append(f"{st.title}: {section.error.splitlines()[0]}")
        if len(ctx.failures) > n_failures:
            failed_steps.append(st.name)
    ins = tuple(inputs or ())
    digest = hashlib.sha256("".join(i.sha256 for i in ins).encode()).hexdigest() if ins else \
        hashlib.sha256(case.model_dump_json().encode()).hexdigest()
    prov = Provenance(
        remission_version=__version__,
        knowledge_base_version=knowledge_base_version(),
        analysed_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        inputs=ins,
        parameters=params,
    )
    mrd_sorted = sorted(ctx.mrd, key=lambda m: (m.date or dt.date.min, m.method, m.sample_id or ""))
    return CaseAnalysis(
        case_id=case.id,
        case=case,
        case_sha256=digest,
        provenance=prov,
        timeline=tuple(build_timeline(case)),
        mrd=tuple(mrd_sorted),
        sections=tuple(ctx.sections.values()),
        warnings=tuple(warnings),
        failures=tuple(ctx.failures),
        failed_steps=tuple(failed_steps),
        partial=bool(ctx.failures),
    )


def analyze(
    path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    strict: bool = False,
    targets: Iterable[str] | None = None,
) -> CaseAnalysis:
    """Read a case file and analyse it (every engine that has data).

    See Also
    --------
    analyze_case : the same on an already loaded :class:`~remission.domain.Case`.
    """
    p = Path(path)
    case = load_case(p)
    inputs = [InputFile(path=str(f.relative_to(p.parent)) if f.is_relative_to(p.parent) else str(f),
                        sha256=sha256_file(f))
              for f in case_inputs(p, case)]
    return analyze_case(case, p.parent, inputs=inputs, parameters=parameters,
                        progress=progress, strict=strict, targets=targets)
