"""Per-patient access control (OWASP ASVS 5.0 8.2.2, IDOR/BOLA; remission.app.access).

The seeded care team (``_web_factory.CARE_TEAM``) sees PAT-A, PAT-B and PAT-C, each by its own
grant; the admin and the outsiders (``clin_out``, ``lab_out``, ``viewer_out``) see none.

:func:`test_every_id_route_has_an_idor_case` lists the app's routes: a route that takes a patient,
result, meeting, decision or job id (any path parameter not in :data:`NOT_PATIENT_DATA`) and has
no entry in :data:`IDOR` fails the suite, so a new route is probed as soon as it exists.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from remission.web.deps import iter_routes, rule_of

#: path parameters that name no patient data, and why their routes need no IDOR case
NOT_PATIENT_DATA = {
    "session_id": "one's own sessions only (test_security.test_user_ends_own_other_session_only)",
    "username": "admin-only account actions (test_authz)",
}

#: how an account that may not see PAT-A probes each route, with PAT-A's ids filled in:
#: (expectation, form/json body, query). "404": answers exactly like an unknown id and writes
#: access.denied; "filtered": the meeting is shown without PAT-A.
IDOR: dict[tuple[str, str], tuple[str, Any, str]] = {
    ("GET", "/patients/{case_id}"): ("404", None, ""),
    ("GET", "/patients/{case_id}/results"): ("404", None, ""),
    ("POST", "/patients/{case_id}/results/file"): ("404", "file", ""),
    ("POST", "/patients/{case_id}/results/mrd"): ("404", {"date": "2023-05-01", "method": "pcr"}, ""),
    ("POST", "/results/{result_id}/signoff"): ("404", {}, ""),
    ("GET", "/board/{meeting_id}"): ("filtered", None, ""),
    ("POST", "/board/{meeting_id}/patients"): ("404", {"case_id": "{case_id}"}, ""),
    ("POST", "/board/{meeting_id}/decisions"): ("404", {"free_text": "watch"}, "?case_id={case_id}"),
    ("POST", "/decisions/{decision_id}/sign"): ("404", {}, ""),
    ("POST", "/decisions/{decision_id}/amend"): ("404", {"free_text": "watch"}, ""),
    ("GET", "/board/{meeting_id}/export.html"): ("filtered", None, ""),
    ("GET", "/board/{meeting_id}/export.pdf"): ("filtered-audit", None, ""),
    ("GET", "/api/v1/patients/{case_id}"): ("404", None, ""),
    ("GET", "/api/v1/patients/{case_id}/results"): ("404", None, ""),
    ("POST", "/api/v1/patients/{case_id}/results/mrd"): ("404", {"date": "2023-05-01", "method": "pcr"}, ""),
    ("POST", "/api/v1/results/{result_id}/signoff"): ("404", {}, ""),
    ("GET", "/api/v1/board/meetings/{meeting_id}"): ("filtered", None, ""),
    ("GET", "/jobs/{job_id}"): ("404", None, ""),
    ("GET", "/api/v1/jobs/{job_id}"): ("404", None, ""),
    ("GET", "/api/v1/patients/{case_id}/jobs"): ("404", None, ""),
}
#: who probes: the outsider of each role, and the admin (no grants)
PROBER = {"clinician": "clin_out", "lab": "lab_out", "viewer": "viewer_out", "admin": "admin"}
#: ids of no object at all: a denied id must answer exactly like these
UNKNOWN = {"case_id": "PAT-NONE", "result_id": "f" * 16, "decision_id": "f" * 16, "job_id": "f" * 16}


def _id_routes(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for r in iter_routes(app):
        params = set(re.findall(r"{(\w+)", r.path))
        if params and not params <= set(NOT_PATIENT_DATA):
            out += [(m, r.path, r) for m in sorted(getattr(r, "methods", None) or ()) if m != "HEAD"]
    return out


def test_every_id_route_has_an_idor_case(app: Any) -> None:
    found = {(m, p) for m, p, _ in _id_routes(app)}
    missing = sorted(found - set(IDOR))
    assert not missing, f"routes taking an id without an IDOR case in test_access.IDOR: {missing}"
    assert set(IDOR) <= found, f"IDOR cases of routes that no longer exist: {sorted(set(IDOR) - found)}"


def test_a_new_id_route_without_a_case_is_caught(app: Any) -> None:
    from fastapi import Depends

    from remission.web.deps import allow

    @app.get("/widgets/{widget_id}", dependencies=[Depends(allow("lab"))])
    def widget(widget_id: str) -> dict[str, str]:
        return {}

    assert ("GET", "/widgets/{widget_id}") in {(m, p) for m, p, _ in _id_routes(app)} - set(IDOR)


@pytest.fixture
def ids(client_for: Any) -> dict[str, str]:
    """PAT-A's objects, made by the care team: a meeting with PAT-A on it, a draft decision, a
    draft result."""
    clin = client_for("clin")
    r = clin.post("/board", data={"date": "2030-01-01", "title": "idor", "attendees": ""})
    meeting_id = r.url.path.rsplit("/", 1)[-1]
    assert clin.post(f"/board/{meeting_id}/patients", data={"case_id": "PAT-A"}).status_code == 200
    clin.post(f"/board/{meeting_id}/decisions?case_id=PAT-A", data={"free_text": "watch"})
    decision_id = clin.get(f"/api/v1/board/meetings/{meeting_id}").json()["decisions"][0]["decision_id"]
    res = client_for("lab").post("/api/v1/patients/PAT-A/results/mrd",
                                 json={"date": "2023-05-01", "method": "pcr", "value": None})
    return {"case_id": "PAT-A", "meeting_id": meeting_id, "decision_id": decision_id,
            "result_id": res.json()["result_id"], "job_id": _pat_a_job(clin)}


def _pat_a_job(client: Any) -> str:
    """A finished job of PAT-A's (a row as the job runner writes it; no file is needed to probe)."""
    import datetime as dt
    import json

    from remission.store import tables as T

    now = dt.datetime.now(dt.UTC)
    client.app.state.store.write(lambda conn: conn.execute(T.jobs.insert().values(
        job_id="a" * 16, kind="fastq", case_id="PAT-A", created_by="lab", state="failed", progress=0.0,
        message="", error="bad record", params_json=json.dumps({"filename": "fu.fastq"}), result_id=None,
        attempts=1, created_at=now, started_at=now, finished_at=now)))
    return "a" * 16


