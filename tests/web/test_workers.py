"""``remission serve --workers 2``: sessions, CSRF tokens and the audit chain live in the store, so
a request may land on either worker process. Every request below opens a new connection, which
the kernel may hand to either worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from remission.web.deps import COOKIE, CSRF_HEADER

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def two_workers(settings: Any, tmp_path: Path) -> Iterator[str]:
    import httpx
    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from remission.cli import main; sys.exit(main(sys.argv[1:]))",
                             "serve", "--db", settings.db_url, "--port", str(port), "--workers", "2",
                             "--files", str(tmp_path / "files")], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200 and \
                        len(psutil.Process(proc.pid).children()) >= 2:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("server with two workers did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _session(settings: Any, name: str) -> tuple[str, str]:
    from _web_factory import PASSWORD

    from remission.app.auth import authenticate
    from remission.store import Store

    with Store(settings.db_url) as st:
        token, info = authenticate(st, name, PASSWORD, address="127.0.0.1", policy=settings.policy)
    return token, info.csrf_token


def _fresh(base: str, method: str, path: str, token: str, **kw: Any) -> Any:
    import httpx

    with httpx.Client(base_url=base, cookies={COOKIE: token}, timeout=30) as c:  # a new connection
        return c.request(method, path, **kw)


def test_any_worker_serves_a_session_checks_its_csrf_token_and_appends_to_one_audit_chain(
        settings: Any, two_workers: str) -> None:
    from remission.app import audit
    from remission.store import Store

    base = two_workers
    token, csrf = _session(settings, "clin")
    me = [_fresh(base, "GET", "/api/v1/me", token) for _ in range(8)]
    assert [r.status_code for r in me] == [200] * 8
    assert {r.json()["csrf_token"] for r in me} == {csrf}
    # a state change: refused without the session's token, accepted with it, on any worker
    form = {"date": "2099-01-01", "title": "workers", "attendees": ""}
    assert _fresh(base, "POST", "/board", token, data=form).status_code == 403
    assert _fresh(base, "POST", "/board", token, data=form, headers={CSRF_HEADER: csrf}).status_code == 303
    # 24 patient views at once from both workers: every one audited, the chain intact
    with Store(settings.db_url) as st:
        before = audit.verify(st).rows
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: _fresh(base, "GET", f"/patients/PAT-{'ABC'[i % 3]}", token).status_code,
                              range(24)))
    assert codes == [200] * 24
    with Store(settings.db_url) as st:
        report = audit.verify(st)
        views = [e for e in audit.entries(st, limit=100, action="patient.view")]
    assert report.ok and report.rows == before + 24 and len(views) == 24


def test_logout_on_one_worker_ends_the_session_on_all(settings: Any, two_workers: str) -> None:
    token, csrf = _session(settings, "viewer")
    assert _fresh(two_workers, "POST", "/logout", token, headers={CSRF_HEADER: csrf}).status_code in (200, 303)
    assert [_fresh(two_workers, "GET", "/api/v1/me", token).status_code for _ in range(6)] == [401] * 6


def test_a_worker_leaves_another_workers_running_job_alone(settings: Any) -> None:
    """A worker of ``serve --workers N`` starting while another runs a job (fresh heartbeat) must
    not take that job for an orphan of a stopped server (re-queue it, or remove its upload)."""
    import datetime as dt
    import json

    from remission.store import tables as T
    from remission.web import create_app
    from remission.web.server import SETTINGS_ENV, create_app_from_env, settings_to_env

    first = create_app(settings)  # a worker already serving
    now = dt.datetime.now(dt.UTC)
    jid = "w" * 16
    (settings.spool / jid).mkdir(parents=True)
    (settings.spool / jid / "fu.fastq").write_bytes(b"@r1\nACGT\n+\nIIII\n")
    first.state.store.write(lambda conn: conn.execute(T.jobs.insert().values(
        job_id=jid, kind="fastq", case_id="PAT-A", created_by="lab", state="running", progress=0.4,
        message="checking", error=None, params_json=json.dumps({"filename": "fu.fastq", "size": 16}),
        result_id=None, attempts=1, created_at=now, started_at=now, finished_at=None,
        owner="otherhost:4242:live", heartbeat_at=now)))
    env = settings_to_env(settings)
    old = os.environ.get(SETTINGS_ENV)
    os.environ[SETTINGS_ENV] = env
    try:
        worker = create_app_from_env()  # another worker starting now
    finally:
        if old is None:
            os.environ.pop(SETTINGS_ENV)
        else:
            os.environ[SETTINGS_ENV] = old
    try:
        row = worker.state.store.read(lambda conn: conn.execute(
            sa.select(T.jobs.c.state, T.jobs.c.attempts, T.jobs.c.owner).where(T.jobs.c.job_id == jid)).one())
        assert tuple(row) == ("running", 1, "otherhost:4242:live")
        assert (settings.spool / jid / "fu.fastq").is_file()
    finally:
        for app in (worker, first):
            app.state.jobs.shutdown(wait=True)
            app.state.store.close()
