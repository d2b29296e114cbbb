"""The case file: one patient, as pydantic v2 models.

The shape follows ``shared/examples/case.yaml``. Units live in field names (``*_percent`` for
percentages as entered by people, MRD values as fractions). Unknown fields are rejected, so a
typo never passes silently. ``remission schema case`` prints the JSON Schema of :class:`Case`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from remission.domain.mrd import MrdResult

__all__ = [
    "CD19_DIRECTED_AGENTS",
    "Antigen",
    "AssayKind",
    "CarTInfusion",
    "Case",
    "Diagnosis",
    "Donor",
    "Frontline",
    "Immunophenotype",
    "Lesion",
    "LesionKind",
    "Lineage",
    "Material",
    "MrdMethod",
    "MrdReport",
    "OrganFunction",
    "Patient",
    "PerformanceStatus",
    "Relapse",
    "RelapseSite",
    "Sample",
    "SampleRole",
    "Therapy",
    "Transplant",
    "TumourBoard",
]

Lineage = Literal["B", "T"]
LesionKind = Literal["fusion", "snv", "indel", "cnv", "rearrangement", "karyotype"]
RelapseSite = Literal["isolated_bm", "combined", "isolated_cns", "isolated_testis", "other_em"]
Material = Literal["bone_marrow", "peripheral_blood"]
AssayKind = Literal[
    "ngs_mrd", "flow_mrd", "pcr_mrd", "variants", "cart_kinetics", "b_cells", "observations",
    "tcell_panel",
]
SampleRole = Literal["diagnosis", "follow_up", "relapse", "remission", "normal_reference"]
MrdMethod = Literal["ngs", "flow", "pcr"]

#: therapy-name fragments of CD19-directed agents (bispecific T-cell engager, CD19 CAR-T products)
CD19_DIRECTED_AGENTS: tuple[str, ...] = (
    "blinatumomab", "tisagenlecleucel", "obecabtagene", "brexucabtagene", "cd19")
TherapyKind = Literal[
    "chemotherapy",
    "bispecific",
    "antibody_drug_conjugate",
    "targeted",
    "cart",
    "radiotherapy",
    "other",
]
Response = Literal[
    "CR", "CRi", "MRD_negative", "MRD_positive", "PR", "SD", "PD", "NR", "not_evaluable"
]
DonorType = Literal[
    "matched_sibling",
    "matched_family",
    "matched_unrelated",
    "mismatched_unrelated",
    "haploidentical",
    "cord_blood",
]


class _Model(BaseModel):
    # non-finite numbers (.inf, .nan in YAML) are refused at the case-file boundary
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Patient(_Model):
    id: str = Field(min_length=1, description="Pseudonymous id; never a name or a record number.")
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    date_of_birth: dt.date | None = None
    age_at_diagnosis_years: float | None = Field(None, ge=0, le=120)

    @model_validator(mode="after")
    def _one_age(self) -> Patient:
        if self.date_of_birth is None and self.age_at_diagnosis_years is None:
            raise ValueError("give date_of_birth or age_at_diagnosis_years")
        return self


class Immunophenotype(_Model):
    cd19_percent: float | None = Field(None, alias="CD19_percent", ge=0, le=100)
    cd22_percent: float | None = Field(None, alias="CD22_percent", ge=0, le=100)
    cd10_percent: float | None = Field(None, alias="CD10_percent", ge=0, le=100)
    cd34_percent: float | None = Field(None, alias="CD34_percent", ge=0, le=100)
    cd20_percent: float | None = Field(None, alias="CD20_percent", ge=0, le=100)


class Lesion(_Model):
    name: str = Field(min_length=1, description="Gene or fusion, e.g. 'ETV6::RUNX1', 'NT5C2'.")
    kind: LesionKind
    detail: str | None = None
    vaf: float | None = Field(None, ge=0, le=1, description="Variant allele fraction (0-1).")
    classification: Literal["pathogenic", "likely_pathogenic", "uncertain_significance",
                            "likely_benign", "benign"] | None = Field(
        None, description="ClinVar-style (ACMG/AMP) class; benign, likely benign and uncertain "
                          "variants do not count as lesions for options")
    oncogenic: bool | None = Field(None, description="explicit oncogenicity flag (OncoKB-style)")


class Diagnosis(_Model):
    date: dt.date
    lineage: Lineage
    immunophenotype: Immunophenotype = Immunophenotype()
    lesions: tuple[Lesion, ...] = ()
    wbc_per_ul: float | None = Field(None, ge=0)


class Frontline(_Model):
    protocol: str | None = None
    end_date: dt.date | None = Field(
        None, description="Last dose of frontline therapy (maintenance); never inferred."
    )


class Relapse(_Model):
    number: int = Field(ge=1)
    date: dt.date
    site: RelapseSite
    marrow_blasts_percent: float | None = Field(None, ge=0, le=100)
    cns_status: Literal["CNS1", "CNS2", "CNS3"] | None = None
    lesions: tuple[Lesion, ...] = ()
    immunophenotype: Immunophenotype | None = None


class Therapy(_Model):
    name: str = Field(min_length=1)
    kind: TherapyKind = "other"
    start: dt.date
    end: dt.date | None = None
    best_response: Response | None = None

    @model_validator(mode="after")
    def _order(self) -> Therapy:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Transplant(_Model):
    date: dt.date
    donor: DonorType
    conditioning: str | None = None


class CarTInfusion(_Model):
    product: str = Field(min_length=1)
    date: dt.date
    target: Literal["CD19", "CD22", "CD19_CD22"] = "CD19"
    dose_cells_per_kg: float | None = Field(None, gt=0)
    dose_total_cells: float | None = Field(None, gt=0)


class Antigen(_Model):
    date: dt.date
    cd19_percent: float | None = Field(None, alias="CD19_percent", ge=0, le=100)
    cd22_percent: float | None = Field(None, alias="CD22_percent", ge=0, le=100)
    cd19_dim_percent: float | None = Field(None, alias="CD19_dim_percent", ge=0, le=100,
                                           description="blasts with dim CD19 (percent of blasts)")
    cd22_dim_percent: float | None = Field(None, alias="CD22_dim_percent", ge=0, le=100,
                                           description="blasts with dim CD22 (percent of blasts)")
    method: str | None = None


class Donor(_Model):
    available: bool | None = Field(None, description="a suitable donor is identified")
    type: DonorType | None = None
    note: str | None = None


class PerformanceStatus(_Model):
    scale: Literal["lansky", "karnofsky"] = Field(description="Lansky (< 16 y) or Karnofsky")
    value: float = Field(ge=0, le=100)
    date: dt.date | None = None


class OrganFunction(_Model):
    date: dt.date | None = None
    bilirubin_x_uln: float | None = Field(None, ge=0, description="total bilirubin / ULN")
    alt_x_uln: float | None = Field(None, ge=0, description="ALT / ULN")
    ast_x_uln: float | None = Field(None, ge=0, description="AST / ULN")
    lvef_percent: float | None = Field(None, ge=0, le=100, description="LV ejection fraction")
    shortening_fraction_percent: float | None = Field(None, ge=0, le=100)


class TumourBoard(_Model):
    """What a tumour board asks for beyond the disease course (all optional; options say when
    a field they need is missing)."""

    donor: Donor | None = None
    performance_status: PerformanceStatus | None = None
    organ_function: OrganFunction | None = None
    cumulative_anthracycline_mg_m2: float | None = Field(
        None, ge=0, description="cumulative anthracycline dose, doxorubicin-equivalent mg/m2")
    down_syndrome: bool | None = None
    germline_predisposition: tuple[str, ...] | None = Field(
        None, description="known germline predisposition (e.g. TP53 Li-Fraumeni); [] = none found; "
                          "null = not assessed")
    trial_notes: str | None = Field(None, description="trial eligibility notes (free text)")


class MrdReport(_Model):
    """An MRD value reported by a laboratory without raw files (fractions, not percent)."""

    date: dt.date
    method: MrdMethod
    value: float | None = Field(None, ge=0, le=1, description="MRD as a fraction; null when negative.")
    lod: float | None = Field(None, gt=0, le=1)
    loq: float | None = Field(None, gt=0, le=1)
    status: Literal["negative", "positive_not_quantifiable", "positive"] | None = None
    timepoint: str | None = None
    material: Material = "bone_marrow"
    marker: str | None = None

    def to_result(self) -> MrdResult:
        """The report as an :class:`MrdResult` (``source="reported"``); a missing status is
        derived from the value and the LoQ (0 or no value: negative)."""
        status = self.status or (
            "negative" if self.value is None or self.value == 0
            else "positive_not_quantifiable" if self.loq is not None and self.value < self.loq
            else "positive")
        return MrdResult(method=self.method, status=status,
                         value=None if status == "negative" else self.value,
                         lod=self.lod, loq=self.loq, date=self.date, material=self.material,
                         marker=self.marker, timepoint=self.timepoint, source="reported")


class Sample(_Model):
    id: str = Field(min_length=1)
    date: dt.date
    material: Material
    assay: AssayKind
    role: SampleRole = "follow_up"
    files: tuple[str, ...] = Field(min_length=1, description="Paths relative to the case file.")
    parameters: dict[str, Any] = Field(default_factory=dict)


class Outcome(_Model):
    """Follow-up status for cohort analyses: the last date the patient was known alive, or death
    (with its date and, when known, whether the patient was in remission then)."""

    last_contact: dt.date | None = Field(None, description="Last date known alive.")
    death_date: dt.date | None = None
    death_cause: Literal["relapse", "treatment_related", "infection", "other", "unknown"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Outcome:
        if self.death_cause is not None and self.death_date is None:
            raise ValueError("death_cause needs death_date")
        if self.death_date is not None and self.last_contact is not None \
                and self.last_contact > self.death_date:
            raise ValueError("last_contact must not be after death_date")
        return self


class Case(_Model):
    """One patient's course and the samples ``remission`` analyses."""

    schema_: Literal["remission.case/1"] = Field("remission.case/1", alias="schema")
    patient: Patient
    diagnosis: Diagnosis
    frontline: Frontline = Frontline()
    relapses: tuple[Relapse, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    transplants: tuple[Transplant, ...] = ()
    cart_infusions: tuple[CarTInfusion, ...] = ()
    antigen_expression: tuple[Antigen, ...] = ()
    mrd_reports: tuple[MrdReport, ...] = ()
    samples: tuple[Sample, ...] = ()
    tumour_board: TumourBoard = TumourBoard()
    outcome: Outcome = Outcome()

    def cd19_directed_before(self, when: dt.date) -> list[str]:
        """CD19-directed therapies given on or before ``when`` (CD19 CAR-T infusions, therapies
        whose name is a CD19-directed agent), described with their dates. The one place that
        answers "had this patient CD19-directed therapy before date X"."""
        hits = [f"CD19 CAR-T ({c.product}) on {c.date}" for c in self.cart_infusions
                if c.date <= when and "CD19" in (c.target or "").upper()]
        hits += [f"{t.name} from {t.start}" for t in self.therapies
                 if t.start <= when and any(a in t.name.lower() for a in CD19_DIRECTED_AGENTS)]
        return hits

    @field_validator("samples")
    @classmethod
    def _unique_sample_ids(cls, samples: tuple[Sample, ...]) -> tuple[Sample, ...]:
        seen: set[str] = set()
        for s in samples:
            if s.id in seen:
                raise ValueError(f"duplicate sample id {s.id!r}")
            seen.add(s.id)
        return samples

    @model_validator(mode="after")
    def _chronology(self) -> Case:
        dx = self.diagnosis.date
        dob = self.patient.date_of_birth
        if dob is not None and dob > dx:
            raise _PathError(("patient", "date_of_birth"), f"date of birth {dob} is after diagnosis {dx}")
        if self.frontline.end_date is not None and self.frontline.end_date < dx:
            raise _PathError(("frontline", "end_date"), f"{self.frontline.end_date} is before diagnosis {dx}")
        for i, r in enumerate(self.relapses):
            if r.date < dx:
                raise _PathError(("relapses", i, "date"), f"relapse dated {r.date}, before diagnosis {dx}")
        numbers = [r.number for r in self.relapses]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise _PathError(("relapses",), f"relapse numbers must be unique and ascending, got {numbers}")
        for name, items in (("transplants", self.transplants), ("cart_infusions", self.cart_infusions),
                            ("therapies", self.therapies)):
            for i, item in enumerate(items):
                when = getattr(item, "date", None) or getattr(item, "start", None)
                if when is not None and when < dx:
                    raise _PathError((name, i), f"dated {when}, before diagnosis {dx}")
        return self

    # -- convenience -------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.patient.id

    @property
    def first_relapse(self) -> Relapse | None:
        return self.relapses[0] if self.relapses else None

    def samples_of(self, assay: AssayKind) -> list[Sample]:
        return [s for s in self.samples if s.assay == assay]

    def age_at(self, when: dt.date) -> float:
        """Age in years at ``when`` (from date of birth, else from age at diagnosis)."""
        if self.patient.date_of_birth is not None:
            return (when - self.patient.date_of_birth).days / 365.25
        assert self.patient.age_at_diagnosis_years is not None
        return self.patient.age_at_diagnosis_years + (when - self.diagnosis.date).days / 365.25


class _PathError(ValueError):
    """A model-level check that knows which field path it concerns.

    pydantic wraps it as a ``value_error`` at the model's location; the case-file loader reads
    ``path`` from the context to name the exact field.
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        super().__init__(f"@{'/'.join(map(str, path))}@ {message}")
