"""The state tests build cases with the clinic tests' factory (``tests/clinic/_clinic_factory.py``)."""

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib: make the shared factory module importable
sys.path.insert(0, str(Path(__file__).parent.parent / "clinic"))