def _fill(text: str, ids: dict[str, str]) -> str:
    for k, v in ids.items():
        text = text.replace("{" + k + "}", v)
    return text


def _send(c: Any, method: str, path: str, body: Any, query: str, ids: dict[str, str]) -> Any:
    url = _fill(path, ids) + _fill(query, ids)
    if body == "file":
        return c.post(url, data={"kind": "qpcr", "sample_date": "2023-05-01"},
                      files={"file": ("plate.csv", b"not,a,plate\n", "text/csv")})
    if body is None:
        return c.request(method, url)
    filled = {k: _fill(v, ids) for k, v in body.items()}
    return c.post(url, json=filled) if "/api/" in path else c.post(url, data=filled)


def _business(app: Any) -> Any:
    import sqlalchemy as sa

    from remission.store import tables as T

    tables = [T.cases, T.analyses, T.assay_results, T.board_cases, T.board_decisions, T.patient_access]
    return app.state.store.read(lambda conn: {t.name: sorted(map(repr, conn.execute(sa.select(t)).all()))
                                              for t in tables})


def test_idor_on_every_id_route(app: Any, client_for: Any, ids: dict[str, str]) -> None:
    """Every route that takes an id, called by every role it allows but without access to PAT-A:
    a 404 identical to an unknown id's (no existence leak) with an access.denied audit row, or the
    meeting without PAT-A; and nothing changes in the store."""
    from remission.app import audit

    st = app.state.store
    clients = {name: client_for(name) for name in PROBER.values()}
    insider = {"clinician": client_for("clin"), "viewer": client_for("viewer")}
    unknown = {**ids, **UNKNOWN}
    before = _business(app)
    problems: list[str] = []
    for method, path, route in _id_routes(app):
        expect, body, query = IDOR[(method, path)]
        for role in rule_of(route) or ():
            name = PROBER[role]
            c = clients[name]
            seq = max((e.seq for e in audit.entries(st, limit=1)), default=0)
            r = _send(c, method, path, body, query, ids)
            where = f"{name} {method} {path}"
            if expect == "404":
                twin = _send(c, method, path, body, query, unknown)
                same = r.text.replace("PAT-A", "PAT-NONE")
                for k in ("result_id", "decision_id", "job_id"):
                    same = same.replace(ids[k], UNKNOWN[k])
                if r.status_code != 404 or (twin.status_code, twin.text) != (404, same):
                    problems.append(f"{where}: {r.status_code} {r.text[:120]!r} vs unknown {twin.status_code}")
                denied = [e for e in audit.entries(st, action="access.denied") if e.seq > seq]
                if not any(e.actor == name and e.target == "patient:PAT-A" and e.outcome == "denied"
                           for e in denied):
                    problems.append(f"{where}: no access.denied audit row for patient:PAT-A")
            elif expect == "filtered":
                if r.status_code != 200 or "PAT-A" in r.text:
                    problems.append(f"{where}: {r.status_code}, PAT-A shown: {'PAT-A' in r.text}")
                if "PAT-A" not in insider["viewer"].request(method, _fill(path, ids)).text:
                    problems.append(f"{where}: the care team does not see PAT-A here (test is void)")
            else:  # filtered-audit: the PDF's export row says what went in
                e = audit.entries(st, action="board.export")[0]
                if (e.actor, e.detail.get("patients"), e.detail.get("not_shown")) != (name, 0, 1):
                    problems.append(f"{where}: export row {e.actor} {e.detail}")
    assert not problems, "\n".join(problems)
    assert _business(app) == before


