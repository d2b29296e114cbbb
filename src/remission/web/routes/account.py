"""One's own account: second-factor (TOTP) enrolment, password change, logging out the other
sessions. The session list and ending one session are in ``routes/auth.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from remission.app import auth as svc
from remission.app.auth import AuthError, SessionInfo
from remission.errors import ValidationError
from remission.web.deps import allow, client_address, store_of
from remission.web.render import page

router = APIRouter(include_in_schema=False)
ANY_USER = allow("admin", "clinician", "lab", "viewer")
#: the enrolment routes stay open to an admin who has no second factor yet (see deps.allow)
ENROLLING = allow("admin", "clinician", "lab", "viewer", before_enrolment=True)


def _qr_svg(uri: str) -> str | None:
    """The URI as an SVG QR code (segno, BSD-3-Clause, pure Python), or None without segno."""
    try:
        import segno
    except ImportError:  # pragma: no cover - segno is a dependency; the text and URI suffice
        return None
    import io

    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="svg", scale=4, border=4, xmldecl=False, svgns=True,
                                    svgclass="qr", lineclass=None, title="TOTP enrolment QR code")
    return buf.getvalue().decode("ascii")


def _totp_page(request: Request, session: SessionInfo, *, error: str = "", message: str = "",
               status_code: int = 200) -> Response:
    from markupsafe import Markup

    pending = svc.totp_pending(store_of(request), session.user.user_id)
    ctx: dict[str, Any] = {"pending": pending, "error": error, "message": message,
                           "forced": session.user.role == "admin" and not session.user.has_totp}
    if pending:
        uri = svc.provisioning_uri(pending, session.user.username)
        svg = _qr_svg(uri)
        ctx.update(uri=uri, qr=Markup(svg) if svg else None,  # segno's own SVG: no user text in it
                   secret_groups=" ".join(pending[i:i + 4] for i in range(0, len(pending), 4)))
    return page(request, "totp.html", ctx, status_code=status_code)


@router.get("/account/totp")
def totp_page(request: Request, session: Annotated[SessionInfo, Depends(ENROLLING)]) -> Response:
    return _totp_page(request, session)


@router.post("/account/totp/start")
def totp_start(request: Request, session: Annotated[SessionInfo, Depends(ENROLLING)]) -> Response:
    try:
        svc.totp_start(store_of(request), session.user.user_id, address=client_address(request))
    except ValidationError as exc:
        return _totp_page(request, session, error=str(exc), status_code=409)
    return RedirectResponse("/account/totp", status_code=303)


@router.post("/account/totp/confirm")
def totp_confirm(request: Request, session: Annotated[SessionInfo, Depends(ENROLLING)],
                 code: Annotated[str, Form(max_length=20)]) -> Response:
    try:
        svc.totp_confirm(store_of(request), session.user.user_id, code, address=client_address(request))
    except ValidationError as exc:
        return _totp_page(request, session, error=str(exc), status_code=422)
    request.state.session = session.model_copy(update={"user": session.user.model_copy(update={"has_totp": True})})
    return _totp_page(request, request.state.session,
                      message="Second factor on: from now on you log in with a code. "
                              "You can log out your other sessions below.")


@router.post("/account/totp/disable")
def totp_disable(request: Request, session: Annotated[SessionInfo, Depends(ANY_USER)],
                 password: Annotated[str, Form(max_length=1000)],
                 code: Annotated[str, Form(max_length=20)]) -> Response:
    settings = request.app.state.settings
    try:
        svc.totp_disable(store_of(request), session.user.user_id, password, code,
                         address=client_address(request), policy=settings.policy)
    except (AuthError, ValidationError) as exc:
        return _totp_page(request, session, error=str(exc), status_code=422)
    request.state.session = session.model_copy(update={"user": session.user.model_copy(update={"has_totp": False})})
    return _totp_page(request, request.state.session,
                      message="Second factor off. You can log out your other sessions below.")


def _account(request: Request, session: SessionInfo, *, error: str = "", message: str = "",
             status_code: int = 200) -> Response:
    return page(request, "account.html", {"sessions": svc.list_sessions(store_of(request), session.user.username),
                                          "error": error, "message": message}, status_code=status_code)


@router.post("/account/password")
def change_password(request: Request, session: Annotated[SessionInfo, Depends(ANY_USER)],
                    current: Annotated[str, Form(max_length=1000)], new: Annotated[str, Form(max_length=1000)],
                    repeat: Annotated[str, Form(max_length=1000)]) -> Response:
    settings = request.app.state.settings
    if new != repeat:
        return _account(request, session, error="the two new passwords differ", status_code=422)
    try:
        svc.change_password(store_of(request), session.user.user_id, current, new,
                            address=client_address(request), policy=settings.policy)
    except (AuthError, ValidationError) as exc:
        return _account(request, session, error=str(exc), status_code=422)
    return _account(request, session, message="Password changed. You can log out your other sessions below.")


@router.post("/account/logout-others")
def logout_others(request: Request, session: Annotated[SessionInfo, Depends(ANY_USER)]) -> Response:
    n = svc.end_other_sessions(store_of(request), session, address=client_address(request))
    return _account(request, session, message=f"{n} other session{'s' if n != 1 else ''} ended.")
