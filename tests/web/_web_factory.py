"""Test data of the web tests: small patients and one account per role (used by conftest.py and
by tests that build their own application)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PASSWORD = "correct horse battery"
#: role of each test account; "lab2" is the second laboratory user of the four-eyes rule
ACCOUNTS = {"admin": "admin", "clin": "clinician", "lab": "lab", "lab2": "lab", "viewer": "viewer"}
#: accounts with a role but no patient: the other side of every IDOR/BOLA test (test_access.py)
OUTSIDERS = {"clin_out": "clinician", "lab_out": "lab", "viewer_out": "viewer"}
#: the care team: every account in ACCOUNTS but the admin sees every seeded patient, each by
#: its own grant (remission.app.access); the admin and the outsiders see none
CARE_TEAM = ("clin", "lab", "lab2", "viewer")


def make_case(patient: str, mrd: tuple[tuple[str, str, float | None, float | None], ...] = ()) -> Any:
    """A small case without assay files (analysed in well under a second)."""
    from remission.domain import Case

    return Case.model_validate({
        "patient": {"id": patient, "sex": "female", "date_of_birth": "2014-03-01"},
        "diagnosis": {"date": "2019-05-10", "lineage": "B"},
        "frontline": {"end_date": "2021-08-01"},
        "relapses": [{"number": 1, "date": "2023-02-01", "site": "isolated_bm", "marrow_blasts_percent": 60}],
        "mrd_reports": [{"date": d, "method": m, "value": v, "lod": (loq or 1e-4) / 2, "loq": loq}
                        for d, m, v, loq in mrd],
    })


#: the patients every web test starts with: (id, reported MRD values)
PATIENTS = {
    "PAT-A": (("2023-03-01", "pcr", 2e-3, 1e-4), ("2023-04-15", "pcr", None, 1e-4)),
    "PAT-B": (("2023-03-01", "flow", 1e-3, 1e-4), ("2023-04-01", "flow", 5e-3, 1e-4)),
    "PAT-C": (),
}


def seed(url: str, tmp: Path) -> None:
    from argon2 import profiles

    from remission.app.access import grant
    from remission.app.auth import AuthPolicy, create_user
    from remission.pipeline import analyze_case
    from remission.store import Store

    policy = AuthPolicy(argon2_parameters=profiles.CHEAPEST)
    with Store(url) as st:
        for pid, mrd in PATIENTS.items():
            st.save_analysis(analyze_case(make_case(pid, mrd), tmp))
        for name, role in {**ACCOUNTS, **OUTSIDERS}.items():
            _, secret = create_user(st, name, role, PASSWORD, policy=policy)
            if secret:
                (tmp / f"{name}.totp").write_text(secret)
        for name in CARE_TEAM:
            for pid in PATIENTS:
                grant(st, name, pid, actor="seed", address="local")
