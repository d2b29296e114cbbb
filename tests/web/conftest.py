"""Web application fixtures: a fresh store with a few small patients and one account per role,
and a logged-in TestClient per role.

Passwords are hashed with argon2's cheapest profile here (the production default takes ~0.3 s a
hash); the cookie is ``Secure``, so the client talks to ``https://testserver``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _web_factory import ACCOUNTS, PASSWORD, seed

PG_ARTIFACT = Path(__file__).resolve().parents[1] / "_artifacts" / "pg_url"


def _pg_admin_url() -> str | None:
    url = os.environ.get("REMISSION_TEST_PG_URL", "").strip()
    if not url and PG_ARTIFACT.is_file():
        url = PG_ARTIFACT.read_text(encoding="utf-8").strip()
    return url or None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store on SQLite (and, marked ``postgres``, on PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'web.db').as_posix()}"
        return
    import sqlalchemy as sa

    from remission.store.core import normalise_url

    admin_url = _pg_admin_url()
    if not admin_url:
        if os.environ.get("REMISSION_REQUIRE_TIERS") == "1":
            pytest.fail("postgres tier required but no server", pytrace=False)
        pytest.skip("postgres tier: no server (run scripts/test-tiers.sh or set REMISSION_TEST_PG_URL)")
    admin_url = normalise_url(admin_url)
    name = f"remission_w_{uuid.uuid4().hex[:12]}"
    eng = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with eng.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Any:
    from argon2 import profiles

    from remission.app.auth import AuthPolicy
    from remission.web import WebSettings

    seed(db_url, tmp_path)
    # totp_single_use off: client_for("admin") logs the admin in many times within one 30-s TOTP
    # step; test_account.test_a_totp_code_logs_in_once keeps it on
    return WebSettings(db_url=db_url, policy=AuthPolicy(argon2_parameters=profiles.CHEAPEST, totp_single_use=False),
                       files_dir=tmp_path / "files")


@pytest.fixture
def app(settings: Any) -> Iterator[Any]:
    from remission.web import create_app

    application = create_app(settings)
    yield application
    application.state.store.close()


@pytest.fixture
def totp(tmp_path: Path) -> Callable[[str], str]:
    """``totp(name)``: the current code of an account with a second factor."""
    from remission.app.auth import totp_now

    return lambda name: totp_now((tmp_path / f"{name}.totp").read_text())


@pytest.fixture
def client_for(app: Any, totp: Callable[[str], str]) -> Callable[..., Any]:
    """``client_for(name)``: a TestClient logged in as that account (``.csrf`` holds its token)."""
    from fastapi.testclient import TestClient

    def make(name: str | None) -> Any:
        c = TestClient(app, base_url="https://testserver")
        c.csrf = ""  # type: ignore[attr-defined]
        if name is None:
            return c
        r = c.post("/login", data={"username": name, "password": PASSWORD,
                                   "totp": totp(name) if ACCOUNTS.get(name) == "admin" else ""})
        assert r.status_code == 200 and r.url.path == "/patients", r.text[:500]
        c.csrf = c.get("/api/v1/me").json()["csrf_token"]  # type: ignore[attr-defined]
        c.headers["X-CSRF-Token"] = c.csrf  # type: ignore[attr-defined]
        return c

    return make


@pytest.fixture
def today() -> dt.date:
    return dt.date.today()


@pytest.fixture
def password() -> str:
    return PASSWORD
