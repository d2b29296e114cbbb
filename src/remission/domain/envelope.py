"""The machine-readable output envelope shared by every ``--json`` command (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from remission.domain.analysis import NOT_A_MEDICAL_DEVICE, InputFile

__all__ = ["SCHEMA_MAJOR", "SCHEMA_MAJORS", "envelope"]

#: the major version of every ``remission.<kind>`` schema unless listed in SCHEMA_MAJORS
SCHEMA_MAJOR = 1
#: kinds whose schema had a breaking change (see CHANGELOG.md)
SCHEMA_MAJORS: dict[str, int] = {"case_analysis": 2, "options": 2}


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
        "schema": f"remission.{kind}/{SCHEMA_MAJORS.get(kind, SCHEMA_MAJOR)}",
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
