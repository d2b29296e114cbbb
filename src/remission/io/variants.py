"""Variant calls with read counts per sample: VCF (AD/DP), MAF, copy-number segments, purity.

Readers are strict: every error is a :class:`~remission.errors.VariantFormatError` that names
the file, the line and the field, and says what was expected.

* **VCF** (plain or gzip, read with ``cyvcf2``; MIT): one or more tumour samples as columns;
  FORMAT ``AD`` (ref,alt allele depths) is required for every sample; ``DP`` is used when
  present (else depth = sum of AD). The gene comes from INFO ``GENE`` / ``SYMBOL`` / ``Gene``
  or the first gene of a VEP ``CSQ`` / SnpEff ``ANN`` annotation; else ``None``.
* **MAF**: tab-separated with ``Hugo_Symbol, Chromosome, Start_Position, Reference_Allele,
  Tumor_Seq_Allele2, Tumor_Sample_Barcode, t_ref_count, t_alt_count`` (GDC MAF column names).
  One row per mutation and sample; a mutation without a row in some sample gets depth 0 there
  (no information) and the reader records a note.
* **Copy-number segments** (TSV): ``sample, chrom, start, end, major_cn, minor_cn`` and optional
  ``normal_cn`` (default 2), as FACETS/ASCAT/Battenberg write after renaming; see
  ``cart_models.md`` §4.4.
* **Purity** (TSV): ``sample, purity`` (fraction of tumour cells, 0-1).

:func:`read_variant_inputs` takes a list of paths, tells the kinds apart (by suffix and header)
and merges several VCF/MAF files into one :class:`VariantTable`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remission.errors import VariantFormatError, excerpt
from remission.io._text import iter_text_lines

__all__ = [
    "CopyNumberSegment",
    "VariantInputs",
    "VariantTable",
    "parse_purity_items",
    "read_copy_number",
    "read_maf",
    "read_purity",
    "read_variant_inputs",
    "read_vcf",
]

MAF_REQUIRED = (
    "Hugo_Symbol", "Chromosome", "Start_Position", "Reference_Allele", "Tumor_Seq_Allele2",
    "Tumor_Sample_Barcode", "t_ref_count", "t_alt_count",
)
CN_REQUIRED = ("sample", "chrom", "start", "end", "major_cn", "minor_cn")


@dataclass
class VariantTable:
    """Mutations × samples read counts.

    ``alt[i, j]`` and ``depth[i, j]`` are the alternative-allele and total read counts of
    mutation ``i`` in sample ``j`` (depth 0 = not measured).
    """

    samples: tuple[str, ...]
    mutation_ids: tuple[str, ...]
    chrom: tuple[str, ...]
    pos: tuple[int, ...]
    genes: tuple[str | None, ...]
    alt: np.ndarray
    depth: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def n_mutations(self) -> int:
        return len(self.mutation_ids)

    def subset_samples(self, samples: Sequence[str]) -> VariantTable:
        idx = [self.samples.index(s) for s in samples]
        return VariantTable(tuple(samples), self.mutation_ids, self.chrom, self.pos, self.genes,
                            self.alt[:, idx], self.depth[:, idx], list(self.notes))

    def subset_mutations(self, keep: np.ndarray) -> VariantTable:
        keep = np.asarray(keep, dtype=bool)
        sel = np.flatnonzero(keep)
        return VariantTable(self.samples, tuple(self.mutation_ids[i] for i in sel),
                            tuple(self.chrom[i] for i in sel), tuple(self.pos[i] for i in sel),
                            tuple(self.genes[i] for i in sel), self.alt[sel], self.depth[sel],
                            list(self.notes))


@dataclass(frozen=True)
class CopyNumberSegment:
    sample: str
    chrom: str
    start: int
    end: int
    major_cn: int
    minor_cn: int
    normal_cn: int = 2

    @property
    def total_cn(self) -> int:
        return self.major_cn + self.minor_cn


@dataclass
class VariantInputs:
    """Everything :func:`read_variant_inputs` found: counts, copy number, purity, file kinds."""

    table: VariantTable
    segments: list[CopyNumberSegment] = field(default_factory=list)
    purity: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------- helpers


def _lines(path: Path) -> Iterator[str]:
    """Bounded, strict UTF-8 lines of a plain or gzip text file (see :mod:`remission.io._text`)."""
    return iter_text_lines(path, VariantFormatError, gzip_ok=True)


def _some(names: Sequence[str], most: int = 10) -> str:
    """Up to ``most`` names, each a bounded excerpt, for messages."""
    shown = ", ".join(excerpt(x, 40) for x in names[:most])
    return shown + (f", … ({len(names)} in all)" if len(names) > most else "")


def _chrom_key(chrom: str) -> str:
    c = str(chrom)
    return c[3:] if c.lower().startswith("chr") else c


def _int(value: str, *, path: Path, line: int, fld: str, minimum: int = 0) -> int:
    if not (value.isascii() and value.lstrip("+-").isdigit()) or len(value) > 18:
        raise VariantFormatError(f"expected an integer, got {excerpt(value)} (at most 18 digits)",
                                 path=path, line=line, field=fld)
    out = int(value)
    if out < minimum:
        raise VariantFormatError(f"expected an integer >= {minimum}, got {excerpt(value)}", path=path,
                                 line=line, field=fld)
    return out


def _gene_from_info(info: Mapping[str, Any] | Any) -> str | None:
    for key in ("GENE", "SYMBOL", "Gene", "gene", "Hugo_Symbol"):
        try:
            v = info.get(key)
        except (KeyError, ValueError):
            v = None
        if v:
            return str(v).split(",")[0]
    for key, pos in (("CSQ", 3), ("ANN", 3)):  # VEP: Allele|Consequence|IMPACT|SYMBOL; SnpEff: Allele|Annotation|Impact|Gene_Name
        try:
            v = info.get(key)
        except (KeyError, ValueError):
            v = None
        if v:
            parts = str(v).split(",")[0].split("|")
            if len(parts) > pos and parts[pos]:
                return parts[pos]
    return None


# ------------------------------------------------------------------------------------------- VCF


_VCF_FIXED = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT")
_VCF_TYPES = ("Integer", "Float", "Flag", "Character", "String")
_META_KEY = re.compile(r"(?:^|,)(ID|Number|Type)=")
#: htslib stores VCF integers as int32
_INT32_MAX = 2**31 - 1


def _vcf_count(text: str, *, path: Path, line: int, fld: str, sample: str) -> None:
    for part in text.split(","):
        if part == ".":
            continue
        if not (part.isascii() and part.isdigit()) or int(part) > _INT32_MAX:
            raise VariantFormatError(
                f"{fld} of sample {excerpt(sample)} must be non-negative integers (or '.'), but "
                f"was {excerpt(text)}", path=path, line=line, field=f"FORMAT/{fld}")


def _vcf_prescan(path: Path) -> tuple[int, set[str]]:
    """Check the VCF's structure line by line before htslib sees it.

    Returns the number of header lines and the FORMAT keys the header defines.

    htslib (under ``cyvcf2``) reports many malformations only as a bare ``Exception`` without a
    line, or by printing to stderr; this pass finds them first and names line and field: the
    ``##fileformat`` line, FORMAT/INFO definitions without ``ID``/``Number``/``Type``, the
    ``#CHROM`` line, records whose field count differs from it (a file cut mid-line), a POS that
    is not a positive integer, FORMAT keys not defined in the header, and AD/DP values that are
    not non-negative integers.
    """
    n_header = 0
    ncol: int | None = None
    samples: list[str] = []
    defined: dict[str, str] = {}
    for n, raw in enumerate(_lines(path), start=1):
        text = raw.rstrip("\r\n")
        if n == 1 and not text.startswith("##fileformat=VCF"):
            raise VariantFormatError(f"expected a VCF header line '##fileformat=VCFv4.x', got "
                                     f"{excerpt(text, 40)}", path=path, line=1)
        if text.startswith("##"):
            if ncol is not None:
                raise VariantFormatError("a '##' header line after the #CHROM line", path=path,
                                         line=n)
            _vcf_meta_line(text, path=path, line=n, defined=defined)
            n_header = n
            continue
        if text.startswith("#"):
            cols = text.split("\t")
            if ncol is not None or tuple(cols[:9]) != _VCF_FIXED[: len(cols[:9])] or len(cols) < 8:
                raise VariantFormatError("expected the column header line #CHROM POS ID REF ALT "
                                         "QUAL FILTER INFO [FORMAT samples...] (tab-separated)",
                                         path=path, line=n, field="#CHROM")
            ncol, samples, n_header = len(cols), cols[9:], n
            continue
        if ncol is None:
            raise VariantFormatError("a record before the #CHROM header line", path=path, line=n)
        _vcf_record_line(text, path=path, line=n, ncol=ncol, samples=samples, defined=defined)
    if ncol is None:
        raise VariantFormatError("no #CHROM header line (is the file cut short?)", path=path,
                                 line=n_header + 1, field="#CHROM")
    return n_header, set(defined)


def _vcf_meta_line(text: str, *, path: Path, line: int, defined: dict[str, str]) -> None:
    """Check a ``##FORMAT``/``##INFO`` definition (other ``##`` lines pass); record FORMAT IDs in ``defined``."""
    for kind in ("FORMAT", "INFO"):
        if text.startswith(f"##{kind}="):
            body = text[len(kind) + 3:]
            if not (body.startswith("<") and body.endswith(">")):
                raise VariantFormatError(f"expected ##{kind}=<ID=...,Number=...,Type=...,"
                                         f"Description=...>, got {excerpt(text)}",
                                         path=path, line=line, field=kind)
            present = {m.group(1) for m in _META_KEY.finditer(body[1:-1])}
            for key in ("ID", "Number", "Type"):
                if key not in present:
                    raise VariantFormatError(f"##{kind} definition without {key}=",
                                             path=path, line=line, field=kind)
            typ = re.search(r"(?:^|,)Type=([^,>]*)", body[1:-1])
            if typ is None or typ.group(1) not in _VCF_TYPES:
                raise VariantFormatError(f"##{kind} Type must be one of "
                                         f"{', '.join(_VCF_TYPES)}", path=path, line=line,
                                         field=kind)
            if kind == "FORMAT":
                ident = re.search(r"(?:^|,)ID=([^,>]*)", body[1:-1])
                defined[ident.group(1) if ident else ""] = typ.group(1)


