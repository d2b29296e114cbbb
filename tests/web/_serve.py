"""Run the web application in a child process (``python _serve.py DB_URL PORT FILES_DIR``) for
tests that kill the server."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    import uvicorn
    from argon2 import profiles

    from remission.app.auth import AuthPolicy
    from remission.web import WebSettings, create_app

    url, port, files = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    app = create_app(WebSettings(db_url=url, policy=AuthPolicy(argon2_parameters=profiles.CHEAPEST), files_dir=files))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
