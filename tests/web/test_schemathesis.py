"""Property-based API test: schemathesis generates requests from ``/api/v1/openapi.json`` and
sends them, logged in as a laboratory user (who may also write; a clinician for the cohort panel), to the application: no 5xx,
status codes, content types and bodies as the schema says. Bounded and deterministic
(``derandomize``, a fixed number of examples per operation, no deadline)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from _web_factory import PASSWORD, seed  # type: ignore[import-not-found]
from hypothesis import HealthCheck, settings

from remission.web.deps import COOKIE


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from argon2 import profiles
    from fastapi.testclient import TestClient

    from remission.app.auth import AuthPolicy
    from remission.web import WebSettings, create_app

    tmp: Path = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{(tmp / 'api.db').as_posix()}"
    seed(url, tmp)
    app = create_app(WebSettings(db_url=url, policy=AuthPolicy(argon2_parameters=profiles.CHEAPEST),
                                 files_dir=tmp / "files"))
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    c.post("/login", data={"username": "lab", "password": PASSWORD})
    app.state.test_headers = {"Cookie": f"{COOKIE}={c.cookies.get(COOKIE)}",
                              "X-CSRF-Token": c.get("/api/v1/me").json()["csrf_token"]}
    # the cohort panel is not offered to the laboratory role: a clinician calls it
    c2 = TestClient(app, base_url="https://testserver", follow_redirects=False)
    c2.post("/login", data={"username": "clin", "password": PASSWORD})
    app.state.clin_headers = {"Cookie": f"{COOKIE}={c2.cookies.get(COOKIE)}",
                              "X-CSRF-Token": c2.get("/api/v1/me").json()["csrf_token"]}
    yield app
    app.state.store.close()


def test_api_conforms_to_its_schema(api_app: Any) -> None:
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) == 11  # every /api/v1 operation is exercised

    statuses: list[int] = []
    for op in operations:
        headers = api_app.state.clin_headers if op.path == "/api/v1/cohort" else api_app.state.test_headers

        @given(case=op.as_strategy())
        @settings(max_examples=15, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            # run() is called at once, inside this loop step: it sees this step's headers
            statuses.append(case.call_and_validate(headers=headers).status_code)  # noqa: B023

        run()
    assert 401 not in statuses and 403 not in statuses  # the session and CSRF header were sent
    assert statuses.count(200) >= 8 and max(statuses) < 500
