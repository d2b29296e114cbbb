"""Fixtures for the report tests: analyses of the example cases, computed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from remission.domain import CaseAnalysis


@pytest.fixture(scope="session")
def example_analyses(example_cases: dict[str, Path]) -> dict[str, CaseAnalysis]:
    from remission.pipeline import analyze

    return {slug: analyze(path) for slug, path in example_cases.items()}
