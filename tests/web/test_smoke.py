"""The core flow on both back-ends: log in, list, open a patient, API."""

from __future__ import annotations

from typing import Any


def test_login_list_and_patient_page(client_for: Any) -> None:
    c = client_for("viewer")
    r = c.get("/patients")
    assert r.status_code == 200
    for pid in ("PAT-A", "PAT-B", "PAT-C"):
        assert pid in r.text
    r = c.get("/patients/PAT-A")
    assert r.status_code == 200
    assert "Summary" in r.text and "MRD results" in r.text
    api = c.get("/api/v1/patients").json()
    assert api["total"] == 3
