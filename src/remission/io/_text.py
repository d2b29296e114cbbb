"""Bounded, strict line reading shared by the text readers of :mod:`remission.io`.

Every line reader of the package goes through :func:`iter_text_lines`, so each one refuses the
same things with a located error of its own type instead of a traceback or unbounded memory:

- a line longer than :data:`MAX_LINE_BYTES` (e.g. a 2 GB file without a newline);
- bytes that are not UTF-8 (a spreadsheet saved as Latin-1, a binary file);
- NUL bytes (a truncated or binary file; text tools silently cut fields at them).

A UTF-8 byte-order mark at the start is dropped (spreadsheet exports write one). Files that start
with the gzip magic are decompressed when ``gzip_ok`` is set.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from remission.errors import InputError

__all__ = ["MAX_HEADER_BYTES", "MAX_LINE_BYTES", "iter_text_lines"]

#: longest line (bytes, not counting the line ending) any line reader accepts; a tabular assay file with a
#: longer line is corrupt (the longest AIRR rows, with full alignments, are a few kB)
MAX_LINE_BYTES = 1 << 20
#: longest header line (bytes, not counting the line ending) a tabular reader accepts; a header is a list of column names
MAX_HEADER_BYTES = 64 << 10


def _open_binary(path: Path, error: type[InputError], gzip_ok: bool) -> BinaryIO:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except IsADirectoryError:
        raise error("is a directory; expected a file", path=path) from None
    except OSError as exc:
        raise error(f"cannot open: {exc.strerror}", path=path) from None
    if gzip_ok and fh.peek(2)[:2] == b"\x1f\x8b":
        fh.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return fh


def iter_text_lines(
    path: str | Path,
    error: type[InputError],
    *,
    gzip_ok: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_header_bytes: int = MAX_HEADER_BYTES,
) -> Iterator[str]:
    """Yield the lines of ``path`` (decoded, line ending kept) one at a time.

    Line ``n`` of the file is the ``n``-th item (so ``csv.reader(...).line_num`` stays a file
    line number). The first line is held to ``max_header_bytes``.

    Raises
    ------
    error
        (the caller's :class:`~remission.errors.InputError` subclass) naming file and line, for
        a missing file, a directory, an over-long line, bytes that are not UTF-8, a NUL byte, or
        a corrupt gzip stream.
    """
    p = Path(path)
    fh = _open_binary(p, error, gzip_ok)
    n = 0
    try:
        with fh:
            while True:
                limit = max_header_bytes if n == 0 else max_line_bytes
                raw = fh.readline(limit + 1)
                if not raw:
                    return
                n += 1
                if len(raw) > limit and not raw.endswith(b"\n"):
                    what = "header line" if n == 1 else "line"
                    raise error(f"{what} longer than {limit} bytes (the limit for this format); "
                                "expected a text table with one record per line", path=p, line=n)
                if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                nul = raw.find(b"\x00")
                if nul >= 0:
                    raise error(f"NUL byte at column {nul + 1}; expected text (is the file "
                                "binary or truncated?)", path=p, line=n)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise error(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column "
                                f"{exc.start + 1}; save the file as UTF-8", path=p,
                                line=n) from None
                yield text
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise error(f"the gzip stream is truncated or corrupt ({exc})", path=p,
                    line=n + 1) from None
    except OSError as exc:
        raise error(f"cannot read: {exc}", path=p, line=n + 1) from None
