"""Background jobs: longer work of the web application (a FASTQ or a large FCS upload being
checked and stored; a re-analysis a stopped server cut short) runs in a small worker pool while
the page shows its progress.

- A job is a row of the ``jobs`` table (kind, patient, who started it, state ``queued`` →
  ``running`` → ``done``/``failed``, progress 0–1 with a message, the error, the result it
  stored, UTC timestamps). The row and its ``job.submit`` audit entry are written in one
  transaction before the work starts.
- The work runs in a :class:`JobRunner` thread pool owned by the web application (bounded:
  :data:`DEFAULT_WORKERS` threads unless the server says otherwise). A work function reports
  progress through :meth:`JobContext.progress` (monotone, capped below 1 until the job is done)
  and returns *one* transaction; the runner runs it together with the job's ``done`` update and
  its audit entry, so a result is either stored whole (as a draft) with its job marked done, or
  not at all.
- The uploaded file waits in a spool folder (``<spool>/<job id>/<name>``) written in chunks by
  :class:`Spool` (size limit, SHA-256 on the way, never held whole in memory); the folder is
  removed when the job ends.
- A server killed during a job leaves its row ``queued`` or ``running`` and nothing of its result
  (the result is stored only in the job's last transaction). :func:`recover`, run when the
  application starts, puts such a job back in the queue when its spooled file is still there
  whole (same size) and it has run fewer than :data:`MAX_ATTEMPTS` times — the check starts again
  from the beginning, so nothing the laboratory uploaded is lost — and otherwise marks it failed
  (the upload has to be repeated) and removes its spool folder. A job that brought the server down
  twice is not tried a third time. It assumes one server process per store (``remission serve``
  runs one).

Engines never import this module: a work function passes a plain callback (e.g. a chunk
iterator that calls :meth:`JobContext.progress`) down to them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from remission.app import audit
from remission.errors import RemissionError, ValidationError
from remission.store import Store
from remission.store import tables as T

__all__ = ["DEFAULT_WORKERS", "Job", "JobContext", "JobRunner", "Spool", "get_job", "list_jobs", "recover"]

log = logging.getLogger("remission.web")

#: worker threads of the job pool (one: the scans are CPU-bound and the server machine may have
#: two cores; a second upload waits ``queued``) — a server setting, ``WebSettings.job_workers``
DEFAULT_WORKERS = 1
#: the largest progress step that is not written to the store (fewer writes on big files)
PROGRESS_STEP = 0.02
#: runs of one job (the first and one resumption after a server restart)
MAX_ATTEMPTS = 2
#: bytes read from an upload at a time
CHUNK_BYTES = 1 << 20

State = Literal["queued", "running", "done", "failed"]
#: work function: (context) -> one transaction that stores the result and returns its id
Work = Callable[["JobContext"], Callable[[Connection], str]]


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    kind: str
    case_id: str
    created_by: str
    state: State
    progress: float
    message: str
    error: str | None
    result_id: str | None
    attempts: int = 0
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


def _utc(v: dt.datetime | None) -> dt.datetime | None:
    if v is None:
        return None
    return v.astimezone(dt.UTC) if v.tzinfo is not None else v.replace(tzinfo=dt.UTC)


def _job(r: Any) -> Job:
    return Job(job_id=r.job_id, kind=r.kind, case_id=r.case_id, created_by=r.created_by, state=r.state,
               progress=r.progress, message=r.message, error=r.error, result_id=r.result_id,
               attempts=r.attempts, created_at=_utc(r.created_at), started_at=_utc(r.started_at), finished_at=_utc(r.finished_at))


def get_job(store: Store, job_id: str) -> Job:
    from remission.app.patients import NotFound

    r = store.read(lambda conn: conn.execute(sa.select(T.jobs).where(T.jobs.c.job_id == job_id)).first())
    if r is None:
        raise NotFound(f"no job {job_id!r}")
    return _job(r)


def list_jobs(store: Store, case_id: str, *, limit: int = 20) -> list[Job]:
    """The newest jobs of a patient, newest first."""
    c = T.jobs.c
    q = sa.select(T.jobs).where(c.case_id == case_id).order_by(c.created_at.desc(), c.job_id).limit(limit)
    return [_job(r) for r in store.read(lambda conn: conn.execute(q).all())]


class Spool:
    """An upload written to ``<folder>/<name>`` in chunks, with a size limit and its SHA-256."""

    def __init__(self, folder: Path, name: str, *, limit: int) -> None:
        folder.mkdir(parents=True, exist_ok=False)
        self.folder, self.path, self.limit = folder, folder / name, limit
        self.size = 0
        self._sha = hashlib.sha256()
        self._fh = open(self.path, "wb")  # noqa: SIM115 (closed by close/discard)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise ValidationError(f"file {self.path.name!r}: larger than {self.limit} bytes "
                                  "(the server's upload limit)")
        self._sha.update(chunk)
        self._fh.write(chunk)

    def close(self) -> str:
        """Finish writing; returns the SHA-256."""
        self._fh.close()
        if self.size == 0:
            self.discard()
            raise ValidationError(f"file {self.path.name!r}: empty")
        return self._sha.hexdigest()

    def discard(self) -> None:
        self._fh.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class JobContext:
    """What a work function sees: its job, the spooled file and the progress callback."""

    def __init__(self, runner: JobRunner, job: Job, params: dict[str, Any], path: Path | None) -> None:
        self.runner, self.job, self.params, self.path = runner, job, params, path
        self._progress = 0.0
        self._written = 0.0
        self._message = ""
        #: the job's message once done
        self.done_message = "stored as a draft"
        #: undo steps outside the store (e.g. a file moved into place) run when the job fails
        self.on_failure: list[Callable[[], object]] = []

    @property
    def store(self) -> Store:
        return self.runner.store

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress: never goes back, stays below 1 until the result is stored; written
        to the store when it moved by :data:`PROGRESS_STEP` or the message changed."""
        f = min(max(self._progress, float(fraction)), 0.99)
        self._progress = f
        if f - self._written < PROGRESS_STEP and (not message or message == self._message):
            return
        self._written, self._message = f, message or self._message
        c = T.jobs.c
        msg = self._message[:400]
        self.store.write(lambda conn: conn.execute(
            T.jobs.update().where(c.job_id == self.job.job_id, c.state == "running")
            .values(progress=f, message=msg)))


