"""The knowledge-base schema: what an options entry and the lesion vocabulary file may say.

Every options entry must carry at least one citation, evidence graded in a known framework
(OncoKB therapeutic levels, Chakravarty D et al. JCO Precis Oncol 2017; CIViC evidence levels;
ESCAT, Mateo J et al. Ann Oncol 2018;29:1895; or the design of the trial that produced it), the
*setting* its evidence comes from (line of therapy, disease status, prior HSCT, age, Ph status) and
its *access* route (standard of care, a label with its jurisdiction, a trial, off-label,
compassionate use). Nothing defaults to standard of care.

Pure data models (pydantic); reading files is :mod:`remission.knowledge.loader`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "EVIDENCE_LEVELS",
    "Access",
    "BenignPolymorphism",
    "Citation",
    "Condition",
    "DiseaseStatus",
    "Evidence",
    "EvidenceSetting",
    "FusionEntry",
    "FusionPattern",
    "GeneEntry",
    "LesionClass",
    "LesionVocabularyFile",
    "NamedLesion",
    "Need",
    "OptionEntry",
    "OptionsFile",
    "RelapseFacts",
    "Relevance",
    "Requirement",
    "evidence_strength",
]


DiseaseStatus = Literal["diagnosis", "haematological_relapse", "refractory", "cr_mrd_unknown",
                        "cr_mrd_positive", "cr_mrd_negative", "molecular_relapse"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Allowed levels per framework (OncoKB, CIViC, ESCAT, trial design).
EVIDENCE_LEVELS: dict[str, tuple[str, ...]] = {
    "oncokb": ("1", "2", "3A", "3B", "4", "R1", "R2"),
    "civic": ("A", "B", "C", "D", "E"),
    "escat": ("I-A", "I-B", "I-C", "II-A", "II-B", "III-A", "III-B", "IV-A", "IV-B", "V", "X"),
    "trial": ("protocol_standard", "randomised_phase3", "randomised_phase2", "single_arm_phase2", "phase1_2",
              "phase1", "real_world", "retrospective", "case_series", "preclinical"),
}

# A reading order across frameworks (5 strongest). It orders the options list; it is not a
# clinical threshold and never excludes anything.
_STRENGTH: dict[tuple[str, str], int] = {
    **{("oncokb", k): v for k, v in {"1": 5, "2": 5, "3A": 4, "3B": 3, "4": 2, "R1": 0, "R2": 0}.items()},
    **{("civic", k): v for k, v in {"A": 5, "B": 4, "C": 2, "D": 1, "E": 1}.items()},
    **{("escat", k): v for k, v in {"I-A": 5, "I-B": 5, "I-C": 4, "II-A": 4, "II-B": 3, "III-A": 3,
                                    "III-B": 2, "IV-A": 1, "IV-B": 1, "V": 1, "X": 0}.items()},
    **{("trial", k): v for k, v in {"protocol_standard": 5, "randomised_phase3": 5, "randomised_phase2": 4,
                                    "single_arm_phase2": 4, "phase1_2": 3, "phase1": 2,
                                    "real_world": 3, "retrospective": 2, "case_series": 2,
                                    "preclinical": 1}.items()},
}


def evidence_strength(framework: str, level: str) -> int:
    """Ordinal 0–5 used to order options (documented reading order, not a clinical rule)."""
    return _STRENGTH[(framework, level)]


class Citation(_Model):
    source: str = Field(min_length=3, description="author, journal, year (or label) of the source")
    key_numbers: str | None = Field(None, description="the numbers the entry rests on, as published")
    tag: Literal["C", "R", "U"] = Field(description="C confirmed against the primary source; R recalled; "
                                                    "U uncertain")
    spec: str | None = Field(None, description="primary source the key numbers were confirmed against "
                                               "(authors, journal, year), e.g. 'Locatelli F et al. "
                                               "JAMA 2021;325:843'")


class EvidenceSetting(_Model):
    """The patients the evidence comes from: shown level applies in this setting only."""

    description: str = Field(min_length=3, description="e.g. 'first relapse, HR, no prior HSCT, "
                                                        "age 28 days-18 y, Ph-negative'")
    when: Condition = Field(description="the setting as facts about the patient (AND)")
    clinical: bool = Field(True, description="False: preclinical evidence (never 'in setting')")


class Evidence(_Model):
    framework: Literal["oncokb", "civic", "escat", "trial"]
    level: str
    summary: str = Field(min_length=3)
    lesion: str | None = Field(None, description="lesion reference the level is for (OncoKB-style)")
    setting: EvidenceSetting = Field(description="the setting the evidence comes from (required)")

    @model_validator(mode="after")
    def _known_level(self) -> Evidence:
        allowed = EVIDENCE_LEVELS[self.framework]
        if self.level not in allowed:
            raise ValueError(f"unknown evidence level {self.level!r} for framework "
                             f"{self.framework!r}; expected one of {', '.join(allowed)}")
        return self


class Condition(_Model):
    """Facts about the patient that must all hold (AND). Empty = always true."""

    lineage: Literal["B", "T"] | None = None
    lesion_any: tuple[str, ...] = Field((), description="lesion refs: NAME, class:CLASS, NAME@DETAIL")
    antigen_positive: Literal["CD19", "CD22"] | None = None
    antigen_negative: Literal["CD19", "CD22"] | None = None
    age_min_years: float | None = None
    age_below_years: float | None = None
    relapse_number_min: int | None = None
    relapse_number_max: int | None = None
    isolated_extramedullary: bool | None = None
    marrow_blasts_at_least_rule: str | None = Field(None, description="name of an options rule")
    marrow_blasts_below_percent: float | None = None
    prior_therapy_any: tuple[str, ...] = ()
    prior_therapy_no_response_any: tuple[str, ...] = ()
    prior_cd19_directed: bool | None = None
    prior_cart: bool | None = None
    prior_hsct: bool | None = None
    relapse_after_hsct: bool | None = None
    mrd_positive: bool | None = None
    mrd_at_least: float | None = Field(None, gt=0, le=1, description="latest MRD >= this fraction")
    refractory: bool | None = None
    transplant_decision_any: tuple[str, ...] = ()
    transplant_other_backbone_any: tuple[str, ...] = Field(
        (), description="decision under the other backbone's MRD rule (e.g. ALLR3 1e-4)")
    risk_group_any: tuple[str, ...] = Field((), description="scheme:group, e.g. bfm:S2, allr3:IR")
    cart_persistence: bool | None = None
    b_cell_aplasia: bool | None = None
    hsct_after_latest_relapse: bool | None = None
    relapse_site_any: tuple[Literal["isolated_bm", "combined", "isolated_cns", "isolated_testis",
                                    "other_em"], ...] = ()
    cns_status_any: tuple[Literal["CNS1", "CNS2", "CNS3"], ...] = ()
    disease_status_any: tuple[DiseaseStatus, ...] = Field(
        (), description="current disease state (from the disease-state engine)")
    in_remission: bool | None = None
    ph_positive: bool | None = None
    down_syndrome: bool | None = None
    bilirubin_above_uln: bool | None = None
    performance_below_percent: float | None = Field(
        None, description="Lansky/Karnofsky below this value (e.g. 50: IntReALL exclusion)")
    donor_available: bool | None = None
    any_of: tuple[Condition, ...] = Field((), description="at least one of these must hold")


class Requirement(_Model):
    when: Condition
    reason: str = Field(min_length=3)
    jurisdiction: Literal["US-FDA", "EU-EMA"] | None = Field(
        None, description="label conditions: the regulator whose label this is (None: all)")


class Access(_Model):
    """How the option is reached. Required in every entry: nothing defaults to standard of care."""

    route: Literal["standard", "label", "trial", "off_label", "compassionate"]
    jurisdictions: tuple[Literal["US-FDA", "EU-EMA"], ...] = Field(
        (), description="regulators whose label covers it (required for route 'label')")
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"route": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _label_needs_jurisdiction(self) -> Access:
        if self.route == "label" and not self.jurisdictions:
            raise ValueError("access route 'label' needs jurisdictions (US-FDA and/or EU-EMA)")
        return self


class Need(_Model):
    """A tumour-board field the option needs; when the case lacks it, the output says so."""

    field: Literal["donor", "performance_status", "bilirubin", "liver_tests",
                   "cumulative_anthracycline", "cardiac_function", "down_syndrome",
                   "germline_predisposition", "time_since_hsct"]
    why: str = Field(min_length=3)


class Relevance(_Model):
    when: Condition
    why: str = Field(min_length=3)


class OptionEntry(_Model):
    """One therapy option of the knowledge base."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=2)
    category: Literal["chemotherapy", "targeted", "immunotherapy", "cellular_therapy", "transplant",
                      "local_therapy"]
    target: str | None = None
    mechanism: str = Field(min_length=3)
    access: Access = Field(description="standard / label (with jurisdictions) / trial / off_label / "
                                       "compassionate; required")
    agents: tuple[str, ...] = Field((), description="names matched against prior therapies and "
                                                    "CAR-T products (default: the id)")
    relevant_when: tuple[Relevance, ...] = Field((), description="any of; empty = always relevant")
    requires: tuple[Requirement, ...] = Field((), description="all must hold, else excluded (reason)")
    contraindications: tuple[Requirement, ...] = Field((), description="any holds -> excluded")
    cautions: tuple[Requirement, ...] = ()
    label: tuple[Requirement, ...] = Field((), description="label conditions; unmet -> outside label")
    needs: tuple[Need, ...] = Field((), description="tumour-board fields this option needs")
    context: str = Field(min_length=3)
    advantages: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    toxicities: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)

    def strength(self, applicable: list[Evidence] | None = None) -> int:
        """Strongest evidence among ``applicable`` items (all items when not given)."""
        items = applicable if applicable else list(self.evidence)
        return max(evidence_strength(e.framework, e.level) for e in items)


