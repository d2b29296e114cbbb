"""Security controls, each on a case built for it: cookie, CSRF, GET never changes state,
headers, escaping, sessions (logout, timeouts, disabling, admin kill), second factor,
throttling, and no identifiers or tokens in application logs."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from remission.web.deps import COOKIE


def _login(app: Any, name: str, password: str, totp: str = "") -> Any:
    from fastapi.testclient import TestClient

    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    r = c.post("/login", data={"username": name, "password": password, "totp": totp})
    return c, r


# ---- cookie ---------------------------------------------------------------------------------------
def test_session_cookie_attributes(app: Any, password: str) -> None:
    _, r = _login(app, "viewer", password)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == "__Host-remission_session"
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in rest.split(";")[1:]}
    assert "secure" in attrs and "httponly" in attrs
    assert attrs["samesite"].lower() == "samesite=strict"
    assert attrs["path"] == "Path=/"
    assert "domain" not in attrs  # __Host- cookies carry no Domain
    token = rest.split(";")[0]
    # 32 random bytes, base64url: 43 characters = 256 bits (ASVS 7.2.3 asks for >= 128)
    assert len(token) == 43


def test_login_issues_a_new_session_and_ends_the_old(app: Any, password: str) -> None:
    c, _r1 = _login(app, "viewer", password)
    old = c.cookies.get(COOKIE)
    csrf = c.get("/api/v1/me").json()["csrf_token"]  # logged in, a post needs the token
    r2 = c.post("/login", data={"username": "viewer", "password": password}, headers={"X-CSRF-Token": csrf})
    assert r2.status_code == 303
    new = c.cookies.get(COOKIE)
    assert new != old
    from fastapi.testclient import TestClient

    stale = TestClient(app, base_url="https://testserver", follow_redirects=False, cookies={COOKIE: old})
    assert stale.get("/patients").headers["location"] == "/login"


# ---- CSRF -----------------------------------------------------------------------------------------
def test_csrf_token_required_for_unsafe_methods(client_for: Any) -> None:
    c = client_for("clin")
    body = {"date": "2030-01-01", "title": "csrf", "attendees": ""}
    del c.headers["X-CSRF-Token"]
    assert c.post("/board", data=body).status_code == 403
    assert c.post("/board", data=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert c.get("/api/v1/board/meetings").json() == []  # nothing was created
    # the form-field fallback (a form posted without JavaScript) and the htmx header both work
    assert c.post("/board", data={**body, "csrf_token": c.csrf}).status_code == 200
    assert c.post("/board", data=body, headers={"X-CSRF-Token": c.csrf}).status_code == 200
    assert len(c.get("/api/v1/board/meetings").json()) == 2


def test_cross_origin_and_cross_site_posts_are_refused(client_for: Any) -> None:
    c = client_for("clin")
    body = {"date": "2030-01-01", "title": "csrf", "attendees": ""}
    assert c.post("/board", data=body, headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.post("/board", data=body, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert c.post("/board", data=body, headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert c.get("/api/v1/board/meetings").json() == []
    ok = c.post("/board", data=body, headers={"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 200


def test_login_form_is_refused_from_another_origin(app: Any, password: str) -> None:
    from fastapi.testclient import TestClient

    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    r = c.post("/login", data={"username": "viewer", "password": password},
               headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and COOKIE not in r.headers.get("set-cookie", "")


def test_get_never_changes_state(app: Any, client_for: Any) -> None:
    """Every GET route, as every role, leaves the business tables as they were (the audit log
    grows: it records views)."""
    import sqlalchemy as sa

    from remission.store import tables as T
    from remission.web.deps import iter_routes

    tables = [T.cases, T.analyses, T.users, T.assay_results, T.board_meetings, T.board_cases,
              T.board_decisions, T.mrd_results]

    def dump() -> Any:
        return app.state.store.read(lambda conn: {t.name: sorted(map(repr, conn.execute(sa.select(t)).all()))
                                                  for t in tables})

    clients = [client_for(n) for n in ("admin", "clin", "lab", "viewer")]
    before = dump()
    for r in iter_routes(app):
        if "GET" in (getattr(r, "methods", None) or ()) and "{" not in r.path:
            for c in clients:
                c.get(r.path)
    for c in clients:
        c.get("/patients/PAT-A")
        c.get("/patients/PAT-A/results")
    assert dump() == before


# ---- headers and escaping ---------------------------------------------------------------------------
def test_security_headers_on_pages_api_and_errors(client_for: Any) -> None:
    c = client_for("viewer")
    for path in ("/patients", "/api/v1/patients", "/patients/NOPE", "/static/htmx.min.js", "/login"):
        h = c.get(path).headers
        csp = h["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'none'"
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"  # no referrer leaves this origin
        # served over TLS: HSTS for a year (ASVS 3.4.1: max-age >= 31536000)
        assert h["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_pages_have_no_inline_script(client_for: Any) -> None:
    import re

    c = client_for("clin")
    for path in ("/patients", "/patients/PAT-A", "/board", "/login", "/account"):
        html = c.get(path).text
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S | re.I)
        assert scripts, path  # htmx is loaded
        assert all('src="/static/' in attrs and body.strip() == "" for attrs, body in scripts), path
        assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), f"inline event handler in {path}"


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_script_in_every_free_text_field_is_inert(client_for: Any) -> None:
    clin, lab = client_for("clin"), client_for("lab")
    r = clin.post("/board", data={"date": "2030-01-01", "title": XSS, "attendees": XSS})
    meeting_path = r.url.path
    mid = meeting_path.rsplit("/", 1)[-1]
    clin.post(f"{meeting_path}/patients", data={"case_id": "PAT-A"})
    clin.post(f"{meeting_path}/decisions?case_id=PAT-A",
              data={"options": [XSS], "free_text": XSS, "rationale": XSS, "dissent": XSS})
    lab.post("/patients/PAT-A/results/mrd", data={"date": "2023-05-01", "method": "pcr", "marker": XSS,
                                                  "timepoint": XSS})
    lab.post("/patients/PAT-A/results/file", data={"kind": "qpcr", "sample_date": "2023-05-01"},
             files={"file": (XSS + ".csv", b"not,a,plate\n", "text/csv")})
    pages = [clin.get(meeting_path).text, clin.get("/board").text, lab.get("/patients/PAT-A/results").text,
             clin.get(f"/board/{mid}/export.html").text]
    admin = client_for("admin")
    pages.append(admin.get("/admin/audit").text)
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
    assert sum("&lt;script&gt;alert(" in h for h in pages) >= 4
    # the JSON API returns the text as data (JSON strings, served as application/json)
    m = clin.get(f"/api/v1/board/meetings/{mid}")
    assert m.headers["content-type"] == "application/json" and m.json()["title"] == XSS


# ---- sessions -------------------------------------------------------------------------------------------
def test_logout_ends_the_session_on_the_server(app: Any, client_for: Any) -> None:
    from fastapi.testclient import TestClient

    c = client_for("viewer")
    token = c.cookies.get(COOKIE)
    assert c.post("/logout").url.path == "/login"
    copy = TestClient(app, base_url="https://testserver", follow_redirects=False, cookies={COOKIE: token})
    assert copy.get("/patients").headers["location"] == "/login"
    assert copy.get("/api/v1/me").status_code == 401


def test_idle_and_absolute_timeouts(app: Any, password: str) -> None:
    from remission.app.auth import AuthPolicy, authenticate, resolve_session

    st = app.state.store
    policy = AuthPolicy(argon2_parameters=app.state.settings.policy.argon2_parameters)
    t0 = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC)
    token, _ = authenticate(st, "viewer", password, address="1.2.3.4", policy=policy, now=t0)
    # active every 29 minutes: alive at 11 h 36 min (24 steps), but never past 12 hours
    t = t0
    for _ in range(24):
        t += dt.timedelta(minutes=29)
        assert resolve_session(st, token, policy=policy, now=t) is not None
    assert resolve_session(st, token, policy=policy, now=t0 + dt.timedelta(hours=12, minutes=1)) is None
    # idle: 31 minutes after the last request (policy.idle_timeout = 30 min)
    token2, _ = authenticate(st, "viewer", password, address="1.2.3.4", policy=policy, now=t0)
    assert resolve_session(st, token2, policy=policy, now=t0 + dt.timedelta(minutes=31)) is None
    # and it stays ended (the row was deleted), even when asked about an earlier time
    assert resolve_session(st, token2, policy=policy, now=t0 + dt.timedelta(minutes=1)) is None


def test_disabling_an_account_ends_its_sessions(client_for: Any) -> None:
    viewer, admin = client_for("viewer"), client_for("admin")
    assert viewer.get("/api/v1/me").status_code == 200
    assert admin.post("/admin/users/viewer/disable").status_code == 200
    assert viewer.get("/api/v1/me").status_code == 401
    _, r = _login(admin.app, "viewer", "correct horse battery")
    assert r.status_code == 401


def test_admin_ends_any_users_sessions(client_for: Any) -> None:
    lab, admin = client_for("lab"), client_for("admin")
    admin.post("/admin/users/lab/sessions/end")
    assert lab.get("/api/v1/me").status_code == 401


def test_user_ends_own_other_session_only(client_for: Any) -> None:
    a, b, lab = client_for("viewer"), client_for("viewer"), client_for("lab")
    a.post(f"/account/sessions/{_sid(lab)}/end")  # not a's session: ignored
    assert lab.get("/api/v1/me").status_code == 200
    a.post(f"/account/sessions/{_sid(b)}/end")
    assert b.get("/api/v1/me").status_code == 401
    assert a.get("/api/v1/me").status_code == 200


def _sid(client: Any) -> str:
    import hashlib

    return hashlib.sha256(client.cookies.get(COOKIE).encode()).hexdigest()


# ---- second factor and throttling ------------------------------------------------------------------------
def test_admin_needs_the_second_factor(app: Any, password: str, totp: Any) -> None:
    _, r = _login(app, "admin", password)
    assert r.status_code == 401
    _, r = _login(app, "admin", password, "000000" if totp("admin") != "000000" else "111111")
    assert r.status_code == 401
    _, r = _login(app, "admin", password, totp("admin"))
    assert r.status_code == 303


def test_throttling_per_account(app: Any, password: str) -> None:
    # AuthPolicy.max_failures_per_account = 5: the 6th attempt is refused even with the right password
    for _ in range(5):
        assert _login(app, "clin", "wrong password")[1].status_code == 401
    _c, r = _login(app, "clin", password)
    assert r.status_code == 401 and "too many failed logins" in r.text
    assert _login(app, "lab", password)[1].status_code == 303  # other accounts are unaffected


def test_throttling_per_address(app: Any, password: str) -> None:
    # AuthPolicy.max_failures_per_address = 20: 20 failures spread over unknown accounts, then
    # the right password of a real account from the same address is refused
    for i in range(20):
        assert _login(app, f"nobody{i}", "x" * 10)[1].status_code == 401
    assert _login(app, "viewer", password)[1].status_code == 401


# ---- logs ------------------------------------------------------------------------------------------------------
def test_application_logs_hold_no_identifiers_or_tokens(client_for: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = client_for("lab")
    token = c.cookies.get(COOKIE)
    c.get("/patients/PAT-A")
    c.get("/api/v1/patients/PAT-B")
    c.post("/patients/PAT-A/results/mrd", data={"date": "2023-05-01", "method": "pcr"})
    c.get("/patients/NO-SUCH-PATIENT")
    # the server's records (the test client's own httpx log names the URL it requested)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "GET /patients/{case_id} 200" in text  # route templates are logged
    for secret in ("PAT-A", "PAT-B", "NO-SUCH-PATIENT", "lab", token, c.csrf, "correct horse"):
        assert secret not in text
