"""MRD = leukemic cells / cells analysed, with LoD/LoQ; the fit-style wrapper."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from remission.domain.checks import check_in, check_nonnegative, check_positive
from remission.domain.parameters import resolve, rule_values
from remission.errors import ValidationError
from remission.mrd.ngs.index import index_clonotypes
from remission.mrd.ngs.model import (
    ClonotypeBlock,
    IndexClone,
    IndexResult,
    MarkerMrd,
    NgsMrdResult,
    SpikeIn,
    TrackResult,
)
from remission.mrd.ngs.rules import NGS_RULES
from remission.mrd.ngs.tracking import FastqChunkLike, track_airr, track_fastq

__all__ = ["NgsMrd", "cells_from_dna", "quantify", "reads_per_copy"]


def cells_from_dna(dna_ng: float, pg_dna_per_cell: float = 6.5) -> float:
    """Cells analysed from the DNA input: ``ng × 1000 / pg per diploid cell`` (1 µg ≈ 153,846 cells)."""
    check_positive("dna_ng", dna_ng)
    check_positive("pg_dna_per_cell", pg_dna_per_cell)
    return dna_ng * 1000.0 / pg_dna_per_cell


def reads_per_copy(copies: Sequence[float], reads: Sequence[float]) -> tuple[float, float]:
    """Reads per calibrator copy by least squares through the origin, and its r².

    ``coef = Σ c·r / Σ c²``; r² = 1 - SS_res/SS_tot (uncentred, as for a fit through the origin).
    Vidjil ``tools/spike-normalization.py`` fits copies on reads through the origin per V family.
    """
    c = np.asarray(copies, dtype=float)
    r = np.asarray(reads, dtype=float)
    if c.size == 0 or c.size != r.size or (c <= 0).any():
        raise ValidationError(f"spike copies must be a non-empty list of numbers > 0, but was {list(copies)!r}")
    coef = float((c * r).sum() / (c * c).sum())
    ss_tot = float((r * r).sum())
    r2 = 1.0 - float(((r - coef * c) ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0
    return coef, r2


def _locus_reads(track: TrackResult, clone: IndexClone) -> int:
    """Reads of the marker's locus (all its targets, e.g. IGH VDJ + DJ); all reads for FASTQ."""
    if track.mode != "airr":
        return track.total_reads
    return sum(n for t, n in track.target_reads.items() if t.split("_", 1)[0] == clone.target.split("_", 1)[0])


def _combine(values: list[float], how: str) -> float:
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    return float(np.mean(values))


