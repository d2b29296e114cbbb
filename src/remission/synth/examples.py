"""The bundled example cases: three synthetic patients with their raw assay files.

``write_examples(dest)`` writes ``dest/<slug>/case.yaml`` plus assay files. The base cases
(clinical course only) are defined here; assay generators add their files through
*contributors*: any module of :mod:`remission.synth` that defines
``add_to_examples(cases: dict[str, ExampleCase]) -> None`` is called (in module-name order), so
a new assay needs no edit here. Everything is seeded: the same version writes the same bytes.

The patients are invented. Dates, lesions and courses are chosen to be clinically realistic
and to exercise the rules (e.g. relapse time points), not to resemble any real person.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from remission.synth._seed import stable_seed

__all__ = ["BASE_CASES", "ExampleCase", "write_examples"]


@dataclass
class ExampleCase:
    """A case under construction: its YAML data and the folder its files go to."""

    slug: str
    data: dict[str, Any]
    folder: Path
    files: list[str] = field(default_factory=list)

    def rng(self, purpose: str) -> np.random.Generator:
        """A generator seeded from the case slug and a purpose string (stable across runs)."""
        return np.random.default_rng(stable_seed(f"{self.slug}/{purpose}"))

    def path(self, relative: str) -> Path:
        p = self.folder / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_file(self, relative: str, writer: Callable[[Path], Any]) -> str:
        """Call ``writer(path)`` for a file relative to the case folder; returns ``relative``."""
        writer(self.path(relative))
        self.files.append(relative)
        return relative

    def add_sample(self, sample: dict[str, Any]) -> None:
        self.data.setdefault("samples", []).append(sample)

    def add(self, key: str, item: dict[str, Any]) -> None:
        """Append to a list field (``mrd_reports``, ``antigen_expression``, ...)."""
        self.data.setdefault(key, []).append(item)


BASE_CASES: dict[str, dict[str, Any]] = {
    # Late (>= 6 months after the end of frontline therapy) isolated-marrow relapse of
    # B-cell-precursor ALL; ETV6::RUNX1; NT5C2 and CREBBP at relapse. Followed by NGS-MRD.
    "late-bm-bcp": {
        "schema": "remission.case/1",
        "patient": {"id": "SYN-LATE-01", "sex": "female", "date_of_birth": "2011-06-14"},
        "diagnosis": {
            "date": "2015-02-03",
            "lineage": "B",
            "immunophenotype": {"CD19_percent": 97, "CD22_percent": 88, "CD10_percent": 92, "CD34_percent": 60},
            "lesions": [
                {"name": "ETV6::RUNX1", "kind": "fusion"},
                {"name": "CREBBP", "kind": "snv", "detail": "p.R1446C", "vaf": 0.08},
            ],
        },
        "frontline": {"protocol": "AIEOP-BFM ALL 2009", "end_date": "2017-05-20"},
        "relapses": [
            {
                "number": 1, "date": "2019-03-11", "site": "isolated_bm", "marrow_blasts_percent": 64,
                "cns_status": "CNS1",
                "lesions": [
                    {"name": "NT5C2", "kind": "snv", "detail": "p.R367Q", "vaf": 0.31},
                    {"name": "CREBBP", "kind": "snv", "detail": "p.R1446C", "vaf": 0.44},
                ],
            }
        ],
        "therapies": [
            {"name": "IntReALL SR induction", "kind": "chemotherapy", "start": "2019-03-18", "end": "2019-04-15", "best_response": "CR"},
            {"name": "IntReALL SR consolidation", "kind": "chemotherapy", "start": "2019-04-22", "end": "2019-07-10", "best_response": "MRD_negative"},
        ],
        "antigen_expression": [{"date": "2019-03-11", "CD19_percent": 95, "CD22_percent": 85}],
        # after consolidation: NGS-MRD reported by the reference laboratory (no raw files here),
        # negative, then re-emerging with a doubling time of about two weeks (molecular relapse)
        "mrd_reports": [
            {"date": "2019-10-15", "method": "ngs", "value": None, "status": "negative", "lod": 1e-6, "loq": 5e-6, "timepoint": "maintenance", "marker": "IGH"},
            {"date": "2020-01-14", "method": "ngs", "value": 3e-6, "lod": 1e-6, "loq": 5e-6, "timepoint": "maintenance", "marker": "IGH"},
            {"date": "2020-03-10", "method": "ngs", "value": 4.1e-5, "lod": 1e-6, "loq": 5e-6, "timepoint": "maintenance", "marker": "IGH"},
            {"date": "2020-04-21", "method": "ngs", "value": 3.3e-4, "lod": 1e-6, "loq": 5e-6, "timepoint": "maintenance", "marker": "IGH"},
            {"date": "2020-06-02", "method": "ngs", "value": 2.4e-3, "lod": 1e-6, "loq": 5e-6, "timepoint": "maintenance", "marker": "IGH"},
        ],
        "samples": [],
    },
    # Very early (< 18 months from diagnosis) isolated-marrow relapse of Ph-like B-ALL:
    # P2RY8::CRLF2 with JAK2 R683G. Blinatumomab, then tisagenlecleucel with CRS.
    "ph-like-very-early": {
        "schema": "remission.case/1",
        "patient": {"id": "SYN-PHL-02", "sex": "male", "date_of_birth": "2009-09-02"},
        "diagnosis": {
            "date": "2021-01-12",
            "lineage": "B",
            "immunophenotype": {"CD19_percent": 99, "CD22_percent": 90, "CD10_percent": 85, "CD34_percent": 70},
            "lesions": [
                {"name": "P2RY8::CRLF2", "kind": "fusion", "detail": "CRLF2 rearrangement (PAR1 deletion)"},
                {"name": "JAK2", "kind": "snv", "detail": "p.R683G", "vaf": 0.38},
                {"name": "IKZF1", "kind": "cnv", "detail": "deletion exons 4-7"},
            ],
        },
        "frontline": {"protocol": "AIEOP-BFM ALL 2017 (HR)", "end_date": None},
        "relapses": [
            {"number": 1, "date": "2022-03-01", "site": "isolated_bm", "marrow_blasts_percent": 82, "cns_status": "CNS1",
             "lesions": [{"name": "JAK2", "kind": "snv", "detail": "p.R683G", "vaf": 0.45},
                         {"name": "TP53", "kind": "snv", "detail": "p.R248Q", "vaf": 0.12}]},
        ],
        "therapies": [
            {"name": "IntReALL HR induction", "kind": "chemotherapy", "start": "2022-03-07", "end": "2022-04-04", "best_response": "MRD_positive"},
            {"name": "blinatumomab", "kind": "bispecific", "start": "2022-04-20", "end": "2022-05-18", "best_response": "MRD_positive"},
        ],
        "cart_infusions": [
            {"product": "tisagenlecleucel", "date": "2022-07-05", "target": "CD19", "dose_cells_per_kg": 2.5e6},
        ],
        "antigen_expression": [
            {"date": "2022-03-01", "CD19_percent": 98, "CD22_percent": 88},
            {"date": "2022-06-20", "CD19_percent": 96, "CD22_percent": 85},
            # after CD19 CAR-T: CD19-negative escape of the re-emerging blasts (the flow tube of
            # this date finds its candidate population with the CD19-independent strategy)
            {"date": "2022-08-16", "CD19_percent": 2, "CD22_percent": 81, "method": "flow"},
        ],
        "mrd_reports": [],
        "samples": [],
    },
    # Early (>= 18 months from diagnosis, < 6 months after the end of frontline therapy)
    # combined marrow + CNS relapse of T-ALL.
    "t-all-early-combined": {
        "schema": "remission.case/1",
        "patient": {"id": "SYN-TALL-03", "sex": "male", "date_of_birth": "2008-03-21"},
        "diagnosis": {
            "date": "2018-05-02",
            "lineage": "T",
            "immunophenotype": {},
            "lesions": [
                {"name": "NOTCH1", "kind": "snv", "detail": "p.L1600P", "vaf": 0.41},
                {"name": "CDKN2A", "kind": "cnv", "detail": "biallelic deletion"},
                {"name": "STIL::TAL1", "kind": "fusion"},
            ],
        },
        "frontline": {"protocol": "AIEOP-BFM ALL 2017 (MR)", "end_date": "2020-08-14"},
        "relapses": [
            {"number": 1, "date": "2020-12-01", "site": "combined", "marrow_blasts_percent": 38, "cns_status": "CNS3",
             "lesions": [{"name": "NT5C2", "kind": "snv", "detail": "p.R238W", "vaf": 0.22}]},
        ],
        "therapies": [
            {"name": "ALL-REZ BFM 2002 induction (S3/S4)", "kind": "chemotherapy", "start": "2020-12-07", "end": "2021-01-04", "best_response": "CR"},
            {"name": "nelarabine-based consolidation", "kind": "chemotherapy", "start": "2021-01-18", "end": "2021-03-01", "best_response": "MRD_negative"},
        ],
        "transplants": [{"date": "2021-04-12", "donor": "matched_unrelated", "conditioning": "TBI/etoposide"}],
        "mrd_reports": [
            {"date": "2021-01-04", "method": "flow", "value": 0.0021, "lod": 1e-5, "loq": 5e-5, "timepoint": "end_of_induction"},
            {"date": "2021-03-01", "method": "flow", "value": None, "lod": 1e-5, "loq": 5e-5, "status": "negative", "timepoint": "pre_hsct"},
        ],
        "samples": [],
    },
}


def _contributors() -> list[Callable[[dict[str, ExampleCase]], None]]:
    import remission.synth as pkg

    out = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "examples":
            continue
        mod = importlib.import_module(f"remission.synth.{info.name}")
        fn = getattr(mod, "add_to_examples", None)
        if fn is not None:
            out.append(fn)
    return out


def _clean(obj: Any) -> Any:
    """Drop ``None`` values so the YAML reads like a person wrote it."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def write_examples(dest: str | Path, *, only: list[str] | None = None) -> list[Path]:
    """Write the example cases under ``dest``; return the paths of their case files.

    Each case folder is rewritten from scratch, so stale files never linger.
    """
    dest = Path(dest)
    cases: dict[str, ExampleCase] = {}
    for slug, data in BASE_CASES.items():
        if only and slug not in only:
            continue
        folder = dest / slug
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        cases[slug] = ExampleCase(slug=slug, data=copy.deepcopy(data), folder=folder)
    for contribute in _contributors():
        contribute(cases)
    paths = []
    for ex in cases.values():
        p = ex.folder / "case.yaml"
        header = ("# Synthetic example case written by remission.synth.examples (seeded).\n"
                  "# Invented patient: no real patient data. Not a medical device.\n")
        p.write_text(header + yaml.safe_dump(_clean(ex.data), sort_keys=False, allow_unicode=True,
                                             width=100), encoding="utf-8")
        paths.append(p)
    return paths
