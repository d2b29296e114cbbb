"""What a pipeline step is: :class:`Step`, its :class:`StepContext`, and the :func:`step` decorator.

A step is a small adapter that reads a case's assay files through :mod:`remission.io`, calls one
pure engine and returns an :class:`~remission.domain.EngineSection`. It declares what it reads
(``needs``: names of other steps, or of facts such as ``"mrd"``) and what it contributes
(``provides``: its own name always, plus facts). :func:`remission.pipeline.run_order` turns the
declarations into a run order; no step carries an order number.

This module imports nothing from :mod:`remission.pipeline`, so steps and the pipeline never import
each other in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remission.domain import Case, EngineSection, MrdResult, Sample

__all__ = ["MRD", "Step", "StepContext", "StepFn", "registry", "step"]

#: the fact "MRD values" (``StepContext.mrd``), provided by the MRD engines
MRD = "mrd"


@dataclass
class StepContext:
    """What a step may use: the case, its folder, parameters, and earlier results."""

    case: Case
    case_dir: Path
    parameters: Mapping[str, Any]
    mrd: list[MrdResult] = field(default_factory=list)
    sections: dict[str, EngineSection] = field(default_factory=dict)
    #: extra folders sample files may live in (besides the case folder); see io.casefile
    data_roots: tuple[Path, ...] = ()
    #: samples whose files a step could not use ("<step> <sample>: <reason>"): the analysis is
    #: then incomplete, exactly as when the whole step fails
    failures: list[str] = field(default_factory=list)

    def path(self, relative: str) -> Path:
        """Path of a file named in the case file (relative to the case file); a path that leaves
        the case folder (``..``, absolute, symlink) raises unless ``data_roots`` (when empty:
        ``$REMISSION_DATA_ROOTS``) allows it (:func:`~remission.io.casefile.resolve_sample_path`)."""
        from remission.io.casefile import resolve_sample_path

        return resolve_sample_path(self.case_dir, relative, self.data_roots or None)

    def sample_paths(self, sample: Sample) -> list[Path]:
        return [self.path(f) for f in sample.files]

    def params_for(self, step_name: str) -> dict[str, Any]:
        """User overrides for one step (``parameters[step_name]``)."""
        value = self.parameters.get(step_name, {})
        return dict(value) if isinstance(value, Mapping) else {}

    def sample_failed(self, step_title: str, sample_id: str, error: Exception) -> str:
        """Record that ``sample_id``'s files could not be used; returns the one-line message."""
        msg = f"{step_title}: sample {sample_id}: {str(error).splitlines()[0] if str(error) else error!r}"
        self.failures.append(msg)
        return msg

    def section(self, name: str) -> EngineSection | None:
        """An earlier step's section, or ``None`` when it did not run or failed."""
        sec = self.sections.get(name)
        return sec if sec is not None and sec.error is None else None


StepFn = Callable[[StepContext], EngineSection | None]


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    needs: tuple[str, ...]
    provides: tuple[str, ...]
    applies: Callable[[Case], bool]
    run: StepFn


#: every registered step by name (filled when the modules listed in remission.steps are imported)
registry: dict[str, Step] = {}


def step(
    name: str,
    *,
    title: str,
    needs: tuple[str, ...] = (),
    provides: tuple[str, ...] = (),
    applies: Callable[[Case], bool] = lambda case: True,
) -> Callable[[StepFn], StepFn]:
    """Register a pipeline step (decorator).

    ``needs``: the steps or facts this step reads (``"mrd"``: the MRD values of the MRD engines;
    a step name: that step's section). ``provides``: facts it adds besides its own name.
    """

    def deco(fn: StepFn) -> StepFn:
        registry[name] = Step(name=name, title=title, needs=tuple(needs),
                              provides=(name, *provides), applies=applies, run=fn)
        return fn

    return deco
