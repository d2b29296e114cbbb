"""One's own account: the common-password check (ASVS 6.2.4), TOTP enrolment in the browser
(6.5.5: 30-s steps; admins must enrol before anything else), turning the factor off after
re-authentication (7.5.1), password change, and logging out the other sessions (7.4.3, 7.5.2)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest

from remission.web.deps import COOKIE


def _login(app: Any, name: str, password: str, totp: str = "") -> Any:
    from fastapi.testclient import TestClient

    c = TestClient(app, base_url="https://testserver")
    r = c.post("/login", data={"username": name, "password": password, "totp": totp})
    if c.cookies.get(COOKIE):  # the CSRF token, from a page every account can open
        m = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/account/totp").text)
        assert m, "no CSRF token on the enrolment page"
        c.headers["X-CSRF-Token"] = m.group(1)
    return c, r


# ---- common passwords ---------------------------------------------------------------------------------
# ranks are the line numbers of src/remission/app/data/common_passwords.txt, i.e. the positions in
# zxcvbn 4.5.0's FREQUENCY_LISTS["passwords"] (counted from 1)
@pytest.mark.parametrize(("password", "rank"), [("PassWord", 2), ("BASEBALL", 12), ("iloveyou", 47),
                                                ("password2", 2985), ("beautifu", 2998)])
def test_common_passwords_are_refused_without_regard_to_case(password: str, rank: int) -> None:
    from remission.app.auth import AuthPolicy, check_password_policy
    from remission.app.passwords import common_rank
    from remission.errors import ValidationError

    assert common_rank(password) == rank
    with pytest.raises(ValidationError, match=f"password is number {rank} of the 3,000 most common passwords"):
        check_password_policy(password, AuthPolicy())


def test_the_list_is_the_top_3000_and_no_more() -> None:
    from remission.app.passwords import LIST_PATH, common_rank

    lines = LIST_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3000 and lines[:3] == ["123456", "password", "12345678"]
    # "dutchess" is entry 3005 of zxcvbn's list: outside the top 3,000, so allowed
    assert common_rank("dutchess") is None
    assert common_rank("correct horse battery") is None
    assert common_rank("qwerty", top=3) is None and common_rank("qwerty", top=4) == 4
    assert (LIST_PATH.parent / "common_passwords.LICENSE").read_text().count("MIT License") == 2


def test_common_password_refused_at_user_creation(app: Any) -> None:
    from argon2 import profiles

    from remission.app.auth import AuthPolicy, create_user
    from remission.errors import ValidationError

    with pytest.raises(ValidationError, match="number 47 of the 3,000"):
        create_user(app.state.store, "eve", "viewer", "ILoveYou", policy=AuthPolicy(argon2_parameters=profiles.CHEAPEST))


def test_cli_user_add_refuses_a_common_password(settings: Any, monkeypatch: Any, capsys: Any) -> None:
    import io

    from remission.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("Football\n"))  # rank 14
    assert main(["user", "add", "eve", "--role", "viewer", "--db", settings.db_url]) == 1
    assert "password is number 14 of the 3,000 most common passwords" in capsys.readouterr().err


# ---- password change ----------------------------------------------------------------------------------
def test_password_change_in_the_web(app: Any, client_for: Any, password: str) -> None:
    from remission.app import audit

    c = client_for("viewer")
    r = c.post("/account/password", data={"current": password, "new": "Superman", "repeat": "Superman"})
    assert r.status_code == 422 and "password is number 26 of the 3,000 most common passwords" in r.text
    r = c.post("/account/password", data={"current": "wrong wrong", "new": "a fresh passphrase",
                                          "repeat": "a fresh passphrase"})
    assert r.status_code == 422 and "current password not accepted" in r.text
    r = c.post("/account/password", data={"current": password, "new": "a fresh passphrase",
                                          "repeat": "a different one"})
    assert r.status_code == 422 and "the two new passwords differ" in r.text
    r = c.post("/account/password", data={"current": password, "new": "a fresh passphrase",
                                          "repeat": "a fresh passphrase"})
    assert r.status_code == 200 and "Password changed" in r.text
    assert _login(app, "viewer", password)[1].status_code == 401
    assert _login(app, "viewer", "a fresh passphrase")[1].url.path == "/patients"
    outcomes = [e.outcome for e in audit.entries(app.state.store, action="password.change")]
    assert outcomes == ["ok", "denied"]  # newest first; refused policy checks change nothing


# ---- other sessions -----------------------------------------------------------------------------------
def test_log_out_other_sessions(app: Any, client_for: Any) -> None:
    from remission.app import audit

    a, b, lab = client_for("viewer"), client_for("viewer"), client_for("lab")
    assert 'id="logout-others"' in a.get("/account").text
    r = a.post("/account/logout-others")
    assert "1 other session ended" in r.text
    assert b.get("/api/v1/me").status_code == 401
    assert a.get("/api/v1/me").status_code == 200 and lab.get("/api/v1/me").status_code == 200
    e = audit.entries(app.state.store, action="sessions.end_others")[0]
    assert (e.actor, e.detail) == ("viewer", {"ended": 1})


# ---- TOTP ---------------------------------------------------------------------------------------------
def test_totp_step_is_30_seconds() -> None:
    import pyotp

    from remission.app.auth import TOTP_STEP_SECONDS, totp_now

    secret = pyotp.random_base32()
    t0 = dt.datetime(2030, 1, 1, 8, 0, 0, tzinfo=dt.UTC)  # a multiple of 30 s since the epoch
    # RFC 6238: the code is a function of floor(unix time / 30); same step, same code
    assert TOTP_STEP_SECONDS == 30
    assert totp_now(secret, t0) == totp_now(secret, t0 + dt.timedelta(seconds=29))
    codes = {totp_now(secret, t0 + dt.timedelta(seconds=30 * k)) for k in range(4)}
    assert len(codes) >= 3  # successive steps give (almost always) new codes


def test_a_totp_code_logs_in_once(app: Any, password: str, tmp_path: Any) -> None:
    """ASVS 6.5.1: the same code (same 30-s step) cannot log in twice, nor can an older one."""
    from argon2 import profiles

    from remission.app import audit
    from remission.app.auth import AuthError, AuthPolicy, authenticate, totp_now

    st = app.state.store
    secret = (tmp_path / "admin.totp").read_text()
    policy = AuthPolicy(argon2_parameters=profiles.CHEAPEST)
    assert policy.totp_single_use  # the production default
    t0 = dt.datetime(2030, 1, 1, 8, 0, 0, tzinfo=dt.UTC)
    authenticate(st, "admin", password, totp_code=totp_now(secret, t0), address="a", policy=policy, now=t0)
    with pytest.raises(AuthError, match="not accepted"):
        authenticate(st, "admin", password, totp_code=totp_now(secret, t0), address="a", policy=policy,
                     now=t0 + dt.timedelta(seconds=10))
    assert audit.entries(st, action="login")[0].detail == {"reason": "second factor code already used"}
    # the previous step's code is inside the drift window at t0+30 s but older than the one used
    with pytest.raises(AuthError):
        authenticate(st, "admin", password, totp_code=totp_now(secret, t0), address="a", policy=policy,
                     now=t0 + dt.timedelta(seconds=30))
    # the next step's code works
    t1 = t0 + dt.timedelta(seconds=30)
    authenticate(st, "admin", password, totp_code=totp_now(secret, t1), address="a", policy=policy, now=t1)


def _secret_on(page: str) -> str:
    m = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page)
    assert m, page[:500]
    return m.group(1).replace(" ", "")


def test_enrolment_needs_a_current_code_and_then_login_does(app: Any, client_for: Any, password: str) -> None:
    from remission.app import audit
    from remission.app.auth import totp_now

    c = client_for("clin")
    page = c.get("/account/totp").text
    assert "second factor is <b>off</b>" in page and 'id="totp-start"' in page
    page = c.post("/account/totp/start").text
    secret = _secret_on(page)
    assert 'id="totp-qr"' in page and "<svg" in page  # segno's QR code, inline SVG
    uri = html.unescape(re.search(r'<code id="totp-uri">([^<]+)</code>', page).group(1))
    assert uri.startswith("otpauth://totp/remission:clin?") and f"secret={secret}" in uri
    # pending only: login still needs no code
    assert _login(app, "clin", password)[1].url.path == "/patients"
    wrong = "000000" if totp_now(secret) != "000000" else "111111"
    r = c.post("/account/totp/confirm", data={"code": wrong})
    assert r.status_code == 422 and "code not accepted" in r.text and _secret_on(r.text) == secret
    r = c.post("/account/totp/confirm", data={"code": totp_now(secret)})
    assert r.status_code == 200 and "Second factor on" in r.text and 'id="logout-others"' in r.text
    assert _login(app, "clin", password)[1].status_code == 401
    assert _login(app, "clin", password, totp_now(secret))[1].url.path == "/patients"
    actions = [(e.action, e.outcome) for e in audit.entries(app.state.store) if e.actor == "clin"
               and e.action.startswith("totp.")]
    assert actions == [("totp.enable", "ok"), ("totp.enable", "denied"), ("totp.enrol", "started")]


def test_turning_totp_off_needs_password_and_code(app: Any, client_for: Any, password: str) -> None:
    from remission.app.auth import totp_now

    c = client_for("viewer")
    secret = _secret_on(c.post("/account/totp/start").text)
    c.post("/account/totp/confirm", data={"code": totp_now(secret)})
    r = c.post("/account/totp/disable", data={"password": "wrong wrong", "code": totp_now(secret)})
    assert r.status_code == 422 and "password or code not accepted" in r.text
    r = c.post("/account/totp/disable", data={"password": password, "code": "12345"})
    assert r.status_code == 422
    r = c.post("/account/totp/disable", data={"password": password, "code": totp_now(secret)})
    assert r.status_code == 200 and "Second factor off" in r.text
    assert _login(app, "viewer", password)[1].url.path == "/patients"


def test_admin_cannot_turn_totp_off(client_for: Any, password: str, totp: Any) -> None:
    admin = client_for("admin")
    assert "Admins must keep a second factor" in admin.get("/account/totp").text
    r = admin.post("/account/totp/disable", data={"password": password, "code": totp("admin")})
    assert r.status_code == 422 and "admins must keep a second factor" in r.text


def test_admin_without_totp_must_enrol_before_anything_else(app: Any, password: str, settings: Any) -> None:
    from remission.app import audit
    from remission.app.auth import totp_now
    from remission.cli import main

    assert main(["user", "reset-totp", "admin", "--db", settings.db_url]) == 0  # a lost device
    assert audit.entries(app.state.store, action="totp.reset")[0].target == "user:admin"
    c, r = _login(app, "admin", password)  # no code asked: there is no factor to ask for
    assert r.url.path == "/account/totp" and 'id="totp-required"' in r.text
    c.follow_redirects = False
    for path in ("/patients", "/admin/users", "/admin/access", "/account"):
        assert c.get(path).headers["location"] == "/account/totp", path
    assert c.get("/api/v1/me").status_code == 403
    assert c.post("/admin/users/viewer/disable").headers["location"] == "/account/totp"
    c.follow_redirects = True
    secret = _secret_on(c.post("/account/totp/start").text)
    c.post("/account/totp/confirm", data={"code": totp_now(secret)})
    assert c.get("/admin/users").status_code == 200
    assert [u for u in audit.entries(app.state.store, action="user.disable")] == []


def test_admin_resets_a_lost_second_factor(app: Any, client_for: Any, password: str) -> None:
    from remission.app import audit
    from remission.app.auth import totp_now

    clin = client_for("clin")
    secret = _secret_on(clin.post("/account/totp/start").text)
    clin.post("/account/totp/confirm", data={"code": totp_now(secret)})
    admin = client_for("admin")
    assert "/admin/users/clin/totp/reset" in admin.get("/admin/users").text
    assert admin.post("/admin/users/clin/totp/reset").status_code == 200
    assert clin.get("/api/v1/me").status_code == 401  # its sessions ended
    assert _login(app, "clin", password)[1].url.path == "/patients"  # no code asked any more
    e = audit.entries(app.state.store, action="totp.reset")[0]
    assert (e.actor, e.target, e.detail) == ("admin", "user:clin", {"sessions_ended": 1})


def test_unenrolled_admin_can_log_out(app: Any, password: str, settings: Any) -> None:
    from remission.cli import main

    main(["user", "reset-totp", "admin", "--db", settings.db_url])
    c, _ = _login(app, "admin", password)
    r = c.post("/logout")
    assert r.url.path == "/login"
