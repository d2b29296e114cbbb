"""Fixtures for the case-file, CLI and pipeline tests: small good/bad case files written in code."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

WriteCase = Callable[..., Path]


@pytest.fixture
def base_case() -> dict[str, Any]:
    """A valid case (the late-relapse example's clinical course, no samples), fresh per test."""
    from remission.synth.examples import BASE_CASES

    data = copy.deepcopy(BASE_CASES["late-bm-bcp"])
    data["samples"] = []
    return data


@pytest.fixture
def write_case(tmp_path: Path) -> WriteCase:
    """``write_case(data, name="case.yaml", text=None)`` writes a case file and returns its path.

    ``.json`` names are written as JSON; ``text`` writes raw text (for malformed files).
    """

    def write(data: Any = None, name: str = "case.yaml", text: str | None = None) -> Path:
        p = tmp_path / name
        if text is None:
            text = json.dumps(data, indent=2) if name.endswith(".json") else yaml.safe_dump(data, sort_keys=False)
        p.write_text(text, encoding="utf-8")
        return p

    return write
