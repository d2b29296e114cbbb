"""The machine-readable output envelope shared by every ``--json`` command (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from remission.domain.analysis import NOT_A_MEDICAL_DEVICE, InputFile, sha256_file

__all__ = ["SCHEMA_MAJOR", "envelope", "inputs_of", "prefetch_checksums"]

SCHEMA_MAJOR = 1

#: checksums being computed in a background thread, by resolved path
_PENDING: dict[Path, Future[str]] = {}


def prefetch_checksums(paths: Iterable[str | Path]) -> None:
    """Start the SHA-256 of large inputs in one background thread.

    A command that streams a big file (FASTQ, FCS) calls this first, so that the provenance
    checksum is computed while the engine works instead of after it (``hashlib`` releases the
    GIL on large blocks). :func:`inputs_of` then collects the result.
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    for p in paths:
        key = Path(p).resolve()
        if key not in _PENDING:
            _PENDING[key] = executor.submit(sha256_file, key)
    executor.shutdown(wait=False)


def inputs_of(paths: Iterable[str | Path]) -> list[dict[str, str]]:
    """``[{"path", "sha256"}]`` for input files (checksums streamed, or prefetched)."""
    out = []
    for p in paths:
        pending = _PENDING.pop(Path(p).resolve(), None)
        digest = pending.result() if pending is not None else sha256_file(p)
        out.append(InputFile(path=str(p), sha256=digest).model_dump())
    return out


def envelope(
    kind: str,
    result: Any,
    *,
    inputs: Iterable[Mapping[str, str]] | Iterable[InputFile] = (),
    parameters: Mapping[str, Any] | None = None,
    knowledge_base_version: str | None = None,
) -> dict[str, Any]:
    """``{"schema": "remission.<kind>/<major>", "remission_version", "inputs", "parameters", "result"}``.

    ``result`` must already be JSON-ready (use ``model_dump(mode="json")`` for models).
    """
    from remission import __version__

    ins = [i.model_dump() if isinstance(i, InputFile) else dict(i) for i in inputs]
    env: dict[str, Any] = {
        "schema": f"remission.{kind}/{SCHEMA_MAJOR}",
        "remission_version": __version__,
        "inputs": ins,
        "parameters": dict(parameters or {}),
        "result": result,
        "notice": NOT_A_MEDICAL_DEVICE,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if knowledge_base_version is not None:
        env["knowledge_base_version"] = knowledge_base_version
    return env
