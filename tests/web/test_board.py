"""Tumour board: meetings, structured decisions, signing, immutability, amendments, export."""

from __future__ import annotations

from typing import Any

import pytest


def _meeting(clin: Any, *patients: str) -> str:
    r = clin.post("/board", data={"date": "2030-01-15", "title": "Relapse board", "attendees": "Dr A\nDr B"})
    mid: str = r.url.path.rsplit("/", 1)[-1]
    for p in patients:
        clin.post(f"/board/{mid}/patients", data={"case_id": p})
    return mid


def test_record_sign_amend(client_for: Any) -> None:
    clin, viewer = client_for("clin"), client_for("viewer")
    mid = _meeting(clin, "PAT-A", "PAT-B")
    page = viewer.get(f"/board/{mid}").text
    assert "PAT-A" in page and "PAT-B" in page and "Dr A, Dr B" in page
    r = clin.post(f"/board/{mid}/decisions?case_id=PAT-A",
                  data={"options": ["blinatumomab"], "free_text": "then HSCT", "rationale": "MRD positive",
                        "dissent": "Dr B prefers CAR-T", "follow_up": "2030-02-15"})
    assert r.status_code == 200
    d = clin.get(f"/api/v1/board/meetings/{mid}").json()["decisions"]
    assert len(d) == 1 and d[0]["status"] == "draft" and d[0]["options"] == ["blinatumomab"]
    did = d[0]["decision_id"]
    # a second first version for the same patient is refused: amend instead
    assert clin.post(f"/board/{mid}/decisions?case_id=PAT-A", data={"free_text": "x"}).status_code == 422
    assert clin.post(f"/decisions/{did}/amend", data={"free_text": "x"}).status_code == 422  # draft: sign first
    assert clin.post(f"/decisions/{did}/sign").status_code == 200
    assert clin.post(f"/decisions/{did}/sign").status_code == 409  # signed once, immutable
    assert clin.post(f"/decisions/{did}/amend", data={"free_text": "CAR-T instead", "rationale": "new data"}).status_code == 200
    ds = clin.get(f"/api/v1/board/meetings/{mid}").json()["decisions"]
    v1, v2 = sorted(ds, key=lambda x: x["version"])
    assert (v1["status"], v1["free_text"], v1["superseded_by"]) == ("signed", "then HSCT", v2["decision_id"])
    assert (v2["version"], v2["supersedes"], v2["status"]) == (2, did, "draft")
    # only one amendment per version: the history cannot fork
    fork = clin.post(f"/decisions/{did}/amend", data={"free_text": "fork"})
    assert fork.status_code == 422 and "already has an amendment" in fork.text
    assert len(clin.get(f"/api/v1/board/meetings/{mid}").json()["decisions"]) == 2


def test_decision_needs_content_and_patient_on_the_meeting(client_for: Any) -> None:
    clin = client_for("clin")
    mid = _meeting(clin, "PAT-A")
    assert clin.post(f"/board/{mid}/decisions?case_id=PAT-A", data={}).status_code == 422
    assert clin.post(f"/board/{mid}/decisions?case_id=PAT-B", data={"free_text": "x"}).status_code == 404
    assert clin.post(f"/board/{mid}/patients", data={"case_id": "NOBODY"}).status_code == 404


def test_export_html(client_for: Any) -> None:
    clin = client_for("clin")
    mid = _meeting(clin, "PAT-A")
    clin.post(f"/board/{mid}/decisions?case_id=PAT-A", data={"free_text": "watch and wait", "rationale": "r"})
    r = clin.get(f"/board/{mid}/export.html")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert "watch and wait" in r.text and "not a medical device" in r.text.lower()
    assert "<script" not in r.text


def test_export_pdf(client_for: Any) -> None:
    pytest.importorskip("weasyprint", reason="PDF export needs the optional weasyprint extra")
    clin = client_for("clin")
    mid = _meeting(clin, "PAT-A")
    r = clin.get(f"/board/{mid}/export.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")


def test_export_is_audited(app: Any, client_for: Any) -> None:
    from remission.app import audit

    clin = client_for("clin")
    mid = _meeting(clin, "PAT-A")
    client_for("viewer").get(f"/board/{mid}/export.html")
    e = audit.entries(app.state.store, action="board.export")[0]
    assert (e.actor, e.target, e.detail) == ("viewer", f"meeting:{mid}", {"format": "html", "patients": 1, "not_shown": 0})
