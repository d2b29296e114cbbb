"""Read the real Vidjil follow-up (``../shared/data/vidjil``) into engine blocks (test helper)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from remission.io.airr import AirrChunk


def load(path: Path) -> tuple[dict, list[AirrChunk]]:
    """One :class:`AirrChunk` per sample: every clone with its reads in that sample.

    The junction is ``sequence[start-1:stop]`` of ``seg.junction`` (1-based, inclusive, as
    ``seg.cdr3.seq`` confirms); clones without a designated junction keep their window (``id``).
    Vidjil's ``IGH+``/``IGK+``/``TRD+`` germlines are incomplete rearrangements of that locus.
    """
    d = json.loads(path.read_text())
    rows = []
    for c in d["clones"]:
        seg = c.get("seg", {})
        j = seg.get("junction")
        junction = c["sequence"][j["start"] - 1: j["stop"]] if j and "start" in j else c["id"]
        germ = c.get("germline", "")
        rows.append((germ.rstrip("+").split("+")[0], seg.get("5", {}).get("name", "") if "+" not in germ else "",
                     seg.get("4", {}).get("name", ""), seg.get("3", {}).get("name", ""), junction.upper(),
                     c["reads"]))
    n = len(d["samples"]["original_names"])
    chunks = []
    for i in range(n):
        cols = {name: np.array([r[k] for r in rows], dtype=object)
                for k, name in enumerate(("locus", "v_call", "d_call", "j_call", "junction"))}
        chunks.append(AirrChunk(columns=cols, count=np.array([r[5][i] for r in rows], dtype=np.int64),
                                first_line=2))
    return d, chunks
