"""Records of the NGS-MRD engine: index clones, marker counts, per-sample results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from remission.domain.mrd import MrdResult
from remission.domain.parameters import Rule, rests_on
from remission.mrd.ngs.targets import Target

__all__ = ["ClonotypeBlock", "IndexClone", "IndexResult", "MarkerCount", "MarkerMrd", "NgsMrdResult",
           "SpikeIn", "TrackResult"]


class ClonotypeBlock(Protocol):
    """What the engine reads from a table block (:class:`remission.io.airr.AirrChunk` is one)."""

    @property
    def count(self) -> np.ndarray: ...

    def get(self, name: str) -> np.ndarray: ...


@dataclass(frozen=True)
class IndexClone:
    """One index clonotype found at diagnosis."""

    marker: str
    target: Target
    locus: str
    v_call: str
    d_call: str
    j_call: str
    junction: str
    reads: int
    reads_exact: int
    fraction: float
    target_reads: int
    stem_nt: int = 0
    relatives: tuple[dict[str, Any], ...] = ()
    relatives_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"marker": self.marker, "target": self.target, "locus": self.locus,
                "relative_stem_nt": self.stem_nt, "relatives_at_diagnosis": list(self.relatives),
                "relatives_note": self.relatives_note,
                "v_call": self.v_call, "d_call": self.d_call, "j_call": self.j_call,
                "junction": self.junction, "reads": self.reads, "reads_exact": self.reads_exact,
                "diagnosis_fraction": self.fraction, "target_reads": self.target_reads}


@dataclass(frozen=True)
class IndexResult:
    clones: tuple[IndexClone, ...]
    target_reads: dict[str, int]
    total_reads: int
    rules: dict[str, Rule]
    near_threshold: tuple[dict[str, Any], ...] = ()
    watch: tuple[dict[str, Any], ...] = ()
    #: every diagnosis clonotype: (target, V gene, J gene, junction) -> reads (not serialised)
    clonotypes: Mapping[tuple[str, str, str, str], int] = field(default_factory=dict, repr=False,
                                                                compare=False)

    def diagnosis_fraction(self, target: str, v: str, j: str, junction: str) -> float:
        """Fraction of ``target``'s diagnosis reads held by that exact clonotype (0 when absent)."""
        tr = self.target_reads.get(target, 0)
        return self.clonotypes.get((target, v, j, junction), 0) / tr if tr else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "markers": [c.as_dict() for c in self.clones],
            "n_markers": len(self.clones),
            "status": "markers" if self.clones else "no_marker",
            "targets": dict(self.target_reads),
            "denominator": "reads of the clonotype's target (locus/recombination type)",
            "total_reads": self.total_reads,
            "near_threshold": list(self.near_threshold),
            "watch_list": list(self.watch),
        }


@dataclass
class MarkerCount:
    """Reads of one index marker in a follow-up sample."""

    reads: int = 0
    by_mismatches: list[int] = field(default_factory=list)
    relatives_reads: int = 0
    relatives: dict[tuple[str, str, str], int] = field(default_factory=dict)

    @property
    def exact(self) -> int:
        return self.by_mismatches[0] if self.by_mismatches else 0


@dataclass
class TrackResult:
    """Counts of every index marker (and spike) in one follow-up sample."""

    counts: list[MarkerCount]
    total_reads: int
    target_reads: dict[str, int]
    spike_reads: list[int]
    mode: Literal["airr", "fastq"]
    #: non-marker, non-spike, non-relative clonotypes: (target, V, J, junction) -> reads (AIRR only)
    others: dict[tuple[str, str, str, str], int] | None = None


@dataclass(frozen=True)
class SpikeIn:
    """A calibrator of known copy number spiked into the sample (cIT-QC; Knecht 2019)."""

    name: str
    copies: float
    junction: str


