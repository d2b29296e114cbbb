"""Background jobs of results entry: FASTQ (plain and gzip) and large FCS uploads are checked in a
worker thread with progress on the page, stored as a draft in one transaction at the end, and a
server killed during a job leaves nothing half-stored.

The FASTQ files are the package's seeded synthetic repertoires (``remission.synth.ngs``): a
diagnosis AIRR table with one IGH clone at 40 % and a follow-up of 2,000 cells with that clone at
1 %, a few hundred reads (about 80 kB).
"""

from __future__ import annotations

import dataclasses
import gzip
import html
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from remission.store import tables as T

PATIENT = "PAT-N"


@pytest.fixture
def ngs(settings: Any, tmp_path: Path) -> dict[str, Any]:
    """Patient PAT-N with a diagnostic NGS sample (AIRR, one IGH index clone at 40 %) and a
    follow-up FASTQ (that clone at 1 % of 2,000 cells), plain and gzip."""
    from _web_factory import CARE_TEAM, make_case

    from remission.app.access import grant
    from remission.domain import Case
    from remission.pipeline import analyze_case
    from remission.store import Store
    from remission.synth.ngs import (
        random_rearrangement,
        simulate_sample,
        write_sample_airr,
        write_sample_fastq,
    )

    d = tmp_path / "ngs"
    d.mkdir()
    rng = np.random.default_rng(20261202)
    clone = random_rearrangement(rng, "IGH")
    dx = simulate_sample(rng, cells=2000, clones=[(clone, 0.4)], n_clonotypes=100, total_reads=2000,
                         incomplete_fraction=0)
    fu = simulate_sample(rng, cells=2000, clones=[(clone, 0.01)], n_clonotypes=200, reads_per_cell=1.0,
                         incomplete_fraction=0)
    write_sample_airr(d / "dx.tsv", dx)
    fastq = write_sample_fastq(d / "fu.fastq", fu, np.random.default_rng(1))
    fastq_gz = d / "fu.fastq.gz"
    fastq_gz.write_bytes(gzip.compress(fastq.read_bytes(), mtime=0))
    base = make_case(PATIENT).model_dump(mode="json", by_alias=True, exclude_none=True)
    base["samples"] = [{"id": "DX-NGS", "date": "2019-05-10", "material": "bone_marrow", "assay": "ngs_mrd",
                        "role": "diagnosis", "files": ["dx.tsv"]}]
    case = Case.model_validate(base)
    with Store(settings.db_url) as st:
        st.save_analysis(analyze_case(case, d))
        for name in CARE_TEAM:  # the care team sees PAT-N (remission.app.access)
            grant(st, name, PATIENT, actor="seed", address="local")
    # where re-analysis finds the diagnostic file: the patient's folder under files_dir
    (settings.files_dir / PATIENT).mkdir(parents=True)
    (settings.files_dir / PATIENT / "dx.tsv").write_bytes((d / "dx.tsv").read_bytes())
    return {"fastq": fastq, "fastq_gz": fastq_gz, "reads": int(fu.counts.sum()),
            "clone_reads": int(sum(int(n) for n, k in zip(fu.counts, fu.clone_of, strict=True) if k == 0))}


def _counts(app: Any) -> dict[str, int]:
    def run(conn: Any) -> dict[str, int]:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (T.assay_results, T.analyses)}
    out: dict[str, int] = app.state.store.read(run)
    return out


def _upload(client: Any, path: Path, *, kind: str = "fastq", case_id: str = PATIENT, name: str | None = None,
            **extra: str) -> Any:
    return client.post(f"/patients/{case_id}/results/file",
                       data={"kind": kind, "sample_date": "2023-06-01", **extra},
                       files={"file": (name or path.name, path.read_bytes(), "application/octet-stream")})


def _only_job(client: Any, case_id: str = PATIENT) -> dict[str, Any]:
    jobs = client.get(f"/api/v1/patients/{case_id}/jobs").json()
    assert len(jobs) == 1, jobs
    return dict(jobs[0])


def _audit(app: Any, action: str) -> list[Any]:
    from remission.app import audit

    return audit.entries(app.state.store, action=action)


