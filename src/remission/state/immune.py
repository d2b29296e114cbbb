"""T-cell context beside immunotherapy: CD4/CD8 ratio, regulatory T-cell share and exhausted
fractions from a flow T-cell panel (event counts of the laboratory's Gating-ML gates).

Pure arithmetic on counts; no threshold is applied because no validated reference range is
cited: the result reports values and their trend over time only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from remission.domain.state import ImmunePoint, ImmuneResult

__all__ = ["ROLES", "immune_context", "immune_point"]

#: population roles a panel maps its gate ids to
ROLES = ("cd3", "cd4", "cd8", "treg", "cd4_exhausted", "cd8_exhausted")

_MEASURES = ("cd4_cd8_ratio", "treg_percent_of_cd4", "cd4_exhausted_percent",
             "cd8_exhausted_percent")


def _share(part: int | None, whole: int | None, scale: float = 100.0) -> float | None:
    if part is None or not whole:
        return None
    return round(scale * part / whole, 4)


def immune_point(date: dt.date, sample_id: str, material: str,
                 counts: Mapping[str, int]) -> ImmunePoint:
    """One panel: ratio and shares from the counts (a missing or empty denominator gives None)."""
    c = {k: int(v) for k, v in counts.items()}
    cd4, cd8 = c.get("cd4"), c.get("cd8")
    return ImmunePoint(
        date=date, sample_id=sample_id, material=material, counts=c,
        cd4_cd8_ratio=_share(cd4, cd8, 1.0),
        treg_percent_of_cd4=_share(c.get("treg"), cd4),
        cd4_exhausted_percent=_share(c.get("cd4_exhausted"), cd4),
        cd8_exhausted_percent=_share(c.get("cd8_exhausted"), cd8))


def immune_context(points: Sequence[ImmunePoint]) -> ImmuneResult:
    """The panels in date order with the trend of each measure (latest vs the one before)."""
    ordered = tuple(sorted(points, key=lambda p: (p.date, p.sample_id)))
    trends: dict[str, str] = {}
    for m in _MEASURES:
        vals = [getattr(p, m) for p in ordered if getattr(p, m) is not None]
        if not vals:
            continue
        if len(vals) == 1:
            trends[m] = "single"
        else:
            a, b = vals[-2], vals[-1]
            trends[m] = "rising" if b > a else "falling" if b < a else "unchanged"
    return ImmuneResult(points=ordered, trends=trends)
