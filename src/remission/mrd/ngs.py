"""NGS-MRD: index clonotypes at diagnosis, track them in follow-up, quantify MRD with LoD/LoQ.

Definitions and anchors: ``ngs_mrd.md`` (EuroClonality-NGS, Brüggemann 2019 and Knecht 2019,
Leukemia 33:2241 and 33:2254; Vidjil ``doc/user.md`` and ``tools/spike-normalization.py``;
clonoSEQ K200009). Every recalled or uncertain number is a named :class:`~remission.domain.Rule`
in :data:`NGS_RULES`; results list the rules they rest on.

Pipeline (pure functions; no files):

1. :func:`index_clonotypes` — clonotypes of the diagnosis table, grouped per *target*
   (IGH VDJ, incomplete IGH DJ, IGK, IGK-Kde, IGL, TRB, TRG, TRD, ...), with their error
   satellites (≤ ``max_mismatches`` Hamming, same V/J and length, less abundant) added on purpose
   (spec §2.5: exact-only counting loses ~14 % of reads at 0.3 %/base errors); a clonotype is an
   index clone when it holds ≥ ``index_min_fraction`` of its target's reads and ≥
   ``index_min_reads`` reads.
2. :func:`track_airr` (clonotype tables) or :func:`track_fastq` (raw reads, no V(D)J annotation)
   — reads of each index junction, exact and within ``max_mismatches`` (same junction length,
   no indels; in AIRR mode also the same V and J gene); *evolved relatives* (a different
   clonotype sharing the index's 3' N-D-N-J stem, e.g. VH replacement) are counted separately
   and never added to MRD.
3. :func:`quantify` — MRD = leukemic cells / cells analysed, with cells analysed from the DNA
   input (``dna_ng`` × 1000 / ``pg_dna_per_cell``) or given directly, and leukemic cells from a
   spike-in calibration (reads per calibrator copy, regression through the origin as in Vidjil's
   spike normalisation) or, without a spike, from the marker's read fraction of its target.
   LoD = ``-ln(1 - lod_detection_probability)`` cells (Poisson; ≈ 3 cells at 95 %) over the cells
   analysed, LoQ = the larger of ``loq_min_cells`` cells and ``loq_min_reads`` reads. Status
   ``negative`` / ``positive_not_quantifiable`` / ``positive``; the case-level value combines
   the markers (default: the highest).

See Also
--------
NgsMrd : the fit-style wrapper (``NgsMrd().fit(dx_blocks).track_airr(...)``).
remission.io.airr.iter_airr_chunks, remission.io.fastq.iter_fastq_chunks : the readers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from remission.domain.checks import check_in, check_nonnegative, check_positive
from remission.domain.mrd import MrdResult
from remission.domain.parameters import Rule, resolve, rests_on, rule_set, rule_values
from remission.errors import ValidationError

__all__ = [
    "NGS_RULES",
    "IndexClone",
    "IndexResult",
    "JunctionScanner",
    "MarkerCount",
    "MarkerMrd",
    "NgsMrd",
    "NgsMrdResult",
    "SpikeIn",
    "TrackResult",
    "cells_from_dna",
    "effective_mismatches",
    "index_clonotypes",
    "quantify",
    "reads_per_copy",
    "revcomp",
    "target_of",
    "track_airr",
    "track_fastq",
]

NGS_RULES: dict[str, Rule] = rule_set(
    Rule("index_min_fraction", 0.05, "R", "ngs_mrd.md §1.1 (Vidjil 'Clonotypes ≥5%' [source]; "
         "EuroClonality-NGS ≥5 % of the locus [memory])",
         "an index clonotype holds at least this fraction of the reads of its target/locus"),
    Rule("index_min_reads", 5, "R", "ngs_mrd.md §2.1 (vidjil-algo -r/--min-reads default 5)",
         "an index clonotype has at least this many reads at diagnosis"),
    Rule("max_mismatches", 2, "R", "ngs_mrd.md §1.1/§7 (≤1–2 mismatches, no indels)",
         "Hamming distance within which a junction counts as the index (sequencing/PCR errors)"),
    Rule("min_seed_nt", 10, "U", "chosen here (specificity of short junctions; FASTQ seeds)",
         "the mismatches allowed in a junction are lowered until an exact run of this many bases "
         "is guaranteed ((L - d) // (d + 1) >= min_seed_nt); shorter junctions get fewer"),
    Rule("require_vj_consistency", True, "R", "issue #3; ngs_mrd.md §1.1 (meta-clonotypes within "
         "V/J groups)", "a tolerant match must have the index's V and J gene (AIRR input)"),
    Rule("relative_stem_fraction", 0.6, "U", "ngs_mrd.md §1.1 (relatives share the D-N-J stem); "
         "fraction chosen here", "3' part of the index junction a relative must share exactly"),
    Rule("relative_stem_min_nt", 18, "U", "chosen here (specificity of an exact shared stem)",
         "minimum length of that shared 3' stem"),
    Rule("relative_stem_beyond_germline_nt", 4, "U", "chosen here (an exact stem must reach this far "
         "past the J germline end shared by unrelated diagnosis clonotypes)",
         "the stem is lengthened until it holds this many bases more than the J-germline suffix "
         "that unrelated diagnosis clonotypes with the same J share with the index"),
    Rule("pg_dna_per_cell", 6.5, "R", "ngs_mrd.md §1.1/§7 (~6.5 pg per diploid cell; Vidjil uses 6.0)",
         "DNA per diploid cell, to turn ng of DNA into cells analysed"),
    Rule("lod_detection_probability", 0.95, "R", "ngs_mrd.md §1.1 (Poisson: 1-exp(-k), k≈3 for 95 %)",
         "LoD = the MRD at which a sample holds at least one leukemic genome with this probability"),
    Rule("loq_min_cells", 3.0, "U", "ngs_mrd.md §1.1/§7 (LoQ ~2–3 cell equivalents [memory])",
         "leukemic cell equivalents needed to quantify"),
    Rule("loq_min_reads", 5, "R", "ngs_mrd.md §0/§7 (Vidjil: < 5 reads 'detected, not quantifiable')",
         "index reads needed to quantify"),
    Rule("detect_min_reads", 1, "R", "ngs_mrd.md §6 (track down to the first read; vidjil -r 1 for MRD)",
         "index reads needed to call the marker detected"),
    Rule("spike_min_r2", 0.8, "R", "ngs_mrd.md §1.1 (vidjil spike-normalization: fall back when r² ≤ 0.8)",
         "a spike-in calibration with r² at or below this is refused"),
    Rule("case_combine", "max", "R", "issue #3 (default: highest marker)",
         "case-level MRD from several markers: max, min or mean of the quantifiable markers "
         "(of the detected ones when none is quantifiable)"),
    Rule("insufficient_sensitivity_lod", 1e-4, "R", "ngs_mrd.md §1.1 (PMC8824253 Table 1: minimum "
         "sensitivity 0.01 %)", "a negative with an LoD above this is flagged 'insufficient sensitivity'"),
)

Target = str

_LOCI = ("IGH", "IGK", "IGL", "TRA", "TRB", "TRD", "TRG", "IGI")


# --------------------------------------------------------------------------------------------
# gene names and targets


def gene(call: str) -> str:
    """First gene of an AIRR call without its allele: ``'IGHV3-23*01,IGHV3-23D*01'`` → ``IGHV3-23``."""
    first = call.split(",", 1)[0].strip()
    return first.split("*", 1)[0]


def _genes(call: str) -> set[str]:
    return {c.strip().split("*", 1)[0] for c in call.split(",") if c.strip()}


def target_of(locus: str, v_call: str, d_call: str, j_call: str) -> Target:
    """Recombination target of a rearrangement (the unit of the ≥5 % rule).

    ``IGH`` (VDJ), ``IGH_DJ`` (incomplete DJH: no V, a D and a J), ``IGK``, ``IGK_KDE`` (Vκ–Kde or
    intron-RSS–Kde), ``IGL``, ``TRB``, ``TRB_DJ``, ``TRG``, ``TRD``, ``TRD_INC`` (Vδ–Dδ3, Dδ2–Jδ,
    Dδ2–Dδ3), ``TRA``; the locus is taken from the ``locus`` column or the gene names.
    """
    v, d, j = gene(v_call) if v_call else "", gene(d_call) if d_call else "", gene(j_call) if j_call else ""
    loc = locus if locus in _LOCI else ""
    if not loc:
        for g in (v, j, d):
            if len(g) >= 3 and g[:3] in _LOCI:
                loc = g[:3]
                break
    if not loc:
        return "unknown"
    up_j = j.upper()
    if loc == "IGK" and ("KDE" in up_j or "DEL" in up_j):
        return "IGK_KDE"
    if loc == "IGH" and not v and d and j:
        return "IGH_DJ"
    if loc == "TRB" and not v and d and j:
        return "TRB_DJ"
    if loc == "TRD" and (not v or not j or j.startswith("TRDD")):
        return "TRD_INC"
    return loc


# --------------------------------------------------------------------------------------------
# records


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

    def as_dict(self) -> dict[str, Any]:
        return {"marker": self.marker, "target": self.target, "locus": self.locus,
                "relative_stem_nt": self.stem_nt, "relatives_at_diagnosis": list(self.relatives),
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "markers": [c.as_dict() for c in self.clones],
            "n_markers": len(self.clones),
            "status": "markers" if self.clones else "no_marker",
            "targets": dict(self.target_reads),
            "total_reads": self.total_reads,
            "near_threshold": list(self.near_threshold),
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
    leukemic_cells: float
    mrd: float | None
    status: str
    lod: float
    loq: float

    def as_dict(self) -> dict[str, Any]:
        c = self.clone
        return {"marker": c.marker, "target": c.target, "locus": c.locus, "v_call": c.v_call,
                "j_call": c.j_call, "junction": c.junction, "diagnosis_fraction": c.fraction,
                "reads": self.reads, "reads_exact": self.reads_exact,
                "reads_by_mismatches": list(self.reads_by_mismatches),
                "relatives_reads": self.relatives_reads, "relatives": list(self.relatives),
                "leukemic_cell_equivalents": self.leukemic_cells, "mrd": self.mrd,
                "status": self.status, "lod": self.lod, "loq": self.loq}


@dataclass(frozen=True)
class NgsMrdResult:
    """MRD of one follow-up sample from all its markers (JSON: :meth:`as_dict`)."""

    status: str  # negative | positive_not_quantifiable | positive | no_marker
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "mrd": self.mrd, "status": self.status, "lod": self.lod, "loq": self.loq,
            "cell_equivalents": self.cell_equivalents, "total_reads": self.total_reads,
            "markers": [m.as_dict() for m in self.markers],
            "quantification": self.quantification, "reads_per_cell": self.reads_per_cell,
            "spike": self.spike, "mode": self.mode, "warnings": list(self.warnings),
            "rests_on": rests_on(self.rules.values()),
        }

    def to_mrd_result(self, **kw: Any) -> MrdResult | None:
        """The case-domain :class:`~remission.domain.MrdResult` (``None`` without markers)."""
        if self.status == "no_marker":
            return None
        best = max(self.markers, key=lambda m: m.mrd or 0.0) if self.markers else None
        return MrdResult(
            method="ngs", status=self.status,
            value=None if self.status == "negative" else min(1.0, self.mrd or 0.0),
            lod=min(1.0, self.lod) if self.lod is not None else None,
            loq=min(1.0, self.loq) if self.loq is not None else None,
            marker=(f"{best.clone.v_call} {best.clone.junction[:12]}… {best.clone.j_call}"
                    if best else None),
            details={"cell_equivalents": self.cell_equivalents, "total_reads": self.total_reads,
                     "quantification": self.quantification, "n_markers": len(self.markers)},
            **kw,
        )


# --------------------------------------------------------------------------------------------
# index clonotypes


def _hamming_rows(rows: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (rows != ref[None, :]).sum(axis=1)


def _as_matrix(junctions: Sequence[str]) -> np.ndarray:
    if not junctions:
        return np.zeros((0, 0), dtype=np.uint8)
    return np.frombuffer("".join(junctions).encode("ascii"), dtype=np.uint8).reshape(len(junctions), -1)


def index_clonotypes(
    blocks: Iterable[ClonotypeBlock],
    parameters: Mapping[str, Any] | None = None,
) -> IndexResult:
    """Index clonotypes of a diagnosis sample (EuroClonality-NGS-style ≥5 %-of-target rule).

    Parameters
    ----------
    blocks : rows of the diagnosis clonotype table (``locus``, ``v_call``, ``d_call``,
        ``j_call``, ``junction`` and ``count``), e.g. from :func:`remission.io.airr.iter_airr_chunks`.
    parameters : overrides of :data:`NGS_RULES` by name.

    Returns
    -------
    IndexResult with the index clones (possibly none: then ``status`` is ``no_marker``).
    """
    rules = resolve(NGS_RULES, parameters)
    min_frac = float(rules["index_min_fraction"].value)
    min_reads = int(rules["index_min_reads"].value)
    d = int(rules["max_mismatches"].value)
    seed = int(rules["min_seed_nt"].value)
    agg: dict[tuple[str, str, str, str, str], int] = {}
    d_calls: dict[tuple[str, str, str, str, str], str] = {}
    target_reads: dict[str, int] = {}
    total = 0
    for b in blocks:
        loc, v, dd, j, jn = b.get("locus"), b.get("v_call"), b.get("d_call"), b.get("j_call"), b.get("junction")
        cnt = b.count
        for i in range(len(cnt)):
            c = int(cnt[i])
            if c <= 0:
                continue
            total += c
            junction = str(jn[i]).upper()
            t = target_of(str(loc[i]), str(v[i]), str(dd[i]), str(j[i]))
            target_reads[t] = target_reads.get(t, 0) + c
            if not junction:
                continue
            key = (t, str(loc[i]) or t[:3], gene(str(v[i])) if v[i] else "",
                   gene(str(j[i])) if j[i] else "", junction)
            agg[key] = agg.get(key, 0) + c
            if key not in d_calls and dd[i]:
                d_calls[key] = gene(str(dd[i]))
    # satellites: group per (target, V, J, length); candidates need >= half the threshold exact
    groups: dict[tuple[str, str, str, int], list[tuple[str, int, tuple[str, str, str, str, str]]]] = {}
    for key, c in agg.items():
        groups.setdefault((key[0], key[2], key[3], len(key[4])), []).append((key[4], c, key))
    clones: list[IndexClone] = []
    near: list[dict[str, Any]] = []
    for (t, _v, _j, _length), members in groups.items():
        tr = target_reads[t]
        cand = [m for m in members if m[1] >= 0.5 * min_frac * tr]
        if not cand:
            continue
        members.sort(key=lambda m: -m[1])
        mat = _as_matrix([m[0] for m in members])
        cnts = np.array([m[1] for m in members], dtype=np.int64)
        absorbed = np.zeros(len(members), dtype=bool)
        for i, (junc, c, key) in enumerate(members):
            if c < 0.5 * min_frac * tr:
                break
            if absorbed[i]:
                continue
            dist = _hamming_rows(mat, mat[i])
            sat = (dist <= effective_mismatches(len(junc), d, seed)) & ~absorbed & (cnts <= c)
            sat[i] = True
            total_c = int(cnts[sat].sum())
            absorbed |= sat
            frac = total_c / tr
            rec = {"target": t, "v_call": key[2], "j_call": key[3], "junction": junc,
                   "reads": total_c, "fraction": frac}
            if frac >= min_frac and total_c >= min_reads:
                clones.append(IndexClone(
                    marker="", target=t, locus=key[1] if key[1] in _LOCI else t[:3],
                    v_call=key[2], d_call=d_calls.get(key, ""), j_call=key[3], junction=junc,
                    reads=total_c, reads_exact=int(c), fraction=frac, target_reads=tr))
            else:
                near.append(rec)
    clones = [_with_stem(c, agg, rules, d, seed) for c in clones]
    clones.sort(key=lambda c: (-c.fraction, c.target, c.junction))
    named = tuple(IndexClone(**{**c.__dict__, "marker": f"M{i + 1}"}) for i, c in enumerate(clones))
    return IndexResult(clones=named, target_reads=dict(sorted(target_reads.items())),
                       total_reads=total, rules=rules, near_threshold=tuple(near))


def effective_mismatches(length: int, max_mismatches: int, min_seed_nt: int) -> int:
    """Mismatches allowed for a junction of ``length``: the largest d <= ``max_mismatches`` with
    ``(length - d) // (d + 1) >= min_seed_nt`` (0 when none)."""
    for d in range(max_mismatches, 0, -1):
        if (length - d) // (d + 1) >= min_seed_nt:
            return d
    return 0


