"""Login, logout, own sessions; admin: users, ending sessions, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from remission.app import audit
from remission.app import auth as svc
from remission.app.auth import AuthError, SessionInfo
from remission.web.deps import COOKIE, allow, client_address, public, store_of
from remission.web.render import page

router = APIRouter(include_in_schema=False)
ADMIN = allow("admin")
ANY_USER = allow("admin", "clinician", "lab", "viewer")
#: logout stays open to an admin who has not enrolled a second factor yet
LEAVING = allow("admin", "clinician", "lab", "viewer", before_enrolment=True)


def set_session_cookie(response: Response, token: str) -> None:
    # __Host-: Secure, Path=/, no Domain; HttpOnly; SameSite=Strict (ASVS 3.3.1-3.3.4). No
    # Max-Age: a browser session cookie; the server enforces the idle and absolute timeouts.
    response.set_cookie(COOKIE, token, path="/", secure=True, httponly=True, samesite="strict")


@router.get("/", dependencies=[Depends(public)])
def home() -> Response:
    return RedirectResponse("/patients", status_code=303)


@router.get("/login")
def login_page(request: Request, session: Annotated[SessionInfo | None, Depends(public)]) -> Response:
    if session is not None:
        return RedirectResponse("/patients", status_code=303)
    return page(request, "login.html")


@router.post("/login")
def login(request: Request, _s: Annotated[SessionInfo | None, Depends(public)],
          username: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1000)],
          totp: Annotated[str, Form(max_length=20)] = "") -> Response:
    settings = request.app.state.settings
    try:
        token, _session = svc.authenticate(store_of(request), username, password, totp_code=totp,
                                           address=client_address(request), policy=settings.policy)
    except AuthError as exc:
        request.state.session = None
        return page(request, "login.html", {"error": str(exc)}, status_code=401)
    # a new token on every login (ASVS 7.2.4); an old cookie's session is ended
    old = request.cookies.get(COOKIE)
    if old:
        previous = svc.resolve_session(store_of(request), old, policy=settings.policy)
        if previous is not None:
            svc.end_session(store_of(request), previous.session_id, actor=previous.user.username,
                            address=client_address(request), reason="logout")
    response = RedirectResponse("/patients", status_code=303)
    set_session_cookie(response, token)
    return response


@router.post("/logout")
def logout(request: Request, session: Annotated[SessionInfo, Depends(LEAVING)]) -> Response:
    svc.end_session(store_of(request), session.session_id, actor=session.user.username,
                    address=client_address(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/account")
def account(request: Request, session: Annotated[SessionInfo, Depends(ANY_USER)]) -> Response:
    return page(request, "account.html", {"sessions": svc.list_sessions(store_of(request), session.user.username),
                                          "error": "", "message": ""})


@router.post("/account/sessions/{session_id}/end")
def end_own_session(request: Request, session_id: str, session: Annotated[SessionInfo, Depends(ANY_USER)]) -> Response:
    mine = {s["session_id"] for s in svc.list_sessions(store_of(request), session.user.username)}
    if session_id in mine:
        svc.end_session(store_of(request), session_id, actor=session.user.username,
                        address=client_address(request), reason="session.end")
    return RedirectResponse("/account", status_code=303)


@router.get("/admin/users")
def users(request: Request, session: Annotated[SessionInfo, Depends(ADMIN)]) -> Response:
    st = store_of(request)
    counts: dict[str, int] = {}
    for s in svc.list_sessions(st):
        counts[s["username"]] = counts.get(s["username"], 0) + 1
    return page(request, "users.html", {"users": svc.list_users(st), "sessions": counts})


@router.post("/admin/users/{username}/disable")
def disable(request: Request, username: str, session: Annotated[SessionInfo, Depends(ADMIN)]) -> Response:
    svc.disable_user(store_of(request), username, actor=session.user.username, address=client_address(request))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/sessions/end")
def end_sessions(request: Request, username: str, session: Annotated[SessionInfo, Depends(ADMIN)]) -> Response:
    svc.end_user_sessions(store_of(request), username, actor=session.user.username, address=client_address(request))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/totp/reset")
def reset_totp(request: Request, username: str, session: Annotated[SessionInfo, Depends(ADMIN)]) -> Response:
    """A lost device: clear the account's second factor and end its sessions (it enrols again)."""
    svc.totp_reset(store_of(request), username, actor=session.user.username, address=client_address(request))
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/audit")
def audit_page(request: Request, session: Annotated[SessionInfo, Depends(ADMIN)]) -> Response:
    st = store_of(request)
    return page(request, "audit.html", {"entries": audit.entries(st), "report": audit.verify(st)})