def _vcf_record_line(text: str, *, path: Path, line: int, ncol: int, samples: Sequence[str],
                     defined: Mapping[str, str]) -> None:
    """Check a record: field count, POS, FORMAT keys defined, AD/DP counts per sample."""
    cells = text.split("\t")
    if len(cells) != ncol:
        raise VariantFormatError(f"expected {ncol} tab-separated fields (as in the #CHROM "
                                 f"line), got {len(cells)} (is the file cut short?)",
                                 path=path, line=line)
    if not (cells[1].isascii() and cells[1].isdigit()) or int(cells[1]) > _INT32_MAX or int(cells[1]) < 1:
        raise VariantFormatError(f"expected a position >= 1, got {excerpt(cells[1])}",
                                 path=path, line=line, field="POS")
    if ncol <= 9:
        return
    keys = cells[8].split(":")
    for key in keys:
        if key not in defined:
            raise VariantFormatError(f"FORMAT key {excerpt(key)} is not defined by a "
                                     "##FORMAT header line", path=path, line=line,
                                     field="FORMAT")
    for name, cell in zip(samples, cells[9:], strict=True):
        values = cell.split(":")
        if len(values) > len(keys):
            raise VariantFormatError(f"sample {excerpt(name)} has more values than the "
                                     "FORMAT keys", path=path, line=line, field="FORMAT")
        for key, value in zip(keys, values, strict=False):
            if key in ("AD", "DP"):
                _vcf_count(value, path=path, line=line, fld=key, sample=name)


