"""Authorisation: every route declares a rule, and every route × role gets what its rule says.

A route added without a rule fails :func:`test_every_route_declares_a_rule`; a route whose
rule is not in :data:`EXPECTED` fails :func:`test_rules_are_the_reviewed_ones`, so adding a
route means writing down who may use it here.
"""

from __future__ import annotations

from typing import Any

import pytest

from remission.web.deps import iter_routes, rule_of

ALL = ("admin", "clinician", "lab", "viewer")
#: the reviewed rule of every route: (method, path) -> roles ("public" = anyone)
EXPECTED: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/"): ("public",),
    ("GET", "/login"): ("public",),
    ("POST", "/login"): ("public",),
    ("GET", "/assets/report.css"): ("public",),
    ("POST", "/logout"): ALL,
    ("GET", "/account"): ALL,
    ("POST", "/account/sessions/{session_id}/end"): ALL,
    ("POST", "/account/logout-others"): ALL,
    ("POST", "/account/password"): ALL,
    ("GET", "/account/totp"): ALL,
    ("POST", "/account/totp/start"): ALL,
    ("POST", "/account/totp/confirm"): ALL,
    ("POST", "/account/totp/disable"): ALL,
    ("GET", "/admin/access"): ("admin",),
    ("POST", "/admin/access/grant"): ("admin",),
    ("POST", "/admin/access/revoke"): ("admin",),
    ("GET", "/admin/users"): ("admin",),
    ("POST", "/admin/users/{username}/disable"): ("admin",),
    ("POST", "/admin/users/{username}/sessions/end"): ("admin",),
    ("POST", "/admin/users/{username}/totp/reset"): ("admin",),
    ("GET", "/admin/audit"): ("admin",),
    ("GET", "/patients"): ALL,
    ("GET", "/patients/{case_id}"): ALL,
    ("GET", "/patients/{case_id}/results"): ALL,
    ("POST", "/patients/{case_id}/results/file"): ("lab",),
    ("POST", "/patients/{case_id}/results/mrd"): ("lab",),
    ("POST", "/results/{result_id}/signoff"): ("lab",),
    ("GET", "/jobs/{job_id}"): ALL,
    ("GET", "/board"): ALL,
    ("POST", "/board"): ("clinician",),
    ("GET", "/board/{meeting_id}"): ALL,
    ("POST", "/board/{meeting_id}/patients"): ("clinician",),
    ("POST", "/board/{meeting_id}/decisions"): ("clinician",),
    ("POST", "/decisions/{decision_id}/sign"): ("clinician",),
    ("POST", "/decisions/{decision_id}/amend"): ("clinician",),
    ("GET", "/board/{meeting_id}/export.html"): ALL,
    ("GET", "/board/{meeting_id}/export.pdf"): ALL,
    ("GET", "/cohort"): ("admin", "clinician", "viewer"),
    ("GET", "/api/v1/cohort"): ("admin", "clinician", "viewer"),
    ("GET", "/api/v1/me"): ALL,
    ("GET", "/api/v1/patients"): ALL,
    ("GET", "/api/v1/patients/{case_id}"): ALL,
    ("GET", "/api/v1/patients/{case_id}/results"): ALL,
    ("POST", "/api/v1/patients/{case_id}/results/mrd"): ("lab",),
    ("POST", "/api/v1/results/{result_id}/signoff"): ("lab",),
    ("GET", "/api/v1/jobs/{job_id}"): ALL,
    ("GET", "/api/v1/patients/{case_id}/jobs"): ALL,
    ("GET", "/api/v1/board/meetings"): ALL,
    ("GET", "/api/v1/board/meetings/{meeting_id}"): ALL,
}
#: endpoints that are not FastAPI routes: the OpenAPI document and the static files (htmx, CSS)
NOT_ROUTES = {"/api/v1/openapi.json", "/static"}


