"""FASTQ (plain or gzip, single or paired): streaming, strict, in blocks of whole records.

Reads are not turned into Python objects one by one: :func:`iter_fastq_chunks` yields blocks of
complete records (files opened through ``xopen`` so gzip is decompressed by ISA-L/zlib-ng) as a
``uint8`` numpy array with the start and end of every sequence line. The structure of every
record is checked on the bytes (header line starts with ``@``, third line with ``+``, quality as
long as the sequence, sequence bytes A, C, G, T, N in either case; a line's content ends before
one carriage return, so CRLF files read as dnaio reads them). Two implementations apply the same
rules: a compiled one-pass check (numba, :mod:`remission.io._fastq_jit`, imported on the first
block; a single file is read straight into numpy buffers and the check finds where the last
whole record ends) and the numpy path (``dnaio.read_chunks``/``read_paired_chunks`` blocks,
vectorised checks), which is the fallback without numba or with ``REMISSION_JIT=0``, the path
for paired files, and the one that writes every error message. Memory is one block (default
1 MiB; smaller blocks stay in CPU cache and scan faster) plus its index, whatever the file size.

Errors are :class:`~remission.errors.FastqFormatError` naming the file and record (and line, and
the field of the record when one is at fault: ``header``, ``sequence``, ``separator``, ``quality``): a
truncated gzip stream, a FASTA file, a record cut short, a quality line of the wrong length, a
sequence with characters other than A, C, G, T, N (either case), a record longer than the block
(``buffer_size``, 1 MiB by default; amplicon reads are a few hundred bases), a file with no
records at all (an empty run is unusable input, never a negative result), or mates out of step.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from remission.errors import FastqFormatError, ValidationError, excerpt

__all__ = ["FastqChunk", "iter_fastq_chunks", "write_fastq"]

_AT, _PLUS, _NL, _CR = ord("@"), ord("+"), 10, 13
_NUC = b"ACGTNacgtn"


@dataclass(frozen=True)
class FastqChunk:
    """Complete records of one block: bytes and where each sequence line is.

    ``data[seq_start[i]:seq_end[i]]`` is the sequence of record ``first_record + i`` (0-based).
    For paired input ``mate2`` holds the R2 chunk with the same number of records.
    """

    data: np.ndarray
    seq_start: np.ndarray
    seq_end: np.ndarray
    first_record: int
    mate2: FastqChunk | None = None

    @property
    def n_reads(self) -> int:
        return len(self.seq_start)


_NO_READS = ("no reads: the file is empty; an empty run is unusable input, not a sample "
             "without disease")


def _open(path: Path) -> Any:
    from xopen import xopen

    return xopen(path, "rb", threads=0)


def _jit() -> Any:
    """The compiled block check (:mod:`remission.io._fastq_jit`), or ``None`` when numba cannot
    be imported or ``REMISSION_JIT=0``; imported on the first FASTQ block only."""
    global _KERNEL
    if _KERNEL is None:
        if os.environ.get("REMISSION_JIT", "1") == "0":
            return None
        try:
            from remission.io import _fastq_jit
        except (ImportError, RuntimeError, OSError):  # no numba; or no writable cache location
            _KERNEL = False
        else:
            _KERNEL = _fastq_jit
    return _KERNEL or None


_KERNEL: Any = None

#: ``engine="auto"`` compiles the check only for inputs of at least this many bytes (gzip: 4x the
#: file size) or when numba is already loaded: numba's import and loading the kernels cost about
#: 0.4-0.6 CPU s once per process, what the numpy path spends on ~300,000 reads
JIT_MIN_BYTES = 64 << 20


def _pick_kernel(engine: str, paths: list[Path]) -> Any:
    if engine not in ("auto", "numba", "numpy"):
        raise ValidationError(f"engine must be one of auto, numba, numpy, but was {engine!r}")
    if engine == "numpy":
        return None
    if engine == "auto" and "numba" not in sys.modules:
        size = sum(q.stat().st_size * (4 if q.suffix == ".gz" else 1) for q in paths)
        if size < JIT_MIN_BYTES:
            return None
    kernel = _jit()
    if kernel is None and engine == "numba":
        raise ValidationError("engine='numba' needs the numba package and REMISSION_JIT not set "
                              "to 0, but numba could not be used")
    return kernel


def _index(raw: bytes, path: Path, first_record: int, kernel: Any = None) -> FastqChunk:
    """Check one block of whole records (a missing final newline is added); compiled when
    ``kernel`` is given."""
    if kernel is None or not raw:
        return _index_numpy(raw, path, first_record)
    if raw[-1] != _NL:
        raw = raw + b"\n"
    a = np.empty(len(raw) + 1, dtype=np.uint8)  # + 1: the kernel's sentinel
    a[:-1] = np.frombuffer(raw, dtype=np.uint8)
    n = len(raw)
    status, r, end, ss, se = kernel.records(a, n)
    if status or end != n:
        _fail(raw, end, path, first_record + r)
    return FastqChunk(data=a[:n], seq_start=ss, seq_end=se, first_record=first_record)


def _fail(raw: bytes, start: int, path: Path, record: int) -> NoReturn:
    """Raise the located error of the record at ``raw[start:]`` (0-based ``record``) that the
    compiled check refused or found incomplete at the end of the file: the numpy path on its
    four lines writes the message."""
    end = start
    for _ in range(4):
        i = raw.find(b"\n", end)
        if i < 0:
            end = len(raw)
            break
        end = i + 1
    _index_numpy(raw[start:end], path, record)
    raise FastqFormatError("malformed record", path=path, record=record + 1)  # pragma: no cover


def _index_numpy(raw: bytes, path: Path, first_record: int) -> FastqChunk:
    if raw and raw[-1] != _NL:
        raw = raw + b"\n"
    a = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(a == _NL)
    if nl.size % 4:
        rec = first_record + nl.size // 4 + 1
        raise FastqFormatError("the file ends inside a record (expected 4 lines per record: "
                               "@header, sequence, +, quality)", path=path, record=rec,
                               line=4 * (first_record + nl.size // 4) + nl.size % 4 + 1)
    starts = np.empty(nl.size, dtype=np.int64)
    starts[0:1] = 0
    starts[1:] = nl[:-1] + 1
    head = starts[0::4]
    bad = np.flatnonzero(a[head] != _AT)
    if bad.size:
        i = int(bad[0])
        raise FastqFormatError(f"expected a header line starting with '@', got "
                               f"{excerpt(bytes(a[head[i]:head[i] + 20]))}",
                               path=path, record=first_record + i + 1,
                               line=4 * (first_record + i) + 1, field="header")
    bad = np.flatnonzero(a[starts[2::4]] != _PLUS)
    if bad.size:
        i = int(bad[0])
        raise FastqFormatError("expected the third line of the record to start with '+'",
                               path=path, record=first_record + i + 1, line=4 * (first_record + i) + 3,
                               field="separator")
    seq_start, seq_end, qual_end = starts[1::4], nl[1::4], nl[3::4]
    # CRLF: a line's content ends before one carriage return
    seq_end = seq_end - ((seq_end > seq_start) & (a[np.maximum(seq_end - 1, 0)] == _CR))
    qual_end = qual_end - ((qual_end > starts[3::4]) & (a[np.maximum(qual_end - 1, 0)] == _CR))
    qlen = qual_end - starts[3::4]
    bad = np.flatnonzero(qlen != seq_end - seq_start)
    if bad.size:
        i = int(bad[0])
        raise FastqFormatError(f"the quality line has {int(qlen[i])} characters but the sequence "
                               f"{int(seq_end[i] - seq_start[i])}", path=path,
                               record=first_record + i + 1, line=4 * (first_record + i) + 4,
                               field="quality")
    # every sequence byte must be a nucleotide: join the sequence lines and delete the allowed
    # bytes (bytes.translate runs in C at memory speed; numpy masks over the whole block cost
    # ten times more)
    starts_l, ends_l = seq_start.tolist(), seq_end.tolist()
    if b"".join([raw[i:j] for i, j in zip(starts_l, ends_l, strict=True)]).translate(None, _NUC):
        for k, (i, j) in enumerate(zip(starts_l, ends_l, strict=True)):
            rest = raw[i:j].translate(None, _NUC)
            if rest:
                col = raw.index(rest[:1], i) - i + 1
                raise FastqFormatError(f"expected a nucleotide sequence (A, C, G, T, N), got "
                                       f"{excerpt(rest[:1])} at column {col}", path=path,
                                       record=first_record + k + 1,
                                       line=4 * (first_record + k) + 2, field="sequence")
    return FastqChunk(data=a, seq_start=seq_start, seq_end=seq_end.astype(np.int64),
                      first_record=first_record)


def _blocks(kernel: Any, f: Any, path: Path, buffer_size: int) -> Iterator[FastqChunk]:
    """Blocks of whole, checked records read straight into numpy buffers (single file, compiled
    check): the check finds where the last complete record ends, so no separate pass looks for
    record boundaries (``dnaio.read_chunks`` counts every newline first) and no copy is made
    (each block gets its own buffer; the incomplete tail moves to the next one)."""
    tail = np.zeros(0, dtype=np.uint8)
    record = 0
    eof = False
    while not eof:
        # + 2: a final newline the file may lack, and the kernel's sentinel
        buf = np.empty(buffer_size + 2, dtype=np.uint8)
        m = tail.size
        buf[:m] = tail
        if m >= buffer_size:
            raise OverflowError
        got = f.readinto(buf.data[m:buffer_size])
        n = m + got
        if got == 0:
            eof = True
            if n == 0:
                return
            if buf[n - 1] != _NL:
                buf[n] = _NL
                n += 1
        status, r, end, ss, se = kernel.records(buf, n)
        if status or (eof and end != n):
            _fail(bytes(buf[:n]), end, path, record + r)
        tail = buf[end:n].copy()
        if r:
            record += r
            yield FastqChunk(data=buf[:end], seq_start=ss, seq_end=se, first_record=record - r)


def iter_fastq_chunks(
    path: str | Path,
    mate2: str | Path | None = None,
    *,
    buffer_size: int = 1 << 20,
    engine: str = "auto",
) -> Iterator[FastqChunk]:
    """Stream a FASTQ file (or a pair of mate files) as validated :class:`FastqChunk` blocks.

    ``engine``: ``"numba"`` (the compiled check), ``"numpy"``, or ``"auto"``: compiled for inputs
    of at least :data:`JIT_MIN_BYTES` or when numba is already loaded. Same blocks' records and
    the same errors either way.

    Raises
    ------
    FastqFormatError
        a truncated or corrupt gzip stream, a FASTA/other file, a malformed record, mates with
        different numbers of records.
    """
    import dnaio

    p = Path(path)
    p2 = Path(mate2) if mate2 is not None else None
    for q in (p, p2):
        if q is not None and q.is_dir():
            raise FastqFormatError("is a directory; expected a FASTQ file (plain or gzip)", path=q)
        if q is not None and not q.is_file():
            raise FastqFormatError("no such file", path=q)
    kernel = _pick_kernel(engine, [q for q in (p, p2) if q is not None])
    current = p
    record = 0
    try:
        f1 = _open(p)
        f2 = _open(p2) if p2 is not None else None
        try:
            for f, q in ((f1, p), (f2, p2)):
                head = f.peek(4)[:4] if f is not None and hasattr(f, "peek") else b""
                if head and head[:1] != b"@":
                    raise FastqFormatError(f"expected FASTQ (first character '@'), got "
                                           f"{excerpt(head[:1])}", path=q, record=1, line=1,
                                           field="header")
                if 0 < len(head) < 4:  # dnaio asserts at least 4 bytes
                    raise FastqFormatError("the file ends inside a record (expected 4 lines per "
                                           "record: @header, sequence, +, quality)", path=q,
                                           record=1, line=1)
            if f2 is None and kernel is not None:
                for ch in _blocks(kernel, f1, p, buffer_size):
                    record += ch.n_reads
                    yield ch
                if record == 0:
                    raise FastqFormatError(_NO_READS, path=p, record=1)
            elif f2 is None:
                for chunk in dnaio.read_chunks(f1, buffer_size):
                    current = p
                    ch = _index(bytes(chunk), p, record, kernel)
                    record += ch.n_reads
                    yield ch
                if record == 0:
                    raise FastqFormatError(_NO_READS, path=p, record=1)
            else:
                assert p2 is not None
                for c1, c2 in dnaio.read_paired_chunks(f1, f2, buffer_size):
                    current = p
                    a = _index(bytes(c1), p, record, kernel)
                    current = p2
                    b = _index(bytes(c2), p2, record, kernel)
                    current = p
                    if a.n_reads != b.n_reads:
                        raise FastqFormatError(f"mates out of step: {a.n_reads} R1 and {b.n_reads} R2 "
                                               "records in one block", path=p2, record=record + 1)
                    record += a.n_reads
                    yield FastqChunk(a.data, a.seq_start, a.seq_end, a.first_record, mate2=b)
                left1, left2 = f1.read(1), f2.read(1)
                if record == 0 and not (left1 or left2):
                    raise FastqFormatError(_NO_READS, path=p, record=1)
                if left1 or left2:
                    raise FastqFormatError(f"mates out of step: {'R1' if left1 else 'R2'} has more "
                                           f"records than {'R2' if left1 else 'R1'}",
                                           path=p if left1 else p2, record=record + 1)
        finally:
            f1.close()
            if f2 is not None:
                f2.close()
    except FastqFormatError:
        raise
    except OverflowError:  # dnaio: a record larger than the buffer
        raise FastqFormatError(f"record longer than {buffer_size} bytes (the block size); expected "
                               "reads of at most a few thousand bases", path=current,
                               record=record + 1) from None
    except (EOFError, zlib.error) as exc:
        raise FastqFormatError(f"the gzip stream is truncated or corrupt ({exc}); expected a "
                               "complete file", path=current, record=record + 1) from None
    except OSError as exc:
        raise FastqFormatError(f"cannot read: {exc}", path=current, record=record + 1) from None
    except dnaio.exceptions.FileFormatError as exc:
        raise FastqFormatError(f"malformed FASTQ: {excerpt(str(exc), 120)}", path=current,
                               record=record + 1) from None
    except ValueError as exc:  # dnaio: unknown format / out of sync
        raise FastqFormatError(f"malformed FASTQ: {excerpt(str(exc), 120)}", path=current,
                               record=record + 1) from None


def write_fastq(path: str | Path, reads: Iterator[tuple[str, bytes]] | list[tuple[str, bytes]],
                *, quality: int = 37, compresslevel: int = 6) -> Path:
    """Write ``(name, sequence)`` pairs as FASTQ (gzip when the name ends in ``.gz``)."""
    p = Path(path)
    q = chr(33 + quality).encode()
    if p.suffix == ".gz":
        import gzip

        fh = gzip.GzipFile(p, "wb", compresslevel=compresslevel, mtime=0)
    else:
        fh = open(p, "wb")  # type: ignore[assignment]  # noqa: SIM115
    with fh:
        buf: list[bytes] = []
        for name, seq in reads:
            buf.append(b"@%s\n%s\n+\n%s\n" % (name.encode(), seq, q * len(seq)))
            if len(buf) >= 10000:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
    return p