def read_vcf(path: str | Path, *, samples: Sequence[str] | None = None) -> VariantTable:
    """Read a (multi-sample) VCF with per-sample ``AD`` (and optionally ``DP``).

    Parameters
    ----------
    path : VCF file, plain or gzip/bgzip.
    samples : sample columns to read (default: all); a name not in the header is an error.

    Raises
    ------
    VariantFormatError
        no ``AD`` FORMAT field in the header or in a record, no sample columns, a sample name not
        in the file, a negative or missing count, or a malformed record; the message names the
        file, the line and the field.
    """
    p = Path(path)
    if not p.is_file():
        raise VariantFormatError("no such file", path=p)
    n_header, formats = _vcf_prescan(p)
    vcf = _open_vcf(p)
    rows = _VcfRows()
    try:
        wanted, cols = _vcf_samples(list(vcf.samples), formats, samples, path=p, line=n_header)
        has_dp = "DP" in formats
        for line, v in _vcf_records(vcf, path=p, n_header=n_header):
            if not v.ALT:
                continue
            ad, dp, gene = _vcf_values(v, has_dp, path=p, line=line)
            for ai, alt_allele in enumerate(v.ALT):
                a_row, d_row = _allele_counts(ad, dp, ai, cols, wanted, path=p, line=line)
                mid = v.ID if (v.ID and len(v.ALT) == 1) else f"{v.CHROM}:{v.POS}:{v.REF}>{alt_allele}"
                rows.add(mid, _chrom_key(v.CHROM), int(v.POS), gene, a_row, d_row)
    finally:
        vcf.close()
    return rows.table(wanted, path=p)


