"""Records for CAR-T monitoring, shared by the readers (``remission.io.cart``) and the engines
(``remission.cart``): one toxicity assessment, one cellular-kinetics series, one B-cell series.

They are plain frozen dataclasses with closed vocabularies as ``Literal`` types. The readers
check every value; the engines check again where a value matters (``ValidationError``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CONSCIOUSNESS",
    "EDEMA",
    "MOTOR",
    "OXYGEN",
    "SEIZURE",
    "Assessment",
    "BCellSeries",
    "KineticsSeries",
]

#: oxygen support, least to most (ASTCT 2019 CRS table, hypoxia row)
OXYGEN = ("none", "low_flow", "high_flow", "positive_pressure")
#: level of consciousness, least to most depressed. ``awake`` = alert, not depressed;
#: ``drowsy`` = depressed but awakens spontaneously (ASTCT ICANS grade 1 wording).
CONSCIOUSNESS = ("awake", "drowsy", "voice", "tactile", "unarousable")
SEIZURE = ("none", "focal_or_generalized_resolving", "eeg_nonconvulsive", "prolonged_or_repetitive")
#: ``tremor_or_myoclonus`` is accepted and recorded but does not count (ASTCT footnote ‡)
MOTOR = ("none", "tremor_or_myoclonus", "deep_focal_weakness")
#: ``haemorrhage`` (intracranial haemorrhage) is accepted but is not an ICANS feature (footnote §);
#: ``icp_signs``: decerebrate/decorticate posturing, CN VI palsy, papilledema or Cushing's triad
EDEMA = ("none", "haemorrhage", "focal", "diffuse", "icp_signs")

Oxygen = Literal["none", "low_flow", "high_flow", "positive_pressure"]
Consciousness = Literal["awake", "drowsy", "voice", "tactile", "unarousable"]
Seizure = Literal["none", "focal_or_generalized_resolving", "eeg_nonconvulsive", "prolonged_or_repetitive"]
Motor = Literal["none", "tremor_or_myoclonus", "deep_focal_weakness"]
Edema = Literal["none", "haemorrhage", "focal", "diffuse", "icp_signs"]
Death = Literal["none", "crs", "icans", "other"]


@dataclass(frozen=True)
class Assessment:
    """One toxicity assessment (one row of the observation CSV).

    Every feature is meant as *attributed to CRS/ICANS* (ASTCT: "not attributable to any other
    cause"); features with another cause should not be entered. ``None`` means not assessed.
    """

    day: float | None = None
    date: dt.date | None = None
    temperature_c: float | None = None
    antipyretic: bool = False
    anti_cytokine: bool = False
    hypotension: bool = False
    #: number of vasopressors other than vasopressin
    vasopressors: int = 0
    vasopressin: bool = False
    vasopressor_high_dose: bool = False
    oxygen: Oxygen = "none"
    oxygen_l_min: float | None = None
    #: inspired oxygen fraction (0.21-1.0), needed by the Lee 2014 and CTCAE scales
    fio2: float | None = None
    #: invasive mechanical ventilation (vs CPAP/BiPAP) when ``oxygen == "positive_pressure"``
    mechanical_ventilation: bool | None = None
    ice_score: int | None = None
    capd_score: int | None = None
    capd_unable: bool = False
    consciousness: Consciousness | None = None
    #: depressed consciousness explained by sedating medication (ASTCT footnote †)
    sedated: bool = False
    seizure: Seizure | None = None
    motor: Motor | None = None
    cerebral_edema: Edema | None = None
    #: CTCAE grades of CRS-related organ toxicity (used by Penn and Lee 2014, never by ASTCT)
    creatinine_grade: int | None = None
    transaminase_grade: int | None = None
    organ_toxicity_grade: int | None = None
    hospitalized: bool | None = None
    death_attributed_to: Death = "none"
    #: source line in the observation file (for messages)
    line: int | None = None


@dataclass(frozen=True)
class KineticsSeries:
    """CAR-T transgene (qPCR copies/µg gDNA) or CAR+ cells/µL over days since infusion.

    For ``below_lod`` points ``values`` holds the limit of detection of that measurement.
    """

    days: tuple[float, ...]
    values: tuple[float, ...]
    below_lod: tuple[bool, ...]
    unit: Literal["copies_per_ug", "cells_per_ul"]
    dates: tuple[dt.date | None, ...] = field(default=())


@dataclass(frozen=True)
class BCellSeries:
    """CD19+ B cells over time, in one unit."""

    days: tuple[float | None, ...]
    dates: tuple[dt.date | None, ...]
    values: tuple[float, ...]
    unit: Literal["cells_per_ul", "percent_lymphocytes", "percent_mnc"]
