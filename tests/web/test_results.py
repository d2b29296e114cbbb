"""Results entry: validation errors inline with nothing stored, drafts, the four-eyes sign-off,
re-analysis, and concurrency (two people at once; a server killed mid-upload)."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from remission.store import tables as T

GOOD_BCELLS = b"day,value,unit\n0,120,cells_per_ul\n7,4,cells_per_ul\n"
BAD_BCELLS = b"day,value,unit\n0,120,cells_per_ul\n7,lots,cells_per_ul\n"


def _counts(app: Any) -> dict[str, int]:
    def run(conn: Any) -> dict[str, int]:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (T.assay_results, T.analyses)}
    out: dict[str, int] = app.state.store.read(run)
    return out


def test_bad_file_is_rejected_inline_naming_record_and_field(app: Any, client_for: Any) -> None:
    lab = client_for("lab")
    before = _counts(app)
    # a B-cell table whose second data row (line 3) has no number in ``value``
    r = lab.post("/patients/PAT-A/results/file", data={"kind": "b_cells", "sample_date": "2023-05-01"},
                 files={"file": ("bcells.csv", BAD_BCELLS, "text/csv")})
    assert r.status_code == 422
    assert 'id="upload-error"' in r.text and "bcells.csv" in r.text
    assert "line 3" in r.text and "value" in r.text
    assert "remission-upload-" not in r.text  # the temporary path is not shown
    assert _counts(app) == before


def test_bad_reported_value_names_the_field(app: Any, client_for: Any) -> None:
    lab = client_for("lab")
    before = _counts(app)
    r = lab.post("/patients/PAT-A/results/mrd", data={"date": "2023-05-01", "method": "pcr", "value": "1.5"})
    assert r.status_code == 422 and "field value" in r.text
    r = lab.post("/patients/PAT-A/results/mrd", data={"date": "2023-13-01", "method": "pcr"})
    assert r.status_code == 422 and "field date" in r.text
    assert _counts(app) == before


def test_four_eyes_sign_off_and_reanalysis(app: Any, client_for: Any) -> None:
    lab, lab2 = client_for("lab"), client_for("lab2")
    r = lab.post("/patients/PAT-C/results/mrd", data={"date": "2023-05-01", "method": "pcr", "value": "0.002",
                                                       "lod": "0.00005", "loq": "0.0001"})
    assert r.status_code == 200 and 'id="upload-ok"' in r.text
    res = lab.get("/api/v1/patients/PAT-C/results").json()
    assert [x["status"] for x in res] == ["draft"]
    rid = res[0]["result_id"]
    # PAT-C had no MRD value; a draft does not change the analysis
    assert lab.get("/api/v1/patients/PAT-C").json()["summary"]["latest_mrd"] is None
    r = lab.post(f"/api/v1/results/{rid}/signoff")
    assert r.status_code == 409 and "four-eyes" in r.json()["detail"]
    r = lab2.post(f"/api/v1/results/{rid}/signoff")
    assert r.status_code == 200 and r.json()["status"] == "signed" and r.json()["signed_by"] == "lab2"
    latest = lab.get("/api/v1/patients/PAT-C").json()["summary"]["latest_mrd"]
    # 0.002 reported, above the LoQ 1e-4: positive, shown as 0.2 %
    assert latest["status"] == "positive" and latest["value"] == 0.002
    assert r.json()["analysis_id"] == lab.get("/api/v1/patients/PAT-C").json()["analysis_id"]
    assert lab2.post(f"/api/v1/results/{rid}/signoff").status_code == 409  # already signed


def test_good_file_upload_sign_off_adds_the_sample(app: Any, client_for: Any) -> None:
    lab, lab2 = client_for("lab"), client_for("lab2")
    r = lab.post("/patients/PAT-A/results/file", data={"kind": "b_cells", "sample_date": "2023-05-01"},
                 files={"file": ("bcells.csv", GOOD_BCELLS, "text/csv")})
    assert r.status_code == 200 and "stored as a draft" in r.text
    res = lab.get("/api/v1/patients/PAT-A/results").json()[0]
    assert (res["kind"], res["filename"], res["status"]) == ("b_cells", "bcells.csv", "draft")
    assert lab2.post(f"/api/v1/results/{res['result_id']}/signoff").status_code == 200
    case = lab.get("/api/v1/patients/PAT-A").json()["analysis"]["case"]
    samples = [s for s in case["samples"] if s["id"] == f"lab-{res['result_id']}"]
    assert len(samples) == 1 and samples[0]["assay"] == "b_cells" and samples[0]["date"] == "2023-05-01"


def test_two_people_signing_the_same_result_at_once(app: Any, client_for: Any) -> None:
    lab, lab2, clin = client_for("lab"), client_for("lab2"), client_for("clin")
    rid = lab.post("/api/v1/patients/PAT-A/results/mrd",
                   json={"date": "2023-06-01", "method": "pcr", "value": 0.01, "loq": 1e-4}).json()["result_id"]
    # two second users at once: lab2 twice, from two sessions
    a, b = client_for("lab2"), lab2
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def go(c: Any) -> None:
        barrier.wait()
        codes.append(c.post(f"/api/v1/results/{rid}/signoff").status_code)

    ts = [threading.Thread(target=go, args=(c,)) for c in (a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(codes) == [200, 409]
    assert clin.get("/api/v1/patients/PAT-A/results").json()[0]["status"] == "signed"


def test_concurrent_uploads_and_sign_offs_lose_nothing(app: Any, client_for: Any) -> None:
    lab, lab2 = client_for("lab"), client_for("lab2")
    values = [0.001, 0.002, 0.003, 0.004]
    ids: list[str] = []
    lock = threading.Lock()

    def upload(v: float, i: int) -> None:
        r = lab.post("/api/v1/patients/PAT-B/results/mrd",
                     json={"date": f"2023-07-0{i + 1}", "method": "flow", "value": v, "loq": 1e-4})
        with lock:
            ids.append(r.json()["result_id"])

    ts = [threading.Thread(target=upload, args=(v, i)) for i, v in enumerate(values)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(set(ids)) == 4
    ts = [threading.Thread(target=lambda r=r: lab2.post(f"/api/v1/results/{r}/signoff")) for r in ids]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    a = lab.get("/api/v1/patients/PAT-B").json()
    reported = {(m["date"], m["value"]) for m in a["analysis"]["mrd"] if m["method"] == "flow"}
    for i, v in enumerate(values):
        assert (f"2023-07-0{i + 1}", v) in reported  # every signed value is in the newest analysis
    from remission.app import audit

    assert audit.verify(app.state.store).ok


def test_page_sign_off_reanalyses_in_the_background(app: Any, client_for: Any) -> None:
    lab, lab2 = client_for("lab"), client_for("lab2")
    rid = lab.post("/api/v1/patients/PAT-C/results/mrd",
                   json={"date": "2023-05-01", "method": "ngs", "value": 0.0003, "loq": 1e-5}).json()["result_id"]
    r = lab2.post(f"/results/{rid}/signoff")
    assert r.status_code == 200 and r.url.path == "/patients/PAT-C/results"
    job = app.state.jobs.wait(f"re-{rid}", timeout=120)  # a durable ``reanalysis`` job
    assert (job.kind, job.state, job.created_by, job.result_id) == ("reanalysis", "done", "lab2", rid)
    res = lab2.get("/api/v1/patients/PAT-C/results").json()[0]
    assert res["status"] == "signed" and res["analysis_id"] == lab2.get("/api/v1/patients/PAT-C").json()["analysis_id"]
    page = lab2.get("/patients/PAT-C/results").text
    assert "re-analysed" in page and "re-analysis running" not in page


def test_a_result_signed_during_a_reanalysis_is_not_left_out(app: Any, client_for: Any, monkeypatch: Any) -> None:
    """Two server processes (``serve --workers``): a result signed on one while the other
    re-analyses the patient. The per-process case lock cannot see it; the save's check under the
    store's write lock must, so the re-analysis starts again and its analysis has both values."""
    import remission.pipeline
    from remission.app import results as svc

    lab = client_for("lab")
    st, settings = app.state.store, app.state.settings
    r1, r2 = (lab.post("/api/v1/patients/PAT-B/results/mrd",
                       json={"date": d, "method": "flow", "value": v, "loq": 1e-4}).json()["result_id"]
              for d, v in (("2023-08-01", 0.001), ("2023-08-02", 0.002)))
    svc.sign(st, r1, actor="lab2", address="test")
    real, calls = remission.pipeline.analyze_case, []

    def analyze_while_r2_is_signed(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # "the other process" signs R2 while this analysis runs
            svc.sign(st, r2, actor="lab2", address="test")
        return real(*args, **kwargs)

    monkeypatch.setattr(remission.pipeline, "analyze_case", analyze_while_r2_is_signed)
    svc.reanalyse_after_sign_off(st, r1, "PAT-B", files_dir=settings.files_dir, case_roots=settings.case_roots)
    assert len(calls) == 2  # the first analysis (without R2) was not saved; it ran again
    newest = lab.get("/api/v1/patients/PAT-B").json()["analysis"]
    reported = {(m["date"], m["value"]) for m in newest["mrd"] if m["method"] == "flow"}
    assert {("2023-08-01", 0.001), ("2023-08-02", 0.002)} <= reported