def _open_vcf(p: Path) -> Any:
    """cyvcf2's reader, with htslib's own error prints silenced (errors reach the user as VariantFormatError)."""
    from cyvcf2 import VCF
    from cyvcf2.cyvcf2 import set_htslib_log_level

    set_htslib_log_level(0)
    try:
        return VCF(str(p), gts012=True, lazy=True)
    except Exception as exc:  # cyvcf2 raises plain Exception on bad headers
        raise VariantFormatError(f"cannot parse VCF header ({excerpt(str(exc))})", path=p) from None


def _vcf_samples(header_samples: list[str], formats: set[str], samples: Sequence[str] | None, *,
                 path: Path, line: int) -> tuple[list[str], list[int]]:
    """The sample names to read and their columns; errors for no samples, no AD, unknown names."""
    if not header_samples:
        raise VariantFormatError("the VCF has no sample columns; per-sample AD counts are needed",
                                 path=path, line=line, field="#CHROM")
    if "AD" not in formats:
        raise VariantFormatError(
            "no FORMAT field AD (allele depths) in the header; per-sample ref,alt read counts "
            "are required (DP alone is not enough)", path=path, line=line, field="FORMAT/AD")
    wanted = list(samples) if samples is not None else header_samples
    missing = [s for s in wanted if s not in header_samples]
    if missing:
        raise VariantFormatError(
            f"sample(s) {_some(missing)} not in the VCF; its samples are "
            f"{_some(header_samples)}", path=path, line=line, field="#CHROM")
    return wanted, [header_samples.index(s) for s in wanted]


def _vcf_records(vcf: Any, *, path: Path, n_header: int) -> Iterator[tuple[int, Any]]:
    """(line number, record) of each record; htslib's bare exceptions become located errors."""
    line = n_header
    records = iter(vcf)
    while True:
        try:
            v = next(records)
        except StopIteration:
            return
        except Exception as exc:  # htslib: bare Exception("error parsing variant ...")
            raise VariantFormatError(f"malformed VCF record ({excerpt(str(exc))})", path=path,
                                     line=line + 1) from None
        line += 1
        yield line, v


