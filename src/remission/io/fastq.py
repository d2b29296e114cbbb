"""FASTQ (plain or gzip, single or paired): streaming, strict, in blocks of whole records.

Reads are not turned into Python objects one by one: :func:`iter_fastq_chunks` yields blocks of
complete records (``dnaio.read_chunks``/``read_paired_chunks``, files opened through ``xopen``
so gzip is decompressed by ISA-L/zlib-ng) as a ``uint8`` numpy array with the start and end of
every sequence line. The structure of every record is checked vectorised on the bytes (header
line starts with ``@``, third line with ``+``, quality as long as the sequence), so the reader is
strict at about the cost of one pass of numpy over the bytes. Memory is one block (default
1 MiB; smaller blocks stay in CPU cache and scan faster) plus its index, whatever the file size.

Errors are :class:`~remission.errors.FastqFormatError` naming the file and record (and line, and
the field of the record when one is at fault: ``header``, ``sequence``, ``separator``, ``quality``): a
truncated gzip stream, a FASTA file, a record cut short, a quality line of the wrong length, a
sequence with characters other than A, C, G, T, N (either case), a record longer than the block
(``buffer_size``, 1 MiB by default; amplicon reads are a few hundred bases), a file with no
records at all (an empty run is unusable input, never a negative result), or mates out of step.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remission.errors import FastqFormatError, excerpt

__all__ = ["FastqChunk", "iter_fastq_chunks", "write_fastq"]

_AT, _PLUS, _NL = ord("@"), ord("+"), 10
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


def _index(raw: bytes, path: Path, first_record: int) -> FastqChunk:
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
    seq_start, seq_end = starts[1::4], nl[1::4]
    qlen = nl[3::4] - starts[3::4]
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


def iter_fastq_chunks(
    path: str | Path,
    mate2: str | Path | None = None,
    *,
    buffer_size: int = 1 << 20,
) -> Iterator[FastqChunk]:
    """Stream a FASTQ file (or a pair of mate files) as validated :class:`FastqChunk` blocks.

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
            if f2 is None:
                for chunk in dnaio.read_chunks(f1, buffer_size):
                    current = p
                    ch = _index(bytes(chunk), p, record)
                    record += ch.n_reads
                    yield ch
                if record == 0:
                    raise FastqFormatError(_NO_READS, path=p, record=1)
            else:
                assert p2 is not None
                for c1, c2 in dnaio.read_paired_chunks(f1, f2, buffer_size):
                    current = p
                    a = _index(bytes(c1), p, record)
                    current = p2
                    b = _index(bytes(c2), p2, record)
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
