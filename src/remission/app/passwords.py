"""The common-password check (OWASP ASVS 5.0 6.2.4: refuse the 3,000 most common passwords).

The list, ``data/common_passwords.txt``, holds 3,000 passwords, most common first (line N is
rank N), all lower case; ``data/common_passwords.LICENSE`` names its source (zxcvbn 4.5.0's
frequency list, MIT, built from a 10-million-password corpus) and carries the licences.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["LIST_PATH", "common_rank"]

LIST_PATH = Path(__file__).parent / "data" / "common_passwords.txt"


@functools.cache
def _ranks() -> dict[str, int]:
    ranks: dict[str, int] = {}
    for i, line in enumerate(LIST_PATH.read_text(encoding="utf-8").splitlines(), start=1):
        ranks.setdefault(line.strip().casefold(), i)
    return ranks


def common_rank(password: str, *, top: int = 3000) -> int | None:
    """The rank of ``password`` among the ``top`` most common passwords, compared without regard
    to case (``"PassWord"`` is rank 2), or ``None`` when it is not among them."""
    rank = _ranks().get(password.casefold())
    return rank if rank is not None and rank <= top else None
