"""Result models of the disease-state engine (:mod:`remission.state`): where the patient stands
at each date and now. Pure data, so that :class:`~remission.domain.EngineSection` can carry it
(``remission schema state`` publishes it)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "STATUS_LABELS",
    "Alert",
    "AntigenStatus",
    "BurdenPoint",
    "CarTStatus",
    "DiseaseState",
    "ImmunePoint",
    "ImmuneResult",
    "Line",
    "MrdLatest",
    "StateEvidence",
    "StatePeriod",
    "Status",
]

Status = Literal[
    "diagnosis",
    "haematological_relapse",
    "refractory",
    "cr_mrd_unknown",
    "cr_mrd_positive",
    "cr_mrd_negative",
    "molecular_relapse",
]

#: Clinical wording of each status (what a report shows; the codes are for machines).
STATUS_LABELS: dict[str, str] = {
    "diagnosis": "initial diagnosis and frontline therapy",
    "haematological_relapse": "haematological relapse",
    "refractory": "refractory disease (no remission after relapse therapy)",
    "cr_mrd_unknown": "complete remission, MRD not evaluable",
    "cr_mrd_positive": "complete remission, MRD-positive",
    "cr_mrd_negative": "complete remission, MRD-negative",
    "molecular_relapse": "molecular relapse (MRD recurrence or progression)",
}

#: Statuses in which the patient is not in (haematological) remission; a molecular relapse is a
#: haematological remission with recurrent MRD (options read this).
NOT_IN_REMISSION: frozenset[str] = frozenset({"diagnosis", "haematological_relapse", "refractory"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StateEvidence(_Model):
    """One recorded fact a state rests on."""

    date: dt.date | None
    kind: Literal["relapse", "therapy", "mrd", "transplant", "cart", "antigen", "course"]
    text: str


class Line(_Model):
    """Line of therapy at a date."""

    relapse_number: int = Field(description="haematological relapses so far (0 = frontline)")
    after_hsct: bool
    after_cart: bool
    label: str = Field(description="e.g. 'second relapse, after allogeneic HSCT'")


class StatePeriod(_Model):
    """One period of the disease-state timeline."""

    status: Status
    label: str = Field(description="clinical wording, with method/material/sensitivity for MRD")
    start: dt.date
    end: dt.date | None = Field(None, description="None: ongoing at the analysis date")
    line: Line
    definition: str = Field(description="the definition applied, with its published source")
    evidence: tuple[StateEvidence, ...] = ()
    rests_on: tuple[str, ...] = Field((), description="names of the [R]/[U] rules it uses")


class MrdLatest(_Model):
    """Latest MRD of one method and material, with the one before it (trend)."""

    method: str
    material: str
    date: dt.date
    status: str
    value: float | None
    lod: float | None
    display: str
    sensitivity: float | None = Field(None, description="LoD reached (fraction)")
    previous_display: str | None = None
    previous_date: dt.date | None = None
    trend: Literal["rising", "falling", "stable", "new_positive", "became_negative",
                   "single", "unchanged_negative"]


class AntigenStatus(_Model):
    """CD19 or CD22 on the blasts at the latest assessment."""

    antigen: Literal["CD19", "CD22"]
    date: dt.date | None
    percent_of_blasts: float
    negative_fraction_percent: float = Field(description="100 - percent: blasts without the antigen")
    dim_percent: float | None = None
    status: Literal["expressed", "partial", "negative"]
    source: str
    previous_percent: float | None = None
    previous_date: dt.date | None = None


class CarTStatus(_Model):
    product: str
    target: str
    infusion_date: dt.date
    days_since_infusion: int
    persistence: bool | None = Field(None, description="CAR-T detectable at the last sample")
    b_cell_aplasia: bool | None = None
    aplasia_lost_date: dt.date | None = None
    source: str


class BurdenPoint(_Model):
    date: dt.date
    fraction: float | None = Field(description="leukaemic fraction of nucleated marrow cells")
    display: str
    source: str


class Alert(_Model):
    code: Literal["molecular_relapse", "mrd_reappearance", "detectable_after_hsct",
                  "detectable_after_cart", "antigen_loss", "loss_of_b_cell_aplasia",
                  "loss_of_cart_persistence", "antigen_escape_watch", "site_inconsistent",
                  "emerging_clone"]
    label: str
    date: dt.date | None
    message: str
    source: str


class ImmunePoint(_Model):
    """T-cell context of one flow T-cell panel (counts of the laboratory's Gating-ML gates)."""

    date: dt.date
    sample_id: str
    material: str
    counts: dict[str, int] = Field(description="events per population role (cd3, cd4, cd8, "
                                               "treg, cd4_exhausted, cd8_exhausted)")
    cd4_cd8_ratio: float | None = None
    treg_percent_of_cd4: float | None = None
    cd4_exhausted_percent: float | None = Field(None, description="e.g. PD-1+TIM-3+ % of CD4")
    cd8_exhausted_percent: float | None = Field(None, description="e.g. PD-1+TIM-3+ % of CD8")


class ImmuneResult(_Model):
    """T-cell context over time: values and trends only (no validated threshold is applied)."""

    kind: Literal["immune"] = "immune"
    points: tuple[ImmunePoint, ...] = ()
    trends: dict[str, str] = Field(default_factory=dict,
                                   description="measure -> rising / falling / unchanged / single")
    reference: str = ("No published reference range is applied: values and trends only "
                      "(resistance to immunotherapy beyond antigen loss is a research question).")


class DiseaseState(_Model):
    """Where the patient stands at each date and now."""

    kind: Literal["state"] = "state"
    as_of: dt.date
    current: StatePeriod
    in_remission: bool
    periods: tuple[StatePeriod, ...]
    line: Line
    mrd_latest: tuple[MrdLatest, ...] = ()
    antigens: tuple[AntigenStatus, ...] = ()
    cart: CarTStatus | None = None
    burden: tuple[BurdenPoint, ...] = ()
    current_burden: BurdenPoint | None = Field(
        None, description="latest marrow burden: MRD after the latest relapse, else the relapse "
                          "blast count")
    days_since_hsct: int | None = None
    last_hsct: dt.date | None = None
    immune: tuple[ImmunePoint, ...] = Field((), description="T-cell context (flow T-cell panel)")
    alerts: tuple[Alert, ...] = ()
    rules: tuple[dict[str, Any], ...] = Field((), description="[R]/[U]/user rules used")
    notice: str = ("The disease state is derived from the recorded course and results with the "
                   "definitions cited; a clinician confirms it. Not a medical device.")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
