"""The application factory :func:`create_app` and its settings.

Security headers on every response (OWASP ASVS 5.0 V3.4): a Content-Security-Policy that allows
scripts only from this server (no inline script; htmx is served from the package), with
``object-src 'none'``, ``base-uri 'none'`` and ``frame-ancestors 'none'``; ``nosniff``; a
referrer only within this origin; ``no-store`` caching (the back button after logout shows nothing); HSTS over TLS.
Styles may be inline because the report's SVG plots carry ``<style>`` elements.

Application logs (logger ``remission.web``) hold the method, the route *template*, the status and
the duration — never a patient id, a user name or a token (ASVS 16.2.5); who did what to which
patient is in the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from remission.app.auth import AuthError, AuthPolicy
from remission.app.board import BoardError
from remission.app.jobs import HEARTBEAT_S, STALE_S, Clock, JobRunner, get_job, reanalysis_job_id
from remission.app.patients import NotFound
from remission.app.results import SignOffError, file_job, pending_reanalyses, reanalysis_job
from remission.errors import RemissionError, StoreError, ValidationError
from remission.store import Store
from remission.web.deps import AccessDenied, CsrfFailed, EnrolmentRequired, LoginRequired

__all__ = ["CSP", "SETTINGS_ENV", "WebSettings", "create_app", "create_app_from_env", "settings_to_env"]

log = logging.getLogger("remission.web")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@dataclass(frozen=True)
class WebSettings:
    """Settings of one server (``remission serve`` builds them from its options)."""

    db_url: str = "sqlite:///remission.db"
    policy: AuthPolicy = field(default_factory=AuthPolicy)
    #: where signed-off assay files are written for re-analysis
    files_dir: Path = Path("remission-files")
    #: folders holding case files (``ROOT/*/case.yaml``) so re-analysis finds their assay files
    case_roots: tuple[Path, ...] = ()
    #: origins besides the server's own that may post (e.g. behind a proxy)
    trusted_origins: tuple[str, ...] = ()
    page_size: int = 50
    #: worker threads of the background job pool (FASTQ and large FCS uploads)
    job_workers: int = 1
    #: where uploads wait for their background job (default: ``files_dir/.spool``)
    spool_dir: Path | None = None
    #: the largest upload a background job accepts (bytes; an operational limit, not a clinical one)
    max_background_upload_bytes: int = 20 * 1024**3
    #: FCS files larger than this (bytes) are checked in the background
    large_fcs_bytes: int = 8 * 1024 * 1024
    #: seconds between heartbeats of this process's jobs, and the age of a heartbeat after which
    #: another server process on the store takes the job over (``remission.app.jobs``)
    job_heartbeat_s: float = HEARTBEAT_S
    job_stale_s: float = STALE_S

    @property
    def spool(self) -> Path:
        return self.spool_dir if self.spool_dir is not None else self.files_dir / ".spool"


#: environment variable through which ``remission serve --workers N`` hands the settings to each
#: worker process (uvicorn starts the workers by import string, so they build their own app)
SETTINGS_ENV = "REMISSION_WEB_SETTINGS"


def settings_to_env(settings: WebSettings) -> str:
    """The settings a worker process needs, as JSON for :data:`SETTINGS_ENV` (the authentication
    policy is not carried: workers use :class:`AuthPolicy`'s defaults, as ``serve`` does)."""
    return json.dumps({"db_url": settings.db_url, "files_dir": str(settings.files_dir),
                       "case_roots": [str(p) for p in settings.case_roots],
                       "trusted_origins": list(settings.trusted_origins), "page_size": settings.page_size,
                       "job_workers": settings.job_workers, "spool_dir": str(settings.spool),
                       "max_background_upload_bytes": settings.max_background_upload_bytes,
                       "large_fcs_bytes": settings.large_fcs_bytes, "job_heartbeat_s": settings.job_heartbeat_s,
                       "job_stale_s": settings.job_stale_s})


def create_app_from_env() -> FastAPI:
    """The application of one worker process, from the settings in :data:`SETTINGS_ENV`.

    Every worker has its own store connection pool and job threads; what must be shared between
    workers is in the store (sessions, CSRF tokens, the audit chain, rendered pages, jobs and their
    progress), so a request may land on any worker. Each worker recovers only jobs whose heartbeat
    is stale (:mod:`remission.app.jobs`), so a worker starting never takes a live worker's job."""
    raw = json.loads(os.environ[SETTINGS_ENV])
    return create_app(WebSettings(db_url=raw["db_url"], files_dir=Path(raw["files_dir"]),
                                  case_roots=tuple(Path(p) for p in raw["case_roots"]),
                                  trusted_origins=tuple(raw["trusted_origins"]), page_size=int(raw["page_size"]),
                                  job_workers=int(raw["job_workers"]), spool_dir=Path(raw["spool_dir"]),
                                  max_background_upload_bytes=int(raw["max_background_upload_bytes"]),
                                  large_fcs_bytes=int(raw["large_fcs_bytes"]),
                                  job_heartbeat_s=float(raw["job_heartbeat_s"]), job_stale_s=float(raw["job_stale_s"])))


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    from remission.web.render import page

    return page(request, "error.html", {"status": status, "message": message}, status_code=status)


def create_app(settings: WebSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the application on the store at ``settings.db_url`` (migrated on open). Several
    applications (server processes) may share one store. ``clock``: the jobs' clock (tests)."""
    settings = settings or WebSettings()
    store = Store(settings.db_url)
    store.open()
    work = file_job(files_dir=settings.files_dir, case_roots=settings.case_roots)
    runner = JobRunner(store, settings.spool, {
        "fastq": work, "fcs": work,
        "reanalysis": reanalysis_job(files_dir=settings.files_dir, case_roots=settings.case_roots),
    }, workers=settings.job_workers, heartbeat_s=settings.job_heartbeat_s, stale_s=settings.job_stale_s,
        clock=clock or (lambda: dt.datetime.now(dt.UTC)))
    # jobs a stopped server process left unfinished (heartbeat stale) run again here (spooled file
    # whole) or fail, before this server takes requests; those of live processes are left alone
    runner.recover()
    # sign-offs signed without a re-analysis job (a store from before jobs, or a command-line
    # sign-off cut short): the fixed job id keeps two processes starting at once from queueing two
    for result_id, case_id in pending_reanalyses(store):
        job_id = reanalysis_job_id(result_id)
        try:
            runner.submit(job_id, "reanalysis", case_id, actor="system", address="server",
                          params={"result_id": result_id})
        except StoreError as exc:
            try:  # the same job id: another process queued it meanwhile
                get_job(store, job_id)
            except NotFound:
                raise exc from None
    runner.start()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # warm up before the first request: compile every template and bring the patient index
        # up to date, so that the first burst of requests does not do it in every thread at once
        from remission.app.patients import refresh_index
        from remission.web.render import templates

        for name in templates.env.list_templates(extensions=["html"]):
            templates.env.get_template(name)
        refresh_index(store)
        yield
        # a job still running here is released: the next start of any process runs it again
        runner.shutdown(wait=False, release=True)
        store.close()

    app = FastAPI(title="remission", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json",
                  description="Tumour-board web application of remission. Decision support for "
                              "professionals; not a medical device.")
    app.state.settings = settings
    app.state.store = store
    app.state.jobs = runner

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        h = response.headers
        h["Content-Security-Policy"] = CSP
        h["X-Content-Type-Options"] = "nosniff"
        # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on form
        # posts, which the CSRF origin check must refuse
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h.setdefault("Cache-Control", "no-store")
        if request.url.scheme == "https":
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        route = request.scope.get("route")
        log.info("%s %s %d %.1f ms", request.method, getattr(route, "path", "-"), response.status_code,
                 (time.perf_counter() - t0) * 1000)
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "not logged in"}, status_code=401)
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(EnrolmentRequired)
    async def _enrol(request: Request, exc: EnrolmentRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "admins must enrol a second factor first (/account/totp)"},
                                status_code=403)
        if request.headers.get("hx-request"):
            return Response(status_code=403, headers={"HX-Redirect": "/account/totp"})
        return RedirectResponse("/account/totp", status_code=303)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        return _error(request, 403, "your role does not allow this")

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        return _error(request, 403, f"request refused: {exc}")

    def _status(code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            return _error(request, code, str(exc))
        return handler

    # errors whose message is meant for the user, by HTTP status
    for exc_type, code in ((NotFound, 404), (AuthError, 401), (SignOffError, 409), (BoardError, 409),
                           (ValidationError, 422)):
        app.add_exception_handler(exc_type, _status(code))

    @app.exception_handler(RemissionError)
    async def _rem(request: Request, exc: RemissionError) -> Response:
        log.warning("%s error in %s", type(exc).__name__, getattr(request.scope.get("route"), "path", "-"))
        return _error(request, 500, "the server could not complete this request")

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> Response:
        log.error("internal error (%s) in %s", type(exc).__name__, getattr(request.scope.get("route"), "path", "-"))
        return _error(request, 500, "internal error")

    from remission.web.routes import (
        access,
        account,
        api_v1,
        auth,
        board,
        cohort,
        jobs,
        patients,
        results,
    )

    for module in (auth, account, access, patients, results, jobs, board, cohort, api_v1):
        app.include_router(module.router)
    app.include_router(jobs.api_router)
    app.include_router(cohort.api_router)
    patients.register()
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    return app