@pytest.mark.parametrize("which", ["fastq", "fastq_gz"])
def test_fastq_upload_is_checked_in_the_background_and_signed_off(app: Any, client_for: Any, ngs: dict[str, Any],
                                                                  settings: Any, which: str) -> None:
    lab, lab2 = client_for("lab"), client_for("lab2")
    r = _upload(lab, ngs[which], dna_ng="700")
    assert r.status_code == 200 and "being checked in the background" in r.text
    job = app.state.jobs.wait(_only_job(lab)["job_id"], timeout=120)
    assert (job.state, job.progress, job.error) == ("done", 1.0, None)
    assert job.finished_at is not None and job.finished_at.tzinfo is not None
    res = lab.get(f"/api/v1/patients/{PATIENT}/results").json()
    assert [x["result_id"] for x in res] == [job.result_id]
    draft = res[0]
    assert draft["status"] == "draft" and draft["filename"] == ngs[which].name
    # every read checked (the synthetic sample's read count), tracked against the one index marker;
    # the clone's reads are those of the leukemic clonotype (clone_of == 0), seen with at most the
    # tracking's mismatch allowance, so at least them
    assert draft["payload"]["reads"] == ngs["reads"]
    assert draft["payload"]["markers"] == 1 and draft["payload"]["index_sample"] == "DX-NGS"
    assert draft["payload"]["marker_reads"] >= ngs["clone_reads"] > 0
    assert draft["payload"]["dna_ng"] == 700.0
    # the file is kept on disk (not in the row) and its SHA-256 is the upload's
    import hashlib

    kept = settings.files_dir / PATIENT / f"{job.result_id}-{ngs[which].name}"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == draft["sha256"] == hashlib.sha256(
        ngs[which].read_bytes()).hexdigest()
    assert app.state.store.read(lambda c: c.execute(sa.select(T.assay_results.c.content)).scalar_one()) is None
    assert not any(settings.spool.iterdir())  # the spool folder is gone
    # audit: submit, upload, done
    assert [e.detail["job"] for e in _audit(app, "job.submit")] == [job.job_id]
    assert [e.detail["job"] for e in _audit(app, "job.done")] == [job.job_id]
    assert _audit(app, "result.upload")[0].detail["result"] == job.result_id
    # then the same four-eyes flow as any upload: the second lab user signs, the patient is re-analysed
    assert lab.post(f"/api/v1/results/{job.result_id}/signoff").status_code == 409
    assert lab2.post(f"/results/{job.result_id}/signoff").status_code == 200
    analysis = lab2.get(f"/api/v1/patients/{PATIENT}").json()["analysis"]
    ngs_section = next(s for s in analysis["sections"] if s["name"] == "ngs_mrd")
    samples = ngs_section["result"]["samples"]
    assert [s["sample_id"] for s in samples] == [f"lab-{job.result_id}"]
    assert samples[0]["index_sample"] == "DX-NGS"


