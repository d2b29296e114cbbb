"""Worker for the two-process store tests (spawned; importable because the test puts this
folder on ``sys.path``, which ``multiprocessing`` passes to spawned children)."""

from __future__ import annotations

import time
from typing import Any


def save_all(url: str, payloads: list[str], barrier: Any, out: Any, tag: str) -> None:
    """Open the (possibly new) store together with the other process, then, once both are
    open, save every analysis; report what was saved and the time window of the writes."""
    from remission.domain import CaseAnalysis
    from remission.store import Store

    analyses = [CaseAnalysis.model_validate_json(p) for p in payloads]
    results = []
    try:
        barrier.wait(timeout=60)
        with Store(url) as st:
            barrier.wait(timeout=60)  # both stores open (and migrated): now write together
            start = time.monotonic()
            for a in analyses:
                r = st.save_analysis(a)
                results.append((r.analysis_id, r.case_id, r.created))
            end = time.monotonic()
        out.put((tag, "ok", {"rows": results, "window": (start, end)}))
    except BaseException as exc:  # report to the parent, which fails the test
        out.put((tag, "error", f"{type(exc).__name__}: {exc}"))


def save_forever(url: str, payloads: list[str], started: Any) -> None:
    """Save analyses one after the other, announcing each start (the parent kills this process
    with SIGKILL in the middle of a write)."""
    from remission.domain import CaseAnalysis
    from remission.store import Store

    analyses = [CaseAnalysis.model_validate_json(p) for p in payloads]
    with Store(url) as st:
        for i, a in enumerate(analyses):
            started.put(i)
            st.save_analysis(a)
    started.put(-1)
