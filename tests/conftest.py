"""Shared fixtures. Area-specific fixtures live in ``tests/<area>/conftest.py``.

Fixtures that build data do it lazily (session scope), never at import time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# One deterministic Hypothesis profile for the whole suite (CI and local runs alike): the same
# examples on every run (derandomize), no per-example deadline and no health check that depends on
# machine speed, so a busy 2-core machine never turns a slow example into a failure. Tests may
# still set max_examples with @settings; these settings are inherited for everything else.
settings.register_profile(
    "remission-ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)
settings.load_profile("remission-ci")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (reference data: Gating-ML compliance, Vidjil)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


@pytest.fixture(scope="session")
def example_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled example cases, written once per session: slug -> case.yaml."""
    from remission.synth.examples import write_examples

    dest = tmp_path_factory.mktemp("examples")
    return {p.parent.name: p for p in write_examples(dest)}