class OptionsFile(_Model):
    kind: Literal["options"]
    entries: tuple[OptionEntry, ...] = Field(min_length=1)


Condition.model_rebuild()
EvidenceSetting.model_rebuild()
Evidence.model_rebuild()
OptionEntry.model_rebuild()
OptionsFile.model_rebuild()


# -- the lesion vocabulary file ---------------------------------------------------------------

class LesionClass(_Model):
    description: str = Field(min_length=1)
    sources: tuple[str, ...] = Field(min_length=1)


class RelapseFacts(_Model):
    """Why a gene matters at relapse: its mechanism and the drug class it makes resistant."""

    mechanism: str = Field(min_length=3)
    resistance: str = Field(min_length=3)
    tag: Literal["C", "R", "U"]
    source: str = Field(min_length=3, description="authors, journal, year")


class GeneEntry(_Model):
    symbol: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    classes_if_rearranged: tuple[str, ...] = ()
    effect: Literal["activating", "loss"] | None = Field(
        None, description="how the gene's lesions act: 'activating' (hotspot/missense gain of "
                          "function; a truncating variant does not count) or 'loss' (truncating, "
                          "deletion or damaging missense)")
    relapse: RelapseFacts | None = Field(None, description="relapse-associated resistance facts")
    note: str | None = None


