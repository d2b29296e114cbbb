"""Background jobs: longer work of the web application (a FASTQ or a large FCS upload being
checked and stored; the re-analysis after a four-eyes sign-off) runs in a small worker pool while
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
  twice is not tried a third time.
- Several server processes may share one store (``remission serve --workers N``, or a worker
  uvicorn restarts). Each :class:`JobRunner` has an *owner* id (``host:pid:random``); a job row
  names the runner that queued or runs it and carries a *heartbeat* time, which the runner's
  heartbeat thread renews every :data:`HEARTBEAT_S` seconds for all its queued and running jobs
  (a thread, not the progress callback: one engine step of a long re-analysis or a slow chunk may
  take longer than the interval). A runner starts only a job it owns that is still ``queued``
  (``UPDATE … WHERE job_id = ? AND state = 'queued' AND owner = ?``, rowcount 1), and stores its
  progress, result and failure only while it still owns the job. :func:`recover` takes over only
  jobs whose heartbeat is older than :data:`STALE_S` (or missing: rows from before migration
  0005, or released by a server that stopped cleanly), each with a compare-and-set on the old
  owner and heartbeat, so two processes starting at once never both take one job; live
  processes' jobs and spool folders are left alone. The heartbeat thread runs :func:`recover`
  too, so the jobs of a process that died are taken over by a live one within about
  ``STALE_S + HEARTBEAT_S`` seconds, not only at the next start.

Engines never import this module: a work function passes a plain callback (e.g. a chunk
iterator that calls :meth:`JobContext.progress`) down to them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from remission.app import audit
from remission.errors import RemissionError, ValidationError
from remission.store import Store
from remission.store import tables as T

__all__ = [
    "DEFAULT_WORKERS", "HEARTBEAT_S", "ORPHAN_SPOOL_S", "STALE_S", "Job", "JobContext", "JobRunner", "Spool",
    "get_job", "list_jobs", "new_owner", "reanalysis_job_id", "reanalysis_jobs", "recover",
]

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
#: seconds between two heartbeats of a runner's jobs (an operational setting, ``WebSettings.job_heartbeat_s``)
HEARTBEAT_S = 5.0
#: a job whose heartbeat is older than this (seconds) belongs to a process that is gone and is taken
#: over (three missed heartbeats, so a busy store delaying one write is not mistaken for a dead process)
STALE_S = 3 * HEARTBEAT_S
#: a spool folder without a job row (an upload still being received has none yet) is removed only
#: when nothing in it changed for this long (seconds)
ORPHAN_SPOOL_S = 24 * 3600.0

Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_owner() -> str:
    """A runner's owner id: host, process id and a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(6)}"


def reanalysis_job_id(result_id: str) -> str:
    """The one ``reanalysis`` job of a signed result (a fixed id: the primary key keeps two
    processes from queueing it twice)."""
    return f"re-{result_id}"

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
    #: the runner that queued or runs the job (``host:pid:random``; not in the JSON status: host
    #: names and process ids are not for every role) and its last heartbeat
    owner: str | None = Field(default=None, exclude=True)
    heartbeat_at: dt.datetime | None = None

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
               attempts=r.attempts, created_at=_utc(r.created_at), started_at=_utc(r.started_at),
               finished_at=_utc(r.finished_at), owner=r.owner, heartbeat_at=_utc(r.heartbeat_at))


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


def reanalysis_jobs(store: Store, result_ids: list[str]) -> dict[str, Job]:
    """The ``reanalysis`` job of each of these results that has one (result id -> job)."""
    if not result_ids:
        return {}
    c = T.jobs.c
    q = sa.select(T.jobs).where(c.kind == "reanalysis", c.result_id.in_(result_ids)).order_by(c.created_at)
    return {str(r.result_id): _job(r) for r in store.read(lambda conn: conn.execute(q).all())}


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
            T.jobs.update().where(c.job_id == self.job.job_id, c.state == "running", c.owner == self.runner.owner)
            .values(progress=f, message=msg)))