def _with_stem(c: IndexClone, agg: Mapping[tuple[str, str, str, str, str], int],
               rules: Mapping[str, Rule], d: int, seed: int) -> IndexClone:
    """Set the length of the 3' stem an evolved relative must share with the index clone.

    At least ``relative_stem_fraction`` of the junction and ``relative_stem_min_nt``; and longer
    than the suffix that *unrelated* diagnosis clonotypes with the same J gene share with the index
    (their shared suffix is J germline, not N-D-N) by ``relative_stem_beyond_germline_nt``
    (the 95th percentile of those suffixes, so a few true relatives do not inflate it). A stem
    that leaves fewer than 3 bases of the junction is not tracked (0).
    """
    L = len(c.junction)
    n = max(int(rules["relative_stem_min_nt"].value), round(float(rules["relative_stem_fraction"].value) * L))
    others = [k[4] for k in agg if k[0] == c.target and k[3] == c.j_call and k[4] != c.junction]
    if others:
        W = 60
        ref = np.frombuffer(c.junction[-W:].rjust(W, "-").encode(), dtype=np.uint8)
        mat = np.frombuffer("".join(o[-W:].rjust(W, ".") for o in others).encode(), dtype=np.uint8
                            ).reshape(len(others), W)
        eq = (mat == ref[None, :])[:, ::-1]
        suffix = np.cumprod(eq, axis=1).sum(axis=1)
        near = np.array([len(o) == L for o in others]) & (
            (mat != ref[None, :]).sum(axis=1) <= d)  # satellites of the index are not "unrelated"
        suffix = suffix[~near]
        if suffix.size:
            g = int(np.quantile(suffix, 0.95)) if suffix.size >= 5 else int(suffix.max())
            n = max(n, g + int(rules["relative_stem_beyond_germline_nt"].value))
    stem = n if n <= L - 3 else 0
    # diagnosis clonotypes sharing that stem (same J): evolved relatives, or indel satellites of
    # the index (homopolymer indels are common sequencing errors); a different V gene flags a
    # VH-replacement candidate
    rel: list[dict[str, Any]] = []
    if stem:
        tail = c.junction[-stem:]
        for k, cnt in agg.items():
            if k[0] == c.target and k[3] == c.j_call and k[4] != c.junction and k[4].endswith(tail) \
                    and not (len(k[4]) == L and sum(x != y for x, y in zip(k[4], c.junction, strict=True)) <= d):
                rel.append({"v_call": k[2], "j_call": k[3], "junction": k[4], "reads": cnt,
                            "vh_replacement_candidate": bool(k[2] and k[2] != c.v_call)})
        rel.sort(key=lambda r: -r["reads"])
    return IndexClone(**{**c.__dict__, "stem_nt": stem, "relatives": tuple(rel[:20])})


