"""Page rendering: one Jinja2 environment (autoescape on), the base context of every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from remission.domain import NOT_A_MEDICAL_DEVICE

__all__ = ["page", "templates"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["words"] = lambda s: str(s).replace("_", " ") if s is not None else ""


def page(request: Request, name: str, context: dict[str, Any] | None = None, *,
         status_code: int = 200) -> Response:
    """Render ``templates/<name>`` with the session, its CSRF token and the notice."""
    session = getattr(request.state, "session", None)
    ctx = {"session": session, "user": session.user if session else None,
           "csrf": session.csrf_token if session else "", "notice": NOT_A_MEDICAL_DEVICE,
           **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
