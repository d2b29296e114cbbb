"""Helpers shared by the commands: the JSON envelope, output files, progress, store URL, and the
checks that turn bad option values into usage errors (exit 2) before any work is done.

Human output is printed through a rich console with markup, highlighting and emoji *off*: text that
came from data (patient ids, sample names, file names, reasons) is always shown literally, and a
long line costs no regex highlighting. Commands style their own words with :func:`styled`.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from remission.domain import InputFile

__all__ = [
    "DB_OPTION",
    "JSON_OPTION",
    "OUTPUT_OPTION",
    "check_db_url",
    "choice",
    "db_url",
    "emit",
    "parse_rule_overrides",
    "parse_step_overrides",
    "positive_numbers",
    "progress",
    "styled",
]

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object (the remission envelope).")
OUTPUT_OPTION = typer.Option(None, "-o", "--output", help="Write the output to this file instead of stdout.")


def db_url(url: str | None) -> str:
    return url or os.environ.get("REMISSION_DB") or "sqlite:///remission.db"


_SQLITE_MAGIC = b"SQLite format 3\x00"


#: environment variables that set the number of BLAS/OpenMP worker threads
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_blas() -> None:
    """One BLAS thread for commands that analyse one case, unless the user set a number.

    One case's fits are tiny (a few parameters): OpenBLAS's worker threads do not speed them
    up, but spin while they wait, which cost 0.3-0.5 CPU seconds per ``analyze`` on the CAR-T
    example (measured; the results are the same). Takes effect only when NumPy is not yet
    imported (the CLI imports it lazily, after the options are parsed)."""
    if "numpy" in sys.modules:
        return
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


#: ``sqlite:///PATH`` with a path of plain characters only (no query string, %-escapes, ``@``
#: or ``:``), parsed without SQLAlchemy by :func:`check_db_url`
_SIMPLE_SQLITE = re.compile(r"sqlite:///([A-Za-z0-9_./~+-]+)")


def check_db_url(url: str | None) -> str:
    """Check a store URL without opening it; return it (``db_url`` applied).

    Refuses, with one line (exit 1), a string that is not a SQLite/PostgreSQL URL
    (:class:`~remission.errors.ValidationError`), and a SQLite file in a folder that does not
    exist, an existing SQLite path that is a folder, or a file that is not a SQLite database
    (:class:`~remission.errors.StoreError`). Cheap (no connection), so it runs while the options
    are parsed, before any work.
    """
    from remission.errors import StoreError, ValidationError, excerpt

    full = db_url(url)
    simple = _SIMPLE_SQLITE.fullmatch(full)
    if simple is not None:
        # a plain sqlite:///path (no query, no escapes): its database is the path as written,
        # exactly what sqlalchemy.make_url gives; parsed here so that commands that never open
        # the store (analyze --no-store) do not import SQLAlchemy (~0.2 s)
        backend, db = "sqlite", simple.group(1)
    else:
        import sqlalchemy as sa

        try:
            parsed = sa.make_url(full)
            backend = parsed.get_backend_name()
        except Exception as exc:  # sqlalchemy raises ArgumentError and others for bad URLs
            raise ValidationError(f"--db must be a sqlite:/// or postgresql:// URL, but was "
                                  f"{excerpt(full)} ({type(exc).__name__})") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValidationError(f"--db must be a sqlite:/// or postgresql:// URL, but was "
                                  f"{excerpt(parsed.render_as_string(hide_password=True))} "
                                  f"(unsupported database {backend!r})")
        db = parsed.database
    if backend == "sqlite" and db and db != ":memory:" and not db.startswith("file:"):
        path = Path(db).expanduser()
        if not path.resolve().parent.is_dir():
            raise StoreError(f"store {excerpt(full)}: folder "
                             f"{excerpt(str(path.resolve().parent), 200)} does not exist")
        if path.is_dir():
            raise StoreError(f"store {excerpt(full)}: {excerpt(db, 200)} is a folder; expected a "
                             "SQLite database file")
        if path.is_file() and path.stat().st_size:
            with open(path, "rb") as fh:
                if fh.read(16) != _SQLITE_MAGIC:
                    raise StoreError(f"store {excerpt(full)}: {excerpt(path.name)} is not a "
                                     "SQLite database")
    return full


def _db_callback(value: str | None) -> str | None:
    check_db_url(value)
    return value


DB_OPTION = typer.Option(
    None, "--db", help="Store URL (default: $REMISSION_DB or sqlite:///./remission.db).",
    callback=_db_callback,
)


def choice(value: str, allowed: Collection[str], option: str) -> str:
    """``value`` if it is one of ``allowed``, else a usage error (exit 2) naming ``option``."""
    if value not in allowed:
        from remission.errors import excerpt

        raise typer.BadParameter(f"must be one of {', '.join(allowed)}, but was {excerpt(value)}",
                                 param_hint=option)
    return value


def positive_numbers(param: typer.CallbackParam, value: Any) -> Any:
    """A typer callback: every value of a (repeatable) number option is finite and > 0."""
    for v in value if isinstance(value, list | tuple) else [value]:
        if v is not None and not (math.isfinite(v) and v > 0):
            raise typer.BadParameter(f"must be a finite number > 0, but was {v!r}",
                                     param_hint=param.opts[0] if param.opts else None)
    return value


def styled(*parts: str | tuple[str, str]) -> Any:
    """A rich ``Text`` from plain strings and ``(text, style)`` pairs (never parsed as markup)."""
    from rich.text import Text

    return Text.assemble(*parts)


def _console(**kwargs: Any) -> Any:
    from rich.console import Console

    return Console(markup=False, highlight=False, emoji=False, **kwargs)


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
    """JSON text of ``obj``; a non-finite number (not JSON) is a one-line ``ValidationError``."""
    try:
        return json.dumps(obj, default=_default, indent=2, allow_nan=False)
    except ValueError as exc:
        from remission.errors import ValidationError

        raise ValidationError(f"the result holds a number that JSON cannot carry ({exc}); "
                              "nothing was written") from None


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
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            human(_console(file=fh, width=120, no_color=True))
    else:
        human(_console())


def progress(description: str, total: int | None = None) -> Any:
    """A rich progress bar on stderr (hidden when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    return Progress(
        # descriptions carry file names and case ids: shown literally, never parsed as markup
        TextColumn("{task.description}", style="progress.description", markup=False),
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


def _yaml_value(raw: str, item: str, option: str) -> Any:
    import yaml

    from remission.errors import excerpt

    try:
        return yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError, RecursionError):
        raise typer.BadParameter(f"the value of {excerpt(item)} is not a valid YAML value",
                                 param_hint=option) from None


def parse_rule_overrides(items: list[str] | None, option: str = "--param",
                         known: Collection[str] | None = None) -> dict[str, Any]:
    """``--param NAME=VALUE`` (repeatable) → ``{NAME: value}``, the value parsed as YAML.

    A malformed item (no ``=``, no name, a value that is not YAML) and, when ``known`` is given, a
    name that is not a known rule are usage errors (exit 2), refused before any work.
    """
    from remission.errors import excerpt

    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise typer.BadParameter(f"must be NAME=VALUE, but was {excerpt(item)}",
                                     param_hint=option)
        if known is not None and name not in known:
            raise typer.BadParameter(f"unknown parameter {excerpt(name)}; known parameters: "
                                     f"{', '.join(sorted(known))}", param_hint=option)
        out[name] = _yaml_value(raw, item, option)
    return out


def parse_step_overrides(items: list[str] | None, steps: Mapping[str, Collection[str] | None],
                         option: str = "--param") -> dict[str, dict[str, Any]]:
    """``--param STEP.NAME=VALUE`` (repeatable) → ``{STEP: {NAME: value}}``.

    ``steps`` maps each step name to its known parameter names (``None``: not checked here). An
    unknown step or parameter, or a malformed item, is a usage error (exit 2).
    """
    from remission.errors import excerpt

    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        step_name, dot, name = key.strip().partition(".")
        if not sep or not dot or not step_name or not name:
            raise typer.BadParameter(f"must be STEP.NAME=VALUE, but was {excerpt(item)}",
                                     param_hint=option)
        if step_name not in steps:
            raise typer.BadParameter(f"unknown step {excerpt(step_name)}; steps: "
                                     f"{', '.join(sorted(steps))}", param_hint=option)
        known = steps[step_name]
        if known is not None and name not in known:
            raise typer.BadParameter(f"unknown parameter {excerpt(name)} of step {step_name}; "
                                     f"known parameters: {', '.join(sorted(known))}",
                                     param_hint=option)
        out.setdefault(step_name, {})[name] = _yaml_value(raw, item, option)
    return out
