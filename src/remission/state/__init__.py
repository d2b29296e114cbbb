"""The disease-state engine: where the patient stands at each date and now.

Remission or not (MRD by method and material, with the sensitivity reached), molecular relapse,
line of therapy (relapse number, after HSCT, after CAR-T), CAR-T persistence and B-cell aplasia,
CD19/CD22 on the blasts, marrow burden at each date and time since HSCT; each state with the
definition it applies (cited) and the recorded facts it rests on. Pure: no files, no database.

>>> from remission.state import disease_state
"""

from remission.state.engine import as_mapping, disease_state, line_label
from remission.state.models import (
    NOT_IN_REMISSION,
    STATUS_LABELS,
    Alert,
    AntigenStatus,
    BurdenPoint,
    CarTStatus,
    DiseaseState,
    Line,
    MrdLatest,
    StateEvidence,
    StatePeriod,
)
from remission.state.rules import DEFINITIONS, STATE_RULES

__all__ = [
    "DEFINITIONS",
    "NOT_IN_REMISSION",
    "STATE_RULES",
    "STATUS_LABELS",
    "Alert",
    "AntigenStatus",
    "BurdenPoint",
    "CarTStatus",
    "DiseaseState",
    "Line",
    "MrdLatest",
    "StateEvidence",
    "StatePeriod",
    "as_mapping",
    "disease_state",
    "line_label",
]