@dataclass(frozen=True)
class MarkerMrd:
    clone: IndexClone
    reads: int
    reads_exact: int
    reads_by_mismatches: tuple[int, ...]
    relatives_reads: int
    relatives: tuple[dict[str, Any], ...]
    leukemic_cells: float | None
    mrd: float | None
    status: str  # negative | positive_not_quantifiable | positive | detected | not_detected
    lod: float | None
    loq: float | None
    read_fraction: float | None = None
    target_reads: int = 0
    reads_per_cell: float | None = None

    def as_dict(self) -> dict[str, Any]:
        c = self.clone
        return {"marker": c.marker, "target": c.target, "locus": c.locus, "v_call": c.v_call,
                "j_call": c.j_call, "junction": c.junction, "diagnosis_fraction": c.fraction,
                "reads": self.reads, "reads_exact": self.reads_exact,
                "reads_by_mismatches": list(self.reads_by_mismatches),
                "relatives_reads": self.relatives_reads, "relatives": list(self.relatives),
                "read_fraction": self.read_fraction, "target_reads": self.target_reads,
                "denominator": f"reads of target {c.target}",
                "reads_per_cell": self.reads_per_cell,
                "leukemic_cell_equivalents": self.leukemic_cells, "mrd": self.mrd,
                "status": self.status, "lod": self.lod, "loq": self.loq}


@dataclass(frozen=True)
class NgsMrdResult:
    """MRD of one follow-up sample from all its markers (JSON: :meth:`as_dict`).

    ``quantity`` is ``mrd`` (leukemic cells / cells analysed) or ``read_fraction`` (neither DNA
    input nor spike-in: index reads / reads of the target, never an MRD value; ``mrd`` is then
    ``None`` and ``status`` is ``not_evaluable``).
    """

    status: str  # negative | positive_not_quantifiable | positive | no_marker | not_evaluable
    mrd: float | None
    lod: float | None
    loq: float | None
    cell_equivalents: float | None
    total_reads: int
    markers: tuple[MarkerMrd, ...]
    quantification: str
    reads_per_cell: float | None
    spike: dict[str, Any] | None
    warnings: tuple[str, ...]
    rules: dict[str, Rule]
    mode: str
    quantity: Literal["mrd", "read_fraction"] = "mrd"
    read_fraction: float | None = None
    reads_per_cell_model: str | None = None
    emerging: tuple[dict[str, Any], ...] = ()
    watch: tuple[dict[str, Any], ...] = ()
    marker_caveat: str | None = None
    denominator: str = "reads of each marker's target (locus/recombination type)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "mrd": self.mrd, "status": self.status, "lod": self.lod, "loq": self.loq,
            "quantity": self.quantity, "read_fraction": self.read_fraction,
            "denominator": self.denominator,
            "cell_equivalents": self.cell_equivalents, "total_reads": self.total_reads,
            "markers": [m.as_dict() for m in self.markers],
            "quantification": self.quantification, "reads_per_cell": self.reads_per_cell,
            "reads_per_cell_model": self.reads_per_cell_model,
            "spike": self.spike, "mode": self.mode,
            "emerging_clones": list(self.emerging), "watch_list": list(self.watch),
            "marker_caveat": self.marker_caveat, "warnings": list(self.warnings),
            "rests_on": rests_on(self.rules.values()),
        }

    def to_mrd_result(self, **kw: Any) -> MrdResult | None:
        """The case-domain :class:`~remission.domain.MrdResult` (``None`` without markers).

        A read fraction (no DNA input, no spike-in) becomes ``not_evaluable``: the course never
        reads it as MRD.
        """
        if self.status == "no_marker":
            return None
        details: dict[str, Any] = {"cell_equivalents": self.cell_equivalents,
                                   "total_reads": self.total_reads, "quantity": self.quantity,
                                   "quantification": self.quantification,
                                   "denominator": self.denominator, "n_markers": len(self.markers)}
        if self.emerging:
            details["emerging_clones"] = list(self.emerging)
            details["marker_caveat"] = self.marker_caveat
        if self.quantity == "read_fraction":
            details.update(reason="read fraction only: neither DNA input nor spike-in, so no cells "
                                  "analysed and no MRD value", read_fraction=self.read_fraction)
            return MrdResult(method="ngs", status="not_evaluable", value=None, details=details, **kw)
        best = max(self.markers, key=lambda m: m.mrd or 0.0) if self.markers else None
        return MrdResult(
            method="ngs", status=self.status,
            value=None if self.status == "negative" else min(1.0, self.mrd or 0.0),
            lod=min(1.0, self.lod) if self.lod is not None else None,
            loq=min(1.0, self.loq) if self.loq is not None else None,
            marker=(f"{best.clone.v_call} {best.clone.junction[:12]}… {best.clone.j_call}"
                    if best else None),
            details=details,
            **kw,
        )
