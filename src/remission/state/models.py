"""The disease-state result models (defined in :mod:`remission.domain.state`, re-exported here)."""

from remission.domain.state import (
    NOT_IN_REMISSION,
    STATUS_LABELS,
    Alert,
    AntigenStatus,
    BurdenPoint,
    CarTStatus,
    DiseaseState,
    ImmunePoint,
    ImmuneResult,
    Line,
    MrdLatest,
    StateEvidence,
    StatePeriod,
    Status,
)

__all__ = [
    "NOT_IN_REMISSION",
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
