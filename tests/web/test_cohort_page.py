"""The cohort survival panel (``/cohort``, ``GET /api/v1/cohort``): roles, per-patient scope,
numbers against the engine and a hand calculation, escaping, audit.

The hand-checkable cohort (:data:`KM_CASES`): four patients, origin = first relapse on
2023-02-01; times in days from it. Event-free survival (event = second relapse or death):

====  =====================================  =====  =====
case  what happens                           days   event
====  =====================================  =====  =====
K1    second relapse on 2023-05-12           100    1
K2    last contact 2023-08-20                200    0
K3    death in remission on 2023-11-28       300    1
K4    last contact 2024-03-07                400    0
====  =====================================  =====  =====

Kaplan–Meier by hand: at day 100, 4 at risk, 1 event: S = 3/4 = 0.75; day 200 censored; at
day 300, 2 at risk, 1 event: S = 0.75 × 1/2 = 0.375; so S(1 year = 365.25 days) = 0.375, and
at 2 and 3 years the estimate is not given (past the last follow-up, day 400). Greenwood:
var(log S) = 1/(4·3) + 1/(2·1) = 7/12; the log-scale 95 % band's lower limit is
0.375·exp(−1.959964·√(7/12)) = 0.375·0.223812 = 0.08393; the upper limit 0.375·exp(+1.49695) =
1.676 is clipped to 1 (as R survfit does).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pytest
from _web_factory import PASSWORD

RELAPSE = dt.date(2023, 2, 1)
KM_CASES: dict[str, dict[str, Any]] = {
    "K1": {"relapse2": RELAPSE + dt.timedelta(days=100), "outcome": {"last_contact": "2023-06-01"}},
    "K2": {"outcome": {"last_contact": (RELAPSE + dt.timedelta(days=200)).isoformat()}},
    "K3": {"outcome": {"death_date": (RELAPSE + dt.timedelta(days=300)).isoformat(), "death_cause": "infection"}},
    "K4": {"outcome": {"last_contact": (RELAPSE + dt.timedelta(days=400)).isoformat()}},
}
HAND_S_1Y = 0.375  # (3/4) × (1/2), see the module docstring
HAND_LOWER_1Y = 0.375 * math.exp(-1.959963984540054 * math.sqrt(7 / 12))  # Greenwood, log scale


def _case(pid: str, spec: dict[str, Any]) -> Any:
    from remission.domain import Case

    # K3 and K4 relapse first in the CNS alone (another risk group than K1 and K2: see the Gray test)
    site = "isolated_cns" if pid in ("K3", "K4") else "isolated_bm"
    first: dict[str, Any] = {"number": 1, "date": RELAPSE.isoformat(), "site": site}
    if site == "isolated_bm":
        first["marrow_blasts_percent"] = 60
    relapses = [first]
    if "relapse2" in spec:
        relapses.append({"number": 2, "date": spec["relapse2"].isoformat(), "site": "isolated_bm",
                         "marrow_blasts_percent": 30})
    return Case.model_validate({
        "patient": {"id": pid, "sex": "male", "date_of_birth": "2012-01-01"},
        "diagnosis": {"date": "2019-05-10", "lineage": "B"},
        "frontline": {"end_date": "2021-08-01"},
        "relapses": relapses,
        "outcome": spec["outcome"],
    })


@pytest.fixture
def km_store(app: Any, tmp_path: Path) -> Any:
    """The four hand-checkable patients added to the web store; account ``km`` (clinician) sees them all."""
    from argon2 import profiles

    from remission.app.access import grant
    from remission.app.auth import AuthPolicy, create_user
    from remission.pipeline import analyze_case

    st = app.state.store
    for pid, spec in KM_CASES.items():
        st.save_analysis(analyze_case(_case(pid, spec), tmp_path))
    create_user(st, "km", "clinician", PASSWORD, policy=AuthPolicy(argon2_parameters=profiles.CHEAPEST))
    for pid in KM_CASES:
        grant(st, "km", pid, actor="test", address="local")
    return st


@pytest.mark.parametrize("account", ["admin", "clin", "viewer"])
def test_page_renders_for_allowed_roles(client_for: Any, account: str) -> None:
    r = client_for(account).get("/cohort")
    assert r.status_code == 200
    assert "Cohort survival" in r.text and 'href="/cohort"' in r.text
    assert "not a medical device" in r.text.lower()
    assert "R-validated method" in r.text and "tests/cohort/test_km.py::test_km_aml_by_group" in r.text
    assert "Provenance:" in r.text


def test_lab_and_anonymous_are_refused(client_for: Any) -> None:
    lab = client_for("lab")
    assert lab.get("/cohort").status_code == 403
    assert lab.get("/api/v1/cohort").status_code == 403
    assert 'href="/cohort"' not in lab.get("/patients").text  # no nav link for the lab
    anon = client_for(None)
    anon.follow_redirects = False
    assert anon.get("/api/v1/cohort").status_code == 401
    r = anon.get("/cohort")
    assert (r.status_code, r.headers["location"]) == (303, "/login")


def test_admin_without_grants_sees_an_empty_cohort(client_for: Any) -> None:
    # the seeded admin holds no grant (remission.app.access: no role sees patient data by role alone)
    body = client_for("admin").get("/api/v1/cohort").json()
    assert body["n_patients"] == 0 and body["curves"] == [] and body["n_analyses"] == 0
    page = client_for("admin").get("/cohort").text
    assert re.search(r"<b>0</b> patients included", page)
    assert "PAT-A" not in page


def test_a_cohort_holds_only_the_granted_patients(app: Any, client_for: Any, km_store: Any) -> None:
    """IDOR/BOLA: grants for 2 of 3 patients give a cohort of 2, and nothing of the third (or of
    any other stored patient) reaches the page, the JSON or their notes."""
    from argon2 import profiles

    from remission.app.access import grant
    from remission.app.auth import AuthPolicy, create_user

    create_user(km_store, "two", "viewer", PASSWORD, policy=AuthPolicy(argon2_parameters=profiles.CHEAPEST))
    for pid in ("K1", "K2"):
        grant(km_store, "two", pid, actor="test", address="local")
    c = client_for("two")
    body = c.get("/api/v1/cohort?endpoint=os").json()
    assert body["n_patients"] == 2 and body["n_analyses"] == 2
    page = c.get("/cohort?endpoint=os").text
    assert re.search(r"<b>2</b> patients included", page)
    for other in ("K3", "K4", "PAT-A", "PAT-B", "PAT-C"):
        assert other not in str(body), other
        assert other not in page, other
    # a filter naming another patient's data cannot widen the cohort (the page has no case-id filter)
    assert c.get("/api/v1/cohort?endpoint=os&sex=male").json()["n_patients"] == 2


def test_km_estimate_equals_engine_and_hand_calculation(client_for: Any, km_store: Any) -> None:
    import numpy as np

    from remission.app.cohort import build_table
    from remission.cohort import kaplan_meier

    c = client_for("km")
    body = c.get("/api/v1/cohort?endpoint=efs").json()
    assert body["n_patients"] == 4
    assert body["n_events"] == {"event (second relapse or death)": 2, "censored": 2}
    est = {e["years"]: e for e in body["estimates"]}
    # the hand calculation of the module docstring
    assert est[1.0]["value"] == pytest.approx(HAND_S_1Y, abs=1e-12)
    assert est[1.0]["lower"] == pytest.approx(HAND_LOWER_1Y, abs=1e-6)
    assert est[1.0]["upper"] == pytest.approx(1.0)
    assert est[1.0]["at_risk"] == 1  # only K4 (day 400) is followed past day 365.25
    assert est[2.0]["value"] is None and est[3.0]["value"] is None
    # the engine on the same table gives the same curve
    table, _ = build_table(km_store, only={"K1", "K2", "K3", "K4"})
    km = kaplan_meier(table["cause_days"], (table["cause"] != 0).astype(int))
    curve = body["curves"][0]
    assert np.allclose(np.asarray(curve["time_years"]) * 365.25, km.time)
    assert curve["value"] == pytest.approx(km.survival.tolist())
    assert km.survival_at([365.25])[0] == pytest.approx(HAND_S_1Y)
    assert body["at_risk"] == {"all": [4, 1, 0, 0]}  # at 0, 1, 2, 3 years
    page = c.get("/cohort?endpoint=efs").text
    assert 'data-years="1.0" data-group="all" data-label="survival">0.375 (0.084–1.000)' in page
    assert "<svg" in page and "matplotlib" not in page


def test_cif_by_hand_and_gray_test(client_for: Any, km_store: Any) -> None:
    c = client_for("km")
    whole = c.get("/api/v1/cohort?endpoint=cif").json()
    assert whole["n_events"] == {"second relapse": 1, "death in remission": 1, "censored": 2}
    # by hand: at day 100, 4 at risk, one relapse: CIF_relapse = 1/4; at day 300, S(300-) = 3/4,
    # 2 at risk, one death: CIF_death = 3/4 · 1/2 = 0.375; both hold at one year (365.25 days)
    w1 = {e["label"]: e["value"] for e in whole["estimates"] if e["years"] == 1.0}
    assert w1 == pytest.approx({"second relapse": 0.25, "death in remission": 0.375})
    assert whole["tests"] == []  # one group: no test
    assert [b["r_function"] for b in whole["badges"]] == ["cmprsk::cuminc", "cmprsk::cuminc (Tests)"]
    # by the ALL-REZ BFM risk group of the stored risk sections (K3, K4 relapse in the CNS alone;
    # a case whose risk section gives no group is "unknown"): one curve pair per group, and Gray's
    # test for each cause with (groups - 1) degrees of freedom
    from remission.app.cohort import build_table

    table, _ = build_table(km_store, only=set(KM_CASES))
    expected = sorted({g if g is not None else "unknown" for g in table["risk_bfm"]})
    by = c.get("/api/v1/cohort?endpoint=cif&group=risk_bfm").json()
    assert sorted(by["at_risk"]) == expected and len(expected) >= 2
    assert sorted({cv["group"] for cv in by["curves"]}) == expected
    assert [t["name"] for t in by["tests"]] == ["Gray's test, second relapse", "Gray's test, death in remission"]
    assert all(t["df"] == len(expected) - 1 for t in by["tests"])
    page = c.get("/cohort?endpoint=cif&group=risk_bfm").text
    assert "Gray&#39;s test, second relapse" in page or "Gray's test, second relapse" in page


def test_badges_name_tests_that_exist() -> None:
    """Every test a badge names is a test function in tests/cohort (the page invents none)."""
    import ast

    from remission.app.cohort_view import R_VALIDATION

    root = Path(__file__).resolve().parents[2]
    for badge in R_VALIDATION.values():
        for ref in badge.tests:
            path, _, name = ref.partition("::")
            tree = ast.parse((root / path).read_text(encoding="utf-8"))
            assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, ref


def test_filter_input_is_escaped(client_for: Any) -> None:
    evil = '"><script>alert(1)</script>'
    r = client_for("clin").get("/cohort", params={"sex": evil, "site": "<b>x</b>"})
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text and "<b>x</b>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert re.search(r"<b>0</b> patients included", r.text)  # no patient has that sex
    bad = client_for("clin").get("/cohort", params={"endpoint": "<i>x</i>"})
    assert bad.status_code == 422 and "<i>x</i>" not in bad.text and "field endpoint" in bad.text


def test_cohort_view_is_audited_without_identifiers(app: Any, client_for: Any) -> None:
    from remission.app import audit

    client_for("clin").get("/cohort?endpoint=os&site=isolated_bm")
    e = audit.entries(app.state.store, action="cohort.view")[0]
    assert (e.actor, e.target, e.outcome) == ("clin", "cohort", "ok")
    assert e.detail == {"patients": 3, "endpoint": "os", "origin": "relapse", "group": "", "filters": 1,
                        "via": "page"}
    assert "PAT-" not in str(e.detail)


def test_api_choices_are_the_app_choices() -> None:
    from typing import get_args

    from remission.app import cohort_view as svc
    from remission.web.routes import cohort as routes

    assert get_args(routes.Endpoint) == tuple(svc.ENDPOINTS)
    assert get_args(routes.Origin) == tuple(svc.ORIGINS)
    assert get_args(routes.Grouping) == tuple(svc.GROUPINGS)
