"""SHA-256 checksums of input files, for provenance.

:func:`sha256_file` streams one file. :class:`Checksums` belongs to one run (a command, a web
request, a batch task): it can start the checksums of large inputs in a background thread while
the engine streams them (``hashlib`` releases the GIL on large blocks), and is closed with the
run, so a long-running server keeps no process-wide state and no thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from remission.domain.analysis import InputFile

__all__ = ["Checksums", "input_files", "sha256_file"]


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (constant memory)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def input_files(paths: Iterable[str | Path]) -> list[InputFile]:
    """``InputFile(path, sha256)`` for each path, computed now."""
    return [InputFile(path=str(p), sha256=sha256_file(p)) for p in paths]


class Checksums:
    """The checksums of one run: ``prefetch`` starts them, ``collect`` waits for them.

    Use as a context manager (``with Checksums() as sums:``); leaving it waits for and discards
    anything not collected, so no thread outlives the run.
    """

    def __init__(self) -> None:
        self._pending: dict[Path, Future[str]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def prefetch(self, paths: Iterable[str | Path]) -> None:
        """Start the SHA-256 of ``paths`` in one background thread."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        for p in paths:
            key = Path(p).resolve()
            if key not in self._pending:
                self._pending[key] = self._pool.submit(sha256_file, key)

    def collect(self, paths: Iterable[str | Path]) -> list[InputFile]:
        """``InputFile`` records for ``paths`` (prefetched ones are awaited, others computed)."""
        out = []
        for p in paths:
            pending = self._pending.pop(Path(p).resolve(), None)
            digest = pending.result() if pending is not None else sha256_file(p)
            out.append(InputFile(path=str(p), sha256=digest))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()

    def __enter__(self) -> Checksums:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
