"""Helpers shared by the commands: the JSON envelope, output files, progress, store URL."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from remission.domain import InputFile

__all__ = [
    "DB_OPTION",
    "JSON_OPTION",
    "OUTPUT_OPTION",
    "db_url",
    "emit",
    "progress",
]

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object (the remission envelope).")
OUTPUT_OPTION = typer.Option(None, "-o", "--output", help="Write the output to this file instead of stdout.")
DB_OPTION = typer.Option(
    None, "--db", help="Store URL (default: $REMISSION_DB or sqlite:///./remission.db)."
)


def db_url(url: str | None) -> str:
    return url or os.environ.get("REMISSION_DB") or "sqlite:///remission.db"


def _default(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json", by_alias=True)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=_default, indent=2, allow_nan=False)


def emit(
    kind: str,
    result: Any,
    *,
    json_out: bool,
    output: Path | None = None,
    inputs: Iterable[str | Path | InputFile] = (),
    parameters: Mapping[str, Any] | None = None,
    human: Callable[[Any], None] | None = None,
    knowledge_base_version: str | None = None,
) -> None:
    """Print (or write to ``output``) either the JSON envelope or the human rendering.

    ``human`` receives a ``rich.console.Console`` and prints tables etc.
    """
    from remission.domain import InputFile
    from remission.domain.envelope import envelope
    from remission.io.checksums import input_files

    if json_out or human is None:
        ins = [i if isinstance(i, InputFile) else input_files([i])[0] for i in inputs]
        env = envelope(kind, json.loads(to_json(result)), inputs=ins,
                       parameters=json.loads(to_json(dict(parameters or {}))),
                       knowledge_base_version=knowledge_base_version)
        text = to_json(env) + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return
    from rich.console import Console

    if output:
        with open(output, "w", encoding="utf-8") as fh:
            human(Console(file=fh, width=120, no_color=True))
    else:
        human(Console())


def progress(description: str, total: int | None = None) -> Any:
    """A rich progress bar on stderr (hidden when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def notice_line() -> str:
    from remission.domain import NOT_A_MEDICAL_DEVICE

    return NOT_A_MEDICAL_DEVICE


def parse_rule_overrides(items: list[str] | None, option: str = "--param") -> dict[str, Any]:
    """``--param NAME=VALUE`` (repeatable) → ``{NAME: value}``, the value parsed as YAML.

    Unknown names are refused later, by :func:`remission.domain.parameters.resolve`.
    """
    import yaml

    from remission.errors import ValidationError

    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"{option} must be NAME=VALUE, but was {item!r}")
        out[name.strip()] = yaml.safe_load(raw)
    return out
