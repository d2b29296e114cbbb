"""JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``): the same use cases and the
same rules as the pages. Authentication is the session cookie of ``POST /login``; unsafe methods
need the ``X-CSRF-Token`` header (its value is in ``GET /api/v1/me``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from remission.app import board as board_svc
from remission.app import patients as svc
from remission.app import results as results_svc
from remission.app.auth import SessionInfo
from remission.domain import NOT_A_MEDICAL_DEVICE
from remission.web.deps import allow, client_address, guard_of, store_of

READ = allow("admin", "clinician", "lab", "viewer")
LAB = allow("lab")


class Problem(BaseModel):
    detail: str | list[Any]


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "not logged in"},
    403: {"model": Problem, "description": "role not allowed, or CSRF check failed"},
    404: {"model": Problem, "description": "not found"},
    409: {"model": Problem, "description": "state does not allow this"},
    422: {"model": Problem, "description": "invalid input"},
}

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=_ERRORS)


class Me(BaseModel):
    username: str
    role: str
    csrf_token: str
    notice: str = NOT_A_MEDICAL_DEVICE


class PatientPage(BaseModel):
    total: int
    patients: list[svc.PatientRow]
    notice: str = NOT_A_MEDICAL_DEVICE


class PatientDetail(BaseModel):
    case_id: str
    analysis_id: str
    summary: dict[str, Any]
    analysis: dict[str, Any]
    notice: str = NOT_A_MEDICAL_DEVICE


class ReportedMrdIn(BaseModel):
    """A reported MRD value (fractions of nucleated cells; ``value`` null when negative)."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date
    method: Literal["ngs", "flow", "pcr"]
    value: float | None = Field(None, ge=0, le=1)
    lod: float | None = Field(None, gt=0, le=1)
    loq: float | None = Field(None, gt=0, le=1)
    material: Literal["bone_marrow", "peripheral_blood"] = "bone_marrow"
    marker: str | None = Field(None, max_length=400)
    timepoint: str | None = Field(None, max_length=100)


@router.get("/me", response_model=Me)
def me(session: Annotated[SessionInfo, Depends(READ)]) -> Me:
    return Me(username=session.user.username, role=session.user.role, csrf_token=session.csrf_token)


@router.get("/patients", response_model=PatientPage)
def patients(request: Request, session: Annotated[SessionInfo, Depends(READ)],
             q: Annotated[str, Query(max_length=200)] = "",
             state: Annotated[Literal[svc.STATES] | None, Query()] = None,  # type: ignore[valid-type]
             alert: bool | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
             offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> PatientPage:
    rows, total = guard_of(request, session).list_patients(q=q, state=state, alert=alert, limit=limit, offset=offset)
    return PatientPage(total=total, patients=rows)


@router.get("/patients/{case_id}", response_model=PatientDetail)
def patient(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> PatientDetail:
    analysis_id, a = guard_of(request, session).view_patient(case_id, via="api")
    return PatientDetail(case_id=case_id, analysis_id=analysis_id, summary=svc.summarise(a),
                         analysis=a.model_dump(mode="json", by_alias=True))


@router.get("/patients/{case_id}/results", response_model=list[results_svc.AssayResult])
def results(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> list[results_svc.AssayResult]:
    st = store_of(request)
    guard_of(request, session).patient(case_id, what="results")
    svc.latest_with_id(st, case_id)
    return results_svc.list_results(st, case_id)


@router.post("/patients/{case_id}/results/mrd", response_model=results_svc.AssayResult, status_code=201)
def add_mrd(request: Request, case_id: str, body: ReportedMrdIn,
            session: Annotated[SessionInfo, Depends(LAB)]) -> results_svc.AssayResult:
    guard_of(request, session).patient(case_id, what="result.upload")
    return results_svc.upload_reported_mrd(store_of(request), case_id, body.model_dump(mode="json"),
                                           actor=session.user.username, address=client_address(request))


@router.post("/results/{result_id}/signoff", response_model=results_svc.AssayResult)
def signoff(request: Request, result_id: str, session: Annotated[SessionInfo, Depends(LAB)]) -> results_svc.AssayResult:
    settings = request.app.state.settings
    guard_of(request, session).result(result_id, what="result.signoff")
    return results_svc.sign_off(store_of(request), result_id, actor=session.user.username,
                                address=client_address(request), files_dir=settings.files_dir,
                                case_roots=settings.case_roots)


@router.get("/board/meetings", response_model=list[board_svc.Meeting])
def meetings(request: Request, session: Annotated[SessionInfo, Depends(READ)]) -> list[board_svc.Meeting]:
    return board_svc.list_meetings(store_of(request))


@router.get("/board/meetings/{meeting_id}", response_model=board_svc.Meeting)
def meeting(request: Request, meeting_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> board_svc.Meeting:
    return guard_of(request, session).meeting(meeting_id)[0]
