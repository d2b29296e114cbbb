"""Admin: who may see which patient (the care-team grants of :mod:`remission.app.access`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from remission.app import access as svc
from remission.app.auth import SessionInfo, list_users
from remission.errors import ValidationError
from remission.web.deps import allow, client_address, store_of
from remission.web.render import page

router = APIRouter(include_in_schema=False)
ADMIN = allow("admin")


def _page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
    st = store_of(request)
    return page(request, "access.html", {"grants": svc.list_grants(st), "users": list_users(st),
                                         "error": error, "all": svc.ALL_PATIENTS}, status_code=status_code)


@router.get("/admin/access")
def access_page(request: Request, session: Annotated[SessionInfo, Depends(ADMIN)]) -> Response:
    return _page(request)


@router.post("/admin/access/grant")
def grant(request: Request, session: Annotated[SessionInfo, Depends(ADMIN)],
          username: Annotated[str, Form(max_length=80)], case_id: Annotated[str, Form(max_length=200)] = "",
          every: Annotated[str, Form(max_length=3)] = "") -> Response:
    target = svc.ALL_PATIENTS if every == "yes" else case_id
    try:
        svc.grant(store_of(request), username, target, actor=session.user.username, address=client_address(request))
    except ValidationError as exc:
        return _page(request, error=str(exc), status_code=422)
    return RedirectResponse("/admin/access", status_code=303)


@router.post("/admin/access/revoke")
def revoke(request: Request, session: Annotated[SessionInfo, Depends(ADMIN)],
           username: Annotated[str, Form(max_length=80)], case_id: Annotated[str, Form(max_length=200)]) -> Response:
    try:
        svc.revoke(store_of(request), username, case_id, actor=session.user.username, address=client_address(request))
    except ValidationError as exc:
        return _page(request, error=str(exc), status_code=422)
    return RedirectResponse("/admin/access", status_code=303)