def quantify(
    index: IndexResult,
    track: TrackResult,
    *,
    dna_ng: float | None = None,
    cell_equivalents: float | None = None,
    spikes: Sequence[SpikeIn] = (),
    parameters: Mapping[str, Any] | None = None,
) -> NgsMrdResult:
    """MRD of one follow-up sample from its marker counts.

    Cells analysed come from ``cell_equivalents`` or ``dna_ng``. Leukemic cell equivalents of a
    marker are its reads divided by the reads per cell: from the spike-in regression when
    ``spikes`` are given (reads per calibrator copy, one copy per cell), else the marker target's
    reads over the cells analysed (the read fraction of the locus: exact when every analysed cell
    contributes one template of that locus, an over-estimate otherwise; stated in the warnings).
    """
    rules = resolve(NGS_RULES, parameters) if parameters is not None else index.rules
    check_in("case_combine", rules["case_combine"].value, ("max", "min", "mean"))
    p_detect = float(rules["lod_detection_probability"].value)
    if not 0 < p_detect < 1:
        raise ValidationError(f"lod_detection_probability must be in (0, 1), but was {p_detect!r}")
    k_lod = -math.log(1.0 - p_detect)
    loq_cells = check_nonnegative("loq_min_cells", rules["loq_min_cells"].value)
    loq_reads = int(rules["loq_min_reads"].value)
    det_reads = max(1, int(rules["detect_min_reads"].value))
    warnings: list[str] = []
    cells: float | None = None
    if cell_equivalents is not None:
        cells = check_positive("cell_equivalents", cell_equivalents)
    elif dna_ng is not None:
        cells = cells_from_dna(dna_ng, float(rules["pg_dna_per_cell"].value))
    spike_info: dict[str, Any] | None = None
    rpc_spike: float | None = None
    if spikes:
        coef, r2 = reads_per_copy([s.copies for s in spikes], track.spike_reads)
        spike_info = {"reads_per_copy": coef, "r2": r2,
                      "calibrators": [{"name": s.name, "copies": s.copies, "reads": n}
                                      for s, n in zip(spikes, track.spike_reads, strict=True)]}
        if coef <= 0 or r2 <= float(rules["spike_min_r2"].value):
            raise ValidationError(f"spike-in calibration must have reads > 0 and r² > "
                                  f"{rules['spike_min_r2'].value}, but was reads per copy {coef:.3g}, "
                                  f"r² {r2:.3f}")
        rpc_spike = coef
    if cells is None:
        if rpc_spike is None:
            raise ValidationError("cells analysed must be given (dna_ng or cell_equivalents) "
                                  "or a spike-in must be present, but neither was")
        tr = max((_locus_reads(track, c) for c in index.clones), default=track.total_reads)
        cells = tr / rpc_spike
        warnings.append("cells analysed estimated as the target's reads over reads per spike copy "
                        "(every analysed cell assumed to carry one template); give the DNA input "
                        "for a true denominator")
    if not index.clones:
        return NgsMrdResult(status="no_marker", mrd=None, lod=None, loq=None,
                            cell_equivalents=cells, total_reads=track.total_reads, markers=(),
                            quantification="none", reads_per_cell=None, spike=spike_info,
                            warnings=("the diagnosis has no index clonotype passing the criteria: "
                                      "no NGS-MRD marker",), rules=rules, mode=track.mode)
    quant = "spike_in" if rpc_spike is not None else "read_fraction"
    if quant == "read_fraction":
        warnings.append("no spike-in: leukemic cells from the marker's read fraction of its locus "
                        "(assumes every analysed cell contributes one template of that locus)")
        if track.mode == "fastq":
            warnings.append("FASTQ without annotation: the read fraction is over all reads of the "
                            "file; with several loci in one library use a spike-in or AIRR input")
    markers: list[MarkerMrd] = []
    rpc_used: list[float] = []
    for c, mc in zip(index.clones, track.counts, strict=True):
        rpc = rpc_spike if rpc_spike is not None else _locus_reads(track, c) / cells
        rpc_used.append(rpc)
        if rpc <= 0:
            lod = loq = 1.0
            leuk = 0.0
        else:
            lod = k_lod / (cells * min(1.0, rpc))
            loq = max(loq_cells / cells, loq_reads / (rpc * cells))
            leuk = mc.reads / rpc
        lod, loq = min(lod, 1.0), min(max(loq, lod), 1.0)
        value: float | None
        if mc.reads < det_reads:
            status, value = "negative", None
        else:
            value = min(1.0, leuk / cells)
            status = "positive" if (mc.reads >= loq_reads and leuk >= loq_cells and value >= loq) \
                else "positive_not_quantifiable"
        rels = tuple({"v_call": v, "j_call": j, "junction": s, "reads": n}
                     for (v, j, s), n in sorted(mc.relatives.items(), key=lambda kv: -kv[1])[:20])
        markers.append(MarkerMrd(clone=c, reads=mc.reads, reads_exact=mc.exact,
                                 reads_by_mismatches=tuple(mc.by_mismatches),
                                 relatives_reads=mc.relatives_reads, relatives=rels,
                                 leukemic_cells=leuk, mrd=value, status=status, lod=lod, loq=loq))
        if mc.relatives_reads:
            warnings.append(f"marker {c.marker}: {mc.relatives_reads} reads of evolved relatives "
                            "(shared 3' stem) reported apart, not counted in MRD")
    how = str(rules["case_combine"].value)
    # case level: over the detected markers; quantifiable ones first (max = highest marker)
    det = [m for m in markers if m.status != "negative"]
    quant_m = [m for m in det if m.status == "positive"]
    if quant_m:
        status, value = "positive", _combine([m.mrd or 0.0 for m in quant_m], how)
    elif det:
        status, value = "positive_not_quantifiable", _combine([m.mrd or 0.0 for m in det], how)
    else:
        status, value = "negative", None
    lod_case = min(m.lod for m in markers)
    loq_case = min(m.loq for m in markers)
    if status == "positive" and value is not None and value < loq_case:
        status = "positive_not_quantifiable"
    if status == "negative" and lod_case > float(rules["insufficient_sensitivity_lod"].value):
        warnings.append(f"negative with insufficient sensitivity: LoD {lod_case:.1e} is above "
                        f"{rules['insufficient_sensitivity_lod'].value:g}")
    return NgsMrdResult(status=status, mrd=value, lod=lod_case, loq=loq_case, cell_equivalents=cells,
                        total_reads=track.total_reads, markers=tuple(markers), quantification=quant,
                        reads_per_cell=float(np.mean(rpc_used)) if rpc_used else None,
                        spike=spike_info, warnings=tuple(warnings), rules=rules, mode=track.mode)


class NgsMrd:
    """Fit-style wrapper: ``NgsMrd(params).fit(dx_blocks)`` then ``.track_airr(...)``/``.track_fastq(...)``.

    Attributes (after ``fit``): ``index_`` (:class:`IndexResult`).

    See Also
    --------
    index_clonotypes, track_airr, track_fastq, quantify : the pure functions it calls.
    """

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.parameters = dict(parameters or {})
        self.rules = resolve(NGS_RULES, self.parameters)

    def fit(self, blocks: Iterable[ClonotypeBlock]) -> NgsMrd:
        self.index_ = index_clonotypes(blocks, self.parameters)
        return self

    def _q(self, track: TrackResult, **kw: Any) -> NgsMrdResult:
        return quantify(self.index_, track, parameters=self.parameters, **kw)

    def track_airr(self, blocks: Iterable[ClonotypeBlock], *, spikes: Sequence[SpikeIn] = (),
                   **kw: Any) -> NgsMrdResult:
        return self._q(track_airr(self.index_, blocks, self.parameters, spikes), spikes=spikes, **kw)

    def track_fastq(self, chunks: Iterable[FastqChunkLike], *, spikes: Sequence[SpikeIn] = (),
                    **kw: Any) -> NgsMrdResult:
        return self._q(track_fastq(self.index_, chunks, self.parameters, spikes), spikes=spikes, **kw)

    @property
    def parameter_values(self) -> dict[str, Any]:
        return rule_values(self.rules)
