"""Laboratory results: the patient's results page, uploads (file or reported MRD value) and the
four-eyes sign-off."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from remission.app import jobs as jobs_svc
from remission.app import patients as patients_svc
from remission.app import results as svc
from remission.app.auth import SessionInfo
from remission.errors import ValidationError
from remission.web.deps import allow, client_address, guard_of, store_of
from remission.web.render import page

router = APIRouter(include_in_schema=False)
log = logging.getLogger("remission.web")
READ = allow("admin", "clinician", "lab", "viewer")
LAB = allow("lab")


def _results_page(request: Request, case_id: str, *, error: str = "", message: str = "",
                  status_code: int = 200) -> Response:
    st = store_of(request)
    patients_svc.latest_analysis(st, case_id)  # 404 for an unknown patient
    results = svc.list_results(st, case_id)
    running = {r.result_id: svc.PROGRESS.get(r.result_id, "") for r in results
               if r.status == "signed" and r.analysis_id is None}
    jobs = jobs_svc.list_jobs(st, case_id)
    return page(request, "results.html", {"case_id": case_id, "results": results, "running": running,
                                          "jobs": jobs, "kinds": svc.FILE_KINDS, "error": error,
                                          "message": message},
                status_code=status_code)


@router.get("/patients/{case_id}/results")
def results_page(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(READ)]) -> Response:
    guard_of(request, session).patient(case_id, what="results")
    return _results_page(request, case_id)


@router.post("/patients/{case_id}/results/file")
def upload_file(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(LAB)],
                kind: Annotated[str, Form(max_length=40)], sample_date: Annotated[dt.date, Form()],
                file: UploadFile, material: Annotated[str, Form(max_length=40)] = "bone_marrow",
                dna_ng: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Small files are checked here; FASTQ and large FCS files are copied in chunks to the job
    spool and checked by a background job (the page shows its progress)."""
    guard_of(request, session).patient(case_id, what="result.upload")
    settings = request.app.state.settings
    size = file.size if file.size is not None else 0
    if svc.runs_in_background(kind, size, large_fcs_bytes=settings.large_fcs_bytes):
        return _upload_in_background(request, case_id, session, kind, sample_date, file, material, dna_ng)
    content = file.file.read(svc.MAX_UPLOAD_BYTES + 1)
    try:
        r = svc.upload_file(store_of(request), case_id, kind, file.filename or "upload", content,
                            actor=session.user.username, address=client_address(request),
                            sample_date=sample_date, material=material)
    except ValidationError as exc:
        return _results_page(request, case_id, error=str(exc), status_code=422)
    return _results_page(request, case_id, message=f"{r.filename} stored as a draft; a second laboratory user signs it off.")


def _upload_in_background(request: Request, case_id: str, session: SessionInfo, kind: str,
                          sample_date: dt.date, file: UploadFile, material: str, dna_ng: str) -> Response:
    from remission.app.jobs import CHUNK_BYTES

    settings = request.app.state.settings
    st, runner = store_of(request), request.app.state.jobs
    actor, address = session.user.username, client_address(request)
    try:
        name = svc.check_upload_fields(st, case_id, kind, file.filename or "upload", material)
        dna = None
        if dna_ng.strip():
            try:
                dna = float(dna_ng)
            except ValueError:
                raise ValidationError(f"field dna_ng: expected a number of nanograms, got {dna_ng[:20]!r}") from None
            if not 0 < dna < float("inf"):
                raise ValidationError(f"field dna_ng: expected a positive number of nanograms, got {dna_ng[:20]!r}")
        limit = settings.max_background_upload_bytes
        if file.size is not None and file.size > limit:
            raise ValidationError(f"file {name!r}: larger than {limit} bytes (the server's upload limit)")
        job_id, spool = runner.spool(name, limit=limit)
        try:
            while chunk := file.file.read(CHUNK_BYTES):
                spool.write(chunk)
            sha = spool.close()
        except BaseException:
            spool.discard()
            raise
    except ValidationError as exc:
        svc.reject(st, case_id, kind, exc, actor, address)
        return _results_page(request, case_id, error=str(exc), status_code=422)
    try:
        runner.submit(job_id, kind, case_id, actor=actor, address=address,
                      params={"filename": name, "date": sample_date.isoformat(), "material": material,
                              "sha256": sha, "size": spool.size, "dna_ng": dna})
    except BaseException:
        spool.discard()
        raise
    return _results_page(request, case_id, message=f"{name} is being checked in the background; "
                                                   "it is stored as a draft when the check passes.")


@router.post("/patients/{case_id}/results/mrd")
def upload_mrd(request: Request, case_id: str, session: Annotated[SessionInfo, Depends(LAB)],
               date: Annotated[str, Form(max_length=20)], method: Annotated[str, Form(max_length=10)],
               material: Annotated[str, Form(max_length=40)] = "bone_marrow",
               value: Annotated[str, Form(max_length=40)] = "", lod: Annotated[str, Form(max_length=40)] = "",
               loq: Annotated[str, Form(max_length=40)] = "", marker: Annotated[str, Form(max_length=400)] = "",
               timepoint: Annotated[str, Form(max_length=100)] = "") -> Response:
    guard_of(request, session).patient(case_id, what="result.upload")
    fields = {"date": date, "method": method, "material": material, "value": value.strip(),
              "lod": lod.strip(), "loq": loq.strip(), "marker": marker, "timepoint": timepoint}
    try:
        svc.upload_reported_mrd(store_of(request), case_id, fields, actor=session.user.username,
                                address=client_address(request))
    except ValidationError as exc:
        return _results_page(request, case_id, error=str(exc), status_code=422)
    return _results_page(request, case_id, message="MRD value stored as a draft; a second laboratory user signs it off.")


def _reanalyze(st: Any, result_id: str, case_id: str, files_dir: Any, case_roots: Any) -> None:
    try:
        svc.reanalyse_after_sign_off(st, result_id, case_id, files_dir=files_dir, case_roots=case_roots)
    except Exception as exc:  # shown on the results page (PROGRESS); the log names no patient
        log.error("re-analysis after sign-off failed (%s)", type(exc).__name__)


@router.post("/results/{result_id}/signoff")
def signoff(request: Request, result_id: str, session: Annotated[SessionInfo, Depends(LAB)],
            background: BackgroundTasks) -> Response:
    """Sign now; the re-analysis runs after the response (the results page shows its progress)."""
    settings = request.app.state.settings
    st = store_of(request)
    guard_of(request, session).result(result_id, what="result.signoff")
    case_id = svc.sign(st, result_id, actor=session.user.username, address=client_address(request))
    background.add_task(_reanalyze, st, result_id, case_id, settings.files_dir, settings.case_roots)
    return RedirectResponse(f"/patients/{quote(case_id, safe='')}/results", status_code=303)