def _stem(clone: IndexClone) -> str:
    return clone.junction[-clone.stem_nt:] if clone.stem_nt else ""


# --------------------------------------------------------------------------------------------
# tracking in clonotype tables


def track_airr(
    index: IndexResult,
    blocks: Iterable[ClonotypeBlock],
    parameters: Mapping[str, Any] | None = None,
    spikes: Sequence[SpikeIn] = (),
) -> TrackResult:
    """Count each index marker's reads in a follow-up clonotype table (streaming over blocks).

    A row counts for a marker when its junction has the marker's length and is within
    ``max_mismatches`` (Hamming) of it, and, when ``require_vj_consistency``, shares the V gene
    (any of a comma list) and J gene. A row that is not such a match but ends with the marker's
    3' stem (``relative_stem_*``) and has its J gene is an evolved relative (counted apart).
    Spike rows are matched on junction alone.
    """
    rules = resolve(NGS_RULES, parameters) if parameters is not None else index.rules
    d = int(rules["max_mismatches"].value)
    vj = bool(rules["require_vj_consistency"].value)
    clones = index.clones
    counts = [MarkerCount(by_mismatches=[0] * (d + 1)) for _ in clones]
    spike_reads = [0] * len(spikes)
    by_len: dict[int, list[int]] = {}
    for k, c in enumerate(clones):
        by_len.setdefault(len(c.junction), []).append(k)
    refs = {k: np.frombuffer(c.junction.encode(), dtype=np.uint8) for k, c in enumerate(clones)}
    seed = int(rules["min_seed_nt"].value)
    dk = {k: effective_mismatches(len(c.junction), d, seed) for k, c in enumerate(clones)}
    stems = {k: _stem(c) for k, c in enumerate(clones)}
    spike_len: dict[int, list[int]] = {}
    for k, s in enumerate(spikes):
        spike_len.setdefault(len(s.junction), []).append(k)
    spike_refs = {k: np.frombuffer(s.junction.upper().encode(), dtype=np.uint8) for k, s in enumerate(spikes)}
    target_reads: dict[str, int] = {}
    tcache: dict[tuple[str, str, str, str], str] = {}
    total = 0
    for b in blocks:
        cnt = b.count
        n = len(cnt)
        if n == 0:
            continue
        jn = np.array([str(x).upper() for x in b.get("junction")], dtype=object)
        loc, v, dd, j = b.get("locus"), b.get("v_call"), b.get("d_call"), b.get("j_call")
        total += int(cnt.sum())
        for key, c in zip(zip(loc.tolist(), v.tolist(), dd.tolist(), j.tolist(), strict=True), cnt.tolist(),
                          strict=True):
            t = tcache.get(key)
            if t is None:
                t = tcache[key] = target_of(*map(str, key))
            target_reads[t] = target_reads.get(t, 0) + int(c)
        lens = np.fromiter((len(x) for x in jn), dtype=np.int64, count=n)
        matched = np.zeros(n, dtype=bool)
        spike_hit = np.zeros(n, dtype=bool)
        for length, ks in spike_len.items():
            rows = np.flatnonzero(lens == length)
            if rows.size == 0:
                continue
            mat = _as_matrix([jn[r] for r in rows])
            for k in ks:
                hit = rows[_hamming_rows(mat, spike_refs[k]) <= d]
                spike_reads[k] += int(cnt[hit].sum())
                spike_hit[hit] = True
        for length, ks in by_len.items():
            rows = np.flatnonzero((lens == length) & ~spike_hit)
            if rows.size == 0:
                continue
            mat = _as_matrix([jn[r] for r in rows])
            best = np.full(rows.size, d + 1, dtype=np.int64)
            best_k = np.full(rows.size, -1, dtype=np.int64)
            for k in ks:
                dist = _hamming_rows(mat, refs[k])
                ok = dist <= dk[k]
                if vj:
                    c = clones[k]
                    ok &= np.fromiter(((not c.v_call or c.v_call in _genes(str(v[r])))
                                       and (not c.j_call or c.j_call in _genes(str(j[r])))
                                       for r in rows), dtype=bool, count=rows.size) if ok.any() else ok
                better = ok & (dist < best)
                best[better] = dist[better]
                best_k[better] = k
            for i in np.flatnonzero(best_k >= 0):
                r = rows[i]
                mc = counts[int(best_k[i])]
                mc.reads += int(cnt[r])
                mc.by_mismatches[int(best[i])] += int(cnt[r])
                matched[r] = True
        # evolved relatives: same J gene, shares the 3' stem exactly, not a match
        free = ~matched & ~spike_hit
        if free.any() and any(stems.values()):
            import pandas as pd

            ser = pd.Series(jn)
            suffix: dict[int, np.ndarray] = {}
            for k, c in enumerate(clones):
                stem = stems[k]
                if not stem:
                    continue
                if len(stem) not in suffix:
                    suffix[len(stem)] = ser.str[-len(stem):].to_numpy(dtype=object)
                cand = np.flatnonzero(free & (suffix[len(stem)] == stem) & (jn != c.junction))
                for r in cand:
                    if c.j_call and c.j_call not in _genes(str(j[r])):
                        continue
                    mc = counts[k]
                    mc.relatives_reads += int(cnt[r])
                    rkey = (gene(str(v[r])) if v[r] else "", gene(str(j[r])) if j[r] else "", str(jn[r]))
                    mc.relatives[rkey] = mc.relatives.get(rkey, 0) + int(cnt[r])
    return TrackResult(counts=counts, total_reads=total, target_reads=target_reads,
                       spike_reads=spike_reads, mode="airr")


