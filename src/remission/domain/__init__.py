"""Typed records shared by every layer: the case, MRD values, analysis results, provenance."""

from remission.domain.analysis import (
    NOT_A_MEDICAL_DEVICE,
    CaseAnalysis,
    EngineSection,
    InputFile,
    Provenance,
    TimelineEvent,
)
from remission.domain.case import (
    Antigen,
    CarTInfusion,
    Case,
    Diagnosis,
    Frontline,
    Immunophenotype,
    Lesion,
    MrdReport,
    Patient,
    Relapse,
    Sample,
    Therapy,
    Transplant,
)
from remission.domain.envelope import envelope
from remission.domain.mrd import MrdMethod, MrdResult, MrdStatus, format_mrd
from remission.domain.parameters import Rule, resolve, rests_on, rule_set, rule_values

__all__ = [
    "NOT_A_MEDICAL_DEVICE",
    "Antigen",
    "CarTInfusion",
    "Case",
    "CaseAnalysis",
    "Diagnosis",
    "EngineSection",
    "Frontline",
    "Immunophenotype",
    "InputFile",
    "Lesion",
    "MrdMethod",
    "MrdReport",
    "MrdResult",
    "MrdStatus",
    "Patient",
    "Provenance",
    "Relapse",
    "Rule",
    "Sample",
    "Therapy",
    "TimelineEvent",
    "Transplant",
    "envelope",
    "format_mrd",
    "resolve",
    "rests_on",
    "rule_set",
    "rule_values",
]
