"""AIRR Rearrangement TSV (exports of MiXCR, IgBLAST/Change-O, Vidjil): a strict, streaming reader.

The rules follow the AIRR Community Rearrangement schema (airr-standards 1.4/2.0; spec
``ngs_mrd.md`` §4.1):

- tab-separated, one header line, no quoting; every line has exactly as many fields as the header;
- booleans are ``T`` or ``F``; an empty field is null;
- the schema's 14 required columns must be in the header (``required=`` narrows this for
  tables from tools that omit some, e.g. airrship);
- every ``sequence_id`` is unique (a repeated row would count its reads twice) and the table has
  at least one row (an empty export is unusable input, not a sample without disease);
- lines are text: no NUL bytes, at most :data:`~remission.io._text.MAX_LINE_BYTES` bytes per line
  and :data:`~remission.io._text.MAX_HEADER_BYTES` for the header;
- counts come from ``duplicate_count`` (reads per clonotype, as Vidjil and MiXCR write it;
  airr-standards issue #161), else ``consensus_count``; a table with neither column counts one read
  per row.

The file is read in blocks (constant memory in file size): field counts are checked on the raw
bytes with numpy, each block is split into columns (by pandas' C parser when the block is large,
by ``str.split`` when it is small: the same strings, without pandas' ~0.25 s import for the
small tables of a single case) and its columns are validated vectorised. Every error is an :class:`~remission.errors.AirrFormatError` naming file, line and
field: ``AIRR file 'dx.tsv', line 12, field duplicate_count: expected an integer, got 'n/a'``.

The ``airr`` package is used by the tests as an oracle only (its reader returns ``None`` on
error, which a clinical tool must not do).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from remission.errors import AirrFormatError, excerpt
from remission.io._text import MAX_HEADER_BYTES, MAX_LINE_BYTES

__all__ = [
    "AIRR_BOOLEAN_FIELDS",
    "AIRR_REQUIRED",
    "AirrChunk",
    "iter_airr_chunks",
    "read_airr",
    "write_airr",
]

#: the 14 required fields of the AIRR 2.0 Rearrangement schema [C: airr 2.0.0 schema]
AIRR_REQUIRED: tuple[str, ...] = (
    "sequence_id", "sequence", "rev_comp", "productive", "v_call", "d_call", "j_call",
    "sequence_alignment", "germline_alignment", "junction", "junction_aa", "v_cigar", "d_cigar",
    "j_cigar",
)
#: boolean fields of the schema (``T``/``F``/empty)
AIRR_BOOLEAN_FIELDS: tuple[str, ...] = (
    "rev_comp", "productive", "vj_in_frame", "stop_codon", "complete_vdj", "v_frameshift",
    "j_frameshift",
)
_COUNT_FIELDS = ("duplicate_count", "consensus_count", "umi_count")
#: columns the MRD engine uses (read when present)
_WANTED = ("sequence_id", "locus", "v_call", "d_call", "j_call", "junction", "productive",
           "rev_comp", *_COUNT_FIELDS)
_NUC = re.compile(r"[ACGTNacgtn]*")
#: read counts have at most 18 digits (fits int64; far beyond any sequencing run)
_MAX_COUNT_DIGITS = 18
_DIGITS_RE = re.compile(r"[0-9]+")
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0"): ord("9") + 1] = True
_NUC_BYTES = np.zeros(256, dtype=bool)
_NUC_BYTES[list(b"ACGTNacgtn")] = True


@dataclass(frozen=True)
class AirrChunk:
    """A block of validated rows as column arrays (object arrays of ``str``; empty = ``""``).

    ``count`` is the reads per row (int64); ``first_line`` the file line number of row 0.
    """

    columns: dict[str, np.ndarray]
    count: np.ndarray
    first_line: int

    def __len__(self) -> int:
        return len(self.count)

    def get(self, name: str) -> np.ndarray:
        """Column ``name``, or an array of empty strings when the file lacks it."""
        if name in self.columns:
            return self.columns[name]
        return np.full(len(self.count), "", dtype=object)


def _open(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        from xopen import xopen

        return xopen(path, "rb", threads=0)  # type: ignore[return-value]
    return open(path, "rb")


def _bad(msg: str, path: Path, line: int | None = None, field: str | None = None) -> AirrFormatError:
    return AirrFormatError(msg, path=path, line=line, field=field)


def _read_header(fh: io.BufferedIOBase, path: Path) -> list[str]:
    raw = fh.readline(MAX_HEADER_BYTES + 1)
    if not raw:
        raise _bad("the file is empty; expected a tab-separated header line", path, 1)
    if len(raw) > MAX_HEADER_BYTES and not raw.endswith(b"\n"):
        raise _bad(f"header line longer than {MAX_HEADER_BYTES} bytes (the limit for this format); "
                   "expected a tab-separated list of column names", path, 1)
    if b"\x00" in raw:
        raise _bad("NUL byte in the header; expected text (is the file binary or truncated?)",
                   path, 1)
    try:
        text = raw.decode("utf-8").rstrip("\n").rstrip("\r")
    except UnicodeDecodeError:
        raise _bad("expected UTF-8 text (is this a gzip file without .gz?)", path, 1) from None
    names = text.split("\t")
    if len(names) == 1 and ("," in text or ";" in text):
        raise _bad("expected a tab-separated header, got what looks like a comma/semicolon-separated "
                   f"line {excerpt(text, 60)}", path, 1)
    seen: set[str] = set()
    for n in names:
        if not n:
            raise _bad("expected a column name, got an empty header field", path, 1)
        if n in seen:
            raise _bad(f"duplicate column {excerpt(n)}", path, 1, n)
        seen.add(n)
    return names


class _LineTooLong(Exception):
    """Raised by :func:`_blocks` when a line grows past ``MAX_LINE_BYTES`` without a newline."""


def _blocks(fh: io.BufferedIOBase, size: int) -> Iterator[bytes]:
    """Blocks of whole lines (a line longer than ``MAX_LINE_BYTES`` raises ``_LineTooLong``)."""
    rest = b""
    while True:
        data = fh.read(size)
        if not data:
            if rest:
                yield rest if rest.endswith(b"\n") else rest + b"\n"
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > MAX_LINE_BYTES:
                raise _LineTooLong
            rest = data
            continue
        rest = data[cut + 1:]
        yield data[: cut + 1]


def _check_fields(block: bytes, ncol: int, first_line: int, path: Path) -> int:
    """Every line of ``block`` must have ``ncol`` fields; returns the number of lines."""
    a = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(a == 10)
    long = np.flatnonzero(np.diff(nl, prepend=-1) > MAX_LINE_BYTES + 1)  # + its newline
    if long.size:
        raise _bad(f"line longer than {MAX_LINE_BYTES} bytes (the limit for this format)", path,
                   first_line + int(long[0]))
    nul = np.flatnonzero(a == 0)
    if nul.size:
        i = int(np.searchsorted(nl, nul[0]))
        raise _bad("NUL byte; expected text (is the file binary or truncated?)", path,
                   first_line + i)
    cr = np.flatnonzero(a == 13)
    if cr.size:
        lone = cr[a[np.minimum(cr + 1, a.size - 1)] != 10]
        if lone.size:
            i = int(np.searchsorted(nl, lone[0]))
            raise _bad("carriage return inside a line (only CRLF line endings are allowed)", path,
                       first_line + i)
    tabs = np.flatnonzero(a == 9)
    per_line = np.diff(np.searchsorted(tabs, nl), prepend=0)
    bad = np.flatnonzero(per_line != ncol - 1)
    if bad.size:
        i = int(bad[0])
        start = 0 if i == 0 else int(nl[i - 1]) + 1
        if int(nl[i]) == start:
            raise _bad("empty line; expected a row of tab-separated fields", path, first_line + i)
        got = int(per_line[i]) + 1
        raise _bad(f"expected {ncol} tab-separated fields (as in the header), got {got}", path,
                   first_line + i)
    return int(nl.size)


class _UniqueIds:
    """Checks that ``sequence_id`` values are unique across blocks, in 8 bytes per row.

    Ids are kept as 64-bit hashes (Python's string hash, fixed within one process) in one sorted
    array; a repeat within a block is named with both lines, a repeat of an earlier block's id
    with its own line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = np.zeros(0, dtype=np.uint64)

    def add(self, ids: np.ndarray, first_line: int) -> None:
        empty = _first_bad(ids == "")
        if empty is not None:
            raise _bad("expected a sequence_id, got an empty value", self.path,
                       first_line + empty, "sequence_id")
        h = np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids)).view(np.uint64)
        order = np.argsort(h, kind="stable")
        hs = h[order]
        dup = np.flatnonzero(hs[1:] == hs[:-1])
        if dup.size:
            i, j = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
            raise _bad(f"sequence_id {excerpt(ids[j])} occurs twice (first on line "
                       f"{first_line + i}); a repeated row would count its reads twice",
                       self.path, first_line + j, "sequence_id")
        if self.seen.size:
            pos = np.searchsorted(self.seen, h)
            hit = (pos < self.seen.size) & (self.seen[np.minimum(pos, self.seen.size - 1)] == h)
            k = _first_bad(hit)
            if k is not None:
                raise _bad(f"sequence_id {excerpt(ids[k])} occurs twice (also on an earlier "
                           "line); a repeated row would count its reads twice", self.path,
                           first_line + k, "sequence_id")
        self.seen = np.union1d(self.seen, hs)


