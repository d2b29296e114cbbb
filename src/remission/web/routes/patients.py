"""The patient list and the patient page (summary first, then the report's own sections)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from remission.app import patients as svc
from remission.app.auth import SessionInfo
from remission.domain import CaseAnalysis
from remission.web.deps import allow, guard_of, public, store_of
from remission.web.render import fragment, fragment_version, page

router = APIRouter(include_in_schema=False)
READ = allow("admin", "clinician", "lab", "viewer")


def _markup(page: dict[str, Any]) -> dict[str, Any]:
    """The stored renderings are HTML built by the report's escaping renderers: mark them safe."""
    from markupsafe import Markup

    def sec(s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "html": Markup(s["html"])}

    return {"facts": page["facts"], "timeline_svg": Markup(page["timeline_svg"]),
            "first": [sec(s) for s in page["first"]], "rest": [sec(s) for s in page["rest"]]}


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
    rows, total = guard_of(request, session).list_patients(
        q=q, state=state if state in svc.STATES else None, alert=alert_flag, limit=settings.page_size,
        offset=offset)
    return page(request, "patients.html", {"rows": rows, "total": total, "q": q, "state": state,
                                           "alert": alert, "offset": offset, "states": svc.STATES,
                                           "page_size": settings.page_size})


@router.get("/patients/{case_id}")
def patient_page(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    """Every view is audited; the body is the analysis's stored rendering (see
    :func:`remission.app.patients.page_body`), so a view parses no analysis."""
    from markupsafe import Markup

    st = store_of(request)
    analysis_id = guard_of(request, session).view_patient_id(case_id, via="page")
    return page(request, "patient.html", {"case_id": case_id, "body": Markup(svc.page_body(st, analysis_id))})


BODY_TEMPLATE = "patient_body.html"


def render_body(analysis: CaseAnalysis, parts: dict[str, Any]) -> str:
    """The patient page's body from an analysis and the report's renderings of it."""
    return fragment(BODY_TEMPLATE, {"a": analysis, "summary": svc.summarise(analysis), **_markup(parts)})


def register() -> None:
    """Make :func:`render_body` the patient-page renderer of the application layer (so that a
    re-analysis renders the new page when it is saved)."""
    svc.register_page_body(fragment_version(BODY_TEMPLATE), render_body)
