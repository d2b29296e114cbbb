"""A server killed in the middle of an upload, or a failure inside the upload's transaction,
leaves the store as it was: no half-stored result, an intact audit chain."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from remission.store import tables as T
from remission.web.deps import COOKIE


def _snapshot(url: str) -> tuple[int, int, bool]:
    from remission.app import audit
    from remission.store import Store

    with Store(url) as st:
        n = st.read(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(T.assay_results)).scalar_one())
        rep = audit.verify(st)
    return int(n), rep.rows, rep.ok


def test_failure_inside_the_upload_transaction_stores_nothing(app: Any, client_for: Any, monkeypatch: Any) -> None:
    from remission.app import audit

    lab = client_for("lab")
    url = app.state.settings.db_url
    before = _snapshot(url)

    def boom(*a: Any, **k: Any) -> None:
        raise RuntimeError("disk full")  # after the result row was inserted, before commit

    monkeypatch.setattr(audit, "append", boom)
    with pytest.raises(RuntimeError):
        lab.post("/api/v1/patients/PAT-A/results/mrd", json={"date": "2023-05-01", "method": "pcr"})
    monkeypatch.undo()
    assert _snapshot(url) == before


def test_server_killed_mid_upload(settings: Any, tmp_path: Path, password: str) -> None:
    import httpx

    url = settings.db_url
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                       str(Path(__file__).parent)])}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_serve.py")), url, str(port),
                             str(tmp_path / "files")], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base) as c:
            r = c.post("/login", data={"username": "lab", "password": password})
            token = r.cookies.get(COOKIE) or r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
            c.cookies.set(COOKIE, token)
            csrf = c.get("/api/v1/me").json()["csrf_token"]
        before = _snapshot(url)
        # send the headers and half of a 2 MB multipart body, then kill the server
        boundary = "remissionboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nb_cells\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"sample_date\"\r\n\r\n2023-05-01\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.csv\"\r\n"
                "Content-Type: text/csv\r\n\r\nday,value,unit\r\n").encode()
        body = head + b"1,5,cells_per_ul\r\n" * 110_000
        request = (f"POST /patients/PAT-A/results/file HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Cookie: {COOKIE}={token}\r\nX-CSRF-Token: {csrf}\r\n"
                   f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                   f"Content-Length: {len(body) + 100}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request + body[: len(body) // 2])
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert _snapshot(url) == before
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
