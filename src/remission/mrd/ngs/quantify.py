"""MRD = leukemic cells / cells analysed, with LoD/LoQ; the fit-style wrapper."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from remission.domain.checks import check_fraction, check_in, check_nonnegative, check_positive
from remission.domain.parameters import resolve, rule_values
from remission.errors import ValidationError
from remission.mrd.ngs.index import as_matrix, effective_mismatches, hamming_rows, index_clonotypes
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

__all__ = ["NgsMrd", "background_reads_per_template", "cells_from_dna", "emerging_clones", "quantify",
           "reads_per_copy"]


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


def _target_reads(track: TrackResult, clone: IndexClone) -> int:
    """Reads of the marker's target (the one denominator of index, tracking and comparison);
    all reads of the file for FASTQ (no annotation)."""
    if track.mode != "airr":
        return track.total_reads
    return int(track.target_reads.get(clone.target, 0))


def _combine(values: list[float], how: str) -> float:
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    return float(np.mean(values))


def background_reads_per_template(track: TrackResult, target: str) -> tuple[float | None, int]:
    """Median reads per distinct non-marker clonotype of ``target`` and the number of them.

    In a polyclonal background each distinct rearrangement is (nearly always) one cell's
    template, so its reads estimate the reads one template yields in this library; the median
    keeps a few expanded clones from inflating it. ``(None, n)`` without AIRR input.
    """
    if track.others is None:
        return None, 0
    vals = [n for (t, _v, _j, _jn), n in track.others.items() if t == target and n > 0]
    if not vals:
        return None, 0
    return float(np.median(vals)), len(vals)


def emerging_clones(index: IndexResult, track: TrackResult, rules: Mapping[str, Any]
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Non-marker clonotypes that are dominant and new or expanding; and the watch list's levels.

    A follow-up clonotype alerts when it holds >= ``emerging_min_fraction`` of its target's reads
    and >= ``emerging_min_reads`` reads, and was absent at diagnosis or rose >= ``emerging_min_fold``
    times from its diagnostic fraction (same target, V, J and denominator). Reads are counted with
    the clonotype's sequencing-error satellites (<= ``max_mismatches``, same V, J and length, less
    abundant), at follow-up and at diagnosis alike, as for the index clones.
    """
    f_min = check_fraction("emerging_min_fraction", rules["emerging_min_fraction"].value, open_low=True)
    n_min = int(check_nonnegative("emerging_min_reads", rules["emerging_min_reads"].value))
    fold = check_positive("emerging_min_fold", rules["emerging_min_fold"].value)
    if track.others is None:
        return [], []
    marker_loci = {c.target.split("_", 1)[0] for c in index.clones}
    d = int(rules["max_mismatches"].value)
    seed = int(rules["min_seed_nt"].value)
    groups: dict[tuple[str, str, str, int], list[tuple[str, int]]] = {}
    for (t, v, j, jn), n in track.others.items():
        groups.setdefault((t, v, j, len(jn)), []).append((jn, n))
    dx_groups: dict[tuple[str, str, str, int], list[tuple[str, int]]] | None = None
    out: list[dict[str, Any]] = []
    for (t, v, j, length), members in groups.items():
        tr = track.target_reads.get(t, 0)
        floor = 0.5 * max(f_min * tr, n_min)  # a representative holds most of its satellites' reads
        if not tr or max(m[1] for m in members) < floor:
            continue
        members.sort(key=lambda m: -m[1])
        mat = as_matrix([m[0] for m in members])
        cnts = np.array([m[1] for m in members], dtype=np.int64)
        dd = effective_mismatches(length, d, seed)
        absorbed = np.zeros(len(members), dtype=bool)
        for i, (jn, c) in enumerate(members):
            if c < floor:
                break
            if absorbed[i]:
                continue
            sat = (hamming_rows(mat, mat[i]) <= dd) & ~absorbed
            absorbed |= sat
            n = int(cnts[sat].sum())
            f = n / tr
            if n < n_min or f < f_min:
                continue
            if dx_groups is None:
                dx_groups = {}
                for (t2, v2, j2, jn2), n2 in index.clonotypes.items():
                    dx_groups.setdefault((t2, v2, j2, len(jn2)), []).append((jn2, n2))
            dx_members = dx_groups.get((t, v, j, length), [])
            ref = np.frombuffer(jn.encode(), dtype=np.uint8)
            dx_n = sum(n2 for jn2, n2 in dx_members
                       if int((np.frombuffer(jn2.encode(), dtype=np.uint8) != ref).sum()) <= dd)
            dx_tr = index.target_reads.get(t, 0)
            dx = dx_n / dx_tr if dx_tr else 0.0
            if dx > 0 and f < fold * dx:
                continue
            locus = t.split("_", 1)[0]
            same = "same locus as an index marker" if locus in marker_loci else "a locus without index marker"
            at_dx = f"present at diagnosis at {dx * 100:.3g} %" if dx > 0 else "absent at diagnosis"
            out.append({"target": t, "v_call": v, "j_call": j, "junction": jn, "reads": n,
                        "reads_exact": int(c), "fraction": f, "target_reads": tr,
                        "denominator": f"reads of target {t}", "diagnosis_fraction": dx,
                        "kind": "expanding" if dx > 0 else "new", "fold_change": f / dx if dx > 0 else None,
                        "alert": f"emerging non-index clone ({t} {v or '-'} {j or '-'}), {same}, "
                                 f"{f * 100:.3g} % of {t} reads, {at_dx}"})
    out.sort(key=lambda e: (-float(e["fraction"]), str(e["target"]), str(e["junction"])))
    watch = []
    for w in index.watch:
        n = track.others.get((w["target"], w["v_call"], w["j_call"], w["junction"]), 0)
        tr = track.target_reads.get(w["target"], 0)
        watch.append({**w, "follow_up_reads": n, "follow_up_fraction": n / tr if tr else None})
    return out, watch