# --------------------------------------------------------------------------------------------
# tracking in raw reads

_COMP = bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan")


def revcomp(seq: str | bytes) -> bytes:
    b = seq.encode() if isinstance(seq, str) else seq
    return b.translate(_COMP)[::-1]


class JunctionScanner:
    """Find reads holding any of several sequences with ≤ ``d`` mismatches (both strands).

    Seed and verify. Each pattern of length L is cut into ``d + 1`` parts; with ≤ d mismatches
    one part is exact (pigeonhole). If every part is at least ``k + s - 1`` long, one of the
    text's k-mers sampled every ``s`` positions lies inside the exact part at one of its first
    ``s`` offsets, so the seeds are those ``s`` k-mers of each part (few seeds, and a window is
    proposed at most once per part). The text is a whole block of FASTQ bytes (headers and
    qualities included: they only add candidates, which verification rejects); 2-bit codes
    ``(byte >> 1) & 3`` (A, C, T, G → 0, 1, 2, 3), k-mer codes at the sampled positions, a
    4^k bitmap lookup, then every candidate window is compared with its pattern in one
    vectorised Hamming computation and kept when it lies inside one sequence line.

    ``scan`` returns, per (read, pattern) found, the smallest number of mismatches.
    """

    def __init__(self, patterns: Sequence[str | bytes], max_mismatches: int | Sequence[int] = 2,
                 *, k_max: int = 12, min_seed: int = 8, k: int | None = None) -> None:
        pats: list[bytes] = [p.upper().encode() if isinstance(p, str) else p.upper() for p in patterns]
        ds = [int(max_mismatches)] * len(pats) if isinstance(max_mismatches, int) else list(max_mismatches)
        if not pats:
            raise ValidationError("patterns must be a non-empty list, but was []")
        oriented: list[tuple[int, np.ndarray, int]] = []
        for i, (p, d) in enumerate(zip(pats, ds, strict=True)):
            for qb in dict.fromkeys((p, revcomp(p))):
                oriented.append((i, np.frombuffer(qb, dtype=np.uint8).copy(), d))
        bounds = []
        for _, q, d in oriented:
            b = [round(j * q.size / (d + 1)) for j in range(d + 2)]
            bounds.append(b)
        min_part = min(b[j + 1] - b[j] for b in bounds for j in range(len(b) - 1))
        if min_part < min_seed:
            raise ValidationError(f"pattern length must allow an exact seed of >= {min_seed} nt with "
                                  f"{max(ds)} mismatches, but was {min(len(p) for p in pats)} nt")
        # k-mer length and sampling stride: a stride of 2-3 roughly halves the k-mer work, and
        # k >= 9 keeps random seed hits rare (a 4^9 table holds a few hundred seeds)
        self.k = k if k is not None else min(k_max, min_part, max(9, min_part - 3))
        self.stride = min_part - self.k + 1
        self.patterns = oriented
        self.n_patterns = len(pats)
        codes, pid, off = [], [], []
        for oi, ((_, q, _), b) in enumerate(zip(oriented, bounds, strict=True)):
            allc = self._codes(q, 1)
            for j in range(len(b) - 1):
                offs = np.arange(b[j], b[j] + self.stride)
                codes.append(allc[offs])
                pid.append(np.full(offs.size, oi, dtype=np.int64))
                off.append(offs.astype(np.int64))
        allc = np.concatenate(codes)
        order = np.argsort(allc, kind="stable")
        self._seed_codes = allc[order]
        self._seed_pat = np.concatenate(pid)[order]
        self._seed_off = np.concatenate(off)[order]
        uniq, first_idx, cnt = np.unique(self._seed_codes, return_index=True, return_counts=True)
        self._first = np.zeros(4 ** self.k, dtype=np.int32)
        self._count = np.zeros(4 ** self.k, dtype=np.uint8)
        self._first[uniq] = first_idx
        self._count[uniq] = np.minimum(cnt, 255)
        if (cnt > 255).any():  # pragma: no cover - needs > 255 identical seeds
            raise ValidationError("patterns must not repeat one seed more than 255 times")
        lmax = max(q.size for _, q, _ in oriented)
        self._len = np.array([q.size for _, q, _ in oriented], dtype=np.int64)
        self._d = np.array([d for _, _, d in oriented], dtype=np.int64)
        self._owner = np.array([i for i, _, _ in oriented], dtype=np.int64)
        self._pmat = np.zeros((len(oriented), lmax), dtype=np.uint8)
        self._mask = np.zeros((len(oriented), lmax), dtype=bool)
        for oi, (_, q, _) in enumerate(oriented):
            self._pmat[oi, : q.size] = q
            self._mask[oi, : q.size] = True
        self._ar = np.arange(lmax, dtype=np.int64)

    def _codes(self, a: np.ndarray, stride: int) -> np.ndarray:
        """k-mer codes starting at 0, stride, 2*stride, ... (uint32).

        8-mers are built for every position by doubling on contiguous uint8/uint16 arrays
        (SIMD-friendly), the remaining ``k - 8`` bases are added at the sampled positions only.
        """
        k = self.k
        n = (a.size - k) // stride + 1
        if n <= 0:
            return np.zeros(0, dtype=np.uint32)
        b = (a >> 1) & 3
        code: np.ndarray
        if k < 8:
            code = np.zeros(n, dtype=np.uint32)
            for t in range(k):
                code = (code << 2) | b[t: t + stride * (n - 1) + 1: stride]
            return code
        if stride == 2 and k in (8, 9, 10):
            # even positions only: c2/c4/c8 at p = 0, 2, 4, ... need only even-position c2/c4
            e, o = b[0::2], b[1::2]
            m = min(e.size, o.size)
            c2e = (e[:m] << 2) | o[:m]
            c4e = (c2e[:-1] << 4) | c2e[1:]
            c8e = (c4e[:-2].astype(np.uint16) << 8) | c4e[2:]
            code = c8e[:n].astype(np.uint32)
            if k == 9:
                code = (code << 2) | e[4: 4 + n]
            elif k == 10:
                code = (code << 4) | c2e[4: 4 + n]
            return code
        c2 = (b[:-1] << 2) | b[1:]
        c4 = (c2[:-2] << 4) | c2[2:]
        c8 = (c4[:-4].astype(np.uint16) << 8) | c4[4:]
        last = stride * (n - 1) + 1
        code = c8[0:last:stride].astype(np.uint32)
        rest = k - 8
        if rest:
            tail = {1: b, 2: c2, 4: c4}.get(rest)
            if tail is None:  # 3: two bases + one base
                tail = (c2[:-1].astype(np.uint8) << 2) | b[2:]
            code <<= 2 * rest
            code |= tail[8: 8 + last: stride]
        return code

    def scan(self, data: np.ndarray, seq_start: np.ndarray, seq_end: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(read_index, pattern_index, mismatches)`` arrays (one row per read/pattern)."""
        s = self.stride
        codes = self._codes(data, s)
        hits = self._count[codes]
        cand = np.flatnonzero(hits)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        if cand.size == 0:
            return empty
        cc = codes[cand]
        reps = hits[cand].astype(np.int64)
        lo = self._first[cc].astype(np.int64)
        if int(reps.max()) == 1:
            first, pos = lo, cand.astype(np.int64) * s
        else:
            pos = np.repeat(cand.astype(np.int64) * s, reps)
            first = np.repeat(lo - np.cumsum(reps) + reps, reps) + np.arange(int(reps.sum()))
        pat = self._seed_pat[first]
        w = pos - self._seed_off[first]
        # a window proposed by several parts is verified more than once; duplicates are dropped
        # with the (read, pattern) de-duplication below (cheaper than a unique here)
        L = self._len[pat]
        ok = (w >= 0) & (w + L <= data.size)
        w, pat, L = w[ok], pat[ok], L[ok]
        r = np.searchsorted(seq_start, w, "right") - 1
        inside = r >= 0
        r = np.where(inside, r, 0)
        inside &= (w >= seq_start[r]) & (w + L <= seq_end[r])
        w, pat, r = w[inside], pat[inside], r[inside]
        if w.size == 0:
            return empty
        lmax = self._pmat.shape[1]
        padded = np.concatenate([data, np.zeros(lmax, dtype=np.uint8)])
        win = np.lib.stride_tricks.sliding_window_view(padded, lmax)[w]
        mm = ((win != self._pmat[pat]) & self._mask[pat]).sum(axis=1)
        hit = mm <= self._d[pat]
        rr, pp, mm = r[hit], self._owner[pat[hit]], mm[hit]
        o = np.lexsort((mm, pp, rr))
        rr, pp, mm = rr[o], pp[o], mm[o]
        keep = np.ones(rr.size, dtype=bool)
        keep[1:] = (rr[1:] != rr[:-1]) | (pp[1:] != pp[:-1])
        return rr[keep], pp[keep], mm[keep].astype(np.int64)


class FastqChunkLike(Protocol):
    @property
    def data(self) -> np.ndarray: ...

    @property
    def seq_start(self) -> np.ndarray: ...

    @property
    def seq_end(self) -> np.ndarray: ...

    @property
    def n_reads(self) -> int: ...

    @property
    def mate2(self) -> Any: ...


def track_fastq(
    index: IndexResult,
    chunks: Iterable[FastqChunkLike],
    parameters: Mapping[str, Any] | None = None,
    spikes: Sequence[SpikeIn] = (),
    *,
    progress: Any = None,
) -> TrackResult:
    """Count each index junction in raw reads (no V(D)J annotation of the follow-up sample).

    A read (or read pair: either mate) counts for the marker whose junction it holds with the
    fewest mismatches (≤ ``max_mismatches``, either strand). A read holding the marker's 3' stem
    but not the junction is counted as an evolved relative. V/J consistency cannot be checked
    without annotation; the junction includes the V and J ends, which gives it in part.
    """
    rules = resolve(NGS_RULES, parameters) if parameters is not None else index.rules
    d = int(rules["max_mismatches"].value)
    clones = index.clones
    nm = len(clones)
    pats: list[str] = [c.junction for c in clones]
    kinds: list[tuple[str, int]] = [("m", k) for k in range(nm)]
    for k, c in enumerate(clones):
        st = _stem(c)
        if st:
            pats.append(st)
            kinds.append(("r", k))
    for k, s in enumerate(spikes):
        pats.append(s.junction)
        kinds.append(("s", k))
    counts = [MarkerCount(by_mismatches=[0] * (d + 1)) for _ in clones]
    spike_reads = [0] * len(spikes)
    total = 0
    if not pats:
        for ch in chunks:
            total += ch.n_reads
        return TrackResult(counts=counts, total_reads=total, target_reads={"all": total},
                           spike_reads=spike_reads, mode="fastq")
    seed = int(rules["min_seed_nt"].value)
    ds = [0 if kd == "r" else effective_mismatches(len(p), d, seed) for p, (kd, _) in zip(pats, kinds, strict=True)]
    if min(len(p) for p in pats) < seed:
        raise ValidationError(f"index junctions must be at least min_seed_nt={seed} nt long for FASTQ "
                              f"tracking, but one was {min(len(p) for p in pats)} nt")
    scanner = JunctionScanner(pats, ds, min_seed=seed)
    kind_arr = np.array([0 if kd == "m" else 1 if kd == "r" else 2 for kd, _ in kinds])
    ref_arr = np.array([k for _, k in kinds])
    for ch in chunks:
        total += ch.n_reads
        parts = [scanner.scan(ch.data, ch.seq_start, ch.seq_end)]
        if ch.mate2 is not None:
            m2 = ch.mate2
            parts.append(scanner.scan(m2.data, m2.seq_start, m2.seq_end))
        rr = np.concatenate([p[0] for p in parts])
        if rr.size:
            pp = np.concatenate([p[1] for p in parts])
            mm = np.concatenate([p[2] for p in parts])
            kd, ref = kind_arr[pp], ref_arr[pp]
            # markers: best (fewest mismatches, then lowest marker) per read
            sel = kd == 0
            r0, k0, m0 = rr[sel], ref[sel], mm[sel]
            o = np.lexsort((k0, m0, r0))
            r0, k0, m0 = r0[o], k0[o], m0[o]
            first = np.ones(r0.size, dtype=bool)
            first[1:] = r0[1:] != r0[:-1]
            marked = set()
            for r, k, m in zip(r0[first].tolist(), k0[first].tolist(), m0[first].tolist(), strict=True):
                counts[k].reads += 1
                counts[k].by_mismatches[m] += 1
                marked.add((r, k))
            sel = kd == 1
            rel = {(r, k) for r, k in zip(rr[sel].tolist(), ref[sel].tolist(), strict=True)
                   if (r, k) not in marked}
            matched_reads = {r for r, _ in marked}
            for r, k in rel:
                if r not in matched_reads:
                    counts[k].relatives_reads += 1
            sel = kd == 2
            for _r, sk in {(r, k) for r, k in zip(rr[sel].tolist(), ref[sel].tolist(), strict=True)}:
                spike_reads[sk] += 1
        if progress is not None:
            progress(ch.n_reads)
    return TrackResult(counts=counts, total_reads=total, target_reads={"all": total},
                       spike_reads=spike_reads, mode="fastq")


# --------------------------------------------------------------------------------------------
# quantification


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
