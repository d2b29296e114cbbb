"""The tumour-board web application (``remission serve``): FastAPI + Jinja2 + htmx.

::

    from remission.web import WebSettings, create_app
    app = create_app(WebSettings(db_url="sqlite:///remission.db"))
"""

from remission.web.server import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
