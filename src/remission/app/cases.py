"""Analyse one case, check it, render it and save it: the use case behind ``remission analyze``,
``remission demo`` and the web application's re-analysis.

The order is the contract: analyse → refuse an incomplete analysis unless a partial one is
allowed → check that the result serialises (no non-finite numbers) → render the report into a
temporary file → save in one store transaction → move the report into place. A failure at any
step before the save leaves the store unchanged; the report appears only once the save succeeded.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remission.errors import IncompleteAnalysisError, ValidationError

if TYPE_CHECKING:
    from remission.domain import CaseAnalysis
    from remission.store import SaveResult

__all__ = ["CaseRun", "check_serialisable", "run_case", "safe_name"]

#: a patient/case id usable as a file or folder name as it is
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def safe_name(case_id: str) -> str:
    """``case_id`` as a folder name for reports, or a :class:`ValidationError`.

    Output paths never come from data unchecked: an id such as ``../../x``, ``/abs`` or one with
    control characters is refused (the caller can name the folder with ``-o``).
    """
    if not _SAFE.match(case_id) or ".." in case_id:
        shown = case_id.encode("unicode_escape").decode("ascii")[:60]
        raise ValidationError(
            f"patient id {shown!r} is not a safe folder name (letters, digits, '.', '_', '-'; "
            "at most 100 characters, not starting with '.'): give the report folder with -o")
    return case_id


@dataclass(frozen=True)
class CaseRun:
    """What one :func:`run_case` did."""

    analysis: CaseAnalysis
    report: Path | None
    saved: SaveResult | None

    @property
    def partial(self) -> bool:
        return self.analysis.partial


def check_serialisable(analysis: CaseAnalysis) -> str:
    """The analysis as JSON, refusing non-finite numbers (JSON has none; a NaN or infinity in a
    result is an engine or input fault that must not reach the store)."""
    data = analysis.model_dump(mode="json", by_alias=True)
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError as exc:
        raise ValidationError(f"case {analysis.case_id}: the analysis holds a non-finite number "
                              f"(NaN or infinity); nothing was saved ({exc})") from exc


def _incomplete(analysis: CaseAnalysis) -> IncompleteAnalysisError:
    failed = analysis.failed_steps
    n = len(analysis.failures)
    return IncompleteAnalysisError(
        analysis.failures[0]
        + (f" (and {n - 1} more failure(s))" if n > 1 else "")
        + "; nothing was saved (use --allow-partial to keep a partial analysis)", failed)


def run_case(
    case_path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    report_dir: str | Path | None = None,
    db_url: str | None = None,
    allow_partial: bool = False,
    targets: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> CaseRun:
    """Analyse ``case_path``; write ``report_dir/report.html`` and save in the store at ``db_url``
    (either may be ``None`` to skip it).

    Raises :class:`~remission.errors.IncompleteAnalysisError` when an engine failed on its data
    (unless ``allow_partial``: the analysis is then marked partial in the store, the report and
    every summary). Nothing is saved and no report is written by a run that raises.
    """
    from remission.pipeline import analyze
    from remission.report import render_html

    analysis = analyze(case_path, parameters=parameters, progress=progress, targets=targets)
    if analysis.partial and not allow_partial:
        raise _incomplete(analysis)
    check_serialisable(analysis)
    html = render_html(analysis) if report_dir is not None else None

    tmp: Path | None = None
    report: Path | None = None
    if html is not None and report_dir is not None:
        out = Path(report_dir)
        out.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=out)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        tmp, report = Path(name), out / "report.html"
    try:
        saved = None
        if db_url is not None:
            from remission.store import Store

            with Store(db_url) as st:
                saved = st.save_analysis(analysis)
        if tmp is not None and report is not None:
            os.replace(tmp, report)
            tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return CaseRun(analysis=analysis, report=report, saved=saved)
