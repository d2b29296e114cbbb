"""Hardening tests: fuzzing of every reader and the bad-input corpus through the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib: make the sibling seed module importable
sys.path.insert(0, str(Path(__file__).parent))
