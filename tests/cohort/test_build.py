"""``remission cohort build``: stored analyses -> analysis-ready rows with their derivation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from remission.app.cohort import rows_from_analyses
from remission.cli import main
from remission.domain.case import Case


def _case(pid: str, *, second_relapse: str | None = None,
          mrd: tuple[tuple[str, float | None], ...] = ()) -> Case:
    relapses = [{"number": 1, "date": "2023-02-01", "site": "isolated_bm",
                 "marrow_blasts_percent": 60}]
    if second_relapse:
        relapses.append({"number": 2, "date": second_relapse, "site": "isolated_bm",
                         "marrow_blasts_percent": 30})
    return Case.model_validate({
        "patient": {"id": pid, "sex": "female", "date_of_birth": "2014-03-01"},
        "diagnosis": {"date": "2019-05-10", "lineage": "B"},
        "frontline": {"end_date": "2021-08-01"},
        "relapses": relapses,
        "mrd_reports": [{"date": d, "method": "pcr", "value": v, "lod": 5e-5, "loq": 1e-4}
                        for d, v in mrd],
        "therapies": [{"name": "block", "kind": "chemotherapy", "start": "2023-02-03",
                       "end": "2023-09-30"}],
    })


@pytest.fixture
def analyses(tmp_path: Path) -> list:
    from remission.pipeline import analyze_case

    cases = [
        _case("A", second_relapse="2023-08-01", mrd=(("2023-02-25", 2e-3), ("2023-05-01", None))),
        _case("B", mrd=(("2023-03-01", None),)),
    ]
    return [analyze_case(c, tmp_path) for c in cases]


def test_rows_time_event_and_landmark_mrd(analyses: list) -> None:
    rows, notes = rows_from_analyses(analyses, landmarks=[28], window_days=14)
    a, b = rows
    # A: second relapse 2023-08-01, 181 days after the first (2023-02-01)
    assert (a["case_id"], a["time_days"], a["second_relapse"]) == ("A", 181, 1)
    # B: censored at its last dated record, the therapy end 2023-09-30 = 241 days
    assert (b["time_days"], b["second_relapse"]) == (241, 0)
    # MRD at day 28 (2023-03-01), window 14 days: A has 2e-3 on 02-25; B is negative (0) on 03-01
    assert a["mrd_day28"] == 2e-3 and b["mrd_day28"] == 0.0
    assert "event: relapse 2 on 2023-08-01" in a["derivation"]
    assert "censored at the last dated record, 2023-09-30" in b["derivation"]
    # neither case records an outcome: censored for death at the last record, and the notes say so
    assert (a["death"], b["death"]) == (0, 0) and (a["cause"], b["cause"]) == (1, 0)
    assert any("record no outcome" in n and "A, B" in n for n in notes)


def test_death_and_death_in_remission_from_the_outcome(tmp_path: Path) -> None:
    from remission.pipeline import analyze_case

    base = _case("D").model_dump(mode="json", by_alias=True)
    died_in_cr = Case.model_validate({**base, "outcome": {"death_date": "2023-11-15",
                                                          "death_cause": "infection"}})
    relapsed_then_died = Case.model_validate({
        **_case("E", second_relapse="2023-08-01").model_dump(mode="json", by_alias=True),
        "patient": {"id": "E", "sex": "female", "date_of_birth": "2014-03-01"},
        "outcome": {"death_date": "2023-12-01", "death_cause": "relapse"}})
    alive = Case.model_validate({**_case("F").model_dump(mode="json", by_alias=True),
                                 "patient": {"id": "F", "sex": "male", "date_of_birth": "2014-03-01"},
                                 "outcome": {"last_contact": "2024-02-01"}})
    rows, notes = rows_from_analyses([analyze_case(c, tmp_path)
                                      for c in (died_in_cr, relapsed_then_died, alive)])
    d, e, f = rows
    # origin = first relapse 2023-02-01 (hand-counted days)
    # D: death without a second relapse on 2023-11-15 = 287 days: death in remission (cause 2)
    assert (d["cause"], d["cause_days"], d["death"], d["death_days"]) == (2, 287, 1, 287)
    assert d["second_relapse"] == 0 and "death in remission on 2023-11-15" in d["derivation"]
    # E: second relapse 2023-08-01 (181 d) comes first (cause 1); death 2023-12-01 = 303 days
    assert (e["cause"], e["cause_days"], e["death"], e["death_days"]) == (1, 181, 1, 303)
    assert "death on 2023-12-01 (relapse)" in e["derivation"]
    # F: alive at last contact 2024-02-01 = 365 days: censored for everything there
    assert (f["cause"], f["cause_days"], f["death"], f["death_days"], f["time_days"]) == (0, 365, 0, 365, 365)
    assert not any("record no outcome" in n for n in notes)


def test_outcome_must_be_consistent() -> None:
    from pydantic import ValidationError as PydanticError

    base = _case("G").model_dump(mode="json", by_alias=True)
    with pytest.raises(PydanticError, match="death_cause needs death_date"):
        Case.model_validate({**base, "outcome": {"death_cause": "relapse"}})
    with pytest.raises(PydanticError, match="last_contact must not be after death_date"):
        Case.model_validate({**base, "outcome": {"death_date": "2023-05-01", "last_contact": "2023-06-01"}})


def test_intervals_carry_the_last_known_mrd(analyses: list) -> None:
    rows, _ = rows_from_analyses(analyses[:1], intervals=True)
    # A: MRD 2e-3 on day 24 (02-25), negative on day 89 (05-01), event on day 181
    spans = [(r["start"], r["stop"], r["event"], r["mrd"]) for r in rows]
    assert spans == [(0, 24, 0, None), (24, 89, 0, 2e-3), (89, 181, 1, 0.0)]
    assert all("interval (" in r["derivation"] for r in rows)


def test_build_command_reads_store_read_only(analyses: list, tmp_path: Path) -> None:
    from remission.store import Store

    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store(url) as st:
        for a in analyses:
            st.save_analysis(a)
        before = st.counts()
    out = tmp_path / "cohort.csv"
    assert main(["cohort", "build", "--db", url, "--where", "case_id=A", "--mrd-landmark", "28",
                 "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert df.case_id.tolist() == ["A"] and "derivation" in df.columns
    with Store(url) as st:
        assert st.counts() == before


def test_origin_without_event_is_left_out_and_named(analyses: list) -> None:
    rows, notes = rows_from_analyses(analyses, origin="cart")
    assert rows == []
    assert "A (no CAR-T infusion recorded)" in notes[-1]
    assert dt.date(2023, 2, 1)  # the relapse dates above are the origin in the other tests


def test_columns_carry_their_units(analyses: list) -> None:
    rows, _ = rows_from_analyses(analyses, landmarks=[28])
    assert {"time_days", "mrd_day28", "cart_persistence",
            "cart_last_detectable_days_since_infusion", "derivation"} <= set(rows[0])


def test_build_never_creates_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    assert main(["cohort", "build", "--db", f"sqlite:///{missing}", "-o",
                 str(tmp_path / "c.csv")]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists()