def test_progress_is_monotone_and_reaches_one_only_when_stored(app: Any, client_for: Any, ngs: dict[str, Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from remission.app import jobs
    from remission.app import results as svc

    # 8 KiB blocks: the 79-kB file is read in about ten blocks, one progress report each
    monkeypatch.setattr(svc, "FASTQ_BLOCK_BYTES", 8192)
    seen: list[tuple[float, str, int]] = []
    orig = jobs.JobContext.progress

    def spy(self: Any, fraction: float, message: str = "") -> None:
        orig(self, fraction, message)
        row = self.store.read(lambda c: c.execute(sa.select(T.jobs.c.progress, T.jobs.c.state).where(
            T.jobs.c.job_id == self.job.job_id)).one())
        results = self.store.read(lambda c: c.execute(sa.select(sa.func.count()).select_from(T.assay_results)).scalar())
        seen.append((row.progress, row.state, results))

    monkeypatch.setattr(jobs.JobContext, "progress", spy)
    lab = client_for("lab")
    _upload(lab, ngs["fastq"])
    job = app.state.jobs.wait(_only_job(lab)["job_id"], timeout=120)
    assert job.state == "done" and job.progress == 1.0
    stored = [p for p, _, _ in seen]
    assert len(set(stored)) >= 5, stored  # several steps shown, not just 0 and 1
    assert stored == sorted(stored) and all(0 <= p < 1 for p in stored)
    assert {s for _, s, _ in seen} == {"running"}
    assert {n for _, _, n in seen} == {0}  # nothing stored while the job runs


def test_bad_fastq_record_fails_the_job_naming_file_record_and_field(app: Any, client_for: Any, ngs: dict[str, Any],
                                                                     settings: Any, tmp_path: Path) -> None:
    # record 3's quality line is one character short
    bad = tmp_path / "bad.fastq"
    bad.write_bytes(b"@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIIII\n@r3\nACGTAC\n+\nIIIII\n@r4\nACGT\n+\nIIII\n")
    lab = client_for("lab")
    before = _counts(app)
    r = _upload(lab, bad, name="run7.fastq")
    assert r.status_code == 200
    job = app.state.jobs.wait(_only_job(lab)["job_id"], timeout=60)
    assert job.state == "failed" and job.result_id is None
    assert job.error is not None
    assert "'run7.fastq'" in job.error and "record 3" in job.error and "field quality" in job.error
    assert "line 12" in job.error  # 4 lines a record: record 3's quality is line 12
    assert "spool" not in job.error and str(tmp_path) not in job.error
    assert _counts(app) == before
    assert not (settings.files_dir / PATIENT).exists() or not any(
        p.name.endswith("run7.fastq") for p in (settings.files_dir / PATIENT).iterdir())
    assert not any(settings.spool.iterdir())
    failed = _audit(app, "job.failed")
    assert failed[0].outcome == "failed" and "record 3" in failed[0].detail["error"]
    # the page shows the error inline, without polling (the job is finished)
    page = lab.get(f"/patients/{PATIENT}/results").text
    assert "job-error" in page and "record 3" in page
    assert f'id="job-{job.job_id}"' in page and 'hx-trigger="every 1s"' not in page


def test_a_failing_final_transaction_stores_nothing(app: Any, client_for: Any, ngs: dict[str, Any], settings: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The draft, the job's ``done`` mark and their audit rows commit together: when the last of
    them fails, no draft is stored, the kept file is removed again and the job is failed."""
    from remission.app import audit
    from remission.errors import StoreError

    orig = audit.append

    def failing(conn: Any, **kw: Any) -> int:
        if kw.get("action") == "job.done":
            raise StoreError("store: disk full (simulated)")
        return orig(conn, **kw)

    monkeypatch.setattr(audit, "append", failing)
    lab = client_for("lab")
    before = _counts(app)
    _upload(lab, ngs["fastq"])
    job = app.state.jobs.wait(_only_job(lab)["job_id"], timeout=120)
    assert job.state == "failed" and job.error is not None and "disk full" in job.error
    assert _counts(app) == before
    assert sorted(p.name for p in (settings.files_dir / PATIENT).iterdir()) == ["dx.tsv"]
    assert _audit(app, "result.upload") == []


def test_server_killed_mid_job_resumes_or_fails_at_start_and_never_half_stores(app: Any, settings: Any) -> None:
    """Job rows as a killed server leaves them, with their spool folders: the next start runs
    again a job whose spooled file is whole (once: ``attempts`` < 2), fails one whose file is gone
    and one that already ran twice, and removes every spool folder it does not run again."""
    import datetime as dt

    from remission.app import audit
    from remission.web import create_app

    data = b"@r1\nACGTACGT\n+\nIIIIIIII\n@r2\nTTTTACGT\n+\nIIIIIIII\n"
    now = dt.datetime.now(dt.UTC)
    # (job id, state, attempts, spooled file written)
    rows = (("a" * 16, "running", 1, True), ("b" * 16, "queued", 0, False), ("c" * 16, "running", 2, True))
    for jid, state, attempts, spooled in rows:
        folder = settings.spool / jid
        folder.mkdir(parents=True)
        if spooled:
            (folder / "fu.fastq").write_bytes(data)
        params = {"filename": "fu.fastq", "size": len(data), "sha256": "0" * 64, "date": "2023-06-01",
                  "material": "bone_marrow", "address": "testclient"}
        app.state.store.write(lambda conn, jid=jid, state=state, attempts=attempts, params=params: conn.execute(
            T.jobs.insert().values(job_id=jid, kind="fastq", case_id="PAT-A", created_by="lab", state=state,
                                   progress=0.4, message="1 reads checked", error=None,
                                   params_json=json.dumps(params), result_id=None, attempts=attempts,
                                   created_at=now, started_at=now if state == "running" else None,
                                   finished_at=None)))
    (settings.spool / "orphan").mkdir()  # a spool folder without a job row
    before = _counts(app)
    app.state.store.close()  # the server is gone
    restarted = create_app(settings)
    try:
        st = restarted.state.store
        a = restarted.state.jobs.wait("a" * 16, timeout=60)
        assert (a.state, a.progress, a.attempts) == ("done", 1.0, 2)
        got = {r.job_id: r for r in st.read(lambda c: c.execute(sa.select(T.jobs)).all())}
        assert got["b" * 16].state == "failed" and "spooled file is not whole" in got["b" * 16].error
        assert got["c" * 16].state == "failed" and "not tried again" in got["c" * 16].error
        assert got["b" * 16].result_id is None and got["c" * 16].result_id is None
        # exactly one new draft: the resumed job's, stored once
        after = _counts(restarted)
        assert after["assay_results"] == before["assay_results"] + 1 and after["analyses"] == before["analyses"]
        res = st.read(lambda c: c.execute(sa.select(T.assay_results.c.result_id, T.assay_results.c.status)).all())
        assert [(r.result_id, r.status) for r in res] == [(a.result_id, "draft")]
        assert not any(settings.spool.iterdir())
        assert [e.detail["job"] for e in audit.entries(st, action="job.resume")] == ["a" * 16]
        assert sorted(e.detail["job"] for e in audit.entries(st, action="job.failed")) == ["b" * 16, "c" * 16]
        assert audit.verify(st).ok
    finally:
        restarted.state.jobs.shutdown(wait=True)
        restarted.state.store.close()


def test_two_uploads_at_once(app: Any, client_for: Any, ngs: dict[str, Any]) -> None:
    lab, lab2 = client_for("lab"), client_for("lab2")
    answers: list[int] = []

    def go(client: Any, path: Path) -> None:
        answers.append(_upload(client, path).status_code)

    threads = [threading.Thread(target=go, args=(lab, ngs["fastq"])),
               threading.Thread(target=go, args=(lab2, ngs["fastq_gz"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert answers == [200, 200]
    jobs = lab.get(f"/api/v1/patients/{PATIENT}/jobs").json()
    done = [app.state.jobs.wait(j["job_id"], timeout=120) for j in jobs]
    assert sorted((j.state, j.created_by) for j in done) == [("done", "lab"), ("done", "lab2")]
    res = lab.get(f"/api/v1/patients/{PATIENT}/results").json()
    assert sorted(r["result_id"] for r in res) == sorted(j.result_id for j in done)
    assert {r["payload"]["reads"] for r in res} == {ngs["reads"]}
    # each can sign the other's draft
    by = {r["uploaded_by"]: r["result_id"] for r in res}
    assert lab.post(f"/results/{by['lab2']}/signoff").status_code == 200
    assert lab2.post(f"/results/{by['lab']}/signoff").status_code == 200
    assert {r["status"] for r in lab.get(f"/api/v1/patients/{PATIENT}/results").json()} == {"signed"}


def test_progress_fragment_polls_until_finished(app: Any, client_for: Any) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    app.state.store.write(lambda conn: conn.execute(T.jobs.insert().values(
        job_id="c" * 16, kind="fastq", case_id="PAT-A", created_by="lab", state="running", progress=0.25,
        message="1000 reads checked", error=None, params_json="{}", result_id=None, attempts=1, created_at=now,
        started_at=now, finished_at=None)))
    viewer = client_for("viewer")
    r = viewer.get(f"/jobs/{'c' * 16}", headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'hx-trigger="every 1s"' in r.text and "25 %" in r.text
    assert "HX-Redirect" not in r.headers and "<script" not in r.text
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    page = viewer.get("/patients/PAT-A/results").text
    assert f'id="job-{"c" * 16}"' in page and 'hx-trigger="every 1s"' in page
    assert viewer.get(f"/api/v1/jobs/{'c' * 16}").json()["progress"] == 0.25
    app.state.store.write(lambda conn: conn.execute(T.jobs.update().values(state="done", progress=1.0,
                                                                           finished_at=now)))
    r = viewer.get(f"/jobs/{'c' * 16}", headers={"HX-Request": "true"})
    assert 'hx-trigger' not in r.text and r.headers["HX-Redirect"] == "/patients/PAT-A/results"
    assert viewer.get("/api/v1/jobs/" + "d" * 16).status_code == 404


def test_upload_limits_and_large_fcs_in_background(settings: Any, tmp_path: Path) -> None:
    """Over the size limit: refused inline, nothing spooled or stored. An FCS file larger than
    ``large_fcs_bytes`` goes through a job; a smaller one is checked at once."""
    from fastapi.testclient import TestClient

    from remission.io.fcs import write_fcs
    from remission.web import create_app

    small = dataclasses.replace(settings, max_background_upload_bytes=100, large_fcs_bytes=1000)
    application = create_app(small)
    try:
        c = TestClient(application, base_url="https://testserver")
        from _web_factory import PASSWORD

        c.post("/login", data={"username": "lab", "password": PASSWORD, "totp": ""})
        c.headers["X-CSRF-Token"] = c.get("/api/v1/me").json()["csrf_token"]
        big = tmp_path / "big.fastq"
        big.write_bytes(b"@r1\nACGT\n+\nIIII\n" * 20)  # 340 bytes > 100
        r = _upload(c, big, case_id="PAT-A")
        assert r.status_code == 422 and "larger than 100 bytes" in r.text
        assert c.get("/api/v1/patients/PAT-A/jobs").json() == []
        assert not small.spool.exists() or not any(small.spool.iterdir())
        fcs = write_fcs(tmp_path / "tube.fcs", np.random.default_rng(3).normal(size=(200, 2)).astype("float32"),
                        ["FSC-A", "SSC-A"])
        assert fcs.stat().st_size > 1000
        application.state.settings = dataclasses.replace(small, max_background_upload_bytes=10**7)
        r = _upload(c, fcs, kind="fcs", case_id="PAT-A")
        assert r.status_code == 200 and "background" in r.text
        job = application.state.jobs.wait(c.get("/api/v1/patients/PAT-A/jobs").json()[0]["job_id"], timeout=60)
        assert job.state == "done", job.error
        assert c.get("/api/v1/patients/PAT-A/results").json()[0]["kind"] == "fcs"
        application.state.settings = dataclasses.replace(small, large_fcs_bytes=10**7)
        r = _upload(c, fcs, kind="fcs", case_id="PAT-A")
        assert r.status_code == 200 and "stored as a draft" in r.text
        assert len(c.get("/api/v1/patients/PAT-A/jobs").json()) == 1  # no second job
    finally:
        application.state.store.close()


def test_fastq_form_errors_are_inline_and_start_no_job(app: Any, client_for: Any, tmp_path: Path) -> None:
    lab = client_for("lab")
    before = _counts(app)
    reads = tmp_path / "reads.txt"
    reads.write_bytes(b"@r1\nACGT\n+\nIIII\n")
    r = _upload(lab, reads, case_id="PAT-A")
    assert r.status_code == 422 and 'id="upload-error"' in r.text
    assert "'reads.txt': a FASTQ file name ends in .fastq, .fq, .fastq.gz, .fq.gz" in html.unescape(r.text)
    good = tmp_path / "fu.fq.gz"
    good.write_bytes(gzip.compress(reads.read_bytes()))
    r = _upload(lab, good, case_id="PAT-A", dna_ng="lots")
    assert r.status_code == 422 and "field dna_ng: expected a number of nanograms" in r.text
    r = _upload(lab, good, case_id="PAT-A", dna_ng="-5")
    assert r.status_code == 422 and "field dna_ng: expected a positive number" in r.text
    assert lab.get("/api/v1/patients/PAT-A/jobs").json() == []
    assert _counts(app) == before
    assert [e.outcome for e in _audit(app, "result.upload")] == ["invalid"] * 3
    # a viewer may watch, not upload
    assert _upload(client_for("viewer"), good, case_id="PAT-A").status_code == 403


def test_a_job_cut_short_by_a_stopping_server_runs_again_at_the_next_start(
        app: Any, client_for: Any, ngs: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server stops (store closed) while a job runs: the job cannot record its end, keeps its
    spooled file, and the next start runs it again to the end — one draft, stored once."""
    from remission.app import results as svc
    from remission.web import create_app

    gate, started = threading.Event(), threading.Event()
    orig = svc._check_fastq

    def held(ctx: Any, *args: Any, **kw: Any) -> Any:
        started.set()
        assert gate.wait(60)
        return orig(ctx, *args, **kw)

    monkeypatch.setattr(svc, "_check_fastq", held)
    lab = client_for("lab")
    _upload(lab, ngs["fastq_gz"])
    job_id = _only_job(lab)["job_id"]
    assert started.wait(60)
    runner = app.state.jobs
    runner.shutdown(wait=False)
    app.state.store.close()  # the server stops while the job is held
    gate.set()
    with pytest.raises(Exception, match="not open"):
        runner.wait(job_id, timeout=60)
    assert (settings.spool / job_id / "fu.fastq.gz").is_file()  # kept for the next start
    restarted = create_app(settings)
    try:
        job = restarted.state.jobs.wait(job_id, timeout=120)
        assert (job.state, job.attempts) == ("done", 2)
        res = restarted.state.store.read(lambda c: c.execute(sa.select(T.assay_results.c.result_id)).all())
        assert [r.result_id for r in res] == [job.result_id]
        assert not (settings.spool / job_id).exists()
    finally:
        restarted.state.jobs.shutdown(wait=True)
        restarted.state.store.close()


def test_a_sign_off_whose_reanalysis_was_cut_short_is_reanalysed_at_the_next_start(
        app: Any, client_for: Any, settings: Any) -> None:
    """Signed, but the server stopped before the re-analysis ended (``analysis_id`` empty): the
    next start queues a ``reanalysis`` job, which links the result to the new analysis."""
    from remission.app import audit
    from remission.app import results as svc
    from remission.web import create_app

    lab = client_for("lab")
    rid = lab.post("/api/v1/patients/PAT-C/results/mrd", json={"date": "2023-05-01", "method": "pcr",
                                                               "value": 0.002, "lod": 5e-5, "loq": 1e-4}).json()["result_id"]
    svc.sign(app.state.store, rid, actor="lab2", address="testclient")  # the signature alone
    assert app.state.store.read(lambda c: c.execute(sa.select(T.assay_results.c.analysis_id)).scalar_one()) is None
    app.state.store.close()
    restarted = create_app(settings)
    try:
        st = restarted.state.store
        jobs = st.read(lambda c: c.execute(sa.select(T.jobs.c.job_id, T.jobs.c.kind, T.jobs.c.result_id)).all())
        assert [(j.kind, j.result_id) for j in jobs] == [("reanalysis", rid)]
        job = restarted.state.jobs.wait(jobs[0].job_id, timeout=120)
        assert (job.state, job.message, job.result_id) == ("done", "re-analysed", rid)
        analysis_id = st.read(lambda c: c.execute(sa.select(T.assay_results.c.analysis_id)).scalar_one())
        assert analysis_id is not None
        # the new analysis holds the signed value (PAT-C had no MRD value before)
        from remission.app.patients import latest_with_id

        latest_id, analysis = latest_with_id(st, "PAT-C")
        assert latest_id == analysis_id and [r.value for r in analysis.case.mrd_reports] == [0.002]
        assert [e.actor for e in audit.entries(st, action="job.submit")] == ["system"]
        assert svc.pending_reanalyses(st) == []
    finally:
        restarted.state.jobs.shutdown(wait=True)
        restarted.state.store.close()
