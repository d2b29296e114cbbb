"""Shared fixtures. Area-specific fixtures live in ``tests/<area>/conftest.py``.

Fixtures that build data do it lazily (session scope), never at import time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