def _first_bad(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def iter_airr_chunks(
    path: str | Path,
    *,
    required: Sequence[str] = AIRR_REQUIRED,
    columns: Sequence[str] | None = None,
    block_bytes: int = 16 << 20,
) -> Iterator[AirrChunk]:
    """Stream a Rearrangement TSV as validated :class:`AirrChunk` blocks.

    Parameters
    ----------
    path : a ``.tsv`` (or ``.tsv.gz``) file.
    required : columns that must be in the header (default: the AIRR schema's 14).
    columns : columns to return (default: those the MRD engine uses, when present).
    block_bytes : bytes per block (memory use is a small multiple of this).

    Raises
    ------
    AirrFormatError
        naming file, line and field, for a missing required column, a line with the wrong number
        of fields, a count that is not a non-negative integer, a boolean other than ``T``/``F``,
        or a junction with characters other than nucleotides.
    """
    p = Path(path)
    if p.is_dir():
        raise _bad("is a directory; expected an AIRR Rearrangement TSV file", p)
    if not p.is_file():
        raise _bad("no such file", p)
    try:
        fh = _open(p)
    except OSError as exc:
        raise _bad(f"cannot open: {exc}", p) from None
    with fh:
        line = 1
        try:
            header = _read_header(fh, p)
            missing = [c for c in required if c not in header]
            if missing:
                raise _bad(f"missing required column(s) {', '.join(missing)}; the header has "
                           f"{excerpt(', '.join(header), 200)}", p, 1, missing[0])
            wanted = [c for c in (columns or _WANTED) if c in header]
            for c in ("sequence_id", *_COUNT_FIELDS, *AIRR_BOOLEAN_FIELDS):
                if c in header and c not in wanted:
                    wanted.append(c)  # always validated
            line = 2
            ids = _UniqueIds(p) if "sequence_id" in header else None
            for block in _blocks(fh, block_bytes):
                n = _check_fields(block, len(header), line, p)
                cols = _split_columns(block, header, wanted, n)
                if any(len(v) != n for v in cols.values()):  # pragma: no cover - guarded by _check_fields
                    raise _bad(f"parsed {min(len(v) for v in cols.values())} rows from {n} lines", p, line)
                chunk = _validate(cols, n, p, line)
                if ids is not None:
                    ids.add(cols["sequence_id"], line)
                yield chunk
                line += n
            if line == 2:
                raise _bad("no rearrangements (no reads): the file has a header but no rows; an "
                           "empty export is not a result", p, 2)
        except _LineTooLong:
            raise _bad(f"line longer than {MAX_LINE_BYTES} bytes (the limit for this format)", p,
                       line) from None
        except (EOFError, OSError) as exc:
            raise _bad(f"the file is truncated or not valid gzip ({exc})", p, line) from None
        except UnicodeDecodeError:
            raise _bad("expected UTF-8 text", p, line) from None


#: blocks up to this size are split with ``str.split`` (no pandas import); larger ones with
#: pandas' C parser, which is faster per byte (the same strings either way: tested)
SMALL_BLOCK_BYTES = 4 << 20


def _split_columns(block: bytes, header: list[str], wanted: list[str], n: int) -> dict[str, np.ndarray]:
    """The ``wanted`` columns of a block of ``n`` checked lines, as object arrays of ``str``."""
    if len(block) > SMALL_BLOCK_BYTES:
        import pandas as pd

        df = pd.read_csv(io.BytesIO(block), sep="\t", header=None, names=header,
                         usecols=wanted, dtype=str, na_filter=False,
                         quoting=csv.QUOTE_NONE, engine="c", skip_blank_lines=False)
        return {c: df[c].to_numpy(dtype=object) for c in df.columns}
    lines = block.decode("utf-8").split("\n")
    del lines[-1]  # a block ends with a newline
    rows = [(ln[:-1] if ln.endswith("\r") else ln).split("\t") for ln in lines]
    out: dict[str, np.ndarray] = {}
    for c in (c for c in header if c in wanted):  # pandas' usecols keeps the file's order
        k = header.index(c)
        col = np.empty(n, dtype=object)
        col[:] = [r[k] for r in rows]
        out[c] = col
    return out


def _validate(cols: dict[str, np.ndarray], n: int, p: Path, line: int) -> AirrChunk:
    for c in AIRR_BOOLEAN_FIELDS:
        if c in cols:
            col = cols[c]
            i = _first_bad(~((col == "T") | (col == "F") | (col == "")))
            if i is not None:
                raise _bad(f"expected T or F (or empty for null), got {excerpt(col[i])}", p,
                           line + i, c)
    counts: dict[str, np.ndarray] = {}
    for c in _COUNT_FIELDS:
        if c in cols:
            col = cols[c]
            # fast path: every character of the column is a digit (empty = null is allowed)
            joined = np.frombuffer("".join(col).encode("utf-8"), dtype=np.uint8)
            if not _DIGIT[joined].all():
                i = _first_bad(np.array([not (v == "" or _DIGITS_RE.fullmatch(v)) for v in col], dtype=bool))
                if i is not None:
                    raise _bad(f"expected a non-negative integer (or empty), got "
                               f"{excerpt(col[i])}", p, line + i, c)
            i = _first_bad(np.fromiter(map(len, col), dtype=np.int64, count=n) > _MAX_COUNT_DIGITS)
            if i is not None:
                raise _bad(f"count {excerpt(col[i])} is too large (more than "
                           f"{_MAX_COUNT_DIGITS} digits)", p, line + i, c)
            counts[c] = np.where(col == "", "-1", col).astype(np.int64)
    if "junction" in cols:
        col = cols["junction"]
        joined = np.frombuffer("".join(col).encode("utf-8"), dtype=np.uint8)
        if not _NUC_BYTES[joined].all():
            i = _first_bad(np.array([not _NUC.fullmatch(v) for v in col], dtype=bool))
            if i is not None:
                raise _bad(f"expected a nucleotide junction (A, C, G, T, N), got "
                           f"{excerpt(col[i])}", p, line + i, "junction")
    if "duplicate_count" in counts or "consensus_count" in counts:
        count = np.full(n, -1, dtype=np.int64)
        for c in ("duplicate_count", "consensus_count"):
            if c in counts:
                count = np.where(count < 0, counts[c], count)
        i = _first_bad(count < 0)
        if i is not None:
            have = [c for c in ("duplicate_count", "consensus_count") if c in counts]
            raise _bad("expected a read count, got an empty value", p, line + i, have[0])
    else:
        count = np.ones(n, dtype=np.int64)
    return AirrChunk(columns=cols, count=count, first_line=line)


def read_airr(path: str | Path, **kwargs: object) -> AirrChunk:
    """Read a whole (small) table into one :class:`AirrChunk` (memory grows with the file)."""
    chunks = list(iter_airr_chunks(path, **kwargs))  # type: ignore[arg-type]
    if not chunks:
        return AirrChunk(columns={}, count=np.zeros(0, dtype=np.int64), first_line=2)
    names = chunks[0].columns.keys()
    return AirrChunk(
        columns={c: np.concatenate([ch.columns[c] for ch in chunks]) for c in names},
        count=np.concatenate([ch.count for ch in chunks]),
        first_line=2,
    )


def write_airr(path: str | Path, rows: Sequence[dict[str, object]] | Iterator[dict[str, object]],
               columns: Sequence[str] | None = None) -> Path:
    """Write rows as an AIRR Rearrangement TSV (booleans as ``T``/``F``, ``None`` as empty).

    ``columns`` defaults to the 14 required fields plus ``locus`` and ``duplicate_count``.
    """
    cols = list(columns or (*AIRR_REQUIRED, "locus", "duplicate_count"))
    p = Path(path)

    def fmt(v: object) -> str:
        if v is None:
            return ""
        if v is True:
            return "T"
        if v is False:
            return "F"
        return str(v)

    fh = _gz_writer(p) if p.suffix == ".gz" else open(p, "w", encoding="utf-8")  # noqa: SIM115
    with fh:
        fh.write("\t".join(cols) + "\n")
        for r in rows:
            fh.write("\t".join(fmt(r.get(c)) for c in cols) + "\n")
    return p


def _gz_writer(p: Path) -> io.TextIOWrapper:
    import gzip

    return io.TextIOWrapper(gzip.GzipFile(p, "wb", mtime=0), encoding="utf-8")
