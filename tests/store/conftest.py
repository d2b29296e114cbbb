"""Store fixtures: a fresh store URL on SQLite (tmp file) and on PostgreSQL.

PostgreSQL comes from ``$REMISSION_TEST_PG_URL`` or from ``tests/_artifacts/pg_url``, which
``scripts/test-tiers.sh`` writes after starting a throwaway server. Each test gets its own
new database on that server (created here, dropped afterwards). Without a server the
``postgres`` tests are skipped with the reason, except when ``REMISSION_REQUIRE_TIERS=1``
(``.ci/run``), where they fail: CI must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from remission.domain import Case, CaseAnalysis

ARTIFACT = Path(__file__).resolve().parents[1] / "_artifacts" / "pg_url"


def _tier_missing(reason: str) -> None:
    if os.environ.get("REMISSION_REQUIRE_TIERS") == "1":
        pytest.fail(f"postgres tier required (REMISSION_REQUIRE_TIERS=1) but {reason}", pytrace=False)
    pytest.skip(f"postgres tier: {reason} (run scripts/test-tiers.sh or set REMISSION_TEST_PG_URL)")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of a database on a reachable PostgreSQL server with the right to CREATE DATABASE."""
    url = os.environ.get("REMISSION_TEST_PG_URL", "").strip()
    if not url and ARTIFACT.is_file():
        url = ARTIFACT.read_text(encoding="utf-8").strip()
    if not url:
        _tier_missing("no PostgreSQL server: REMISSION_TEST_PG_URL unset and tests/_artifacts/pg_url absent")
    import sqlalchemy as sa

    from remission.store.core import normalise_url

    url = normalise_url(url)
    try:
        eng = sa.create_engine(url)
        with eng.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        eng.dispose()
    except Exception as exc:
        _tier_missing(f"cannot connect to {sa.make_url(url).render_as_string(hide_password=True)}: "
                      f"{str(exc).splitlines()[0]}")
    return url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test."""
    import sqlalchemy as sa

    name = f"remission_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store on each back-end."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'store.db').as_posix()}"
    return str(request.getfixturevalue("pg_url"))


def make_case(patient: str = "P1", *, mrd: tuple[tuple[str, str, float | None, float | None], ...] = (),
              samples: tuple[str, ...] = ()) -> Case:
    """A small case. ``mrd``: (iso date, method, value or None, loq) reported MRD values."""
    data: dict[str, object] = {
        "patient": {"id": patient, "sex": "female", "date_of_birth": "2014-03-01"},
        "diagnosis": {"date": "2019-05-10", "lineage": "B"},
        "frontline": {"end_date": "2021-08-01"},
        "relapses": [{"number": 1, "date": "2023-02-01", "site": "isolated_bm", "marrow_blasts_percent": 60}],
        "mrd_reports": [{"date": d, "method": m, "value": v, "lod": (loq or 1e-4) / 2, "loq": loq}
                        for d, m, v, loq in mrd],
        "samples": [{"id": s, "date": "2023-03-01", "material": "bone_marrow", "assay": "observations",
                     "files": [f"{s}.csv"], "parameters": {"dna_ng": 700}} for s in samples],
    }
    return Case.model_validate(data)


@pytest.fixture
def analysis_of(tmp_path: Path) -> Callable[..., CaseAnalysis]:
    """``analysis_of(case, parameters=None, samples=False)``: a CaseAnalysis of a small case.

    The pipeline runs on the case without samples (no assay files are needed); the samples are
    put back afterwards so that the store sees them.
    """
    from remission.pipeline import analyze_case

    def build(case: Case, parameters: dict[str, object] | None = None) -> CaseAnalysis:
        bare = case.model_copy(update={"samples": ()})
        a = analyze_case(bare, tmp_path, parameters=parameters)
        return a.model_copy(update={"case": case})

    return build


@pytest.fixture(scope="session")
def example_analysis(example_cases: dict[str, Path]) -> Callable[[str], CaseAnalysis]:
    """``example_analysis(slug)``: the pipeline's analysis of a bundled example case, computed
    once per session (some engines take seconds on the full example data)."""
    from remission.pipeline import analyze

    cache: dict[str, CaseAnalysis] = {}

    def get(slug: str) -> CaseAnalysis:
        if slug not in cache:
            cache[slug] = analyze(example_cases[slug])
        return cache[slug]

    return get


@pytest.fixture
def small_case_file(tmp_path: Path) -> Path:
    """A minimal case file (no assay files): ``analyze`` on it takes well under a second."""
    import json

    path = tmp_path / "small" / "case.json"
    path.parent.mkdir()
    case = make_case("SMALL-1", mrd=(("2023-03-01", "pcr", 2e-3, 1e-4), ("2023-04-15", "pcr", None, 1e-4)))
    path.write_text(json.dumps(case.model_dump(mode="json", by_alias=True, exclude_defaults=True)),
                    encoding="utf-8")
    return path