def _vcf_values(v: Any, has_dp: bool, *, path: Path, line: int) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """The record's AD and DP arrays (one row per sample) and its gene."""
    try:
        ad = v.format("AD")
        dp = v.format("DP") if has_dp else None
        gene = _gene_from_info(v.INFO)
    except Exception as exc:  # cyvcf2: KeyError/ValueError on header-record mismatches
        raise VariantFormatError(f"cannot read FORMAT/INFO values ({type(exc).__name__}: "
                                 f"{excerpt(str(exc))})", path=path, line=line) from None
    if ad is None:
        raise VariantFormatError("record has no AD value", path=path, line=line, field="FORMAT/AD")
    if ad.ndim != 2 or (dp is not None and dp.ndim != 2):
        raise VariantFormatError("AD/DP values do not form one row per sample", path=path,
                                 line=line, field="FORMAT/AD")
    return ad, dp, gene


def _allele_counts(ad: np.ndarray, dp: np.ndarray | None, ai: int, cols: Sequence[int], wanted: Sequence[str], *,
                   path: Path, line: int) -> tuple[list[int], list[int]]:
    """Alt reads and depth per wanted sample for ALT allele ``ai`` (depth: DP where given, at least alt)."""
    a_row: list[int] = []
    d_row: list[int] = []
    for c, name in zip(cols, wanted, strict=True):
        if ad.shape[1] < ai + 2:
            raise VariantFormatError(
                f"AD of sample {excerpt(name)} has {ad.shape[1]} value(s); expected ref and alt counts",
                path=path, line=line, field="FORMAT/AD")
        ref_n, alt_n = int(ad[c, 0]), int(ad[c, ai + 1])
        if ref_n < 0 or alt_n < 0:
            raise VariantFormatError(
                f"AD of sample {excerpt(name)} is missing or negative ({ref_n},{alt_n}); "
                "expected non-negative integers", path=path, line=line, field="FORMAT/AD")
        depth = ref_n + alt_n
        if dp is not None and int(dp[c, 0]) >= 0:
            depth = max(int(dp[c, 0]), alt_n)
        a_row.append(alt_n)
        d_row.append(depth)
    return a_row, d_row


@dataclass
class _VcfRows:
    """Mutations read so far, one row each (an ALT allele of a record)."""

    ids: list[str] = field(default_factory=list)
    chroms: list[str] = field(default_factory=list)
    poss: list[int] = field(default_factory=list)
    genes: list[str | None] = field(default_factory=list)
    alts: list[list[int]] = field(default_factory=list)
    depths: list[list[int]] = field(default_factory=list)

    def add(self, mid: str, chrom: str, pos: int, gene: str | None, alt: list[int], depth: list[int]) -> None:
        self.ids.append(mid)
        self.chroms.append(chrom)
        self.poss.append(pos)
        self.genes.append(gene)
        self.alts.append(alt)
        self.depths.append(depth)

    def table(self, wanted: Sequence[str], *, path: Path) -> VariantTable:
        """The table; a mutation ID that occurs twice is an error."""
        ids = self.ids
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise VariantFormatError(f"mutation {excerpt(dup)} occurs twice", path=path, field="ID")
        k = len(wanted)
        return VariantTable(tuple(wanted), tuple(ids), tuple(self.chroms), tuple(self.poss), tuple(self.genes),
                            np.asarray(self.alts, dtype=np.int64).reshape(-1, k),
                            np.asarray(self.depths, dtype=np.int64).reshape(-1, k))


# ------------------------------------------------------------------------------------------- MAF