@dataclass(frozen=True)
class _Limits:
    """The resolved, checked numbers :func:`quantify` works with (one place for the rule checks)."""

    k_lod: float          # leukemic genomes for detection at lod_detection_probability (Poisson)
    loq_cells: float
    loq_reads: int
    det_reads: int
    templates_per_cell: float
    bg_min: int
    model: str


def _limits(rules: Mapping[str, Any]) -> _Limits:
    check_in("case_combine", rules["case_combine"].value, ("max", "min", "mean"))
    check_in("reads_per_cell_model", rules["reads_per_cell_model"].value,
             ("background_coverage", "locus_reads"))
    p_detect = float(rules["lod_detection_probability"].value)
    if not 0 < p_detect < 1:
        raise ValidationError(f"lod_detection_probability must be in (0, 1), but was {p_detect!r}")
    return _Limits(
        k_lod=-math.log(1.0 - p_detect),
        loq_cells=check_nonnegative("loq_min_cells", rules["loq_min_cells"].value),
        loq_reads=int(rules["loq_min_reads"].value),
        det_reads=max(1, int(rules["detect_min_reads"].value)),
        templates_per_cell=check_positive("templates_per_cell", rules["templates_per_cell"].value),
        bg_min=int(check_positive("background_min_clonotypes", rules["background_min_clonotypes"].value)),
        model=str(rules["reads_per_cell_model"].value))


def _spike_calibration(spikes: Sequence[SpikeIn], track: TrackResult, rules: Mapping[str, Any]
                       ) -> tuple[dict[str, Any] | None, float | None]:
    """(spike summary, reads per calibrator copy); both None without spike-ins."""
    if not spikes:
        return None, None
    coef, r2 = reads_per_copy([s.copies for s in spikes], track.spike_reads)
    spike_info = {"reads_per_copy": coef, "r2": r2,
                  "calibrators": [{"name": s.name, "copies": s.copies, "reads": n}
                                  for s, n in zip(spikes, track.spike_reads, strict=True)]}
    if coef <= 0 or r2 <= float(rules["spike_min_r2"].value):
        raise ValidationError(f"spike-in calibration must have reads > 0 and r² > "
                              f"{rules['spike_min_r2'].value}, but was reads per copy {coef:.3g}, "
                              f"r² {r2:.3f}")
    return spike_info, coef


def _given_cells(rules: Mapping[str, Any], dna_ng: float | None, cell_equivalents: float | None
                 ) -> float | None:
    """Cells analysed as given, or from the DNA input; None when neither is given."""
    if cell_equivalents is not None:
        return check_positive("cell_equivalents", cell_equivalents)
    if dna_ng is not None:
        return cells_from_dna(dna_ng, float(rules["pg_dna_per_cell"].value))
    return None


def _cells_from_spike(index: IndexResult, track: TrackResult, rpc_spike: float,
                      warnings: list[str]) -> float:
    """Last resort: cells analysed as the target's reads over reads per spike copy."""
    tr = max((_target_reads(track, c) for c in index.clones), default=track.total_reads)
    warnings.append("cells analysed estimated as the target's reads over reads per spike copy "
                    "(every analysed cell assumed to carry one template); give the DNA input "
                    "for a true denominator")
    return tr / rpc_spike


def _emerging_context(index: IndexResult, track: TrackResult, rules: Mapping[str, Any],
                      warnings: list[str]) -> dict[str, Any]:
    """Emerging-clone alerts and watch list, with the caveat they put on the marker-based call."""
    emerging, watch = emerging_clones(index, track, rules)
    caveat = None
    if emerging:
        caveat = (f"the MRD call rests on the diagnosis index markers, which may no longer represent "
                  f"the disease: {len(emerging)} non-index clonotype(s) are emerging "
                  f"({emerging[0]['alert']})")
        warnings.extend(e["alert"] for e in emerging)
    if track.others is None and index.watch:
        warnings.append("emerging-clone watch needs an annotated (AIRR) follow-up; not run on raw reads")
    return {"emerging": tuple(emerging), "watch": tuple(watch), "marker_caveat": caveat}


