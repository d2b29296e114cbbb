"""Patients for the web application: the list (with search and filters), one patient's latest
analysis, and re-analysis after new laboratory results.

The list reads ``patient_index``, a derived table with one row per case (state, alerts, latest
MRD, trend) rebuilt from the newest stored analysis whenever that analysis changes, so a list
page never parses the analyses of a thousand patients. The state is descriptive, never a new
classification: the newest MRD value's status, or "molecular relapse" when the MRD-course engine
reported one (its rule is listed on the patient page).

Re-analysis is isolated in :func:`reanalyze` (``pipeline.analyze_case`` + ``Store.save_analysis``)
so that it can be pointed at the application layer's single "run a case" use case.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from remission.domain import Case, CaseAnalysis, MrdResult
from remission.domain.results import CourseResult
from remission.errors import RemissionError
from remission.store import Store
from remission.store import tables as T

__all__ = [
    "STATES",
    "NotFound",
    "PatientRow",
    "case_lock",
    "latest_analysis",
    "latest_id",
    "latest_with_id",
    "list_patients",
    "locate_case_dir",
    "page_body",
    "prerender",
    "reanalyze",
    "refresh_index",
    "register_page_body",
    "rendered_page",
    "summarise",
]

log = logging.getLogger("remission.app")

#: the states the list can be filtered by (see :func:`summarise`)
STATES = ("molecular_relapse", "mrd_positive", "mrd_positive_not_quantifiable", "mrd_negative", "no_mrd")


class NotFound(RemissionError, LookupError):
    """No such patient, result, meeting or decision (shown as 404)."""


class PatientRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    analysis_id: str
    state: str
    alerts: list[str]
    latest_mrd: dict[str, Any] | None
    trend: str
    next_board: dt.date | None = None


def _trend(mrd: Sequence[MrdResult]) -> str:
    """Direction between the two newest dated values of the newest value's method: 'rising',
    'falling', 'unchanged' (a negative counts as 0), or '–' with fewer than two values."""
    dated = [m for m in mrd if m.date is not None]
    if not dated:
        return "–"
    last = max(dated, key=lambda m: m.date or dt.date.min)
    same = sorted((m for m in dated if m.method == last.method), key=lambda m: m.date or dt.date.min)
    if len(same) < 2:
        return "–"
    a, b = (m.value or 0.0 for m in same[-2:])
    return "rising" if b > a else "falling" if b < a else "unchanged"


def summarise(analysis: CaseAnalysis) -> dict[str, Any]:
    """State, alerts, latest MRD and trend of one analysis (pure)."""
    dated = [m for m in analysis.mrd if m.date is not None]
    latest = max(dated, key=lambda m: m.date or dt.date.min) if dated else None
    alerts = [w.splitlines()[0] for s in analysis.sections for w in s.warnings
              if s.name == "mrd_course" and w.startswith("molecular relapse")]
    alerts += [f"{s.title}: engine error" for s in analysis.sections if s.error]
    course = next((s.result for s in analysis.sections if isinstance(s.result, CourseResult)), None)
    relapse = bool(course and course.molecular_relapse.detected)
    if relapse:
        state = "molecular_relapse"
    elif latest is None:
        state = "no_mrd"
    else:
        state = f"mrd_{latest.status}"
    return {
        "state": state,
        "alerts": alerts,
        "latest_mrd": None if latest is None else {
            "date": str(latest.date), "method": latest.method, "status": latest.status,
            "value": latest.value, "display": latest.display(), "material": latest.material},
        "trend": _trend(analysis.mrd),
    }


def _latest_ids(conn: Connection) -> dict[str, str]:
    a = T.analyses.c
    # analysed_at has whole seconds: two analyses of one case in the same second are ordered by
    # when they were stored (microseconds)
    rows = conn.execute(sa.select(a.case_id, a.analysis_id)
                        .order_by(a.case_id, a.analysed_at, a.stored_at, a.analysis_id)).all()
    return {r.case_id: r.analysis_id for r in rows}  # the last per case wins


_index_marks: dict[str, tuple[int, Any]] = {}


def refresh_index(store: Store) -> int:
    """Bring ``patient_index`` up to date with the newest analysis of every case; returns the
    number of rows rebuilt. Skipped when no analysis was stored since the last refresh in this
    process (the number of analyses and the newest ``stored_at`` are unchanged)."""
    a = T.analyses.c
    mark = store.read(lambda conn: tuple(conn.execute(
        sa.select(sa.func.count(), sa.func.max(a.stored_at))).one()))
    if _index_marks.get(store.url) == mark:
        return 0

    def stale(conn: Connection) -> dict[str, str]:
        latest = _latest_ids(conn)
        have = dict(conn.execute(sa.select(T.patient_index.c.case_id, T.patient_index.c.analysis_id)).all())
        return {c: a for c, a in latest.items() if have.get(c) != a}

    todo: dict[str, str] = store.read(stale)
    for case_id, analysis_id in todo.items():
        s = summarise(store.get_analysis(analysis_id))
        row = {"analysis_id": analysis_id, "state": s["state"], "alerts_json": json.dumps(s["alerts"]),
               "latest_mrd_json": json.dumps(s["latest_mrd"]), "trend": s["trend"]}

        def tx(conn: Connection, case_id: str = case_id, row: dict[str, Any] = row) -> None:
            pi = T.patient_index
            if conn.execute(pi.update().where(pi.c.case_id == case_id).values(**row)).rowcount == 0:
                conn.execute(pi.insert().values(case_id=case_id, **row))

        store.write(tx)
    _index_marks[store.url] = mark
    return len(todo)


def list_patients(store: Store, *, q: str = "", state: str | None = None, alert: bool | None = None,
                  limit: int = 50, offset: int = 0, today: dt.date | None = None,
                  only: Collection[str] | None = None) -> tuple[list[PatientRow], int]:
    """Patients matching a search (case-id substring), a state and/or having alerts; returns the
    page and the total count. ``only`` restricts the list to these case ids (the caller's access,
    :class:`remission.app.access.Guard`). The index is refreshed first."""
    refresh_index(store)
    today = today or dt.date.today()
    pi, bm, bc = T.patient_index.c, T.board_meetings.c, T.board_cases.c
    cond: list[sa.ColumnElement[bool]] = []
    if only is not None:
        cond.append(pi.case_id.in_(sorted(only)))
    if q:
        cond.append(pi.case_id.contains(q.strip(), autoescape=True))
    if state:
        cond.append(pi.state == state)
    if alert is True:
        cond.append(pi.alerts_json != "[]")
    elif alert is False:
        cond.append(pi.alerts_json == "[]")
    nxt = (sa.select(bc.case_id, sa.func.min(bm.date).label("next_board"))
           .join(T.board_meetings, bm.meeting_id == bc.meeting_id)
           .where(bm.date >= today).group_by(bc.case_id).subquery())
    base = sa.select(T.patient_index, nxt.c.next_board).outerjoin(nxt, nxt.c.case_id == pi.case_id).where(*cond)

    def run(conn: Connection) -> tuple[Any, int]:
        total = conn.execute(sa.select(sa.func.count()).select_from(T.patient_index).where(*cond)).scalar_one()
        rows = conn.execute(base.order_by(pi.case_id).limit(limit).offset(offset)).all()
        return rows, int(total)

    rows, total = store.read(run)
    return [PatientRow(case_id=r.case_id, analysis_id=r.analysis_id, state=r.state,
                       alerts=json.loads(r.alerts_json), latest_mrd=json.loads(r.latest_mrd_json),
                       trend=r.trend, next_board=r.next_board) for r in rows], total


def latest_analysis(store: Store, case_id: str) -> CaseAnalysis:
    """The newest stored analysis of a case; :class:`NotFound` when the case is unknown."""
    return latest_with_id(store, case_id)[1]


def _newest_first(case_id: str) -> Any:
    a = T.analyses.c
    # walks ix_analyses_case_latest backwards (migration 0006)
    return (sa.select(a.analysis_id).where(a.case_id == case_id)
            .order_by(a.analysed_at.desc(), a.stored_at.desc(), a.analysis_id.desc()).limit(1))


def latest_id(store: Store, case_id: str) -> str:
    """The id of the newest stored analysis of a case (:class:`NotFound` when unknown)."""
    row = store.read(lambda conn: conn.execute(_newest_first(case_id)).first())
    if row is None:
        raise NotFound(f"no patient {case_id!r}")
    return str(row[0])


def latest_with_id(store: Store, case_id: str) -> tuple[str, CaseAnalysis]:
    """(analysis id, analysis) of the newest stored analysis of a case."""
    a = T.analyses.c
    newest = _newest_first(case_id).subquery()
    row = store.read(lambda conn: conn.execute(
        sa.select(a.analysis_id, a.analysis_json).where(a.analysis_id == newest.c.analysis_id)).first())
    if row is None:
        raise NotFound(f"no patient {case_id!r}")
    return str(row[0]), CaseAnalysis.model_validate_json(row[1])


_case_dirs: dict[tuple[str, ...], dict[str, Path]] = {}
_case_dirs_lock = threading.Lock()


def locate_case_dir(case_id: str, roots: Sequence[Path]) -> Path | None:
    """The folder of the case file of ``case_id`` under ``roots`` (``ROOT/case.*`` or
    ``ROOT/*/case.*``); the index is built once per set of roots."""
    from remission.io.casefile import load_case

    key = tuple(str(r) for r in roots)
    with _case_dirs_lock:
        if key not in _case_dirs:
            found: dict[str, Path] = {}
            for root in roots:
                for pattern in ("case.yaml", "case.yml", "case.json", "*/case.yaml", "*/case.yml", "*/case.json"):
                    for p in sorted(Path(root).glob(pattern)):
                        try:
                            found.setdefault(load_case(p, check_files=False).id, p.parent)
                        except RemissionError:
                            continue
            _case_dirs[key] = found
        return _case_dirs[key].get(case_id)


_reanalysis_locks: dict[str, threading.RLock] = {}
_reanalysis_guard = threading.Lock()


def case_lock(case_id: str) -> threading.RLock:
    """The lock that serialises re-analyses of one case in this process (re-entrant)."""
    with _reanalysis_guard:
        return _reanalysis_locks.setdefault(case_id, threading.RLock())


def reanalyze(store: Store, case: Case, case_dir: Path, *,
              progress: Callable[[str], None] | None = None,
              check: Callable[[Any], None] | None = None) -> str:
    """Analyse ``case`` (every engine that has data), save it and refresh the patient index;
    returns the analysis id. Re-analyses of one case run one at a time in this process; ``check``
    runs in the save's transaction (:meth:`Store.save_analysis`) and may refuse the save."""
    from remission.app.cases import check_serialisable
    from remission.pipeline import analyze_case

    with case_lock(case.id):
        analysis = analyze_case(case, case_dir, progress=progress)
        check_serialisable(analysis)  # no NaN/infinity reaches the store
        # a partial analysis (an engine failed on its data) is kept: the signed result is in
        # it, and the page shows the failed section and the "partial" mark
        saved = store.save_analysis(analysis, check=check)
    refresh_index(store)
    prerender(store, saved.analysis_id, analysis)
    return saved.analysis_id


#: sections shown right after the summary on the patient page (risk groups, options in setting)
FIRST_SECTIONS = ("state", "risk", "options")
_pages: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()  # (store URL, analysis id)
_pages_lock = threading.Lock()
_PAGES_IN_MEMORY = 256


def rendered_page(store: Store, analysis_id: str, analysis: CaseAnalysis) -> dict[str, Any]:
    """The report's renderings of one stored analysis for the patient page: clinical facts, the
    timeline SVG and every section's HTML (``first``: risk and options; ``rest``), as plain
    strings. A stored analysis never changes, so each is rendered once and kept in the
    ``rendered_pages`` table (and the newest few in memory)."""
    key = (store.url, analysis_id)
    with _pages_lock:
        if key in _pages:
            _pages.move_to_end(key)
            return _pages[key]
    rp = T.rendered_pages.c
    row = store.read(lambda conn: conn.execute(sa.select(rp.html_json).where(rp.analysis_id == analysis_id)).first())
    if row is not None:
        out: dict[str, Any] = json.loads(row[0])
    else:
        from remission.report.html import clinical_facts, render_section
        from remission.report.timeline import timeline_svg

        # the figures are hand-written SVG (remission.report.svg): no global drawing state
        sections = [{"name": s.name, "title": s.title, "html": str(render_section(s, analysis)),
                     "warnings": list(s.warnings), "rests_on": list(s.rests_on)} for s in analysis.sections]
        svg = timeline_svg(analysis)
        out = {"facts": clinical_facts(analysis.case), "timeline_svg": svg,
               "first": [s for s in sections if s["name"] in FIRST_SECTIONS],
               "rest": [s for s in sections if s["name"] not in FIRST_SECTIONS]}
        text = json.dumps(out, default=str)

        def tx(conn: Connection) -> None:
            if conn.execute(sa.select(rp.analysis_id).where(rp.analysis_id == analysis_id)).first() is None:
                conn.execute(T.rendered_pages.insert().values(analysis_id=analysis_id, html_json=text,
                                                              rendered_at=dt.datetime.now(dt.UTC)))

        with contextlib.suppress(RemissionError):  # a concurrent viewer stored it first
            store.write(tx)
        out = json.loads(text)
    with _pages_lock:
        _pages[key] = out
        while len(_pages) > _PAGES_IN_MEMORY:
            _pages.popitem(last=False)
    return out


# ---- the patient page's body, rendered once per analysis ----------------------------------------
# The web application registers how it turns (analysis, renderings) into the HTML of a patient
# page's body, with a version (a hash of its template). The body is stored beside the renderings
# (``rendered_pages.body_html``, migration 0006), so a page view reads one row and parses no
# analysis; a body of another template version is rendered again from the stored renderings.
BodyRenderer = Callable[[CaseAnalysis, dict[str, Any]], str]
_body_renderer: tuple[str, BodyRenderer] | None = None
_bodies: OrderedDict[tuple[str, str, str], str] = OrderedDict()  # (store URL, analysis id, version)


def register_page_body(version: str, render: BodyRenderer) -> None:
    """Set how a patient page's body is rendered (the web application calls this once)."""
    global _body_renderer
    _body_renderer = (version, render)


def _remember(key: tuple[str, str, str], body: str) -> str:
    with _pages_lock:
        _bodies[key] = body
        _bodies.move_to_end(key)
        while len(_bodies) > _PAGES_IN_MEMORY:
            _bodies.popitem(last=False)
    return body


def page_body(store: Store, analysis_id: str, analysis: CaseAnalysis | None = None) -> str:
    """The body of the patient page of one stored analysis, rendered by the registered renderer:
    from memory, else from ``rendered_pages``, else rendered now (parsing the analysis, drawing
    its renderings if they are not stored yet) and stored."""
    if _body_renderer is None:
        raise RemissionError("no patient-page renderer registered (the web application registers one)")
    version, render = _body_renderer
    key = (store.url, analysis_id, version)
    with _pages_lock:
        if key in _bodies:
            _bodies.move_to_end(key)
            return _bodies[key]
    rp = T.rendered_pages.c
    row = store.read(lambda conn: conn.execute(
        sa.select(rp.body_html).where(rp.analysis_id == analysis_id, rp.body_version == version)).first())
    if row is not None:
        return _remember(key, str(row[0]))
    if analysis is None:
        analysis = store.get_analysis(analysis_id)
    parts = rendered_page(store, analysis_id, analysis)
    body = render(analysis, parts)

    def tx(conn: Connection) -> None:
        if conn.execute(T.rendered_pages.update().where(rp.analysis_id == analysis_id)
                        .values(body_html=body, body_version=version)).rowcount == 0:
            # the renderings came from memory and their row was not written by this process
            conn.execute(T.rendered_pages.insert().values(
                analysis_id=analysis_id, html_json=json.dumps(parts, default=str), body_html=body,
                body_version=version, rendered_at=dt.datetime.now(dt.UTC)))

    with contextlib.suppress(RemissionError):  # a read-only or busy store still shows the page
        store.write(tx)
    return _remember(key, body)


def prerender(store: Store, analysis_id: str, analysis: CaseAnalysis) -> None:
    """Render a newly stored analysis's patient page now (its renderings, and its body when a
    renderer is registered), so that the first view neither draws nor parses (best effort: a
    failure is logged and the first view renders instead)."""
    try:
        if _body_renderer is None:
            rendered_page(store, analysis_id, analysis)
        else:
            page_body(store, analysis_id, analysis)
    except Exception as exc:
        log.warning("patient page not pre-rendered: %s", type(exc).__name__)
