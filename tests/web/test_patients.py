"""Patient list (search, filters, state, latest MRD and trend) and the patient page."""

from __future__ import annotations

from typing import Any

from remission.domain import CaseAnalysis


def test_list_rows_state_and_trend(client_for: Any) -> None:
    rows = {p["case_id"]: p for p in client_for("viewer").get("/api/v1/patients").json()["patients"]}
    # PAT-A: PCR 2e-3 then negative -> latest negative, falling (2e-3 -> 0)
    assert rows["PAT-A"]["state"] == "mrd_negative" and rows["PAT-A"]["trend"] == "falling"
    # PAT-B: flow 1e-3 then 5e-3 (LoQ 1e-4) -> positive, rising
    assert rows["PAT-B"]["latest_mrd"]["value"] == 0.005 and rows["PAT-B"]["trend"] == "rising"
    # PAT-C: no MRD value at all
    assert rows["PAT-C"]["state"] == "no_mrd" and rows["PAT-C"]["latest_mrd"] is None


def test_search_and_filters(client_for: Any) -> None:
    c = client_for("viewer")
    assert [p["case_id"] for p in c.get("/api/v1/patients", params={"q": "T-B"}).json()["patients"]] == ["PAT-B"]
    assert c.get("/api/v1/patients", params={"q": "%"}).json()["total"] == 0  # LIKE wildcards are literal
    neg = c.get("/api/v1/patients", params={"state": "mrd_negative"}).json()["patients"]
    assert [p["case_id"] for p in neg] == ["PAT-A"]
    html = c.get("/patients", params={"q": "PAT-C"}).text
    assert "PAT-C" in html and "PAT-A" not in html
    assert c.get("/api/v1/patients", params={"limit": 2}).json()["total"] == 3


def test_next_board_date_in_list(client_for: Any) -> None:
    clin = client_for("clin")
    r = clin.post("/board", data={"date": "2099-01-01", "title": "future", "attendees": ""})
    clin.post(r.url.path + "/patients", data={"case_id": "PAT-B"})
    rows = {p["case_id"]: p for p in clin.get("/api/v1/patients").json()["patients"]}
    assert rows["PAT-B"]["next_board"] == "2099-01-01" and rows["PAT-A"]["next_board"] is None


def test_patient_page_summary_first_then_report_sections(client_for: Any) -> None:
    html = client_for("viewer").get("/patients/PAT-B").text
    assert html.index('id="summary"') < html.index('id="timeline"') < html.index('id="mrd"') < html.index('id="provenance"')
    assert "<svg" in html  # the report's timeline plot, server-side SVG
    assert "0.5 %" in html  # 5e-3 as the report formats it
    for sid in ("section-mrd_course", "section-risk"):
        assert sid in html


def test_patient_page_shows_the_strategy_timeline_as_a_model_projection(client_for: Any) -> None:
    """PAT-B's MRD rises (flow 1e-3 then 5e-3): the page carries the sim_timeline report section."""
    html = client_for("viewer").get("/patients/PAT-B").text
    part = html[html.index('id="section-sim_timeline"'):]
    assert "MODEL PROJECTION" in part[:2000]
    assert "Projected time to haematological relapse" in part


def test_unknown_patient_is_404_for_page_and_api(client_for: Any) -> None:
    c = client_for("viewer")
    assert c.get("/patients/NOBODY").status_code == 404
    assert c.get("/api/v1/patients/NOBODY").json() == {"detail": "no patient 'NOBODY'"}


def test_patient_page_is_rendered_once_per_analysis(app: Any, client_for: Any, monkeypatch: Any) -> None:
    import sqlalchemy as sa

    import remission.report.timeline as timeline
    from remission.app import patients
    from remission.store import tables as T

    patients._pages.clear()  # the in-memory copies are per process (ids are content hashes)
    patients._bodies.clear()
    c = client_for("viewer")
    first = c.get("/patients/PAT-B").text
    n = app.state.store.read(lambda conn: conn.execute(
        sa.select(sa.func.count()).select_from(T.rendered_pages)).scalar_one())
    assert n == 1
    # from now on the stored body is used: drawing again, or even parsing the analysis, would fail
    patients._pages.clear()
    patients._bodies.clear()
    monkeypatch.setattr(timeline, "timeline_svg", lambda *a: (_ for _ in ()).throw(AssertionError("redrawn")))
    monkeypatch.setattr(CaseAnalysis, "model_validate_json",
                        classmethod(lambda *a, **k: (_ for _ in ()).throw(AssertionError("parsed"))))
    assert c.get("/patients/PAT-B").text == first


def test_a_new_page_template_renders_the_body_again_without_drawing(app: Any, client_for: Any,
                                                                    monkeypatch: Any) -> None:
    import remission.report.timeline as timeline
    from remission.app import patients
    from remission.web.routes import patients as routes

    c = client_for("viewer")
    first = c.get("/patients/PAT-A").text
    patients._pages.clear()
    patients._bodies.clear()
    monkeypatch.setattr(timeline, "timeline_svg", lambda *a: (_ for _ in ()).throw(AssertionError("redrawn")))
    # another template version: the stored body is stale, the stored renderings are not
    monkeypatch.setattr(patients, "_body_renderer", ("another-version", routes.render_body))
    assert c.get("/patients/PAT-A").text == first


def test_a_saved_analysis_is_prerendered_so_its_first_view_parses_nothing(app: Any, client_for: Any,
                                                                           monkeypatch: Any) -> None:
    from remission.app import patients

    st = app.state.store
    c = client_for("viewer")
    c.get("/patients")  # the list builds its index (from the analyses) first
    analysis_id, analysis = patients.latest_with_id(st, "PAT-C")
    patients.prerender(st, analysis_id, analysis)  # what reanalyze does after saving
    patients._pages.clear()
    patients._bodies.clear()
    monkeypatch.setattr(CaseAnalysis, "model_validate_json",
                        classmethod(lambda *a, **k: (_ for _ in ()).throw(AssertionError("parsed"))))
    html = c.get("/patients/PAT-C").text
    assert 'id="summary"' in html and "Patient PAT-C" in html


def test_newest_analysis_wins_within_the_same_second(app: Any) -> None:
    """analysed_at has whole seconds; of two analyses in one second the later stored is newest."""
    import datetime as dt

    from remission.app.patients import latest_with_id, list_patients
    from remission.store import content_key
    from remission.store import tables as T

    st = app.state.store
    first_id, first = latest_with_id(st, "PAT-C")
    extra = latest_with_id(st, "PAT-B")[1].mrd
    # a newer analysis whose id sorts *before* the older one's (ids are content hashes: try a few)
    newer = next(n for n in (first.model_copy(update={"case_sha256": f"{i:064x}", "mrd": (*first.mrd, *extra)})
                             for i in range(1, 200))
                 if content_key(n)[:16] < first_id)
    saved = st.save_analysis(newer)
    a = T.analyses.c
    # the same analysed_at second as the older one
    st.write(lambda conn: conn.execute(T.analyses.update().where(a.analysis_id == saved.analysis_id)
                                       .values(analysed_at=first.provenance.analysed_at)))
    assert latest_with_id(st, "PAT-C")[0] == saved.analysis_id
    row = next(r for r in list_patients(st, q="PAT-C")[0])
    assert row.analysis_id == saved.analysis_id and row.latest_mrd is not None
    assert dt.date.fromisoformat(row.latest_mrd["date"]) == dt.date(2023, 4, 1)  # PAT-B's newest value
