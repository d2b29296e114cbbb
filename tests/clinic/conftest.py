"""Fixtures for the clinic tests; the case factory lives in ``_clinic_factory.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib: make the sibling factory module importable
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def kb():
    from remission.knowledge import load_knowledge_base

    return load_knowledge_base()


@pytest.fixture(scope="session")
def example_loaded(example_cases):
    """slug -> (case, reported MRD) for the bundled examples (no raw-file engines: fast)."""
    from remission.io.casefile import load_case

    out = {}
    for slug, path in example_cases.items():
        c = load_case(path)
        out[slug] = (c, [rep.to_result() for rep in c.mrd_reports])
    return out