class JobRunner:
    """The web application's job pool: :meth:`submit` stores a job row and queues its work;
    :meth:`start` starts the heartbeat thread (renews this runner's jobs, takes over stale ones)."""

    def __init__(self, store: Store, spool_dir: Path, work: dict[str, Work], *,
                 workers: int = DEFAULT_WORKERS, heartbeat_s: float = HEARTBEAT_S, stale_s: float | None = None,
                 clock: Clock = _now, owner: str | None = None) -> None:
        if workers < 1:
            raise ValidationError(f"job workers must be at least 1, but was {workers}")
        if not heartbeat_s > 0:
            raise ValidationError(f"job heartbeat must be a positive number of seconds, but was {heartbeat_s}")
        stale = 3 * heartbeat_s if stale_s is None else stale_s
        if not stale > heartbeat_s:
            raise ValidationError(f"job stale limit must exceed the heartbeat interval ({heartbeat_s} s), "
                                  f"but was {stale}")
        self.store, self.spool_dir, self.work = store, spool_dir, dict(work)
        self.heartbeat_s, self.stale_s, self.clock = heartbeat_s, stale, clock
        self.owner = owner or new_owner()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="remission-job")
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def spool(self, name: str, *, limit: int) -> tuple[str, Spool]:
        """A new job id and the spool its upload is written to."""
        job_id = secrets.token_hex(8)
        return job_id, Spool(self.spool_dir / job_id, name, limit=limit)

    def insert(self, conn: Connection, job_id: str | None, kind: str, case_id: str, *, actor: str, address: str,
               params: dict[str, Any]) -> Job:
        """Write a ``queued`` job row owned by this runner and its ``job.submit`` audit entry in the
        caller's transaction; :meth:`enqueue` it once that transaction committed."""
        if kind not in self.work:
            raise ValidationError(f"job kind must be one of {', '.join(self.work)}, but was {kind!r}")
        job_id = job_id or secrets.token_hex(8)
        now = self.clock()
        row = {"job_id": job_id, "kind": kind, "case_id": case_id, "created_by": actor, "state": "queued",
               "progress": 0.0, "message": "waiting for a worker", "error": None,
               "params_json": json.dumps({**params, "address": address}, sort_keys=True, default=str),
               "result_id": params.get("result_id"),
               "attempts": 0, "created_at": now, "started_at": None, "finished_at": None,
               "owner": self.owner, "heartbeat_at": now}
        conn.execute(T.jobs.insert().values(**row))
        detail = {"job": job_id, "kind": kind, "sha256": params.get("sha256"), "size": params.get("size")}
        if params.get("result_id"):
            detail["result"] = params["result_id"]
        audit.append(conn, actor=actor, action="job.submit", target=f"patient:{case_id}", address=address,
                     detail=detail, now=now)
        return _job(SimpleNamespace(**row))

    def submit(self, job_id: str | None, kind: str, case_id: str, *, actor: str, address: str,
               params: dict[str, Any]) -> Job:
        job = self.store.write(lambda conn: self.insert(conn, job_id, kind, case_id, actor=actor, address=address,
                                                        params=params))
        self.enqueue([job.job_id])
        return job

    def enqueue(self, job_ids: list[str]) -> None:
        """Queue this runner's ``queued`` jobs (after :meth:`insert`, or those :func:`recover` took over)."""
        with self._lock:
            for job_id in job_ids:
                self._futures[job_id] = self._pool.submit(self._run, job_id)

    resume = enqueue

    def recover(self) -> tuple[list[str], list[str]]:
        """Take over the stale jobs of processes that are gone (:func:`recover`) and queue them."""
        resumed, failed = recover(self.store, self.spool_dir, owner=self.owner, now=self.clock(),
                                  stale_s=self.stale_s)
        self.enqueue(resumed)
        return resumed, failed

    def beat(self) -> int:
        """Renew the heartbeat of this runner's queued and running jobs; returns how many."""
        c = T.jobs.c
        now = self.clock()
        n: int = self.store.write(lambda conn: conn.execute(
            T.jobs.update().where(c.owner == self.owner, c.state.in_(("queued", "running")))
            .values(heartbeat_at=now)).rowcount)
        return n

    def start(self) -> None:
        """Start the heartbeat thread: every ``heartbeat_s`` it runs :meth:`beat` and :meth:`recover`."""
        if self._beat is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.heartbeat_s):
                try:
                    self.store.engine  # noqa: B018 (raises once the store is closed: the server stopped)
                except RemissionError:
                    return
                try:
                    self.beat()
                    self.recover()
                except Exception as exc:  # a busy or closing store: try again at the next beat
                    log.warning("job heartbeat failed (%s)", type(exc).__name__)

        self._beat = threading.Thread(target=loop, name="remission-job-heartbeat", daemon=True)
        self._beat.start()

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job has ended (tests, the command line); returns its row."""
        with self._lock:
            fut = self._futures.get(job_id)
        if fut is not None:
            fut.result(timeout)
        return get_job(self.store, job_id)

    def shutdown(self, *, wait: bool = False, release: bool = False) -> None:
        """Stop the heartbeat and the pool. ``release``: clear the owner and heartbeat of this
        runner's unfinished jobs, so the next start (of any process) takes them over at once; a
        job still running here then cannot store its result (it is no longer this runner's)."""
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if release:
            c = T.jobs.c
            with contextlib.suppress(Exception):  # a store already closed: the heartbeat goes stale
                self.store.write(lambda conn: conn.execute(
                    T.jobs.update().where(c.owner == self.owner, c.state.in_(("queued", "running")))
                    .values(owner=None, heartbeat_at=None)))

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
        started = self.clock()
        # the claim: only a job still queued and still this runner's (another process may have
        # failed it or taken it over meanwhile)
        n = self.store.write(lambda conn: conn.execute(
            T.jobs.update().where(c.job_id == job_id, c.state == "queued", c.owner == self.owner)
            .values(state="running", started_at=started, heartbeat_at=started, message="started",
                    attempts=c.attempts + 1)).rowcount)
        if n != 1:
            return
        ctx = JobContext(self, job, params, path)
        ended = False  # the job's end (done or failed) is in the store
        try:
            store_tx = self.work[job.kind](ctx)

            def finish(conn: Connection) -> str:
                rid = store_tx(conn)
                now = self.clock()
                n = conn.execute(T.jobs.update().where(c.job_id == job_id, c.state == "running",
                                                       c.owner == self.owner).values(
                    state="done", progress=1.0, message=ctx.done_message, result_id=rid,
                    finished_at=now)).rowcount
                if n != 1:
                    # rolls the result back: another process took the job over
                    raise RemissionError(f"job {job_id} is no longer running here")
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
            # a job another process took over meanwhile is its now, spooled file included
            ended = self._fail(job, error, address)
        finally:
            # a job whose end could not be written (the store closed under a stopping server)
            # keeps its spooled file, so the next start can run it again
            if ended:
                shutil.rmtree(folder, ignore_errors=True)

    def _fail(self, job: Job, error: str, address: str) -> bool:
        """Mark the job failed if it is still this runner's; returns whether it was."""
        c = T.jobs.c
        now = self.clock()

        def tx(conn: Connection) -> bool:
            n = conn.execute(T.jobs.update().where(c.job_id == job.job_id, c.state.in_(("queued", "running")),
                                                   c.owner == self.owner)
                             .values(state="failed", error=error[:2000], message="failed", finished_at=now)).rowcount
            if n != 1:  # taken over by another process, which runs it again
                return False
            audit.append(conn, actor=job.created_by, action="job.failed", target=f"patient:{job.case_id}",
                         outcome="failed", address=address,
                         detail={"job": job.job_id, "kind": job.kind, "error": error[:300]}, now=now)
            return True

        ok: bool = self.store.write(tx)
        return ok


def _spool_intact(spool_dir: Path, job_id: str, params: dict[str, Any]) -> bool:
    name, size = params.get("filename"), params.get("size")
    if name is None and size is None:  # a job without an upload (a re-analysis)
        return True
    if not name or not isinstance(size, int):
        return False
    path = spool_dir / job_id / str(name)
    return path.is_file() and path.stat().st_size == size



def _newest_change(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    with contextlib.suppress(OSError):
        times += [p.stat().st_mtime for p in folder.iterdir()]
    return max(times)


def recover(store: Store, spool_dir: Path, *, owner: str, now: dt.datetime | None = None,
            stale_s: float = STALE_S, max_attempts: int = MAX_ATTEMPTS,
            orphan_spool_s: float = ORPHAN_SPOOL_S) -> tuple[list[str], list[str]]:
    """Take over the ``queued``/``running`` jobs of server processes that are gone — those whose
    heartbeat is older than ``stale_s`` at ``now`` or missing, never ``owner``'s own: put back in
    the queue, owned by ``owner``, those whose spooled file is whole and that ran fewer than
    ``max_attempts`` times, fail the others and remove their spool folders (and those of finished
    jobs, and folders without a job unchanged for ``orphan_spool_s``). Returns (ids to run again —
    pass them to :meth:`JobRunner.enqueue` of ``owner``'s runner —, ids failed). Jobs of live
    processes are not touched."""
    c = T.jobs.c
    now = now or _now()
    cutoff = now - dt.timedelta(seconds=stale_s)

    def tx(conn: Connection) -> tuple[list[str], list[str]]:
        rows = conn.execute(sa.select(c.job_id, c.kind, c.case_id, c.attempts, c.params_json, c.owner, c.heartbeat_at)
                            .where(c.state.in_(("queued", "running")))
                            .where(sa.or_(c.owner.is_(None), c.owner != owner))
                            .order_by(c.created_at, c.job_id)).all()
        resumed, failed = [], []
        for r in rows:
            beat = _utc(r.heartbeat_at)
            if beat is not None and beat >= cutoff:
                continue  # its process is alive
            # compare-and-set on the owner and heartbeat read above: of two processes recovering
            # at once, one takes the job
            mine = T.jobs.update().where(c.job_id == r.job_id, c.state.in_(("queued", "running")),
                                         c.owner.is_not_distinct_from(r.owner),
                                         c.heartbeat_at.is_not_distinct_from(r.heartbeat_at))
            params = json.loads(r.params_json)
            if r.attempts < max_attempts and _spool_intact(spool_dir, r.job_id, params):
                n = conn.execute(mine.values(state="queued", progress=0.0, message="resumed after a server restart",
                                             started_at=None, owner=owner, heartbeat_at=now)).rowcount
                if n != 1:
                    continue
                audit.append(conn, actor="system", action="job.resume", target=f"patient:{r.case_id}",
                             address="server", detail={"job": r.job_id, "kind": r.kind, "attempts": r.attempts,
                                                       "from": r.owner},
                             now=now)
                resumed.append(str(r.job_id))
                continue
            why = (f"the server stopped during each of its {r.attempts} runs; not tried again"
                   if r.attempts >= max_attempts else "the server stopped and the spooled file is not whole")
            redo = "upload the file again" if params.get("filename") else "sign-off is not re-analysed; ask an administrator"
            n = conn.execute(mine.values(state="failed", error=f"{why}; nothing of this job was stored — {redo}",
                                         message="failed", finished_at=now, owner=owner, heartbeat_at=now)).rowcount
            if n != 1:
                continue
            audit.append(conn, actor="system", action="job.failed", target=f"patient:{r.case_id}",
                         outcome="failed", address="server",
                         detail={"job": r.job_id, "kind": r.kind, "error": why, "from": r.owner}, now=now)
            failed.append(str(r.job_id))
        return resumed, failed

    resumed, failed = store.write(tx)
    if spool_dir.is_dir():
        folders = [f for f in spool_dir.iterdir() if f.is_dir()]
        names = [f.name for f in folders]
        states = dict(store.read(lambda conn: conn.execute(
            sa.select(c.job_id, c.state).where(c.job_id.in_(names))).all())) if names else {}
        old = now.timestamp() - orphan_spool_s
        for folder in folders:
            state = states.get(folder.name)
            if state in ("done", "failed") or (state is None and _newest_change(folder) < old):
                shutil.rmtree(folder, ignore_errors=True)
    return resumed, failed