class JobRunner:
    """The web application's job pool: :meth:`submit` stores a job row and queues its work."""

    def __init__(self, store: Store, spool_dir: Path, work: dict[str, Work], *,
                 workers: int = DEFAULT_WORKERS) -> None:
        if workers < 1:
            raise ValidationError(f"job workers must be at least 1, but was {workers}")
        self.store, self.spool_dir, self.work = store, spool_dir, dict(work)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="remission-job")
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def spool(self, name: str, *, limit: int) -> tuple[str, Spool]:
        """A new job id and the spool its upload is written to."""
        job_id = secrets.token_hex(8)
        return job_id, Spool(self.spool_dir / job_id, name, limit=limit)

    def submit(self, job_id: str | None, kind: str, case_id: str, *, actor: str, address: str,
               params: dict[str, Any]) -> Job:
        if kind not in self.work:
            raise ValidationError(f"job kind must be one of {', '.join(self.work)}, but was {kind!r}")
        job_id = job_id or secrets.token_hex(8)
        now = dt.datetime.now(dt.UTC)
        row = {"job_id": job_id, "kind": kind, "case_id": case_id, "created_by": actor, "state": "queued",
               "progress": 0.0, "message": "waiting for a worker", "error": None,
               "params_json": json.dumps({**params, "address": address}, sort_keys=True, default=str),
               "result_id": params.get("result_id"),
               "attempts": 0, "created_at": now, "started_at": None, "finished_at": None}

        def tx(conn: Connection) -> None:
            conn.execute(T.jobs.insert().values(**row))
            audit.append(conn, actor=actor, action="job.submit", target=f"patient:{case_id}", address=address,
                         detail={"job": job_id, "kind": kind, "sha256": params.get("sha256"),
                                 "size": params.get("size")}, now=now)

        self.store.write(tx)
        with self._lock:
            self._futures[job_id] = self._pool.submit(self._run, job_id)
        return _job(SimpleNamespace(**row))

    def resume(self, job_ids: list[str]) -> None:
        """Queue jobs :func:`recover` put back in the queue."""
        with self._lock:
            for job_id in job_ids:
                self._futures[job_id] = self._pool.submit(self._run, job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job has ended (tests, the command line); returns its row."""
        with self._lock:
            fut = self._futures.get(job_id)
        if fut is not None:
            fut.result(timeout)
        return get_job(self.store, job_id)

    def shutdown(self, *, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # -- worker side ------------------------------------------------------------------------
    def _run(self, job_id: str) -> None:
        c = T.jobs.c
        row = self.store.read(lambda conn: conn.execute(sa.select(T.jobs).where(c.job_id == job_id)).first())
        if row is None:
            return
        job = _job(row)
        params = json.loads(row.params_json)
        address = str(params.get("address", ""))
        folder = self.spool_dir / job_id
        path = folder / params["filename"] if params.get("filename") else None
        started = dt.datetime.now(dt.UTC)
        n = self.store.write(lambda conn: conn.execute(
            T.jobs.update().where(c.job_id == job_id, c.state == "queued")
            .values(state="running", started_at=started, message="started", attempts=c.attempts + 1)).rowcount)
        if n != 1:  # failed by recover() meanwhile
            return
        ctx = JobContext(self, job, params, path)
        ended = False  # the job's end (done or failed) is in the store
        try:
            store_tx = self.work[job.kind](ctx)

            def finish(conn: Connection) -> str:
                rid = store_tx(conn)
                now = dt.datetime.now(dt.UTC)
                n = conn.execute(T.jobs.update().where(c.job_id == job_id, c.state == "running").values(
                    state="done", progress=1.0, message=ctx.done_message, result_id=rid,
                    finished_at=now)).rowcount
                if n != 1:
                    raise RemissionError(f"job {job_id} is no longer running")  # rolls the result back
                audit.append(conn, actor=job.created_by, action="job.done", target=f"patient:{job.case_id}",
                             address=address, detail={"job": job_id, "kind": job.kind, "result": rid}, now=now)
                return rid

            self.store.write(finish)
            ended = True
        except Exception as exc:
            for undo in ctx.on_failure:
                with contextlib.suppress(OSError):
                    undo()
            error = str(exc) if isinstance(exc, RemissionError) else f"internal error ({type(exc).__name__})"
            if not isinstance(exc, RemissionError):
                log.error("job failed with an internal error (%s)", type(exc).__name__)
            self._fail(job, error, address)
            ended = True
        finally:
            # a job whose end could not be written (the store closed under a stopping server)
            # keeps its spooled file, so the next start can run it again
            if ended:
                shutil.rmtree(folder, ignore_errors=True)

    def _fail(self, job: Job, error: str, address: str) -> None:
        c = T.jobs.c
        now = dt.datetime.now(dt.UTC)

        def tx(conn: Connection) -> None:
            conn.execute(T.jobs.update().where(c.job_id == job.job_id, c.state.in_(("queued", "running")))
                         .values(state="failed", error=error[:2000], message="failed", finished_at=now))
            audit.append(conn, actor=job.created_by, action="job.failed", target=f"patient:{job.case_id}",
                         outcome="failed", address=address,
                         detail={"job": job.job_id, "kind": job.kind, "error": error[:300]}, now=now)

        self.store.write(tx)


def _spool_intact(spool_dir: Path, job_id: str, params: dict[str, Any]) -> bool:
    name, size = params.get("filename"), params.get("size")
    if name is None and size is None:  # a job without an upload (a re-analysis)
        return True
    if not name or not isinstance(size, int):
        return False
    path = spool_dir / job_id / str(name)
    return path.is_file() and path.stat().st_size == size


def recover(store: Store, spool_dir: Path, *, max_attempts: int = MAX_ATTEMPTS) -> tuple[list[str], list[str]]:
    """Deal with the jobs a stopped server left ``queued``/``running``: put back in the queue
    those whose spooled file is whole and that ran fewer than ``max_attempts`` times, fail the
    others and remove their spool folders (and any folder without a job). Returns (ids to run
    again — pass them to :meth:`JobRunner.resume` —, ids failed). Run once when the server
    starts, before it takes requests."""
    c = T.jobs.c
    now = dt.datetime.now(dt.UTC)

    def tx(conn: Connection) -> tuple[list[str], list[str]]:
        rows = conn.execute(sa.select(c.job_id, c.kind, c.case_id, c.attempts, c.params_json)
                            .where(c.state.in_(("queued", "running"))).order_by(c.created_at, c.job_id)).all()
        resumed, failed = [], []
        for r in rows:
            params = json.loads(r.params_json)
            if r.attempts < max_attempts and _spool_intact(spool_dir, r.job_id, params):
                conn.execute(T.jobs.update().where(c.job_id == r.job_id).values(
                    state="queued", progress=0.0, message="resumed after a server restart", started_at=None))
                audit.append(conn, actor="system", action="job.resume", target=f"patient:{r.case_id}",
                             address="server", detail={"job": r.job_id, "kind": r.kind, "attempts": r.attempts},
                             now=now)
                resumed.append(str(r.job_id))
                continue
            why = (f"the server stopped during each of its {r.attempts} runs; not tried again"
                   if r.attempts >= max_attempts else "the server stopped and the spooled file is not whole")
            conn.execute(T.jobs.update().where(c.job_id == r.job_id).values(
                state="failed", error=f"{why}; nothing of this job was stored — upload the file again",
                message="failed", finished_at=now))
            audit.append(conn, actor="system", action="job.failed", target=f"patient:{r.case_id}",
                         outcome="failed", address="server",
                         detail={"job": r.job_id, "kind": r.kind, "error": why}, now=now)
            failed.append(str(r.job_id))
        return resumed, failed

    resumed, failed = store.write(tx)
    if spool_dir.is_dir():
        keep = set(resumed)
        for folder in spool_dir.iterdir():
            if folder.is_dir() and folder.name not in keep:  # no job is running yet
                shutil.rmtree(folder, ignore_errors=True)
    return resumed, failed