def _read_fraction_only(index: IndexResult, track: TrackResult, lim: _Limits, warnings: list[str],
                        common: dict[str, Any]) -> NgsMrdResult:
    """Neither DNA input nor spike-ins: the markers' read fraction, never an MRD value."""
    markers = []
    for c, mc in zip(index.clones, track.counts, strict=True):
        tr = _target_reads(track, c)
        markers.append(MarkerMrd(
            clone=c, reads=mc.reads, reads_exact=mc.exact, reads_by_mismatches=tuple(mc.by_mismatches),
            relatives_reads=mc.relatives_reads, relatives=_rels(mc), leukemic_cells=None, mrd=None,
            status="detected" if mc.reads >= lim.det_reads else "not_detected", lod=None, loq=None,
            read_fraction=mc.reads / tr if tr else None, target_reads=tr))
    rf = max((m.read_fraction or 0.0 for m in markers), default=0.0)
    warnings.insert(0, "no DNA input and no spike-in: the markers' read fraction of their target "
                       "is reported, not an MRD value (cells analysed unknown)")
    return NgsMrdResult(status="not_evaluable", mrd=None, lod=None, loq=None, cell_equivalents=None,
                        markers=tuple(markers), quantification="none", reads_per_cell=None,
                        warnings=tuple(warnings), quantity="read_fraction", read_fraction=rf,
                        **common)


def _reads_per_template(track: TrackResult, clone: IndexClone, target_reads: int, cells: float,
                        lim: _Limits, rpc_spike: float | None, warnings: list[str]) -> tuple[float, str]:
    """Reads one marker template yields, and the model it came from."""
    if rpc_spike is not None:
        return rpc_spike, "spike_in"
    rpc_bg, n_bg = background_reads_per_template(track, clone.target)
    if lim.model == "background_coverage" and rpc_bg is not None and n_bg >= lim.bg_min and rpc_bg > 1.0:
        return rpc_bg, "background_coverage"
    tpc = lim.templates_per_cell
    if lim.model == "background_coverage":
        warnings.append(f"marker {clone.marker}: {n_bg} distinct non-marker {clone.target} "
                        f"clonotype(s) (fewer than {lim.bg_min}, raw reads, or a median of one "
                        "read each, where coverage cannot be told): reads per template from "
                        "the target's reads over cells analysed, assuming every analysed "
                        f"cell contributes {tpc:g} template(s) (over-estimates MRD in "
                        "B-cell-depleted marrow)")
    return target_reads / (cells * tpc), "locus_reads"


def _marker_mrd(clone: IndexClone, mc: Any, target_reads: int, rpc: float, cells: float,
                lim: _Limits) -> MarkerMrd:
    """One marker's MRD, LoD (Poisson) and LoQ (cells and reads) at ``rpc`` reads per template."""
    if rpc <= 0:
        lod = loq = 1.0
        leuk = 0.0
    else:
        lod = lim.k_lod / (cells * min(1.0, rpc))
        loq = max(lim.loq_cells / cells, lim.loq_reads / (rpc * cells))
        leuk = mc.reads / rpc
    lod, loq = min(lod, 1.0), min(max(loq, lod), 1.0)
    value: float | None
    if mc.reads < lim.det_reads:
        status, value = "negative", None
    else:
        value = min(1.0, leuk / cells)
        status = "positive" if (mc.reads >= lim.loq_reads and leuk >= lim.loq_cells and value >= loq) \
            else "positive_not_quantifiable"
    return MarkerMrd(clone=clone, reads=mc.reads, reads_exact=mc.exact,
                     reads_by_mismatches=tuple(mc.by_mismatches),
                     relatives_reads=mc.relatives_reads, relatives=_rels(mc),
                     leukemic_cells=leuk, mrd=value, status=status, lod=lod, loq=loq,
                     read_fraction=mc.reads / target_reads if target_reads else None,
                     target_reads=target_reads, reads_per_cell=rpc)


