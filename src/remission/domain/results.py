"""Typed engine results: what each pipeline step contributes to a :class:`CaseAnalysis`.

Every step returns an :class:`~remission.domain.EngineSection` whose ``result`` is one of the
models below, told apart by ``kind`` (the step name). Steps that read another step's result read
these attributes (``cart.persistence.present``), never dictionary keys, and ``remission schema
analysis`` publishes this closed schema.

Each model is closed (``extra="forbid"``): a key an engine adds must be declared here first. The
facts other steps and the disease state read are typed down to their leaves (MRD points,
molecular relapse, risk groups, transplant decision, CAR-T persistence and B-cell aplasia,
options); bulky engine detail that only the report shows (per-well PCR tables, per-assessment
toxicity grades, clone trees) is kept as JSON objects inside those closed models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remission.domain.state import DiseaseState, ImmuneResult

__all__ = [
    "AntigenCourse",
    "BCellAplasia",
    "CartInfusionRef",
    "CartPersistence",
    "CartResult",
    "ClonalResult",
    "CourseResult",
    "DiseaseState",
    "EngineResult",
    "EvidenceInSetting",
    "FlowCall",
    "FlowResult",
    "FlowSampleResult",
    "MolecularRelapse",
    "NgsResult",
    "OptionEntry",
    "OptionsResult",
    "PcrResult",
    "RiskGroup",
    "RiskResult",
    "RuleRecord",
    "SimBridge",
    "SimOptionTiming",
    "SimQuantiles",
    "SimTimelineResult",
    "TransplantDecision",
    "as_mapping",
]

JsonObject = dict[str, Any]


def as_mapping(value: Any) -> JsonObject | None:
    """A result as a mapping: a pydantic model is dumped to JSON data, a mapping is kept, anything
    else (``None`` included) gives ``None``. For engines that accept a typed result or its JSON."""
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        return dict(value.model_dump(mode="json"))
    return dict(value) if isinstance(value, Mapping) else None


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RuleRecord(_Result):
    """A named rule a result rests on (see :mod:`remission.domain.parameters`)."""

    name: str
    value: Any
    tag: Literal["C", "R", "U", "user"]
    source: str
    description: str = ""


# -- NGS-MRD -------------------------------------------------------------------------------------

class NgsLatest(_Result):
    sample_id: str
    date: dt.date
    mrd: float | None = None
    status: str
    lod: float | None = None
    loq: float | None = None
    quantity: Literal["mrd", "read_fraction"] = Field(
        "mrd", description="'read_fraction' without DNA input or spike-in: never an MRD value")
    read_fraction: float | None = Field(None, description="index reads / reads of the marker's target")
    denominator: str | None = Field(None, description="what read fractions are taken over")
    marker_caveat: str | None = Field(None, description="set when non-index clones are emerging")
    emerging_alerts: list[str] = Field(default_factory=list)


class NgsResult(_Result):
    """NGS-MRD: index clonotypes at diagnosis and their tracking in follow-up samples."""

    kind: Literal["ngs_mrd"] = "ngs_mrd"
    status: str = Field(description="case-level status, or 'no_diagnosis'")
    latest: NgsLatest | None = None
    index: list[JsonObject] = Field(default_factory=list, description="index markers per diagnosis sample")
    samples: list[JsonObject] = Field(default_factory=list, description="per follow-up sample tracking")
    parameters: JsonObject = Field(default_factory=dict)


# -- flow MRD ------------------------------------------------------------------------------------

class FlowCall(_Result):
    """One flow MRD call (:class:`remission.mrd.flow.FlowMrd`): events, status, limits, how."""

    mrd: float | None = Field(None, description="leukemic / evaluable events; null unless positive")
    status: Literal["negative", "positive_not_quantifiable", "positive", "not_evaluable"]
    lod: float | None = None
    loq: float | None = None
    events_total: int
    events_denominator: int
    events_leukemic: int
    method: Literal["gating", "auto"]
    denominator: str = Field(description="the denominator gate or rule (evaluable nucleated events)")
    leukemic: str
    strategy: str | None = Field(None, description="B-lineage strategy of the automated method")
    mrd_estimate: float | None = Field(None, description="point estimate, also below the LoQ")
    reference: str | None = Field(None, description="the normal reference model the automated call rests on")
    illustrative: bool = Field(False, description="true when it rests on a demo reference (not clinical)")
    reason: str | None = Field(None, description="why the tube is not evaluable")
    gates: list[str] = Field(default_factory=list, description="the rule that chose each data-derived gate")
    cd19_negative_population: bool | None = None
    markers_used: list[str] = Field(default_factory=list)
    phenotype: dict[str, float] = Field(default_factory=dict)
    f1: float | None = Field(None, description="validation mode only (synthetic truth); never clinical")
    precision: float | None = None
    recall: float | None = None
    warnings: list[str] = Field(default_factory=list)
    rests_on: list[RuleRecord] = Field(default_factory=list)


class FlowSampleResult(_Result):
    sample_id: str
    date: dt.date
    file: str
    result: FlowCall = Field(description="the MRD call of the main strategy (gating or automated)")
    auto: FlowCall | None = Field(None, description="automated detection beside a gating result")
    plot: JsonObject | None = Field(None, description="a subsample of events for the report's plots")


class FlowResult(_Result):
    kind: Literal["flow_mrd"] = "flow_mrd"
    samples: list[FlowSampleResult] = Field(default_factory=list)


# -- RQ-PCR --------------------------------------------------------------------------------------

class PcrSampleResult(_Result):
    sample_id: str
    date: dt.date
    material: str
    files: list[str]
    error: str | None = None
    plate_sample: str | None = None
    plate: JsonObject | None = None
    case_level: JsonObject | None = None
    mrd: JsonObject | None = None


class PcrResult(_Result):
    kind: Literal["pcr_mrd"] = "pcr_mrd"
    samples: list[PcrSampleResult] = Field(default_factory=list)
    rules: list[RuleRecord] = Field(default_factory=list)


# -- MRD course ----------------------------------------------------------------------------------

class MolecularRelapse(_Result):
    detected: bool
    status: str
    threshold: float | None = None
    require_confirmation: bool | None = None
    date: dt.date | None = None
    confirmed_on: dt.date | None = None
    confirmed_by: str | None = Field(None, description="method of the later confirming sample, or "
                                                       "'clinical relapse'")
    method: str | None = None
    material: str | None = None
    value: float | None = None
    confirmation: str | None = None
    note: str | None = None
    rule: str | None = None


class CourseResult(_Result):
    """The MRD course across methods (see :func:`remission.mrd.course.analyze_course`)."""

    kind: Literal["mrd_course"] = "mrd_course"
    n_results: int
    methods: list[str]
    points: list[JsonObject]
    baseline: JsonObject | None = None
    method_changes: list[JsonObject] = Field(default_factory=list)
    time_to_negativity: JsonObject | None = None
    latest_response: JsonObject | None = None
    mrd_failure: bool = False
    conversions: list[JsonObject] = Field(default_factory=list)
    quantifiable_recurrence: JsonObject | None = None
    molecular_relapse: MolecularRelapse
    molecular_relapse_by_material: dict[str, MolecularRelapse] = Field(
        default_factory=dict, description="bone marrow and peripheral blood are separate series")
    materials: list[str] = Field(default_factory=list)
    alerts: list[JsonObject] = Field(default_factory=list, description="e.g. emerging non-index clones")
    cross_material: list[JsonObject] = Field(default_factory=list,
                                             description="consecutive results in different materials "
                                                         "(labelled comparison, never a rise or fall)")
    progression: list[JsonObject] = Field(default_factory=list)
    detectable_after_hsct: list[JsonObject] = Field(default_factory=list)
    detectable_after_cart: list[JsonObject] = Field(default_factory=list)
    fits: list[JsonObject] = Field(default_factory=list)
    headline: JsonObject | None = None
    events: list[JsonObject] = Field(default_factory=list)
    rules: list[RuleRecord] = Field(default_factory=list)
    rests_on: list[RuleRecord] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


# -- CAR-T ---------------------------------------------------------------------------------------

class CartInfusionRef(_Result):
    product: str
    date: dt.date
    target: str | None = None


class CartPersistence(_Result):
    """CAR-T persistence: detectable at the latest kinetics sample (the one definition)."""

    last_detectable_day: float | None = None
    last_sample_day: float
    present: bool


class BCellAplasia(_Result):
    status: Literal["ongoing", "lost", "loss_unconfirmed", "never_reached"] | None = Field(
        None, description="latest evidence; loss needs a confirming sample")
    ongoing: bool | None = None
    recovery_date: dt.date | None = None
    recovery_day: float | None = None
    early_loss: bool | None = None
    aplasia_reached: bool | None = None


class AntigenCourse(_Result):
    points: list[JsonObject] = Field(default_factory=list)
    cd19_negative: bool = False
    cd19_negative_before_infusion: bool = False
    first_cd19_negative_date: dt.date | None = None
    signals: list[JsonObject] = Field(default_factory=list)


class CartResult(_Result):
    kind: Literal["cart"] = "cart"
    infusion: CartInfusionRef | None = None
    toxicity: JsonObject | None = None
    kinetics: JsonObject | None = None
    b_cells: JsonObject | None = None
    antigen: AntigenCourse | None = None
    persistence: CartPersistence | None = None
    persistence_day: float | None = None
    b_cell_aplasia: BCellAplasia = Field(default_factory=BCellAplasia)
    cd19_negative: bool = False
    signals: list[JsonObject] = Field(default_factory=list)


# -- clonal --------------------------------------------------------------------------------------

class ClonalResult(_Result):
    kind: Literal["clonal"] = "clonal"
    variant_samples: list[JsonObject] = Field(default_factory=list)
    case_lesions: list[JsonObject] = Field(default_factory=list)
    clonotypes: JsonObject | None = None


# -- risk ----------------------------------------------------------------------------------------

class RiskGroup(_Result):
    scheme: str
    group: str | None = None
    candidates: list[str] = Field(default_factory=list)
    pending: str | None = None
    rule_path: list[str] = Field(default_factory=list)
    consolidation: str | None = None
    sources: list[str] = Field(default_factory=list)
    rests_on: list[str] = Field(default_factory=list)
    note: str | None = None


class TransplantDecision(_Result):
    backbone: str
    rule: str
    mrd_threshold: float | None = None
    mrd_value: float | None = None
    mrd: JsonObject | None = None
    decision: str
    rule_path: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    alternatives: list[JsonObject] = Field(default_factory=list)


class RiskResult(_Result):
    kind: Literal["risk"] = "risk"
    relapse_number: int
    relapse_date: dt.date
    months_from_diagnosis: int
    months_from_end_of_frontline: int | None = None
    time_point: str | None = None
    cog_time_point: str | None = None
    site: str
    case_site: str
    lineage: str
    age_years_at_relapse: float
    bfm: RiskGroup | None = None
    intreall: RiskGroup | None = None
    allr3: RiskGroup | None = None
    cog: RiskGroup | None = None
    transplant: TransplantDecision | None = None
    flags: list[JsonObject] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    rules: list[RuleRecord] = Field(default_factory=list)
    notice: str | None = None

    def groups(self) -> dict[str, RiskGroup]:
        """The schemes that gave a group (or a pending one), by key."""
        return {k: g for k in ("bfm", "intreall", "allr3", "cog")
                if (g := getattr(self, k)) is not None}


# -- options -------------------------------------------------------------------------------------

class EvidenceInSetting(_Result):
    """One evidence item of an option and whether the patient is in the setting it comes from."""

    framework: str
    level: str
    level_text: str = Field(description="clinical wording, e.g. 'randomised phase 3'")
    summary: str
    setting: str = Field(description="the patients the evidence comes from")
    in_setting: bool | None = Field(description="True: in that setting; False: extrapolated; "
                                                "None: not checkable")
    why: str
    strength: int


class OptionEntry(_Result):
    """One therapy option (ranked) or exclusion, with its evidence and citations."""

    rank: int | None = None
    id: str
    name: str
    category: str
    target: str | None = None
    mechanism: str | None = None
    access: JsonObject | None = Field(None, description="route (standard / label / trial / "
                                      "off_label / compassionate), label jurisdictions, note")
    context: str | None = None
    evidence: list[JsonObject] = Field(default_factory=list)
    evidence_level: str | None = None
    citations: list[JsonObject] = Field(default_factory=list)
    knowledge_file: str | None = None
    why: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    eligibility: str | None = None
    cautions: list[str] = Field(default_factory=list)
    contraindications: list[str] = Field(default_factory=list)
    advantages: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    toxicities: list[str] = Field(default_factory=list)
    lesion_specific: bool | None = None
    evidence_strength: int | None = None
    eligibility_by_jurisdiction: dict[str, str] = Field(default_factory=dict)
    missing_fields: list[str] = Field(default_factory=list, description="tumour-board fields the "
                                      "option needs and the case lacks")
    evidence_in_setting: str | None = Field(None, description="the evidence level shown for this "
                                            "patient: in the patient's setting, or extrapolated")
    evidence_items: list[EvidenceInSetting] = Field(default_factory=list)
    extrapolated: bool | None = None
    immune_context: str | None = Field(None, description="T-cell context beside immunotherapy "
                                       "options (values and trends, no threshold)")


class OptionsResult(_Result):
    kind: Literal["options"] = "options"
    options: list[OptionEntry] = Field(default_factory=list)
    excluded: list[OptionEntry] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    patient: JsonObject = Field(default_factory=dict, description="the patient facts the options were matched on")
    knowledge_base: JsonObject = Field(default_factory=dict)
    ranking: str | None = None
    rules: list[RuleRecord] = Field(default_factory=list)
    notice: str | None = None


# -- strategy timeline (virtual patients; a model projection) --------------------------------------

class SimQuantiles(_Result):
    """Quantiles over posterior draws of a time in days from now; ``None``: beyond the horizon."""

    share_within_horizon: float
    q05: float | None = None
    q25: float | None = None
    q50: float | None = None
    q75: float | None = None
    q95: float | None = None


class SimOptionTiming(_Result):
    """When one option becomes available, and how often relapse comes first (model projection)."""

    option: str
    days_needed: SimQuantiles
    share_never_available: float
    p_relapse_before_available: float
    rests_on: list[str] = Field(default_factory=list, description="names of the rules the times come from")


class SimBridge(_Result):
    """Whether a bridge (or CD19 CAR-T) fits the patient's state, with the reasons; never a recommendation."""

    bridge: str | None = None
    option: str | None = None
    fits: bool
    reasons: list[str] = Field(default_factory=list)


class SimTimelineResult(_Result):
    """The strategy timeline of virtual patients calibrated to the case's MRD course."""

    kind: Literal["sim_timeline"] = "sim_timeline"
    label: Literal["model projection"] = "model projection"
    draws: int = Field(description="posterior draws projected")
    proposals: int = Field(description="importance-sampling proposals of the fit")
    seed: int
    horizon_days: int
    now_offset_days: int = Field(description="day of 'now' counted from the first MRD result used")
    projection_start_date: dt.date
    effective_sample_size: float
    in_relapse_now_share: float
    time_to_haematological_relapse_days: SimQuantiles
    options: list[SimOptionTiming] = Field(default_factory=list)
    bridge_question: str
    bridges: list[SimBridge] = Field(default_factory=list)
    cd19_car_t: SimBridge | None = None
    notes: list[str] = Field(default_factory=list, description="fit warnings and case facts the model ignores")
    rests_on: list[RuleRecord] = Field(default_factory=list)
    note: str = ""


EngineResult = Annotated[
    NgsResult | FlowResult | PcrResult | CourseResult | CartResult | ClonalResult | RiskResult
    | DiseaseState | ImmuneResult | OptionsResult | SimTimelineResult,
    Field(discriminator="kind"),
]