def _endpoints(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for r in iter_routes(app):
        if r.path in NOT_ROUTES:
            continue
        for m in sorted(getattr(r, "methods", None) or ()):
            if m != "HEAD":
                out.append((m, r.path, r))
    return out


def test_every_route_declares_a_rule(app: Any) -> None:
    missing = [f"{m} {p}" for m, p, r in _endpoints(app) if rule_of(r) is None]
    assert not missing, f"routes without an authorisation rule: {missing}"


def test_rules_are_the_reviewed_ones(app: Any) -> None:
    found = {(m, p): rule_of(r) for m, p, r in _endpoints(app)}
    assert found == EXPECTED


def test_a_route_without_a_rule_is_caught(app: Any) -> None:
    # the check itself works: a route added without a rule is reported
    @app.get("/new-and-forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    missing = [p for m, p, r in _endpoints(app) if rule_of(r) is None]
    assert missing == ["/new-and-forgotten"]


def _fill(path: str, ids: dict[str, str]) -> str:
    for k, v in ids.items():
        path = path.replace("{" + k + "}", v)
    return path


@pytest.fixture
def ids(client_for: Any) -> dict[str, str]:
    """Real ids for the path parameters: a meeting, a decision, a draft result, a job, a session."""
    clin = client_for("clin")
    r = clin.post("/board", data={"date": "2030-01-01", "title": "authz", "attendees": ""})
    meeting_id = r.url.path.rsplit("/", 1)[-1]
    clin.post(f"/board/{meeting_id}/patients", data={"case_id": "PAT-A"})
    clin.post(f"/board/{meeting_id}/decisions?case_id=PAT-A", data={"free_text": "watch"})
    decision_id = clin.get(f"/api/v1/board/meetings/{meeting_id}").json()["decisions"][0]["decision_id"]
    lab = client_for("lab")
    res = lab.post("/api/v1/patients/PAT-A/results/mrd", json={"date": "2023-05-01", "method": "pcr", "value": None})
    # a background job: a one-record FASTQ upload
    lab.post("/patients/PAT-A/results/file", data={"kind": "fastq", "sample_date": "2023-05-01"},
             files={"file": ("fu.fastq", b"@r1\nACGT\n+\nIIII\n", "application/octet-stream")})
    job_id = lab.get("/api/v1/patients/PAT-A/jobs").json()[0]["job_id"]
    return {"case_id": "PAT-A", "meeting_id": meeting_id, "decision_id": decision_id,
            "result_id": res.json()["result_id"], "username": "nobody", "session_id": "0" * 64,
            "job_id": job_id}


ROLE = {"admin": "admin", "clin": "clinician", "lab": "lab", "viewer": "viewer"}


@pytest.mark.parametrize("account", ["admin", "clin", "lab", "viewer", None])
def test_every_route_for_every_role(app: Any, client_for: Any, ids: dict[str, str], account: str | None) -> None:
    """Allowed roles never get 401/403; other roles get 403; anonymous callers get 401 (API) or a
    redirect to the login page. Each request runs in a fresh session (logout ends one)."""
    problems = []
    for method, path, route in _endpoints(app):
        rule = rule_of(route)
        assert rule is not None
        c = client_for(account)
        c.follow_redirects = False
        r = c.request(method, _fill(path, ids), data={} if method == "POST" and "/api/" not in path else None)
        allowed = "public" in rule or (account is not None and ROLE[account] in rule)
        if allowed:
            # (logout itself redirects to the login page)
            ok = r.status_code not in (401, 403) and (path == "/logout" or r.headers.get("location") != "/login")
        elif account is None:
            ok = r.status_code == 401 if path.startswith("/api/") else (
                r.status_code == 303 and r.headers["location"] == "/login")
        else:
            ok = r.status_code == 403
        if not ok:
            problems.append(f"{account} {method} {path}: {r.status_code}")
    assert not problems, problems


def test_denied_access_is_audited(client_for: Any, app: Any) -> None:
    from remission.app import audit

    client_for("viewer").get("/admin/audit")
    e = audit.entries(app.state.store, action="access.denied")[0]
    assert (e.actor, e.target, e.outcome) == ("viewer", "/admin/audit", "denied")