def _case_call(markers: Sequence[MarkerMrd], rules: Mapping[str, Any], warnings: list[str]
               ) -> tuple[str, float | None, float, float]:
    """Case-level (status, MRD, LoD, LoQ) over the detected markers, quantifiable ones first."""
    how = str(rules["case_combine"].value)
    det = [m for m in markers if m.status != "negative"]
    quant_m = [m for m in det if m.status == "positive"]
    value: float | None
    if quant_m:
        status, value = "positive", _combine([m.mrd or 0.0 for m in quant_m], how)
    elif det:
        status, value = "positive_not_quantifiable", _combine([m.mrd or 0.0 for m in det], how)
    else:
        status, value = "negative", None
    lod_case = min(m.lod or 1.0 for m in markers)
    loq_case = min(m.loq or 1.0 for m in markers)
    if status == "positive" and value is not None and value < loq_case:
        status = "positive_not_quantifiable"
    if status == "negative" and lod_case > float(rules["insufficient_sensitivity_lod"].value):
        warnings.append(f"negative with insufficient sensitivity: LoD {lod_case:.1e} is above "
                        f"{rules['insufficient_sensitivity_lod'].value:g}")
    return status, value, lod_case, loq_case


def quantify(
    index: IndexResult,
    track: TrackResult,
    *,
    dna_ng: float | None = None,
    cell_equivalents: float | None = None,
    spikes: Sequence[SpikeIn] = (),
    parameters: Mapping[str, Any] | None = None,
) -> NgsMrdResult:
    """MRD of one follow-up sample from its marker counts: leukemic cells / cells analysed.

    Cells analysed come from ``cell_equivalents`` or the DNA input (``dna_ng`` x 1000 /
    ``pg_dna_per_cell``). Leukemic cell equivalents of a marker are its reads over the reads one
    template yields (one marker template per leukemic cell):

    - with ``spikes``: reads per calibrator copy (regression through the origin; Knecht 2019,
      Leukemia 33:2254; Vidjil spike normalisation);
    - without: ``reads_per_cell_model`` ``background_coverage`` (median reads per distinct
      non-marker clonotype of the target in this sample: the sample's own coverage) or, when the
      sample cannot support it (FASTQ, or fewer than ``background_min_clonotypes``),
      ``locus_reads`` (target reads / (cells x ``templates_per_cell``), stated as an assumption).

    With neither DNA input nor spike-ins the output is the markers' read fraction of their
    target (``quantity: "read_fraction"``, status ``not_evaluable``), never an MRD value.
    """
    rules = resolve(NGS_RULES, parameters) if parameters is not None else index.rules
    lim = _limits(rules)
    warnings: list[str] = []
    cells = _given_cells(rules, dna_ng, cell_equivalents)
    spike_info, rpc_spike = _spike_calibration(spikes, track, rules)
    if cells is None and rpc_spike is not None:
        cells = _cells_from_spike(index, track, rpc_spike, warnings)
    common: dict[str, Any] = {"total_reads": track.total_reads, "spike": spike_info, "rules": rules,
                              "mode": track.mode, **_emerging_context(index, track, rules, warnings)}
    if not index.clones:
        return NgsMrdResult(status="no_marker", mrd=None, lod=None, loq=None,
                            cell_equivalents=cells, markers=(), quantification="none",
                            reads_per_cell=None,
                            warnings=("the diagnosis has no index clonotype passing the criteria: "
                                      "no NGS-MRD marker", *warnings), **common)
    if cells is None:
        return _read_fraction_only(index, track, lim, warnings, common)
    markers = []
    rpc_used: list[float] = []
    models_used: set[str] = set()
    for c, mc in zip(index.clones, track.counts, strict=True):
        tr = _target_reads(track, c)
        rpc, how = _reads_per_template(track, c, tr, cells, lim, rpc_spike, warnings)
        models_used.add(how)
        rpc_used.append(rpc)
        markers.append(_marker_mrd(c, mc, tr, rpc, cells, lim))
        if mc.relatives_reads:
            warnings.append(f"marker {c.marker}: {mc.relatives_reads} reads of evolved relatives "
                            "(shared 3' stem) reported apart, not counted in MRD")
    quant = "spike_in" if rpc_spike is not None else "dna_input"
    if track.mode == "fastq" and "locus_reads" in models_used:
        warnings.append("FASTQ without annotation: the target's reads are all reads of the file; "
                        "with several loci in one library use a spike-in or AIRR input")
    status, value, lod_case, loq_case = _case_call(markers, rules, warnings)
    return NgsMrdResult(status=status, mrd=value, lod=lod_case, loq=loq_case, cell_equivalents=cells,
                        markers=tuple(markers), quantification=quant,
                        reads_per_cell=float(np.mean(rpc_used)) if rpc_used else None,
                        warnings=tuple(dict.fromkeys(warnings)),
                        read_fraction=max((m.read_fraction or 0.0 for m in markers), default=None),
                        reads_per_cell_model=",".join(sorted(models_used)), **common)

def _rels(mc: Any) -> tuple[dict[str, Any], ...]:
    return tuple({"v_call": v, "j_call": j, "junction": s, "reads": n}
                 for (v, j, s), n in sorted(mc.relatives.items(), key=lambda kv: -kv[1])[:20])


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
