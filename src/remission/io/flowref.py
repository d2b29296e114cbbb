"""Flow-MRD normal reference model files (JSON): read and write, nothing else.

The model itself (what the fields mean, how it is built and checked against a tube) is
:class:`remission.mrd.flow.ReferenceModel`; this module only moves its JSON between disk and a
dict. Writing is atomic (a temporary file in the same folder, then a rename), so a build that
fails leaves no file behind and never a half-written one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from remission.errors import FlowReferenceError

__all__ = ["MAX_REFERENCE_BYTES", "read_flow_reference", "write_flow_reference"]

#: a reference model is a few kB; anything far larger is not one (bounded read)
MAX_REFERENCE_BYTES = 16 << 20


def read_flow_reference(path: str | Path) -> dict[str, Any]:
    """The JSON object of a reference file (``FlowReferenceError`` naming the file otherwise)."""
    p = Path(path)
    if p.is_dir():
        raise FlowReferenceError("is a directory, not a reference file", path=p)
    try:
        size = p.stat().st_size
        if size > MAX_REFERENCE_BYTES:
            raise FlowReferenceError(f"is {size} bytes, more than a reference model can be "
                                     f"(limit {MAX_REFERENCE_BYTES})", path=p)
        raw = p.read_bytes()
    except OSError as exc:
        raise FlowReferenceError(f"cannot be read: {exc.strerror or exc}", path=p) from exc
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise FlowReferenceError(f"is not UTF-8 text (byte {exc.start})", path=p) from exc
    except json.JSONDecodeError as exc:
        raise FlowReferenceError(f"is not valid JSON: {exc.msg}", path=p, line=exc.lineno) from exc
    except ValueError as exc:
        raise FlowReferenceError(str(exc), path=p) from exc
    if not isinstance(data, dict):
        raise FlowReferenceError(f"must hold a JSON object, but held {type(data).__name__}", path=p)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed in a reference model")


def write_flow_reference(path: str | Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as JSON atomically (nothing is left at ``path`` if writing fails)."""
    p = Path(path)
    text = json.dumps(data, indent=1, allow_nan=False, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
