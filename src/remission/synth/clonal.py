"""Seeded multi-sample variant data with a known clone structure (diagnosis → relapse).

:func:`simulate_clonal` draws a clone tree of 2–6 clones that follows one relapse pattern of
Waanders E et al., *Blood Cancer Discov* 2020;1:96 and Ma X et al., *Nat Commun* 2015;6:6604
(major, minor, ancestral, multiclonal), CCFs per sample that obey the sum and crossing rules
(ClonEvol conventions, Dang HX et al., *Ann Oncol* 2017), purity, clonal copy-number segments,
and binomial read counts at a mean depth of 100–1000× with the PyClone expected VAF
(:func:`remission.clonal.ccf.expected_vaf`). The truth (clone
of every mutation, clone CCFs, parents, pattern) travels with the data.

Writers: :func:`write_vcf` (VCF 4.2 with FORMAT AD/DP and INFO GENE; gzip by suffix),
:func:`write_maf`, :func:`write_copy_number`. :func:`add_to_examples` gives the "late-bm-bcp"
example case a ``variants`` sample: a CREBBP minor subclone at diagnosis that founds the relapse,
where it gains NT5C2 p.R367Q.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remission.clonal.ccf import expected_vaf
from remission.io.variants import CopyNumberSegment, VariantTable

__all__ = ["PATTERNS", "ClonalDataset", "add_to_examples", "simulate_clonal", "write_copy_number",
           "write_maf", "write_vcf"]

PATTERNS = ("major", "minor", "ancestral", "multiclonal")
_MIN_SEPARATION = 0.2  # clones differ by >= this CCF in at least one sample (documented limit of the test data)


@dataclass
class ClonalDataset:
    """A simulated multi-sample data set and its truth."""

    samples: tuple[str, ...]
    roles: dict[str, str]
    purity: dict[str, float]
    clone_ccf: np.ndarray  # (clones, samples)
    parents: list[int]  # parent clone per clone, -1 = founder
    pattern: str
    labels: np.ndarray  # true clone of each mutation
    alt: np.ndarray
    depth: np.ndarray
    major_cn: np.ndarray
    minor_cn: np.ndarray
    genes: list[str | None]
    chrom: list[str]
    pos: list[int]
    ref: list[str]
    altb: list[str]
    segments: list[CopyNumberSegment] = field(default_factory=list)

    @property
    def mutation_ids(self) -> list[str]:
        return [f"{c}:{p}:{r}>{a}" for c, p, r, a in zip(self.chrom, self.pos, self.ref, self.altb, strict=True)]

    def table(self) -> VariantTable:
        return VariantTable(self.samples, tuple(self.mutation_ids), tuple(self.chrom), tuple(self.pos),
                            tuple(self.genes), self.alt.copy(), self.depth.copy())


def _structure(pattern: str, n_clones: int, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
    """Parents and (dx, relapse) CCFs for a pattern; extras fill up to ``n_clones``."""
    u = rng.uniform
    parents = [-1]
    ccf = [[1.0, 1.0]]
    if pattern == "major":
        parents.append(0)
        ccf.append([u(0.6, 0.85), u(0.6, 0.85)])
        founder, lost = 1, None
    elif pattern == "minor":
        b = u(0.55, 0.8)
        parents += [0, 0]
        ccf += [[b, 0.0], [u(0.1, min(0.3, 0.97 - b)), u(0.8, 0.97)]]
        founder, lost = 2, 1
    elif pattern == "ancestral":
        parents += [0, 0]
        ccf += [[u(0.7, 0.95), 0.0], [0.0, u(0.7, 0.95)]]
        founder, lost = 2, 1
    elif pattern == "multiclonal":
        b = u(0.45, 0.6)
        c = u(0.15, min(0.35, 0.95 - b))
        br = u(0.3, 0.55)
        parents += [0, 0]
        ccf += [[b, br], [c, u(0.2, 0.95 - br)]]
        founder, lost = 1, None
    else:  # pragma: no cover - guarded by caller
        raise ValueError(pattern)
    extras = ["new_at_relapse", "dx_only_sub"]
    while len(parents) < n_clones:
        kind = extras[(len(parents) + int(rng.integers(2))) % len(extras)]
        if kind == "new_at_relapse":
            # a relapse-only subclone below the deepest relapse clone of the founder's lineage
            par = founder
            while True:
                kids = [i for i, p in enumerate(parents) if p == par and ccf[i][1] > 0.3]
                if not kids:
                    break
                par = kids[0]
            free = ccf[par][1] - sum(ccf[i][1] for i, p in enumerate(parents) if p == par)
            if free < 0.3:
                extras = ["dx_only_sub"]
                continue
            parents.append(par)
            ccf.append([0.0, u(0.25, free - 0.03)])
        else:
            par = lost if lost is not None else founder
            free = ccf[par][0] - sum(ccf[i][0] for i, p in enumerate(parents) if p == par)
            if free < 0.28:
                par = 0
                free = 1.0 - sum(ccf[i][0] for i, p in enumerate(parents) if p == 0)
            if free < 0.28:
                break
            parents.append(par)
            ccf.append([u(0.22, min(0.45, free - 0.03)), 0.0])
    return parents, np.asarray(ccf)


def _separated(ccf: np.ndarray) -> bool:
    for i in range(len(ccf)):
        for j in range(i + 1, len(ccf)):
            if np.max(np.abs(ccf[i] - ccf[j])) < _MIN_SEPARATION:
                return False
    return True


_RELAPSE_GENES = ["NT5C2", "PRPS1", "NR3C1", "TP53", "MSH6", "FPGS"]
_DX_SUB_GENES = ["CREBBP", "NRAS", "KRAS", "PTPN11", "NSD2"]


def simulate_clonal(
    seed: int,
    *,
    pattern: str | None = None,
    n_clones: int | None = None,
    depth_range: tuple[int, int] = (100, 1000),
    purity_range: tuple[float, float] = (0.5, 0.95),
    mutations_per_clone: tuple[int, int] = (10, 30),
    cn_fraction: float = 0.15,
    samples: Sequence[str] = ("DX", "R1"),
) -> ClonalDataset:
    """A seeded diagnosis/relapse data set with known clones (see module docstring)."""
    rng = np.random.default_rng(seed)
    if n_clones is None:
        n_clones = int(rng.integers(2, 7))
    if pattern is None:
        pattern = "major" if n_clones == 2 else str(rng.choice(PATTERNS))
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, but was {pattern!r}")
    for _ in range(1000):
        parents, ccf = _structure(pattern, max(n_clones, 2 if pattern == "major" else 3), rng)
        if _separated(ccf):
            break
    n_s = len(samples)
    purity = {s: round(float(rng.uniform(*purity_range)), 2) for s in samples}
    depth_mean = rng.uniform(depth_range[0], depth_range[1], size=n_s)
    counts = rng.integers(mutations_per_clone[0], mutations_per_clone[1] + 1, size=len(parents))
    labels = np.repeat(np.arange(len(parents)), counts)
    n = len(labels)
    # genome: 22 autosomes; a few clonal CN segments (gain 2+1, LOH-deletion 1+0)
    major = np.ones((n, n_s), int)
    minor = np.ones((n, n_s), int)
    chrom = [str(int(c)) for c in rng.integers(1, 23, size=n)]
    pos = [int(p) for p in rng.integers(1_000_000, 200_000_000, size=n)]
    segments: list[CopyNumberSegment] = []
    cn_mut = rng.random(n) < cn_fraction
    cn_kind = rng.integers(0, 2, size=n)
    for i in np.flatnonzero(cn_mut):
        ma, mi = (2, 1) if cn_kind[i] == 0 else (1, 0)
        major[i], minor[i] = ma, mi
        for s in samples:
            segments.append(CopyNumberSegment(s, chrom[i], pos[i] - 5000, pos[i] + 5000, ma, mi))
    alt = np.zeros((n, n_s), np.int64)
    depth = np.zeros((n, n_s), np.int64)
    for j, s in enumerate(samples):
        depth[:, j] = np.maximum(rng.poisson(depth_mean[j], size=n), 10)
        f = ccf[labels, min(j, ccf.shape[1] - 1)]
        p = expected_vaf(f, purity[s], major[:, j] + minor[:, j], 1, 2, 1e-3)
        alt[:, j] = rng.binomial(depth[:, j], p)
    bases = np.array(list("ACGT"))
    ref = [str(b) for b in rng.choice(bases, size=n)]
    altb = [str(bases[(list(bases).index(r) + 1 + int(rng.integers(3))) % 4]) for r in ref]
    genes: list[str | None] = [None] * n
    # put one relapse-associated driver where the biology would put it
    relapse_only = [k for k in range(len(parents)) if ccf[k][0] == 0 and ccf[k][1] > 0]
    dx_sub = [k for k in range(len(parents)) if 0 < ccf[k][0] < 0.5 and ccf[k][1] > 0]
    for k, pool in ((relapse_only, _RELAPSE_GENES), (dx_sub, _DX_SUB_GENES)):
        for c in k:
            first = int(np.flatnonzero(labels == c)[0])
            genes[first] = str(rng.choice(pool))
    roles = {samples[0]: "diagnosis", samples[-1]: "relapse"}
    return ClonalDataset(tuple(samples), roles, purity, ccf, parents, pattern, labels, alt, depth,
                         major, minor, genes, chrom, pos, ref, altb, segments)


# ------------------------------------------------------------------------------------- writers


def _open_w(path: Path) -> Any:
    if not str(path).endswith(".gz"):
        return open(path, "w", encoding="utf-8")
    # mtime=0: no timestamp in the gzip header, so the same seed writes the same bytes
    raw = gzip.GzipFile(path, "wb", mtime=0)
    return io.TextIOWrapper(raw, encoding="utf-8")


def write_vcf(path: str | Path, ds: ClonalDataset) -> Path:
    """VCF 4.2, one column per sample, FORMAT GT:AD:DP, INFO GENE (gzip when the name ends .gz)."""
    p = Path(path)
    order = sorted(range(len(ds.chrom)), key=lambda i: (int(ds.chrom[i]), ds.pos[i]))
    with _open_w(p) as fh:
        fh.write("##fileformat=VCFv4.2\n##source=remission.synth.clonal (synthetic, seeded)\n")
        for c in sorted({int(c) for c in ds.chrom}):
            fh.write(f"##contig=<ID={c}>\n")
        fh.write('##INFO=<ID=GENE,Number=1,Type=String,Description="Gene symbol">\n')
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write('##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths (ref,alt)">\n')
        fh.write('##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">\n')
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(ds.samples) + "\n")
        for i in order:
            info = f"GENE={ds.genes[i]}" if ds.genes[i] else "."
            cells = [f"{'0/1' if ds.alt[i, j] else '0/0'}:{ds.depth[i, j] - ds.alt[i, j]},{ds.alt[i, j]}:{ds.depth[i, j]}"
                     for j in range(len(ds.samples))]
            fh.write(f"{ds.chrom[i]}\t{ds.pos[i]}\t.\t{ds.ref[i]}\t{ds.altb[i]}\t.\tPASS\t{info}\tGT:AD:DP\t"
                     + "\t".join(cells) + "\n")
    return p


def write_maf(path: str | Path, ds: ClonalDataset) -> Path:
    """Minimal MAF (GDC column names), one row per mutation and sample."""
    p = Path(path)
    cols = ["Hugo_Symbol", "Chromosome", "Start_Position", "End_Position", "Reference_Allele",
            "Tumor_Seq_Allele2", "Tumor_Sample_Barcode", "t_ref_count", "t_alt_count"]
    with _open_w(p) as fh:
        fh.write("#version 2.4\n" + "\t".join(cols) + "\n")
        for i in range(len(ds.chrom)):
            for j, s in enumerate(ds.samples):
                fh.write("\t".join(map(str, [ds.genes[i] or "Unknown", ds.chrom[i], ds.pos[i], ds.pos[i],
                                             ds.ref[i], ds.altb[i], s, ds.depth[i, j] - ds.alt[i, j],
                                             ds.alt[i, j]])) + "\n")
    return p


def write_copy_number(path: str | Path, segments: Sequence[CopyNumberSegment]) -> Path:
    p = Path(path)
    with _open_w(p) as fh:
        fh.write("sample\tchrom\tstart\tend\tmajor_cn\tminor_cn\tnormal_cn\n")
        for s in segments:
            fh.write(f"{s.sample}\t{s.chrom}\t{s.start}\t{s.end}\t{s.major_cn}\t{s.minor_cn}\t{s.normal_cn}\n")
    return p


# ------------------------------------------------------------------------------ example case


def _late_bm_bcp(rng: np.random.Generator) -> ClonalDataset:
    """Truncal ETV6::RUNX1 clone; CREBBP p.R1446C minor subclone at diagnosis (VAF ~0.08) that
    founds the relapse and gains NT5C2 p.R367Q; the dominant diagnostic subclone is lost."""
    purity = {"DX": 0.85, "R1": 0.64}
    # clones: 0 trunk, 1 dominant dx subclone (lost), 2 CREBBP minor subclone, 3 NT5C2 relapse-only
    ccf = np.array([[1.0, 1.0], [0.7, 0.0], [0.19, 0.95], [0.0, 0.6]])
    parents = [-1, 0, 0, 2]
    counts = [24, 16, 12, 10]
    labels = np.repeat(np.arange(4), counts)
    n = len(labels)
    major = np.ones((n, 2), int)
    minor = np.ones((n, 2), int)
    chrom = [str(int(c)) for c in rng.integers(1, 21, size=n)]  # chromosome 21 carries the gain below
    pos = [int(p) for p in rng.integers(1_000_000, 150_000_000, size=n)]
    genes: list[str | None] = [None] * n
    crebbp = int(np.flatnonzero(labels == 2)[0])
    nt5c2 = int(np.flatnonzero(labels == 3)[0])
    chrom[crebbp], pos[crebbp], genes[crebbp] = "16", 3_731_264, "CREBBP"
    chrom[nt5c2], pos[nt5c2], genes[nt5c2] = "10", 103_090_000, "NT5C2"
    # chromosome 21 gain (+21, 2+1 copies) in every tumour cell: a few trunk mutations sit on it
    segs = []
    gain = [int(i) for i in np.flatnonzero(labels == 0)[:4]]
    for i in gain:
        chrom[i], pos[i] = "21", 20_000_000 + 1_000_000 * gain.index(i)
        major[i] = 2
    segs = [CopyNumberSegment(s, "21", 10_000_000, 46_000_000, 2, 1) for s in ("DX", "R1")]
    depth = np.maximum(rng.poisson(600, size=(n, 2)), 50)
    alt = np.zeros((n, 2), np.int64)
    for j, s in enumerate(("DX", "R1")):
        p = expected_vaf(ccf[labels, j], purity[s], major[:, j] + minor[:, j], 1, 2, 1e-3)
        alt[:, j] = rng.binomial(depth[:, j], p)
    bases = np.array(list("ACGT"))
    ref = [str(b) for b in rng.choice(bases, size=n)]
    altb = [str(bases[(list(bases).index(r) + 1) % 4]) for r in ref]
    return ClonalDataset(("DX", "R1"), {"DX": "diagnosis", "R1": "relapse"}, purity, ccf, parents, "minor",
                         labels, alt, depth, major, minor, genes, chrom, pos, ref, altb, segs)


def add_to_examples(cases: dict[str, Any]) -> None:
    """Add a diagnosis + relapse ``variants`` sample (VCF + copy number) to "late-bm-bcp"."""
    ex = cases.get("late-bm-bcp")
    if ex is None:
        return
    ds = _late_bm_bcp(ex.rng("clonal variants"))
    vcf = ex.write_file("variants/dx_r1.vcf.gz", lambda p: write_vcf(p, ds))
    cn = ex.write_file("variants/dx_r1_copy_number.tsv", lambda p: write_copy_number(p, ds.segments))
    ex.add_sample({
        "id": "R1-VARIANTS",
        "date": ex.data["relapses"][0]["date"],
        "material": "bone_marrow",
        "assay": "variants",
        "role": "relapse",
        "files": [vcf, cn],
        "parameters": {"purity": dict(ds.purity), "roles": dict(ds.roles)},
    })