class BenignPolymorphism(_Model):
    """A common germline variant that is never counted as a lesion."""

    gene: str = Field(min_length=1)
    detail: str = Field(min_length=2, description="protein change, e.g. p.P72R")
    aliases: tuple[str, ...] = ()
    source: str = Field(min_length=3)


class FusionEntry(_Model):
    name: str = Field(min_length=3, pattern=r"^[A-Za-z0-9.]+::[A-Za-z0-9.]+$")
    aliases: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    note: str | None = None


class NamedLesion(_Model):
    """A lesion that is not a gene or a two-partner fusion (ploidy, iAMP21, generic rearrangement)."""

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    genes: tuple[str, ...] = ()
    note: str | None = None


class FusionPattern(_Model):
    partner: str = Field(min_length=1)
    position: str = Field("any", pattern="^(5prime|3prime|any)$")
    classes: tuple[str, ...] = ()


class LesionVocabularyFile(_Model):
    kind: str = Field(pattern="^lesions$")
    classes: dict[str, LesionClass] = Field(default_factory=dict)
    genes: tuple[GeneEntry, ...] = ()
    fusions: tuple[FusionEntry, ...] = ()
    named: tuple[NamedLesion, ...] = ()
    fusion_patterns: tuple[FusionPattern, ...] = ()
    benign_polymorphisms: tuple[BenignPolymorphism, ...] = ()
    synonyms: dict[str, str] = Field(default_factory=dict)


