"""The store on SQLite and PostgreSQL: idempotent imports, atomicity, concurrency, queries."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from remission.domain import CaseAnalysis
from remission.errors import StoreError
from remission.store import Store, content_key
from remission.store import core as store_core

from .conftest import make_case

HERE = Path(__file__).resolve().parent


# -- idempotence and round trip ---------------------------------------------------------------------
def test_same_import_twice_keeps_one_copy(store_url, analysis_of):
    a = analysis_of(make_case("P1", mrd=(("2023-03-01", "pcr", 2e-3, 1e-4),), samples=("s1", "s2")))
    with Store(store_url) as st:
        first = st.save_analysis(a)
        second = st.save_analysis(a)
        counts = st.counts()
    assert first.created is True and second.created is False
    assert first.analysis_id == second.analysis_id
    # one case, its two samples, one analysis, one MRD row, no input files (built in memory)
    assert counts == {"cases": 1, "samples": 2, "analyses": 1, "mrd_results": 1, "inputs": 0}


def test_same_content_analysed_again_is_the_same_import(store_url, analysis_of):
    """The key is case hash + parameters + version, not the analysis time: re-running the
    pipeline on the same case (a new ``analysed_at``) does not add a copy."""
    case = make_case("P1")
    a1 = analysis_of(case)
    time.sleep(1.1)  # analysed_at has a resolution of one second
    a2 = analysis_of(case)
    assert a1.provenance.analysed_at != a2.provenance.analysed_at
    assert content_key(a1) == content_key(a2)
    with Store(store_url) as st:
        assert st.save_analysis(a1).created
        assert not st.save_analysis(a2).created
        assert st.counts()["analyses"] == 1


def test_different_parameters_are_a_new_analysis(store_url, analysis_of):
    case = make_case("P1")
    with Store(store_url) as st:
        r1 = st.save_analysis(analysis_of(case))
        r2 = st.save_analysis(analysis_of(case, {"ngs_mrd": {"min_reads": 3}}))
        assert r1.created and r2.created and r1.analysis_id != r2.analysis_id
        assert st.counts()["cases"] == 1 and st.counts()["analyses"] == 2


def test_round_trip_get_analysis_equals_saved(store_url, analysis_of, example_cases, example_analysis):
    saved = [analysis_of(make_case("P1", mrd=(("2023-03-01", "flow", None, 1e-4),
                                                ("2023-04-01", "pcr", 5e-5, 1e-4)), samples=("s1",)))]
    saved += [example_analysis(slug) for slug in example_cases]
    with Store(store_url) as st:
        ids = [st.save_analysis(a).analysis_id for a in saved]
    with Store(store_url) as st:  # reopen: nothing cached
        for i, a in zip(ids, saved, strict=True):
            back = st.get_analysis(i)
            # the analysis is defined by its JSON: identical, byte for byte
            assert back.model_dump_json(by_alias=True) == a.model_dump_json(by_alias=True)
            # and equal as objects to the JSON-normalised original (engine results may hold
            # tuples that JSON turns into lists, so `back == a` is not the right comparison)
            assert back == CaseAnalysis.model_validate_json(a.model_dump_json(by_alias=True))
        listed = {s.analysis_id: s for s in st.list_analyses()}
    assert set(listed) == set(ids)
    for i, a in zip(ids, saved, strict=True):
        assert listed[i].case_id == a.case_id
        assert listed[i].analysed_at == a.provenance.analysed_at
        assert listed[i].sections == [s.name for s in a.sections]


def test_inputs_are_stored_with_checksums(store_url, example_analysis):
    a = example_analysis("t-all-early-combined")
    assert a.provenance.inputs, "an analysed case file has at least the case file as input"
    with Store(store_url) as st:
        st.save_analysis(a)
        rows = st.dump()["inputs"]
    assert sorted((r[1], r[2]) for r in rows) == sorted((i.path, i.sha256) for i in a.provenance.inputs)


def test_get_analysis_unknown_id_and_prefix(store_url, analysis_of):
    with Store(store_url) as st:
        r = st.save_analysis(analysis_of(make_case("P1")))
        with pytest.raises(StoreError, match="no analysis with id 'nope'"):
            st.get_analysis("nope")
        # a unique prefix of at least 6 characters is enough
        assert st.get_analysis(r.analysis_id[:8]).case_id == "P1"


# -- MRD query --------------------------------------------------------------------------------------
def test_mrd_results_query(store_url, analysis_of):
    p1 = make_case("P1", mrd=(("2023-03-01", "pcr", 2e-3, 1e-4), ("2023-03-01", "flow", 1e-3, 1e-4),
                              ("2023-04-15", "pcr", None, 1e-4)))
    p2 = make_case("P2", mrd=(("2023-05-01", "flow", 5e-5, 1e-4),))
    with Store(store_url) as st:
        st.save_analysis(analysis_of(p1))
        st.save_analysis(analysis_of(p2))
        all_rows = st.mrd_results()
        p1_rows = st.mrd_results(case_id="P1")
        p1_pcr = st.mrd_results(case_id="P1", method="pcr")
        flow = st.mrd_results(method="flow")
    assert len(all_rows) == 4
    # by date, then in the analysis' own order (the pipeline sorts by date, method, sample)
    assert [(m.date.isoformat(), m.method) for m in p1_rows] == [
        ("2023-03-01", "flow"), ("2023-03-01", "pcr"), ("2023-04-15", "pcr")]
    assert [(m.status, m.value) for m in p1_pcr] == [("positive", 2e-3), ("negative", None)]
    # 5e-5 is below the LoQ of 1e-4: stored as positive, not quantifiable (pipeline rule)
    assert {(m.sample_id, m.status) for m in flow} == {(None, "positive"), (None, "positive_not_quantifiable")}
    assert all(m.source == "reported" and m.loq == 1e-4 for m in all_rows)


def test_mrd_results_latest_analysis_by_default(store_url, analysis_of):
    case = make_case("P1", mrd=(("2023-03-01", "pcr", 2e-3, 1e-4),))
    with Store(store_url) as st:
        st.save_analysis(analysis_of(case))
        time.sleep(1.1)
        second = st.save_analysis(analysis_of(case, {"course": {"x": 1}}))
        assert len(st.mrd_results(case_id="P1")) == 1
        assert len(st.mrd_results(case_id="P1", latest=False)) == 2
        assert len(st.mrd_results(analysis_id=second.analysis_id)) == 1


# -- atomicity --------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["case", "samples", "analysis", "mrd", "inputs"])
def test_injected_failure_leaves_store_unchanged(store_url, analysis_of, example_analysis, monkeypatch, stage):
    before_a = analysis_of(make_case("P1", mrd=(("2023-03-01", "pcr", 2e-3, 1e-4),), samples=("s1",)))
    # the failing import touches the existing case (new version, new samples) and adds inputs
    failing = analysis_of(make_case("P1", mrd=(("2023-03-01", "pcr", 2e-3, 1e-4),
                                               ("2023-05-01", "flow", None, 1e-4)), samples=("s2", "s3")))
    failing = failing.model_copy(update={"provenance": failing.provenance.model_copy(
        update={"inputs": example_analysis("t-all-early-combined").provenance.inputs})})
    with Store(store_url) as st:
        st.save_analysis(before_a)
        snapshot, counts = st.dump(), st.counts()

        def boom(at: str) -> None:
            if at == stage:
                raise RuntimeError(f"injected failure after {at}")

        monkeypatch.setattr(store_core, "fault_hook", boom)
        with pytest.raises(RuntimeError, match=f"injected failure after {stage}"):
            st.save_analysis(failing)
        assert st.counts() == counts
        assert st.dump() == snapshot
        monkeypatch.setattr(store_core, "fault_hook", None)
        # nothing half-written blocks the retry: it is a new import
        assert st.save_analysis(failing).created
        assert st.counts()["analyses"] == 2 and st.counts()["samples"] == 2


def test_database_failure_is_a_store_error_and_writes_nothing(store_url, analysis_of, monkeypatch):
    with Store(store_url) as st:
        st.save_analysis(analysis_of(make_case("P1")))
        snapshot = st.dump()

        def db_fails(at: str) -> None:
            if at == "mrd":
                raise sa.exc.OperationalError("INSERT ...", {}, Exception("disk I/O error"))

        monkeypatch.setattr(store_core, "fault_hook", db_fails)
        with pytest.raises(StoreError, match="disk I/O error"):
            st.save_analysis(analysis_of(make_case("P2", mrd=(("2023-03-01", "pcr", 1e-3, 1e-4),))))
        assert st.dump() == snapshot


def test_bad_urls_give_readable_store_errors(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(f"sqlite:///{tmp_path}/no/such/folder/x.db").open()
    with pytest.raises(StoreError, match="not a database URL"):
        Store("not a url").open()
    with pytest.raises(StoreError, match="nosuchdialect"):
        Store("nosuchdialect://localhost/x").open()


def test_unreachable_postgres_is_a_store_error():
    # port 1 on localhost: nothing listens there
    with pytest.raises(StoreError, match=r"store postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db: "):
        Store("postgresql://u:secret@127.0.0.1:1/db").open()


def test_schema_is_migrated_to_head_on_open(store_url):
    with Store(store_url) as st:
        assert st.schema_revision() == "0006"
        names = set(sa.inspect(st.engine).get_table_names())
    assert {"cases", "samples", "analyses", "mrd_results", "inputs", "alembic_version"} <= names
    with Store(store_url) as st:  # second open: fast path, still at head
        assert st.schema_revision() == "0006"


# -- two processes at once --------------------------------------------------------------------------
def _as_patient(a: CaseAnalysis, patient: str) -> CaseAnalysis:
    """The same analysis for another patient id (distinct case hash), without re-running the
    pipeline (the store only needs distinct content, not fresh engine results)."""
    case = a.case.model_copy(update={"patient": a.case.patient.model_copy(update={"id": patient})})
    digest = hashlib.sha256(case.model_dump_json().encode()).hexdigest()
    return a.model_copy(update={"case": case, "case_id": patient, "case_sha256": digest})


def test_two_processes_write_at_once_nothing_lost_no_duplicates(store_url, analysis_of, monkeypatch):
    """Two spawned processes open the same *new* store at the same moment (both migrate) and
    save interleaved lists: distinct analyses, analyses of the same case with different
    parameters, and identical analyses that both try to store."""
    n = 40
    pcr = analysis_of(make_case("X", mrd=(("2023-03-01", "pcr", 1e-3, 1e-4),)))
    flow = analysis_of(make_case("X", mrd=(("2023-03-01", "flow", 2e-3, 1e-4),)))
    same = analysis_of(make_case("SAME", samples=("s1",)))
    own = {t: [_as_patient(pcr, f"{t}{i}") for i in range(n)] for t in "AB"}
    shared = [_as_patient(flow, f"S{i}") for i in range(n)]
    same_case = {t: [same.model_copy(update={"provenance": same.provenance.model_copy(
        update={"parameters": {"p": {"run": f"{t}{i}"}}})}) for i in range(3)] for t in "AB"}
    payloads = {t: [a.model_dump_json(by_alias=True) for pair in zip(own[t], shared, strict=True)
                    for a in pair] + [a.model_dump_json(by_alias=True) for a in same_case[t]]
                for t in "AB"}

    monkeypatch.syspath_prepend(str(HERE))
    import _mp_workers  # type: ignore[import-not-found]

    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_mp_workers.save_all, args=(store_url, payloads[t], barrier, out, t))
             for t in "AB"]
    for p in procs:
        p.start()
    reports = {}
    for _ in procs:
        tag, status, value = out.get(timeout=180)
        reports[tag] = (status, value)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert {t: r[0] for t, r in reports.items()} == {"A": "ok", "B": "ok"}, reports
    # the two writers really overlapped in time (monotonic clock is system-wide on Linux)
    (a0, a1), (b0, b1) = reports["A"][1]["window"], reports["B"][1]["window"]
    assert max(a0, b0) < min(a1, b1), (a0, a1, b0, b1)
    reports = {t: (s, v["rows"]) for t, (s, v) in reports.items()}

    created = [row for t in "AB" for row in reports[t][1] if row[2]]
    # every distinct analysis was created exactly once: 2n own + n shared + 6 of case SAME
    assert len(created) == 3 * n + 6
    assert len({row[0] for row in created}) == 3 * n + 6
    shared_ids = {content_key(a)[:16] for a in shared}
    for sid in shared_ids:  # both processes got the same id back, one created it
        rows = [row for t in "AB" for row in reports[t][1] if row[0] == sid]
        assert len(rows) == 2 and sum(r[2] for r in rows) == 1
    with Store(store_url) as st:
        counts = st.counts()
        stored_ids = {s.analysis_id for s in st.list_analyses()}
    expected = {content_key(a)[:16] for a in [*own["A"], *own["B"], *shared, *same_case["A"], *same_case["B"]]}
    assert stored_ids == expected
    # cases: 2n own + n shared + SAME; MRD: one row per own/shared analysis; samples: SAME's one
    assert counts == {"cases": 3 * n + 1, "samples": 1, "analyses": 3 * n + 6,
                      "mrd_results": 3 * n, "inputs": 0}



# -- kill -9 in the middle of writes ------------------------------------------------------------------
def test_writer_killed_mid_write_leaves_a_consistent_store(store_url, analysis_of, monkeypatch):
    """A writer process is killed with SIGKILL while it saves (on SQLite and PostgreSQL): every
    analysis in the store is whole (its case, MRD rows and inputs are there), none is half-written,
    and saving the same analyses again completes them without duplicates."""
    import os
    import signal

    base = analysis_of(make_case("K", mrd=(("2023-03-01", "pcr", 1e-3, 1e-4),)))
    analyses = [_as_patient(base, f"K{i}") for i in range(60)]
    payloads = [a.model_dump_json(by_alias=True) for a in analyses]
    monkeypatch.syspath_prepend(str(HERE))
    import _mp_workers  # type: ignore[import-not-found]

    ctx = mp.get_context("spawn")
    started = ctx.Queue()
    proc = ctx.Process(target=_mp_workers.save_forever, args=(store_url, payloads, started))
    proc.start()
    # wait until the writer is well into its list, then kill it without warning
    while started.get(timeout=180) < 20:
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL

    with Store(store_url) as st:
        before = st.counts()
        # whole analyses only: one MRD row per stored analysis (each carries one MRD value)
        assert before["mrd_results"] == before["analyses"] == before["cases"]
        assert 20 <= before["analyses"] < 60
        # the same imports again: the rest is stored, nothing twice
        created = [st.save_analysis(a).created for a in analyses]
        after = st.counts()
    assert sum(created) == 60 - before["analyses"]
    assert after["analyses"] == after["mrd_results"] == after["cases"] == 60
