"""Page rendering: one Jinja2 environment (autoescape on), the base context of every page.

Templates are compiled once per process and kept (Jinja2's cache); ``auto_reload`` is off, so
a request does not stat the template files (a changed template needs a server restart)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from remission.domain import NOT_A_MEDICAL_DEVICE

__all__ = ["fragment", "fragment_version", "page", "templates"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["words"] = lambda s: str(s).replace("_", " ") if s is not None else ""
templates.env.auto_reload = False


def fragment(name: str, context: dict[str, Any]) -> str:
    """Render ``templates/<name>`` alone (no page, no request): for HTML that is stored."""
    return templates.env.get_template(name).render(context)


def fragment_version(name: str) -> str:
    """A version of a fragment's template (SHA-256 of its source, 16 hex digits): stored HTML made
    by another version is rendered again."""
    return hashlib.sha256((Path(__file__).parent / "templates" / name).read_bytes()).hexdigest()[:16]


def page(request: Request, name: str, context: dict[str, Any] | None = None, *,
         status_code: int = 200) -> Response:
    """Render ``templates/<name>`` with the session, its CSRF token and the notice."""
    session = getattr(request.state, "session", None)
    ctx = {"session": session, "user": session.user if session else None,
           "csrf": session.csrf_token if session else "", "notice": NOT_A_MEDICAL_DEVICE,
           **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
