"""The audit log: who, when (UTC), what, from where for each audited event; the hash chain
detects a changed or a deleted row; ``remission audit verify`` exits 1 then."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from remission.app import audit
from remission.store import tables as T


def _actions(app: Any) -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.action, e.target, e.outcome) for e in reversed(audit.entries(app.state.store, limit=1000))]


def test_audited_events(app: Any, client_for: Any, password: str) -> None:
    from fastapi.testclient import TestClient

    TestClient(app, base_url="https://testserver").post("/login", data={"username": "viewer", "password": "nope-nope"})
    lab, lab2, clin, viewer = client_for("lab"), client_for("lab2"), client_for("clin"), client_for("viewer")
    viewer.get("/patients/PAT-A")
    viewer.get("/admin/users")
    rid = lab.post("/api/v1/patients/PAT-C/results/mrd", json={"date": "2023-05-01", "method": "pcr"}).json()["result_id"]
    lab2.post(f"/results/{rid}/signoff")
    app.state.jobs.wait(f"re-{rid}", timeout=120)  # its re-analysis job
    r = clin.post("/board", data={"date": "2030-01-01", "title": "t", "attendees": ""})
    mid = r.url.path.rsplit("/", 1)[-1]
    clin.post(f"/board/{mid}/patients", data={"case_id": "PAT-A"})
    clin.post(f"/board/{mid}/decisions?case_id=PAT-A", data={"free_text": "continue"})
    got = _actions(app)
    for expected in [("viewer", "login", "user:viewer", "denied"), ("viewer", "login", "user:viewer", "ok"),
                     ("viewer", "patient.view", "patient:PAT-A", "ok"),
                     ("viewer", "access.denied", "/admin/users", "denied"),
                     ("lab", "result.upload", "patient:PAT-C", "ok"),
                     ("lab2", "result.signoff", "patient:PAT-C", "ok"),
                     ("lab2", "job.submit", "patient:PAT-C", "ok"), ("lab2", "job.done", "patient:PAT-C", "ok"),
                     ("clin", "board.decision", "patient:PAT-A", "ok")]:
        assert expected in got, expected
    e = audit.entries(app.state.store, action="patient.view")[0]
    assert e.at.tzinfo is not None and e.at.utcoffset() == dt.timedelta(0)
    assert e.address == "testclient"  # Starlette's TestClient peer address
    assert audit.verify(app.state.store).ok


def _seed_chain(app: Any, n: int = 5) -> None:
    for i in range(n):
        audit.record(app.state.store, actor=f"u{i}", action="test", target=f"t{i}", address="127.0.0.1")


def test_verify_detects_a_changed_row(app: Any) -> None:
    _seed_chain(app)
    st = app.state.store
    rep = audit.verify(st)
    assert rep.ok and rep.rows >= 5
    seq = rep.rows - 2
    st.write(lambda conn: conn.execute(T.audit_log.update().where(T.audit_log.c.seq == seq).values(actor="mallory")))
    rep = audit.verify(st)
    assert not rep.ok and rep.problems == [f"row {seq}: contents changed (hash mismatch)"]


def test_verify_detects_a_deleted_row(app: Any) -> None:
    _seed_chain(app)
    st = app.state.store
    n = audit.verify(st).rows
    st.write(lambda conn: conn.execute(T.audit_log.delete().where(T.audit_log.c.seq == n - 2)))
    rep = audit.verify(st)
    assert not rep.ok
    assert f"row {n - 2} missing (deleted)" in rep.problems
    assert f"row {n - 1}: prev_hash does not match the previous row's hash" in rep.problems


def test_verify_detects_a_row_rewritten_with_a_fresh_hash(app: Any) -> None:
    """Recomputing the changed row's own hash does not help: the next row's link breaks."""
    from remission.app.audit import _digest

    _seed_chain(app)
    st = app.state.store
    n = audit.verify(st).rows
    seq = n - 1
    r = st.read(lambda conn: conn.execute(sa.select(T.audit_log).where(T.audit_log.c.seq == seq)).first())
    h = _digest(r.prev_hash, r.seq, r.at, "mallory", r.action, r.target, r.outcome, r.address, r.detail)
    st.write(lambda conn: conn.execute(T.audit_log.update().where(T.audit_log.c.seq == seq)
                                       .values(actor="mallory", hash=h)))
    rep = audit.verify(st)
    assert rep.problems == [f"row {n}: prev_hash does not match the previous row's hash"]


def test_cli_audit_verify(app: Any, settings: Any, capsys: Any) -> None:
    from remission.cli import main

    _seed_chain(app)
    assert main(["audit", "verify", "--db", settings.db_url, "--json"]) == 0
    app.state.store.write(lambda conn: conn.execute(T.audit_log.update().where(T.audit_log.c.seq == 2)
                                                    .values(detail='{"x":1}')))
    capsys.readouterr()
    assert main(["audit", "verify", "--db", settings.db_url]) == 1
    assert "row 2: contents changed" in capsys.readouterr().err


def test_cli_user_add_reads_the_password_and_never_defaults(settings: Any, monkeypatch: Any, capsys: Any) -> None:
    import io

    from remission.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["user", "add", "eve", "--role", "viewer", "--db", settings.db_url]) == 1  # empty password
    assert "password must be at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough pass\n"))
    assert main(["user", "add", "eve", "--role", "viewer", "--db", settings.db_url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough pass\n"))
    assert main(["user", "add", "root", "--role", "superuser", "--db", settings.db_url]) == 1
    assert main(["user", "disable", "eve", "--db", settings.db_url]) == 0


def test_cli_serve_starts_uvicorn_on_loopback_without_access_log(settings: Any, monkeypatch: Any) -> None:
    import uvicorn

    from remission.cli import main

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    assert main(["serve", "--db", settings.db_url]) == 0
    app, kw = calls[0]
    # request lines name patients, so uvicorn's access log stays off; loopback:8000 by default
    assert (kw["host"], kw["port"], kw["access_log"]) == ("127.0.0.1", 8000, False)
    assert app.state.settings.db_url == settings.db_url
    app.state.store.close()
