"""Tumour-board meetings: list, meeting view with each patient's summary, structured decisions,
signing, amendments, export."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from remission.app import audit
from remission.app import board as svc
from remission.app import patients as patients_svc
from remission.app.auth import SessionInfo
from remission.errors import RemissionError
from remission.web.deps import allow, client_address, guard_of, store_of
from remission.web.render import page

router = APIRouter(include_in_schema=False)
READ = allow("admin", "clinician", "lab", "viewer")
CLINICIAN = allow("clinician")


def meeting_view(request: Request, meeting_id: str, session: SessionInfo, *, error: str = "",
                 status_code: int = 200) -> Response:
    st = store_of(request)
    m, hidden = guard_of(request, session).meeting(meeting_id)
    cases = []
    for case_id in m.cases:
        try:
            a = patients_svc.latest_analysis(st, case_id)
            summary, options = patients_svc.summarise(a), svc.options_of(a)
        except patients_svc.NotFound:
            summary, options = None, []
        cases.append({"case_id": case_id, "summary": summary, "options": options,
                      "decisions": [d for d in m.decisions if d.case_id == case_id]})
    return page(request, "meeting.html", {"m": m, "cases": cases, "hidden": hidden, "error": error},
                status_code=status_code)


def _go(meeting_id: str) -> Response:
    return RedirectResponse(f"/board/{meeting_id}", status_code=303)


@router.get("/board")
def board_list(request: Request, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    return page(request, "board.html", {"meetings": svc.list_meetings(store_of(request))})


@router.post("/board")
def new_meeting(request: Request, session: Annotated[SessionInfo, Depends(CLINICIAN)],
                date: Annotated[dt.date, Form()], title: Annotated[str, Form(max_length=200)],
                attendees: Annotated[str, Form(max_length=10_000)] = "") -> Response:
    m = svc.create_meeting(store_of(request), date=date, title=title, attendees=attendees.splitlines(),
                           actor=session.user.username, address=client_address(request))
    return _go(m.meeting_id)


@router.get("/board/{meeting_id}")
def meeting(request: Request, meeting_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    return meeting_view(request, meeting_id, session)


@router.post("/board/{meeting_id}/patients")
def add_patient(request: Request, meeting_id: str, session: Annotated[SessionInfo, Depends(CLINICIAN)],
                case_id: Annotated[str, Form(max_length=200)]) -> Response:
    try:
        guard_of(request, session).patient(case_id.strip(), what="board.add_patient")
        svc.add_case(store_of(request), meeting_id, case_id.strip(), actor=session.user.username,
                     address=client_address(request))
    except patients_svc.NotFound as exc:
        svc.get_meeting(store_of(request), meeting_id)
        return meeting_view(request, meeting_id, session, error=str(exc), status_code=404)
    return _go(meeting_id)


def _decision_input(options: list[str], free_text: str, rationale: str, dissent: str, follow_up: str) -> svc.DecisionInput:
    return svc.DecisionInput(options=options, free_text=free_text, rationale=rationale, dissent=dissent,
                             follow_up=dt.date.fromisoformat(follow_up) if follow_up else None)


@router.post("/board/{meeting_id}/decisions")
def record(request: Request, meeting_id: str, session: Annotated[SessionInfo, Depends(CLINICIAN)],
           case_id: Annotated[str, Query(max_length=200)],
           options: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006 - FastAPI form default
           free_text: Annotated[str, Form(max_length=10_000)] = "",
           rationale: Annotated[str, Form(max_length=10_000)] = "",
           dissent: Annotated[str, Form(max_length=10_000)] = "",
           follow_up: Annotated[str, Form(max_length=20)] = "") -> Response:
    guard_of(request, session).patient(case_id, what="board.decision")
    try:
        data = _decision_input(options, free_text, rationale, dissent, follow_up)
        svc.record_decision(store_of(request), meeting_id, case_id, data, actor=session.user.username,
                            address=client_address(request))
    except (RemissionError, ValueError) as exc:
        if isinstance(exc, patients_svc.NotFound):
            raise
        return meeting_view(request, meeting_id, session, error=str(exc).splitlines()[0], status_code=422)
    return _go(meeting_id)


@router.post("/decisions/{decision_id}/sign")
def sign(request: Request, decision_id: str, session: Annotated[SessionInfo, Depends(CLINICIAN)]) -> Response:
    d = guard_of(request, session).decision(decision_id, what="board.sign")
    svc.sign(store_of(request), decision_id, actor=session.user.username, address=client_address(request))
    return _go(d.meeting_id)


@router.post("/decisions/{decision_id}/amend")
def amend(request: Request, decision_id: str, session: Annotated[SessionInfo, Depends(CLINICIAN)],
          options: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006 - FastAPI form default
          free_text: Annotated[str, Form(max_length=10_000)] = "",
          rationale: Annotated[str, Form(max_length=10_000)] = "",
          dissent: Annotated[str, Form(max_length=10_000)] = "",
          follow_up: Annotated[str, Form(max_length=20)] = "") -> Response:
    st = store_of(request)
    meeting_id = guard_of(request, session).decision(decision_id, what="board.amend").meeting_id
    try:
        svc.amend(st, decision_id, _decision_input(options, free_text, rationale, dissent, follow_up),
                  actor=session.user.username, address=client_address(request))
    except (svc.BoardError, RemissionError, ValueError) as exc:
        if isinstance(exc, patients_svc.NotFound):
            raise
        return meeting_view(request, meeting_id, session, error=str(exc).splitlines()[0], status_code=422)
    return _go(meeting_id)


def _exported(request: Request, meeting_id: str, session: SessionInfo, fmt: str) -> svc.Meeting:
    st = store_of(request)
    m, hidden = guard_of(request, session).meeting(meeting_id)
    audit.record(st, actor=session.user.username, action="board.export", target=f"meeting:{meeting_id}",
                 address=client_address(request), detail={"format": fmt, "patients": len(m.cases),
                                                          "not_shown": hidden})
    return m


@router.get("/board/{meeting_id}/export.html")
def export_html(request: Request, meeting_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    m = _exported(request, meeting_id, session, "html")
    return HTMLResponse(svc.export_html(m), headers={
        "Content-Disposition": f'attachment; filename="board-{m.date}.html"'})


@router.get("/board/{meeting_id}/export.pdf")
def export_pdf(request: Request, meeting_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    m = _exported(request, meeting_id, session, "pdf")
    return Response(svc.export_pdf(m), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="board-{m.date}.pdf"'})
