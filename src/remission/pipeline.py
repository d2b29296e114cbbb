"""Orchestration: the one place that wires readers to engines for a case.

``analyze(path)`` reads the case, builds the timeline, then runs every registered *step* whose
``applies(case)`` is true, in ``order``. A step is a small adapter in ``remission/steps/`` that
reads the assay files through ``remission.io`` and calls a pure engine; steps register
themselves with :func:`step`, and the pipeline discovers every module of ``remission.steps``,
so a new engine needs no edit here::

    # remission/steps/ngs.py
    from remission.pipeline import StepContext, step

    @step("ngs_mrd", title="NGS-MRD", order=10, applies=lambda case: bool(case.samples_of("ngs_mrd")))
    def run(ctx: StepContext) -> EngineSection: ...

Later steps see earlier results: ``ctx.mrd`` (every MRD value so far, computed and reported)
and ``ctx.sections`` (earlier engine sections by name).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import pkgutil
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remission import __version__
from remission.domain import (
    Case,
    CaseAnalysis,
    EngineSection,
    InputFile,
    MrdResult,
    Provenance,
    Sample,
    TimelineEvent,
    sha256_file,
)
from remission.errors import RemissionError
from remission.io.casefile import case_inputs, load_case

__all__ = ["Step", "StepContext", "analyze", "analyze_case", "build_timeline", "registered_steps", "step"]


@dataclass
class StepContext:
    """What a step may use: the case, its folder, parameters, and earlier results."""

    case: Case
    case_dir: Path
    parameters: Mapping[str, Any]
    mrd: list[MrdResult] = field(default_factory=list)
    sections: dict[str, EngineSection] = field(default_factory=dict)

    def path(self, relative: str) -> Path:
        """Absolute path of a file named in the case file (relative to the case file)."""
        return self.case_dir / relative

    def sample_paths(self, sample: Sample) -> list[Path]:
        return [self.path(f) for f in sample.files]

    def params_for(self, step_name: str) -> dict[str, Any]:
        """User overrides for one step (``parameters[step_name]``)."""
        value = self.parameters.get(step_name, {})
        return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    order: int
    applies: Callable[[Case], bool]
    run: Callable[[StepContext], EngineSection | None]


_REGISTRY: dict[str, Step] = {}


def step(
    name: str,
    *,
    title: str,
    order: int = 50,
    applies: Callable[[Case], bool] = lambda case: True,
) -> Callable[[Callable[[StepContext], EngineSection | None]], Callable[[StepContext], EngineSection | None]]:
    """Register a pipeline step (decorator). ``order``: MRD engines 10-30, course 40,
    clinical rules 60+, options last (90)."""

    def deco(fn: Callable[[StepContext], EngineSection | None]) -> Callable[[StepContext], EngineSection | None]:
        _REGISTRY[name] = Step(name=name, title=title, order=order, applies=applies, run=fn)
        return fn

    return deco


def registered_steps() -> list[Step]:
    """Import every module of ``remission.steps`` once, and return the steps in run order."""
    import remission.steps as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"remission.steps.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))


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


def _reported_mrd(case: Case) -> list[MrdResult]:
    out = []
    for rep in case.mrd_reports:
        status = rep.status or ("negative" if rep.value is None or rep.value == 0 else
                                "positive_not_quantifiable" if rep.loq is not None and rep.value < rep.loq
                                else "positive")
        out.append(MrdResult(
            method=rep.method, status=status, value=None if status == "negative" else rep.value,
            lod=rep.lod, loq=rep.loq, date=rep.date, material=rep.material, marker=rep.marker,
            timepoint=rep.timepoint, source="reported",
        ))
    return out


def analyze_case(
    case: Case,
    case_dir: Path,
    *,
    inputs: list[InputFile] | None = None,
    parameters: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    strict: bool = False,
    until_order: int | None = None,
) -> CaseAnalysis:
    """Run every applicable step on an already loaded case.

    A step that fails on bad data is recorded as a section with ``error`` set (the rest of the
    analysis still runs) unless ``strict``, in which case the error propagates.
    ``until_order`` runs only the steps with ``order <= until_order`` (e.g. the MRD engines a
    command needs before its own engine), so commands never compute what they discard.
    """
    from remission.knowledge.version import knowledge_base_version

    params = dict(parameters or {})
    ctx = StepContext(case=case, case_dir=case_dir, parameters=params, mrd=_reported_mrd(case))
    warnings: list[str] = []
    for st in registered_steps():
        if until_order is not None and st.order > until_order:
            break
        if not st.applies(case):
            continue
        if progress:
            progress(st.title)
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
    )


def analyze(
    path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    strict: bool = False,
    until_order: int | None = None,
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
                        progress=progress, strict=strict, until_order=until_order)
