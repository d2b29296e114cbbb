"""MRD values, with method, status and limits, the same for NGS, flow and RQ-PCR.

MRD is a fraction of nucleated cells (``1e-4``), never percent. The status is explicit:

- ``negative``: no leukemic signal; ``value`` is ``None``;
- ``positive_not_quantifiable``: signal detected but below the LoQ; ``value`` holds the point
  estimate for plotting and fitting, but must never be shown as a plain number;
- ``positive``: quantifiable; ``value`` is the MRD fraction;
- ``not_evaluable``: the sample gave no usable measurement (no reads, no evaluable events, a
  failed control); ``value`` is ``None`` and ``details["reason"]`` says why. Never read as
  negative: the course and the clinical rules skip it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MrdMethod", "MrdResult", "MrdStatus", "compare_to_threshold", "format_mrd"]

MrdStatus = Literal["negative", "positive_not_quantifiable", "positive", "not_evaluable"]
MrdMethod = Literal["ngs", "flow", "pcr"]


class MrdResult(BaseModel):
    """One MRD measurement of one sample (or the case-level summary of several markers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: MrdMethod
    status: MrdStatus
    value: float | None = Field(None, ge=0, le=1, description="MRD fraction; null when negative")
    lod: float | None = Field(None, ge=0, le=1, description="limit of detection (fraction)")
    loq: float | None = Field(None, ge=0, le=1, description="limit of quantification (fraction)")
    sample_id: str | None = None
    date: dt.date | None = None
    material: Literal["bone_marrow", "peripheral_blood"] | None = None
    marker: str | None = Field(None, description="clone, gate or assay the value comes from")
    timepoint: str | None = None
    source: Literal["computed", "reported"] = "computed"
    details: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _status_value(self) -> MrdResult:
        if self.status == "negative" and self.value is not None:
            raise ValueError("a negative MRD result has no value (value must be null)")
        if self.status == "positive" and self.value is None:
            raise ValueError("a positive MRD result needs a value")
        if self.status == "not_evaluable" and self.value is not None:
            raise ValueError("a not-evaluable MRD result has no value (value must be null)")
        return self

    def display(self) -> str:
        """Human text; values below the LoQ are never shown as plain numbers."""
        return format_mrd(self.status, self.value, self.lod, self.loq)


def compare_to_threshold(m: MrdResult, threshold: float) -> bool | None:
    """Is MRD at or above ``threshold``? ``True``/``False``, or ``None`` when the result cannot
    tell (a negative or not-quantifiable result whose sensitivity does not reach the threshold,
    or a not-evaluable sample). The one comparison every clinical rule uses.
    """
    if m.status == "not_evaluable":
        return None
    if m.status == "positive":
        assert m.value is not None
        return m.value >= threshold
    if m.status == "positive_not_quantifiable":
        # the true value is below the LoQ: below the threshold only if LoQ <= threshold
        if m.loq is not None and m.loq <= threshold:
            return False
        if m.value is not None and m.loq is None:
            return m.value >= threshold
        return None
    # negative: below the threshold only if the assay could have seen it
    if m.lod is None:
        return False
    return False if m.lod <= threshold else None


def _pct(x: float) -> str:
    return f"{x * 100:.2g} %" if x * 100 < 0.01 else f"{x * 100:.3g} %"


def format_mrd(status: str, value: float | None, lod: float | None, loq: float | None) -> str:
    """Render MRD for people (percent only here, in rendered text)."""
    if status == "not_evaluable":
        return "not evaluable"
    if status == "negative":
        return f"negative (< {_pct(lod)})" if lod else "negative"
    if status == "positive_not_quantifiable":
        return f"positive, < LoQ ({_pct(loq)})" if loq else "positive, not quantifiable"
    assert value is not None
    return f"{value:.2e} ({_pct(value)})"