def test_lists_show_only_granted_patients(app: Any, client_for: Any) -> None:
    from remission.app.access import grant, revoke

    st = app.state.store
    out, team = client_for("viewer_out"), client_for("viewer")
    assert team.get("/api/v1/patients").json()["total"] == 3
    assert out.get("/api/v1/patients").json()["total"] == 0
    assert "0 patients" in out.get("/patients").text
    grant(st, "viewer_out", "PAT-B", actor="test", address="local")
    page = out.get("/api/v1/patients").json()
    assert (page["total"], [p["case_id"] for p in page["patients"]]) == (1, ["PAT-B"])
    assert out.get("/patients/PAT-B").status_code == 200 and out.get("/patients/PAT-A").status_code == 404
    assert "PAT-A" not in out.get("/patients").text
    grant(st, "viewer_out", "*", actor="test", address="local")
    assert out.get("/api/v1/patients").json()["total"] == 3
    revoke(st, "viewer_out", "*", actor="test", address="local")
    revoke(st, "viewer_out", "PAT-B", actor="test", address="local")
    assert out.get("/api/v1/patients").json()["total"] == 0
    assert out.get("/patients/PAT-B").status_code == 404  # revocation takes effect at once


def test_admin_sees_no_patient_data_without_a_grant(client_for: Any) -> None:
    admin = client_for("admin")
    assert admin.get("/api/v1/patients").json()["total"] == 0
    assert admin.get("/patients/PAT-A").status_code == 404
    # an admin may grant it to themselves; the grant is in the audit log
    assert admin.post("/admin/access/grant", data={"username": "admin", "case_id": "PAT-A"}).status_code == 200
    assert admin.get("/patients/PAT-A").status_code == 200
    assert "PAT-A" in admin.get("/admin/access").text


def test_meeting_counts_the_patients_not_shown(client_for: Any, ids: dict[str, str]) -> None:
    from remission.app.access import grant

    clin_out = client_for("clin_out")
    grant(clin_out.app.state.store, "clin_out", "PAT-B", actor="test", address="local")
    client_for("clin").post(f"/board/{ids['meeting_id']}/patients", data={"case_id": "PAT-B"})
    html = clin_out.get(f"/board/{ids['meeting_id']}").text
    assert "PAT-B" in html and "PAT-A" not in html
    assert "1 patient on this meeting not shown" in html
    api = clin_out.get(f"/api/v1/board/meetings/{ids['meeting_id']}").json()
    assert api["cases"] == ["PAT-B"] and api["decisions"] == []  # PAT-A's decision is not shown


def test_grant_and_revoke_on_the_admin_page_are_audited(app: Any, client_for: Any) -> None:
    from remission.app import audit

    admin = client_for("admin")
    r = admin.post("/admin/access/grant", data={"username": "lab_out", "case_id": "PAT-C"})
    assert r.url.path == "/admin/access" and "lab_out" in r.text
    assert client_for("lab_out").get("/patients/PAT-C/results").status_code == 200
    e = audit.entries(app.state.store, action="access.grant")[0]
    assert (e.actor, e.target, e.detail) == ("admin", "user:lab_out", {"patient": "PAT-C"})
    admin.post("/admin/access/revoke", data={"username": "lab_out", "case_id": "PAT-C"})
    assert client_for("lab_out").get("/patients/PAT-C/results").status_code == 404
    e = audit.entries(app.state.store, action="access.revoke")[0]
    assert (e.actor, e.target, e.outcome) == ("admin", "user:lab_out", "ok")
    # bad input: one line naming the field, nothing stored
    r = admin.post("/admin/access/grant", data={"username": "lab_out", "case_id": "PAT-NONE"})
    assert r.status_code == 422 and "no patient &#39;PAT-NONE&#39;" in r.text
    r = admin.post("/admin/access/grant", data={"username": "ghost", "case_id": "PAT-A"})
    assert r.status_code == 422 and "no user &#39;ghost&#39;" in r.text
    r = admin.post("/admin/access/grant", data={"username": "lab_out", "every": "yes"})
    assert client_for("lab_out").get("/api/v1/patients").json()["total"] == 3


def test_cli_access_grant_revoke_list(settings: Any, capsys: Any) -> None:
    import json

    from remission.cli import main

    db = ["--db", settings.db_url]
    assert main(["access", "grant", "viewer_out", "PAT-A", *db]) == 0
    assert main(["access", "grant", "viewer_out", "--all", *db]) == 0
    assert main(["access", "grant", "viewer_out", *db]) == 1  # neither id nor --all
    assert "give either a patient id or --all" in capsys.readouterr().err
    assert main(["access", "grant", "viewer_out", "PAT-NONE", *db]) == 1
    assert "no patient 'PAT-NONE'" in capsys.readouterr().err
    assert main(["access", "list", "viewer_out", "--json", *db]) == 0
    rows = json.loads(capsys.readouterr().out)["result"]["grants"]
    assert [(g["case_id"], g["granted_by"]) for g in rows] == [("*", "cli"), ("PAT-A", "cli")]
    assert main(["access", "revoke", "viewer_out", "--all", *db]) == 0
    assert main(["access", "list", "viewer_out", "--json", *db]) == 0
    assert [g["case_id"] for g in json.loads(capsys.readouterr().out)["result"]["grants"]] == ["PAT-A"]
