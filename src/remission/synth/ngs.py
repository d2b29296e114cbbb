"""Seeded synthetic IG/TR repertoires for NGS-MRD: polyclonal background, leukemic clones, errors.

Nothing here is real patient data, and the germline sequences are **synthetic**: each gene has
its real IMGT name (so V/J usage reads naturally) but a random sequence drawn once from a fixed
seed, built like a germline end (V: ... + conserved ``TGT`` Cys codon + a short germline tail;
J: a germline head + ``TGG`` (IGH, Trp) or ``TTC`` (others, Phe) + downstream). IMGT
sequences are not bundled (licence) and AGPL/GPL simulators (airrship 0.1.5, AGPL-3,
bioRxiv 2022.12.20.521228; olga 1.3.0, GPL-3) are not imported.

A rearrangement is built as V-tail (trimmed) + N1 + D (trimmed both ends) + N2 + J-head (trimmed);
incomplete DJH (IGH+), Vκ-Kde / intron-Kde (IGK+) and TRG/TRD/TRB/IGK/IGL are supported.
A *sample* is simulated at clonotype level (fast, so 10^6-cell samples take well under a second):

1. leukemic cells of each clone ~ Poisson(fraction × cells) (sampling of cells into the tube);
2. background cells spread over ``n_clonotypes`` polyclonal clonotypes with heavy-tailed sizes;
3. reads per clonotype ~ Poisson(cells × ``reads_per_cell``) (PCR + sequencing sampling);
4. substitution errors at ``error_rate`` per base in the junction of expanded clonotypes,
   giving 1- and 2-mismatch satellites (about 1 - 0.997^50 ≈ 14 % of a 50-nt window at 0.3 %/base;
   our own simulation, no primary source), collapsed to one row per variant.

Writers: :func:`write_sample_airr` (AIRR Rearrangement TSV) and :func:`write_sample_fastq`
(150-bp amplicon reads, FASTQ, optional gzip, optional R2 mates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remission.io.airr import AirrChunk, write_airr
from remission.synth._seed import stable_seed

__all__ = [
    "GERMLINES",
    "Rearrangement",
    "SimulatedSample",
    "add_to_examples",
    "germline",
    "random_rearrangement",
    "simulate_sample",
    "spike_rearrangements",
    "write_sample_airr",
    "write_sample_fastq",
]

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
READ_LENGTH = 150

# gene names (IMGT) and usage weights (synthetic, skewed; IGHJ4/J6 and IGHV3-23 frequent)
_GENES: dict[str, dict[str, Any]] = {
    "IGH": {
        "V": {"IGHV3-23": 9, "IGHV3-30": 6, "IGHV4-34": 5, "IGHV1-69": 5, "IGHV3-33": 4,
              "IGHV4-39": 4, "IGHV1-18": 3, "IGHV3-7": 3, "IGHV3-21": 3, "IGHV4-59": 3,
              "IGHV1-2": 3, "IGHV3-48": 2, "IGHV5-51": 2, "IGHV3-11": 2, "IGHV6-1": 1},
        "D": {"IGHD3-10": 5, "IGHD3-22": 5, "IGHD6-19": 4, "IGHD2-2": 4, "IGHD6-13": 4,
              "IGHD3-3": 3, "IGHD4-17": 3, "IGHD5-12": 2, "IGHD1-26": 2},
        "J": {"IGHJ4": 45, "IGHJ6": 25, "IGHJ3": 12, "IGHJ5": 10, "IGHJ2": 4, "IGHJ1": 4},
        "end": "TGG",
    },
    "IGK": {
        "V": {"IGKV3-20": 8, "IGKV1-39": 7, "IGKV3-15": 5, "IGKV4-1": 5, "IGKV3-11": 4,
              "IGKV1-5": 4, "IGKV2-28": 3, "IGKV1-33": 3},
        "J": {"IGKJ1": 30, "IGKJ2": 25, "IGKJ4": 20, "IGKJ5": 12, "IGKJ3": 13},
        "end": "TTC",
    },
    "IGL": {
        "V": {"IGLV2-14": 6, "IGLV1-44": 5, "IGLV3-21": 4, "IGLV1-40": 4, "IGLV2-11": 3},
        "J": {"IGLJ2": 40, "IGLJ3": 40, "IGLJ1": 20},
        "end": "TTC",
    },
    "TRG": {
        "V": {"TRGV9": 10, "TRGV2": 5, "TRGV4": 5, "TRGV3": 4, "TRGV8": 4, "TRGV5": 3,
              "TRGV10": 2, "TRGV11": 1},
        "J": {"TRGJP": 30, "TRGJ1": 25, "TRGJ2": 25, "TRGJP1": 10, "TRGJP2": 10},
        "end": "TTC",
    },
    "TRD": {
        "V": {"TRDV2": 10, "TRDV1": 8, "TRDV3": 3},
        "D": {"TRDD3": 5, "TRDD2": 3},
        "J": {"TRDJ1": 20, "TRDJ2": 3, "TRDJ3": 2},
        "end": "TTC",
    },
    "TRB": {
        "V": {"TRBV20-1": 8, "TRBV5-1": 5, "TRBV28": 5, "TRBV6-5": 4, "TRBV19": 4,
              "TRBV7-9": 4, "TRBV27": 3, "TRBV12-3": 3},
        "D": {"TRBD1": 5, "TRBD2": 4},
        "J": {"TRBJ2-7": 8, "TRBJ2-1": 8, "TRBJ1-1": 6, "TRBJ2-3": 5, "TRBJ1-2": 5,
              "TRBJ2-5": 5, "TRBJ1-5": 4, "TRBJ2-2": 4},
        "end": "TTT",
    },
}
# incomplete rearrangements: Kde (IGK+), intron RSS; IGH+ uses IGH D and J
_KDE_UPSTREAM = {"IGKINTR": 3}
_KDE = "IGKDEL"


def _seq(rng: np.random.Generator, n: int) -> str:
    return rng.choice(_BASES, n).tobytes().decode()


@dataclass(frozen=True)
class Germline:
    locus: str
    v: dict[str, tuple[str, str]]  # name -> (upstream 80 nt, tail incl. TGT)
    d: dict[str, str]
    j: dict[str, tuple[str, str]]  # name -> (head incl. end codon, downstream 80 nt)
    v_w: np.ndarray
    d_w: np.ndarray
    j_w: np.ndarray


def _build_germline(locus: str) -> Germline:
    spec = _GENES[locus]
    rng = np.random.default_rng(stable_seed(f"remission-germline/{locus}"))
    v = {name: (_seq(rng, 80), "TGT" + _seq(rng, int(rng.integers(6, 10)))) for name in spec["V"]}
    if locus == "IGK":
        v.update({name: (_seq(rng, 80), _seq(rng, 9)) for name in _KDE_UPSTREAM})
    d = {name: _seq(rng, int(rng.integers(11, 24))) for name in spec.get("D", {})}
    j = {name: (_seq(rng, int(rng.integers(9, 17))) + spec["end"], _seq(rng, 80)) for name in spec["J"]}
    if locus == "IGK":
        j[_KDE] = (_seq(rng, 12), _seq(rng, 80))

    def w(names: dict[str, Any], weights: dict[str, float]) -> np.ndarray:
        a = np.array([weights.get(n, 1.0) for n in names], dtype=float)
        return a / a.sum()

    return Germline(locus=locus, v=v, d=d, j=j,
                    v_w=w(v, {**spec["V"], **_KDE_UPSTREAM} if locus == "IGK" else spec["V"]),
                    d_w=w(d, spec.get("D", {})), j_w=w(j, {**spec["J"], _KDE: 1}))


GERMLINES: dict[str, Germline] = {}


def germline(locus: str) -> Germline:
    """The synthetic germline set of ``locus`` (IGH, IGK, IGL, TRB, TRG, TRD); built once."""
    if locus not in _GENES:
        raise ValueError(f"locus must be one of {', '.join(_GENES)}, but was {locus!r}")
    if locus not in GERMLINES:
        GERMLINES[locus] = _build_germline(locus)
    return GERMLINES[locus]


@dataclass(frozen=True)
class Rearrangement:
    """One clonotype: genes, junction and the 150-bp amplicon read around it."""

    locus: str
    v_call: str
    d_call: str
    j_call: str
    junction: str
    upstream: str
    downstream: str

    def read(self, junction: str | None = None, length: int = READ_LENGTH) -> bytes:
        jn = junction or self.junction
        pre = max(0, (length - len(jn)) // 2)
        post = max(0, length - pre - len(jn))
        return (self.upstream[-pre:] if pre else "").encode() + jn.encode() + self.downstream[:post].encode()


def _nrand(rng: np.random.Generator, mean: float, cap: int) -> str:
    return _seq(rng, int(min(cap, rng.poisson(mean))))


def random_rearrangement(rng: np.random.Generator, locus: str = "IGH", *,
                         kind: str = "complete") -> Rearrangement:
    """A random rearrangement: ``kind`` ``complete`` (V(D)J), ``DJ`` (IGH+/TRB+) or ``Kde`` (IGK+)."""
    g = germline(locus)
    vnames, dnames, jnames = list(g.v), list(g.d), list(g.j)
    if locus == "IGK":
        if kind == "Kde":
            vnames_k = [n for n in vnames]
            vname = str(rng.choice(vnames_k))
            jname = _KDE
        else:
            idx = [i for i, n in enumerate(vnames) if n not in _KDE_UPSTREAM]
            p = g.v_w[idx] / g.v_w[idx].sum()
            vname = vnames[int(rng.choice(idx, p=p))]
            jidx = [i for i, n in enumerate(jnames) if n != _KDE]
            jp = g.j_w[jidx] / g.j_w[jidx].sum()
            jname = jnames[int(rng.choice(jidx, p=jp))]
    else:
        vname = vnames[int(rng.choice(len(vnames), p=g.v_w))]
        jname = jnames[int(rng.choice(len(jnames), p=g.j_w))]
    up, vtail = g.v[vname]
    jhead, down = g.j[jname]
    vt = int(rng.integers(0, max(1, len(vtail) - 3)))
    jt = int(rng.integers(0, max(1, len(jhead) - 5)))
    vpart = vtail[: len(vtail) - vt]
    jpart = jhead[jt:]
    dname, dpart = "", ""
    if dnames:
        dname = dnames[int(rng.choice(len(dnames), p=g.d_w))]
        dseq = g.d[dname]
        a, b = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        dpart = dseq[a: len(dseq) - b]
    if kind == "DJ":
        if not dnames:
            raise ValueError(f"locus {locus} has no D genes for an incomplete DJ rearrangement")
        junction = dpart + _nrand(rng, 5, 12) + jpart
        vname = ""
        up = _seq(np.random.default_rng(len(junction)), 80)
    elif dnames:
        junction = vpart + _nrand(rng, 5, 14) + dpart + _nrand(rng, 5, 14) + jpart
    else:
        junction = vpart + _nrand(rng, 6, 16) + jpart
    return Rearrangement(locus=locus, v_call=f"{vname}*01" if vname else "",
                         d_call=f"{dname}*01" if dname else "", j_call=f"{jname}*01",
                         junction=junction, upstream=up, downstream=down)


def _random_batch(rng: np.random.Generator, locus: str, n: int, kind: str) -> list[Rearrangement]:
    """``n`` random rearrangements at once (vectorised draws; same model as
    :func:`random_rearrangement`)."""
    if kind == "DJ":
        return [random_rearrangement(rng, locus, kind=kind) for _ in range(n)]
    g = germline(locus)
    vn, dn, jn = list(g.v), list(g.d), list(g.j)

    def draw(names: list[str], w: np.ndarray, keep: list[int]) -> np.ndarray:
        ww = w[keep] / w[keep].sum()
        idx = np.minimum(np.searchsorted(np.cumsum(ww), rng.random(n)), len(keep) - 1)
        return np.asarray(keep)[idx]

    allv, allj = list(range(len(vn))), list(range(len(jn)))
    if locus == "IGK" and kind == "Kde":
        vi = draw(vn, g.v_w, allv)
        ji = np.full(n, jn.index(_KDE))
    elif locus == "IGK":
        vi = draw(vn, g.v_w, [i for i, x in enumerate(vn) if x not in _KDE_UPSTREAM])
        ji = draw(jn, g.j_w, [i for i, x in enumerate(jn) if x != _KDE])
    else:
        vi, ji = draw(vn, g.v_w, allv), draw(jn, g.j_w, allj)
    di = draw(dn, g.d_w, list(range(len(dn)))) if dn else np.zeros(n, dtype=np.int64)
    u = rng.random((n, 4))
    n1 = np.minimum(rng.poisson(5 if dn else 6, n), 14 if dn else 16)
    n2 = np.minimum(rng.poisson(5, n), 14) if dn else np.zeros(n, dtype=np.int64)
    pool = _BASES[rng.integers(0, 4, int(n1.sum() + n2.sum()) + 1)].tobytes().decode()
    out: list[Rearrangement] = []
    at = 0
    for i in range(n):
        v, j = vn[int(vi[i])], jn[int(ji[i])]
        up, vtail = g.v[v]
        jhead, down = g.j[j]
        vt = int(u[i, 0] * max(1, len(vtail) - 3))
        jt = int(u[i, 1] * max(1, len(jhead) - 5))
        nn1 = pool[at: at + int(n1[i])]
        at += int(n1[i])
        if dn:
            d = dn[int(di[i])]
            dseq = g.d[d]
            a, b = int(u[i, 2] * 4), int(u[i, 3] * 4)
            nn2 = pool[at: at + int(n2[i])]
            at += int(n2[i])
            junction = vtail[: len(vtail) - vt] + nn1 + dseq[a: len(dseq) - b] + nn2 + jhead[jt:]
        else:
            d = ""
            junction = vtail[: len(vtail) - vt] + nn1 + jhead[jt:]
        out.append(Rearrangement(locus=locus, v_call=f"{v}*01", d_call=f"{d}*01" if d else "",
                                 j_call=f"{j}*01", junction=junction, upstream=up, downstream=down))
    return out


def spike_rearrangements(copies: Sequence[float] = (10, 40, 160)) -> list[tuple[Rearrangement, float]]:
    """Calibrator rearrangements (a fixed synthetic TRDV1-like sequence per copy level).

    Vidjil's spike example (``tools/spike-normalization.py``; spike-in controls: Navarro NG et al.
    Br J Haematol 2020;189:e150) uses three spikes at 10/40/160 copies.
    """
    out = []
    for i, c in enumerate(copies):
        rng = np.random.default_rng(1000 + i)
        jn = "TGT" + _seq(rng, 42) + "TTC"
        out.append((Rearrangement(locus="TRD", v_call="SPIKE", d_call="", j_call=f"SPIKE{i + 1}",
                                  junction=jn, upstream=_seq(rng, 80), downstream=_seq(rng, 80)), float(c)))
    return out


@dataclass
class SimulatedSample:
    """A clonotype-level sample: one row per (clonotype, error variant)."""

    rearrangements: list[Rearrangement]
    junctions: list[str]
    clone_of: np.ndarray  # row -> index into rearrangements
    counts: np.ndarray
    cells: float
    leukemic_cells: list[int]
    truth: dict[str, Any] = field(default_factory=dict)

    def chunk(self) -> AirrChunk:
        """The rows as one in-memory :class:`~remission.io.airr.AirrChunk` (engine input)."""
        rs = self.rearrangements
        cols = {
            "locus": np.array([rs[i].locus for i in self.clone_of], dtype=object),
            "v_call": np.array([rs[i].v_call for i in self.clone_of], dtype=object),
            "d_call": np.array([rs[i].d_call for i in self.clone_of], dtype=object),
            "j_call": np.array([rs[i].j_call for i in self.clone_of], dtype=object),
            "junction": np.array(self.junctions, dtype=object),
        }
        return AirrChunk(columns=cols, count=self.counts.astype(np.int64), first_line=2)

    @property
    def total_reads(self) -> int:
        return int(self.counts.sum())


def _mutate(rng: np.random.Generator, junction: str, reads: int, error_rate: float
            ) -> dict[str, int]:
    """Split ``reads`` of one junction into error variants (substitutions only)."""
    L = len(junction)
    if reads <= 0:
        return {}
    if error_rate <= 0 or L == 0:
        return {junction: reads}
    nerr = rng.binomial(L, error_rate, size=reads)
    out: dict[str, int] = {junction: int((nerr == 0).sum())}
    base = np.frombuffer(junction.encode(), dtype=np.uint8)
    code = np.searchsorted(_BASES, base)  # A C G T -> 0..3 (sorted)

    def variant(pos: np.ndarray, shift: np.ndarray) -> str:
        arr = base.copy()
        arr[pos] = _BASES[(code[pos] + shift) % 4]
        return arr.tobytes().decode()

    one = int((nerr == 1).sum())
    if one:
        keys = rng.integers(0, L, size=one) * 4 + rng.integers(1, 4, size=one)
        for key, c in zip(*np.unique(keys, return_counts=True), strict=True):
            s = variant(np.array([key // 4]), np.array([key % 4]))
            out[s] = out.get(s, 0) + int(c)
    for k in np.flatnonzero(nerr > 1):
        n = min(L, int(nerr[k]))
        s = variant(rng.choice(L, size=n, replace=False), rng.integers(1, 4, size=n))
        out[s] = out.get(s, 0) + 1
    return {k: v for k, v in out.items() if v > 0}


def simulate_sample(
    rng: np.random.Generator,
    *,
    cells: float,
    clones: Sequence[tuple[Rearrangement, float]] = (),
    locus: str = "IGH",
    loci: Sequence[str] | None = None,
    n_clonotypes: int | None = None,
    reads_per_cell: float = 1.0,
    total_reads: int | None = None,
    error_rate: float = 0.003,
    error_min_reads: int = 1000,
    incomplete_fraction: float = 0.1,
    pareto_shape: float = 2.0,
    spikes: Sequence[tuple[Rearrangement, float]] = (),
    background: str = "polyclonal",
) -> SimulatedSample:
    """One sample: leukemic ``clones`` (rearrangement, fraction of cells) in polyclonal background.

    ``background``: ``polyclonal`` (default, as in marrow: only lymphoid cells carry a
    rearrangement of the locus, and nearly each of them a different one; each of the ``k``
    background clonotypes is one cell plus a small Lomax-distributed expansion,
    ``1 + floor(Lomax(2 * pareto_shape))`` cells (1 cell in 15 of 16 at the default), and the other background cells carry no template)
    or ``pooled`` (every background cell carries one template, shared among ``k`` clonotypes with
    Pareto sizes: the model of the "locus_reads" reads-per-cell rule).
    ``reads_per_cell`` is the reads one template yields (Poisson); ``total_reads`` (if given) sets
    ``reads_per_cell = total_reads / cells``. Spike calibrators get Poisson(copies × reads_per_cell) reads. Errors are added to the leukemic clones and to
    background clonotypes with at least ``error_min_reads`` reads (smaller ones keep their exact
    junction: their satellites do not matter to MRD and would only bloat the table).
    """
    if background not in ("polyclonal", "pooled"):
        raise ValueError(f"background must be one of polyclonal, pooled, but was {background!r}")
    if total_reads is not None:
        reads_per_cell = total_reads / cells
    n_cells = round(cells)
    leuk = [int(rng.poisson(f * cells)) for _, f in clones]
    n_bg = max(0, n_cells - sum(leuk))
    loci = list(loci or [locus])
    k = int(n_clonotypes or min(max(200, n_bg // 20), 50_000))
    k = max(1, min(k, n_bg)) if n_bg else 0
    rs: list[Rearrangement] = [r for r, _ in clones]
    cell_counts: list[int] = list(leuk)
    # every background cell carries one complete rearrangement per locus; incomplete ones
    # (IGH DJ, IGK Kde) are extra templates carried by ``incomplete_fraction`` of the cells
    for lo in loci:
        parts = [("complete", k, n_bg)]
        if incomplete_fraction > 0 and lo in ("IGH", "IGK") and k:
            parts.append(("DJ" if lo == "IGH" else "Kde", max(1, int(k * incomplete_fraction)),
                          int(n_bg * incomplete_fraction)))
        for kind, kk, ncell in parts:
            if kk <= 0 or ncell <= 0:
                continue
            if background == "polyclonal":
                cc = 1 + np.floor(rng.pareto(2 * pareto_shape, size=kk)).astype(np.int64)
            else:
                sizes = rng.pareto(pareto_shape, size=kk) + 1.0
                cc = rng.multinomial(ncell, sizes / sizes.sum())
            rs.extend(_random_batch(rng, lo, kk, kind))
            cell_counts.extend(int(c) for c in cc)
    n_real = len(rs)
    for r, _c in spikes:
        rs.append(r)
    reads = [int(rng.poisson(c * reads_per_cell)) for c in cell_counts]
    reads += [int(rng.poisson(c * reads_per_cell)) for _, c in spikes]
    junctions: list[str] = []
    clone_of: list[int] = []
    counts: list[int] = []
    for i, (r, n) in enumerate(zip(rs, reads, strict=True)):
        if n <= 0:
            continue
        mutate = i < len(clones) or (n >= error_min_reads and i < n_real)
        variants = _mutate(rng, r.junction, n, error_rate) if mutate else {r.junction: n}
        for jn, c in variants.items():
            junctions.append(jn)
            clone_of.append(i)
            counts.append(c)
    return SimulatedSample(
        rearrangements=rs, junctions=junctions, clone_of=np.array(clone_of, dtype=np.int64),
        counts=np.array(counts, dtype=np.int64), cells=float(cells), leukemic_cells=leuk,
        truth={"fractions": [f for _, f in clones], "leukemic_cells": leuk,
               "reads_per_cell": reads_per_cell, "error_rate": error_rate,
               "spike_copies": [c for _, c in spikes]},
    )


_CODONS = {a + b + c: aa for (a, b, c), aa in zip(
    ((x, y, z) for x in "TCAG" for y in "TCAG" for z in "TCAG"),
    "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG", strict=True)}


def _translate(s: str) -> str:
    return "".join(_CODONS.get(s[i:i + 3], "X") for i in range(0, len(s) - 2, 3))


def write_sample_airr(path: str | Path, sample: SimulatedSample, *, sample_name: str = "S") -> Path:
    """Write the sample as an AIRR Rearrangement TSV (all 14 required columns, plus locus and
    ``duplicate_count``), most abundant row first."""
    order = np.argsort(-sample.counts, kind="stable")

    def rows() -> Any:
        for n, i in enumerate(order.tolist()):
            r = sample.rearrangements[int(sample.clone_of[i])]
            jn = sample.junctions[i]
            aa = _translate(jn)
            seq = r.read(jn, length=len(jn) + 40).decode()  # junction with 20-nt V and J flanks
            yield {
                "sequence_id": f"{sample_name}.{n + 1}", "sequence": seq, "rev_comp": False,
                "productive": len(jn) % 3 == 0 and "*" not in aa, "v_call": r.v_call or None,
                "d_call": r.d_call or None, "j_call": r.j_call, "sequence_alignment": None,
                "germline_alignment": None, "junction": jn, "junction_aa": aa if len(jn) % 3 == 0 else None,
                "v_cigar": None, "d_cigar": None, "j_cigar": None,
                "locus": r.locus if r.v_call != "SPIKE" else "TRD",
                "duplicate_count": int(sample.counts[i]),
            }

    return write_airr(path, rows())


def write_sample_fastq(path: str | Path, sample: SimulatedSample, rng: np.random.Generator, *,
                       mate2: str | Path | None = None, shuffle: bool = True,
                       label_leukemic: bool = False) -> Path:
    """Write every read of the sample as a 150-bp FASTQ record (gzip if ``.gz``); with ``mate2``
    also the reverse-complement mates. ``label_leukemic`` names reads of leukemic clone ``k``
    ``r{n}_L{k}`` (the truth for sensitivity benchmarks)."""
    from remission.io.fastq import write_fastq
    from remission.mrd.ngs import revcomp

    idx = np.repeat(np.arange(len(sample.counts)), sample.counts)
    if shuffle:
        rng.shuffle(idx)
    reads = [sample.rearrangements[int(sample.clone_of[i])].read(sample.junctions[i]) for i in idx]
    n_leuk = len(sample.leukemic_cells)
    names = [f"r{n + 1}_L{int(sample.clone_of[i])}" if label_leukemic and int(sample.clone_of[i]) < n_leuk
             else f"r{n + 1}" for n, i in enumerate(idx)] if label_leukemic else None
    write_fastq(path, [(f"{names[n]}/1" if names else f"r{n + 1}/1", s) for n, s in enumerate(reads)])
    if mate2 is not None:
        write_fastq(mate2, [(f"r{n + 1}/2", revcomp(s)) for n, s in enumerate(reads)])
    return Path(path)


# --------------------------------------------------------------------------------------------
# example cases


def add_to_examples(cases: dict[str, Any]) -> None:
    """NGS-MRD samples for the example cases (small files: ≤ ~5e4 reads each)."""
    ex = cases.get("late-bm-bcp")
    if ex is not None:
        rng = ex.rng("ngs")
        igh = random_rearrangement(rng, "IGH")
        igh_sub = random_rearrangement(rng, "IGH")
        kde = random_rearrangement(rng, "IGK", kind="Kde")
        dx = simulate_sample(rng, cells=60_000, clones=[(igh, 0.45), (igh_sub, 0.03), (kde, 0.40)],
                             loci=["IGH", "IGK"], n_clonotypes=1500, total_reads=60_000,
                             background="pooled")
        f = ex.write_file("ngs/r1_dx.tsv", lambda p: write_sample_airr(p, dx, sample_name="R1DX"))
        ex.add_sample({"id": "R1-DX-NGS", "date": "2019-03-11", "material": "bone_marrow",
                       "assay": "ngs_mrd", "role": "relapse", "files": [f],
                       "parameters": {"dna_ng": 500}})
        fu1 = simulate_sample(rng, cells=80_000, clones=[(igh, 3e-4), (kde, 3e-4)],
                              loci=["IGH", "IGK"], n_clonotypes=2000, reads_per_cell=5.0)
        f = ex.write_file("ngs/eoi_fu.tsv", lambda p: write_sample_airr(p, fu1, sample_name="EOI"))
        ex.add_sample({"id": "EOI-NGS", "date": "2019-04-15", "material": "bone_marrow",
                       "assay": "ngs_mrd", "role": "follow_up", "files": [f],
                       "parameters": {"cell_equivalents": 80_000}})
        # raw reads carry no clonotype table, so this sample is quantified with spike-in
        # calibrators (3 at 10/40/160 copies, as in Vidjil's spike-normalisation example)
        cal = [(random_rearrangement(rng, "IGH"), c) for c in (10.0, 40.0, 160.0)]
        fu2 = simulate_sample(rng, cells=25_000, clones=[(igh, 8e-5), (kde, 8e-5)],
                              loci=["IGH"], n_clonotypes=1500, reads_per_cell=5.0, spikes=cal)
        f = ex.write_file("ngs/eoc_fu.fastq.gz",
                          lambda p: write_sample_fastq(p, fu2, rng))
        ex.add_sample({"id": "EOC-NGS", "date": "2019-07-10", "material": "bone_marrow",
                       "assay": "ngs_mrd", "role": "follow_up", "files": [f],
                       "parameters": {"cell_equivalents": 25_000,
                                      "spike_in": [{"name": f"cal{i + 1}", "copies": c,
                                                    "junction": r.junction}
                                                   for i, (r, c) in enumerate(cal)]}})
    ex = cases.get("ph-like-very-early")
    if ex is not None:
        rng = ex.rng("ngs")
        igh = random_rearrangement(rng, "IGH")
        dx = simulate_sample(rng, cells=40_000, clones=[(igh, 0.7)], n_clonotypes=800,
                             total_reads=40_000, background="pooled")
        f = ex.write_file("ngs/r1_dx.tsv", lambda p: write_sample_airr(p, dx, sample_name="R1DX"))
        ex.add_sample({"id": "R1-DX-NGS", "date": "2022-03-01", "material": "bone_marrow",
                       "assay": "ngs_mrd", "role": "relapse", "files": [f],
                       "parameters": {"dna_ng": 300}})
        fu = simulate_sample(rng, cells=60_000, clones=[(igh, 2e-3)], n_clonotypes=2000,
                             reads_per_cell=5.0)
        f = ex.write_file("ngs/eoi_fu.tsv", lambda p: write_sample_airr(p, fu, sample_name="EOI"))
        ex.add_sample({"id": "EOI-NGS", "date": "2022-04-04", "material": "bone_marrow",
                       "assay": "ngs_mrd", "role": "follow_up", "files": [f],
                       "parameters": {"dna_ng": 390}})
    ex = cases.get("t-all-early-combined")
    if ex is not None:
        rng = ex.rng("ngs")
        trg = random_rearrangement(rng, "TRG")
        trd = random_rearrangement(rng, "TRD")
        dx = simulate_sample(rng, cells=40_000, clones=[(trg, 0.35), (trd, 0.3)],
                             loci=["TRG", "TRD"], n_clonotypes=800, total_reads=40_000,
                             background="pooled")
        f = ex.write_file("ngs/r1_dx.tsv", lambda p: write_sample_airr(p, dx, sample_name="R1DX"))
        ex.add_sample({"id": "R1-DX-NGS", "date": "2020-12-01", "material": "bone_marrow",
                       "assay": "ngs_mrd", "role": "relapse", "files": [f],
                       "parameters": {"dna_ng": 300}})
        fu = simulate_sample(rng, cells=60_000, clones=[], loci=["TRG", "TRD"],
                             n_clonotypes=2000, reads_per_cell=5.0)
        f = ex.write_file("ngs/pre_hsct_fu.tsv", lambda p: write_sample_airr(p, fu, sample_name="PRE"))
        ex.add_sample({"id": "PRE-HSCT-NGS", "date": "2021-03-01", "material": "bone_marrow",
                       "assay": "ngs_mrd", "role": "follow_up", "files": [f],
                       "parameters": {"dna_ng": 390}})
