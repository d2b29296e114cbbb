"""The patient list and the patient page (summary first, then the report's own sections)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from remission.app import audit
from remission.app import patients as svc
from remission.app.auth import SessionInfo
from remission.domain import CaseAnalysis
from remission.web.deps import allow, client_address, public, store_of
from remission.web.render import page

router = APIRouter(include_in_schema=False)
READ = allow("admin", "clinician", "lab", "viewer")
#: sections shown right after the summary (risk groups and options in the current setting)
FIRST = ("risk", "options")

_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 64


def rendered(analysis: CaseAnalysis, analysis_id: str) -> dict[str, Any]:
    """The report's renderings of one stored analysis (cached: a stored analysis never changes)."""
    with _cache_lock:
        if analysis_id in _cache:
            _cache.move_to_end(analysis_id)
            return _cache[analysis_id]
    from markupsafe import Markup

    from remission.report.html import clinical_facts, render_section
    from remission.report.timeline import timeline_svg

    sections = [{"name": s.name, "title": s.title, "html": render_section(s, analysis), "warnings": s.warnings,
                 "rests_on": s.rests_on} for s in analysis.sections]
    out = {"facts": clinical_facts(analysis.case), "timeline_svg": Markup(timeline_svg(analysis)),
           "first": [s for s in sections if s["name"] in FIRST],
           "rest": [s for s in sections if s["name"] not in FIRST]}
    with _cache_lock:
        _cache[analysis_id] = out
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return out


@router.get("/assets/report.css", dependencies=[Depends(public)])
def report_css() -> Response:
    import remission.report as report

    return FileResponse(Path(report.__file__).parent / "templates" / "report.css", media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


@router.get("/patients")
def patient_list(request: Request, session: Annotated[SessionInfo, Depends(READ)],
                 q: Annotated[str, Query(max_length=200)] = "", state: str = "", alert: str = "",
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    settings = request.app.state.settings
    alert_flag = {"yes": True, "no": False}.get(alert)
    rows, total = svc.list_patients(store_of(request), q=q, state=state if state in svc.STATES else None,
                                    alert=alert_flag, limit=settings.page_size, offset=offset)
    return page(request, "patients.html", {"rows": rows, "total": total, "q": q, "state": state,
                                           "alert": alert, "offset": offset, "states": svc.STATES,
                                           "page_size": settings.page_size})


@router.get("/patients/{case_id}")
def patient_page(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    st = store_of(request)
    analysis_id, analysis = svc.latest_with_id(st, case_id)
    audit.record(st, actor=session.user.username, action="patient.view", target=f"patient:{case_id}",
                 address=client_address(request))
    summary = svc.summarise(analysis)
    return page(request, "patient.html", {"a": analysis, "summary": summary, **rendered(analysis, analysis_id)})