def _tsv_rows(p: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of non-comment lines."""
    for n, raw in enumerate(_lines(p), start=1):
        if raw.startswith("#") or not raw.strip():
            continue
        yield n, raw.rstrip("\r\n").split("\t")


def read_maf(path: str | Path) -> VariantTable:
    """Read a MAF (one row per mutation and tumour sample) into a :class:`VariantTable`.

    Raises
    ------
    VariantFormatError
        a required column is missing, a count is not a non-negative integer, alt > ref + alt,
        or the same mutation and sample occur twice.
    """
    p = Path(path)
    if not p.is_file():
        raise VariantFormatError("no such file", path=p)
    rows = _tsv_rows(p)
    try:
        hline, header = next(rows)
    except StopIteration:
        raise VariantFormatError("empty MAF file; expected a header line", path=p, line=1) from None
    col = {name: i for i, name in enumerate(header)}
    missing = [c for c in MAF_REQUIRED if c not in col]
    if missing:
        what = "depth fields" if {"t_ref_count", "t_alt_count"} & set(missing) else "columns"
        raise VariantFormatError(f"missing {what} {', '.join(missing)}; a MAF needs "
                                 f"{', '.join(MAF_REQUIRED)}", path=p, line=hline, field=missing[0])
    order: list[str] = []
    info: dict[str, tuple[str, int, str | None]] = {}
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    sample_order: list[str] = []
    for n, cells in rows:
        if len(cells) < len(header):
            raise VariantFormatError(f"expected {len(header)} tab-separated fields, got {len(cells)}",
                                     path=p, line=n)
        get = lambda c, cells=cells: cells[col[c]].strip()  # noqa: E731
        sample = get("Tumor_Sample_Barcode")
        if not sample:
            raise VariantFormatError("empty sample name", path=p, line=n, field="Tumor_Sample_Barcode")
        chrom = _chrom_key(get("Chromosome"))
        pos = _int(get("Start_Position"), path=p, line=n, fld="Start_Position", minimum=1)
        ref_n = _int(get("t_ref_count"), path=p, line=n, fld="t_ref_count")
        alt_n = _int(get("t_alt_count"), path=p, line=n, fld="t_alt_count")
        mid = f"{chrom}:{pos}:{get('Reference_Allele')}>{get('Tumor_Seq_Allele2')}"
        if mid not in info:
            gene = get("Hugo_Symbol")
            info[mid] = (chrom, pos, gene if gene and gene != "Unknown" else None)
            order.append(mid)
        if sample not in sample_order:
            sample_order.append(sample)
        if (mid, sample) in counts:
            raise VariantFormatError(f"mutation {mid} occurs twice for sample {excerpt(sample)}", path=p, line=n,
                                     field="Tumor_Sample_Barcode")
        counts[(mid, sample)] = (alt_n, ref_n + alt_n)
    alt = np.zeros((len(order), len(sample_order)), dtype=np.int64)
    depth = np.zeros_like(alt)
    notes = []
    for i, mid in enumerate(order):
        for j, s in enumerate(sample_order):
            if (mid, s) in counts:
                alt[i, j], depth[i, j] = counts[(mid, s)]
            else:
                notes.append(f"{p.name}: mutation {mid} has no row for sample {excerpt(s)}; treated as not measured")
    return VariantTable(tuple(sample_order), tuple(order), tuple(info[m][0] for m in order),
                        tuple(info[m][1] for m in order), tuple(info[m][2] for m in order),
                        alt, depth, notes)


# ------------------------------------------------------------------------- copy number, purity


def read_copy_number(path: str | Path) -> list[CopyNumberSegment]:
    """Allele-specific copy-number segments (TSV: sample, chrom, start, end, major_cn, minor_cn[, normal_cn])."""
    p = Path(path)
    rows = _tsv_rows(p)
    try:
        hline, header = next(rows)
    except StopIteration:
        raise VariantFormatError("empty copy-number file; expected a header line", path=p, line=1) from None
    col = {name.strip(): i for i, name in enumerate(header)}
    missing = [c for c in CN_REQUIRED if c not in col]
    if missing:
        raise VariantFormatError(f"missing column(s) {', '.join(missing)}; expected {', '.join(CN_REQUIRED)}",
                                 path=p, line=hline, field=missing[0])
    out = []
    for n, cells in rows:
        if len(cells) < len(header):
            raise VariantFormatError(f"expected {len(header)} tab-separated fields, got {len(cells)}",
                                     path=p, line=n)
        get = lambda c, cells=cells: cells[col[c]].strip()  # noqa: E731
        start = _int(get("start"), path=p, line=n, fld="start")
        end = _int(get("end"), path=p, line=n, fld="end")
        if end < start:
            raise VariantFormatError(f"end {end} is before start {start}", path=p, line=n, field="end")
        major = _int(get("major_cn"), path=p, line=n, fld="major_cn")
        minor = _int(get("minor_cn"), path=p, line=n, fld="minor_cn")
        if minor > major:
            raise VariantFormatError(f"minor_cn {minor} exceeds major_cn {major}", path=p, line=n,
                                     field="minor_cn")
        normal = _int(get("normal_cn"), path=p, line=n, fld="normal_cn", minimum=1) if "normal_cn" in col else 2
        out.append(CopyNumberSegment(get("sample"), _chrom_key(get("chrom")), start, end, major, minor, normal))
    return out


def read_purity(path: str | Path) -> dict[str, float]:
    """Purity per sample (TSV: sample, purity) as fractions in (0, 1]."""
    p = Path(path)
    rows = _tsv_rows(p)
    try:
        hline, header = next(rows)
    except StopIteration:
        raise VariantFormatError("empty purity file; expected a header line", path=p, line=1) from None
    col = {name.strip(): i for i, name in enumerate(header)}
    for c in ("sample", "purity"):
        if c not in col:
            raise VariantFormatError(f"missing column {c}; expected sample, purity", path=p, line=hline, field=c)
    out: dict[str, float] = {}
    for n, cells in rows:
        if len(cells) < len(header):
            raise VariantFormatError(f"expected {len(header)} tab-separated fields, got {len(cells)}",
                                     path=p, line=n)
        s = cells[col["sample"]].strip()
        if not s:
            raise VariantFormatError("empty sample name", path=p, line=n, field="sample")
        if s in out:
            raise VariantFormatError(f"sample {excerpt(s)} occurs twice", path=p, line=n, field="sample")
        out[s] = _purity_value(cells[col["purity"]].strip(), path=p, line=n)
    return out


def _purity_value(raw: Any, *, path: Path | None = None, line: int | None = None, name: str = "purity") -> float:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and 0 < v <= 1):
        raise VariantFormatError(f"{name} must be a fraction in (0, 1], but was {excerpt(raw)}", path=path, line=line,
                                 field="purity")
    return v


def parse_purity_items(items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, float]:
    """``["DX=0.85", "R1=0.64"]`` or ``{"DX": 0.85}`` → ``{"DX": 0.85, ...}`` (fractions in (0, 1])."""
    if not items:
        return {}
    if isinstance(items, Mapping):
        return {str(k): _purity_value(v, name=f"purity of {k}") for k, v in items.items()}
    out = {}
    for item in items:
        name, sep, raw = str(item).partition("=")
        if not sep or not name:
            raise VariantFormatError(f"purity must be SAMPLE=FRACTION, but was {excerpt(item)}")
        out[name.strip()] = _purity_value(raw.strip(), name=f"purity of {name.strip()}")
    return out


# ------------------------------------------------------------------------------------- dispatch


def _sniff(p: Path) -> str:
    name = p.name.lower()
    if name.endswith((".vcf", ".vcf.gz", ".vcf.bgz")):
        return "vcf"
    if name.endswith((".maf", ".maf.gz", ".maf.txt")):
        return "maf"
    for raw in _lines(p):
        if raw.startswith("##fileformat=VCF"):
            return "vcf"
        if raw.startswith("#") or not raw.strip():
            continue
        cols = {c.strip() for c in raw.rstrip("\r\n").split("\t")}
        if "Tumor_Sample_Barcode" in cols:
            return "maf"
        if {"major_cn", "minor_cn"} <= cols:
            return "copy_number"
        if {"sample", "purity"} <= cols:
            return "purity"
        break
    raise VariantFormatError("cannot tell what this file is; expected a VCF (.vcf/.vcf.gz), a MAF "
                             "(Tumor_Sample_Barcode column), copy-number segments (major_cn, minor_cn "
                             "columns) or purity (sample, purity columns)", path=p)


def merge_tables(tables: Sequence[tuple[Path, VariantTable]]) -> VariantTable:
    """Merge tables from several files by mutation id; a sample name in two files is an error."""
    if len(tables) == 1:
        return tables[0][1]
    samples: list[str] = []
    owner: dict[str, Path] = {}
    for p, t in tables:
        for s in t.samples:
            if s in owner:
                raise VariantFormatError(f"sample {excerpt(s)} occurs in both {owner[s].name!r} and {p.name!r}",
                                         path=p, field="sample")
            owner[s] = p
            samples.append(s)
    order: list[str] = []
    meta: dict[str, tuple[str, int, str | None]] = {}
    for _, t in tables:
        for i, m in enumerate(t.mutation_ids):
            if m not in meta:
                meta[m] = (t.chrom[i], t.pos[i], t.genes[i])
                order.append(m)
    index = {m: i for i, m in enumerate(order)}
    alt = np.zeros((len(order), len(samples)), dtype=np.int64)
    depth = np.zeros_like(alt)
    notes: list[str] = []
    for p, t in tables:
        notes.extend(t.notes)
        cols = [samples.index(s) for s in t.samples]
        for i, m in enumerate(t.mutation_ids):
            alt[index[m], cols] = t.alt[i]
            depth[index[m], cols] = t.depth[i]
        absent = len(order) - t.n_mutations
        if absent:
            notes.append(f"{p.name}: {absent} mutation(s) called in other files are absent here; "
                         "treated as not measured in its sample(s)")
    return VariantTable(tuple(samples), tuple(order), tuple(meta[m][0] for m in order),
                        tuple(meta[m][1] for m in order), tuple(meta[m][2] for m in order), alt, depth, notes)


def read_variant_inputs(paths: Sequence[str | Path], *,
                        purity: Mapping[str, Any] | Iterable[str] | None = None) -> VariantInputs:
    """Read VCF/MAF files plus optional copy-number and purity files; merge the counts.

    ``purity`` (e.g. from the case's sample parameters or ``--purity``) overrides purity files.
    Purity or copy number naming a sample that no variant file has is an error (mismatched names).
    """
    tables: list[tuple[Path, VariantTable]] = []
    segments: list[tuple[Path, list[CopyNumberSegment]]] = []
    pur: dict[str, float] = {}
    pur_src: dict[str, Path | None] = {}
    kinds: dict[str, str] = {}
    for raw in paths:
        p = Path(raw)
        if not p.is_file():
            raise VariantFormatError("no such file", path=p)
        kind = _sniff(p)
        kinds[str(p)] = kind
        if kind == "vcf":
            tables.append((p, read_vcf(p)))
        elif kind == "maf":
            tables.append((p, read_maf(p)))
        elif kind == "copy_number":
            segments.append((p, read_copy_number(p)))
        else:
            for s, v in read_purity(p).items():
                pur[s] = v
                pur_src[s] = p
    if not tables:
        raise VariantFormatError("no variant file (VCF or MAF) among the inputs: "
                                 + ", ".join(Path(x).name for x in paths))
    table = merge_tables(tables)
    for s, v in parse_purity_items(purity).items():
        pur[s] = v
        pur_src[s] = None
    for s, src in pur_src.items():
        if s not in table.samples:
            raise VariantFormatError(f"purity given for sample {excerpt(s)}, which no variant file has; the "
                                     f"samples are {_some(table.samples)}",
                                     path=src, field="sample")
    segs: list[CopyNumberSegment] = []
    for p, ss in segments:
        for seg in ss:
            if seg.sample not in table.samples:
                raise VariantFormatError(f"copy-number segment for sample {excerpt(seg.sample)}, which no variant "
                                         f"file has; the samples are {_some(table.samples)}",
                                         path=p, field="sample")
        segs.extend(ss)
    return VariantInputs(table=table, segments=segs, purity=pur, kinds=kinds)

