"""Dependencies of every route: the store, the caller's address, the session, the role rule and
the CSRF check.

Every route declares exactly one *rule* — :func:`allow` (roles) or :data:`public` — as a
dependency. :func:`rule_of` finds it again, and the test suite enumerates ``app.routes`` and fails
for a route without one (the cBioPortal lesson: a new endpoint that forgot its authorisation).

CSRF (OWASP ASVS 5.0 V3.5): for every unsafe method the ``Origin`` header, when sent, must be this
server's origin, and ``Sec-Fetch-Site``, when sent, must be ``same-origin`` or ``none``; for a
logged-in session the request must also carry the session's synchronizer token, in the
``X-CSRF-Token`` header (htmx adds it to every request from ``hx-headers`` on ``<body>``) or, for
a form posted without JavaScript, in the ``csrf_token`` field. GET never changes state.

Second factor: an admin without an active TOTP factor can use only the routes declared with
``allow(..., before_enrolment=True)`` (the enrolment page and logout); every other route sends
them to ``/account/totp`` (pages) or answers 403 (API).

Patient data: :func:`guard_of` gives the route the account's
:class:`~remission.app.access.Guard`, through which every id-taking use case goes.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from remission.app import audit
from remission.app.access import Guard
from remission.app.auth import SessionInfo, resolve_session
from remission.store import Store

__all__ = ["COOKIE", "CSRF_HEADER", "AccessDenied", "CsrfFailed", "EnrolmentRequired", "LoginRequired", "allow",
           "client_address", "guard_of", "iter_routes", "public", "rule_of", "store_of"]

#: the session cookie: ``__Host-`` prefix = Secure, Path=/, no Domain (ASVS 3.3.1, 3.3.3)
COOKIE = "__Host-remission_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No live session (HTML: redirect to the login page; API: 401)."""


class AccessDenied(Exception):
    """The session's role is not allowed here (403)."""


class CsrfFailed(Exception):
    """Cross-site request refused (403)."""


class EnrolmentRequired(Exception):
    """An admin without a second factor must enrol first (HTML: redirect; API: 403)."""


def store_of(request: Request) -> Store:
    st: Store = request.app.state.store
    return st


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _origin(request: Request) -> str:
    url = request.url
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = "" if url.port in (None, default) else f":{url.port}"
    return f"{url.scheme}://{url.hostname}{port}"


async def check_csrf(request: Request, session: SessionInfo | None) -> None:
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    allowed = {_origin(request), *request.app.state.settings.trusted_origins}
    if origin is not None and origin not in allowed:
        raise CsrfFailed("cross-origin request")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfFailed(f"cross-site request ({site})")
    if session is None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise CsrfFailed("missing or wrong CSRF token")


def _session(request: Request) -> SessionInfo | None:
    settings = request.app.state.settings
    return resolve_session(store_of(request), request.cookies.get(COOKIE), policy=settings.policy)


def allow(*roles: str, before_enrolment: bool = False) -> Callable[[Request], Awaitable[SessionInfo]]:
    """The rule "logged in with one of ``roles``"; the dependency returns the session.
    ``before_enrolment``: also open to an admin who has not yet enrolled a second factor."""
    async def rule(request: Request) -> SessionInfo:
        session = _session(request)
        if session is None:
            raise LoginRequired()
        await check_csrf(request, session)
        request.state.session = session
        if session.user.role == "admin" and not session.user.has_totp and not before_enrolment:
            raise EnrolmentRequired()
        if session.user.role not in roles:
            route = request.scope.get("route")
            audit.record(store_of(request), actor=session.user.username, action="access.denied",
                         target=getattr(route, "path", "?"), outcome="denied",
                         address=client_address(request), detail={"method": request.method})
            raise AccessDenied()
        return session

    rule.remission_rule = tuple(roles)  # type: ignore[attr-defined]
    return rule


async def public(request: Request) -> SessionInfo | None:
    """The rule "anyone" (login page, static assets): the session if there is one."""
    session = _session(request)
    await check_csrf(request, session)
    request.state.session = session
    return session


public.remission_rule = ("public",)  # type: ignore[attr-defined]


def guard_of(request: Request, session: SessionInfo) -> Guard:
    """The account's access to patient data (see :mod:`remission.app.access`)."""
    return Guard(store_of(request), session.user, client_address(request))


def rule_of(route: Any) -> tuple[str, ...] | None:
    """The rule a route declared (``None`` when it declared none)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    stack = list(dependant.dependencies)
    while stack:
        d = stack.pop()
        rule = getattr(d.call, "remission_rule", None)
        if rule is not None:
            return tuple(rule)
        stack.extend(d.dependencies)
    return None


def iter_routes(app: Any) -> Any:
    """Every endpoint of ``app`` with its full path (FastAPI >= 0.160 keeps included routers as
    nodes of ``app.routes``; their ``effective_route_contexts`` are the endpoints)."""
    for r in app.routes:
        contexts = getattr(r, "effective_route_contexts", None)
        if contexts is not None:
            yield from contexts()
        else:
            yield r
