"""Background jobs: the progress fragment the results page polls, and the JSON status.

``GET /jobs/{job_id}`` returns the job's fragment; while the job is queued or running the
fragment carries ``hx-trigger="every 1s"`` and replaces itself, so polling stops with the first
fragment of a finished job (no script; the CSP holds). That last poll also answers
``HX-Redirect`` to the patient's results page, so the page reloads and lists the new draft (or
shows the error) — a redirect, not ``HX-Refresh``: after a boosted upload the address bar holds
the upload's POST address, which a reload would GET.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from remission.app import jobs as svc
from remission.app import patients as patients_svc
from remission.app.auth import SessionInfo
from remission.web.deps import allow, guard_of, store_of
from remission.web.render import page
from remission.web.routes.api_v1 import _ERRORS

READ = allow("admin", "clinician", "lab", "viewer")

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["v1"], responses=_ERRORS)


@router.get("/jobs/{job_id}")
def job_fragment(request: Request, job_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    job = guard_of(request, session).job(job_id, what="job.progress")
    response = page(request, "job.html", {"job": job})
    if job.finished and request.headers.get("hx-request"):
        response.headers["HX-Redirect"] = f"/patients/{quote(job.case_id, safe='')}/results"
    return response


@api_router.get("/jobs/{job_id}", response_model=svc.Job)
def job_status(request: Request, job_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> svc.Job:
    return guard_of(request, session).job(job_id, what="job.status")


@api_router.get("/patients/{case_id}/jobs", response_model=list[svc.Job])
def patient_jobs(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> list[svc.Job]:
    guard_of(request, session).patient(case_id, what="jobs")
    st = store_of(request)
    patients_svc.latest_with_id(st, case_id)  # 404 for an unknown patient
    return svc.list_jobs(st, case_id)
