"""The result of analysing one case: :class:`CaseAnalysis`, with its provenance."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remission.domain.case import Case
from remission.domain.mrd import MrdResult
from remission.domain.results import EngineResult, RuleRecord

__all__ = [
    "NOT_A_MEDICAL_DEVICE",
    "CaseAnalysis",
    "EngineSection",
    "InputFile",
    "Provenance",
    "TimelineEvent",
]

NOT_A_MEDICAL_DEVICE = (
    "remission is decision support for professionals, not a medical device. It proposes and "
    "shows its reasons; it never decides. Every result must be checked by a qualified clinician "
    "against the source data."
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputFile(_Model):
    path: str
    sha256: str


class Provenance(_Model):
    remission_version: str
    knowledge_base_version: str | None = None
    analysed_at: dt.datetime
    inputs: tuple[InputFile, ...] = ()
    parameters: dict[str, Any] = Field(default_factory=dict)
    notice: str = NOT_A_MEDICAL_DEVICE


class TimelineEvent(_Model):
    kind: Literal["diagnosis", "frontline", "relapse", "therapy", "hsct", "cart", "sample", "mrd"]
    start: dt.date
    end: dt.date | None = None
    label: str
    detail: str | None = None


class EngineSection(_Model):
    """What one engine contributes to a case analysis (and to the report)."""

    name: str = Field(description="engine name; the report section template has the same name")
    title: str
    result: EngineResult | None = Field(
        None, description="the engine's typed result (remission.domain.results); null on error")
    warnings: tuple[str, ...] = ()
    rests_on: tuple[RuleRecord, ...] = Field(
        (), description="rules tagged [R]/[U] or overridden by the user that this result uses"
    )
    error: str | None = Field(None, description="set when the engine failed on this case's data")

    def data(self) -> dict[str, Any]:
        """The result as JSON-ready data (what the report and web templates render)."""
        return {} if self.result is None else self.result.model_dump(mode="json")


class CaseAnalysis(_Model):
    """Everything ``remission`` knows about one patient after one analysis run."""

    schema_: Literal["remission.case_analysis/2"] = Field(
        "remission.case_analysis/2", alias="schema"
    )
    case_id: str
    case: Case
    case_sha256: str = Field(description="SHA-256 of the case file plus all its assay files")
    provenance: Provenance
    timeline: tuple[TimelineEvent, ...] = ()
    mrd: tuple[MrdResult, ...] = ()
    sections: tuple[EngineSection, ...] = ()
    warnings: tuple[str, ...] = ()
    failures: tuple[str, ...] = Field(
        (), description="engines or samples whose data could not be used, one line each")
    failed_steps: tuple[str, ...] = Field(
        (), description="names of the steps whose section or samples failed (in run order)")
    partial: bool = Field(False, description="failures is not empty: the analysis is incomplete; "
                          "it is saved only when the user allows a partial analysis")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def section(self, name: str) -> EngineSection | None:
        return next((s for s in self.sections if s.name == name), None)
