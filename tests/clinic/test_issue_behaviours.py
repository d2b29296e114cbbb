"""One test per behaviour the disease-state issue lists as wrong before this change; each builds
the case for it and runs risk, the disease state and options as the pipeline does."""

from __future__ import annotations

import datetime as dt

from _clinic_factory import make_case, mrd

from remission.clinic import patient_profile, propose_options, stratify
from remission.domain import CartResult, RiskResult
from remission.state import disease_state

D = dt.date


def _run(case, kb, mrd_values=(), cart=None):
    risk = RiskResult.model_validate(stratify(case, mrd_values).to_json()) if case.relapses else None
    cart_res = CartResult.model_validate(cart) if cart is not None else None
    st = disease_state(case, mrd_values, cart=cart_res)
    prof = patient_profile(case, vocabulary=kb.vocabulary, mrd=mrd_values, risk=risk,
                           state=st, cart=cart_res)
    return propose_options(prof, kb)


def _ids(res):
    return [o["id"] for o in res["options"]]


def _opt(res, i):
    return next(o for o in res["options"] if o["id"] == i)


def _exc(res, i):
    return next(o for o in res["excluded"] if o["id"] == i)


def _therapy(name, start, end, response=None, kind="chemotherapy"):
    t = {"name": name, "kind": kind, "start": start, "end": end}
    return {**t, "best_response": response} if response else t


def _cd19_negative_progression_after_cart():
    # very early isolated marrow relapse (BFM S4 -> HSCT by the table), MRD never negative,
    # tisagenlecleucel, then CD19 2 % and NGS-MRD rising 6.5e-5 -> 1.7e-3 (+1.4 log)
    c = make_case(dx=D(2021, 1, 12), relapse=D(2022, 3, 1), end=None, blasts=82, extra={
        "therapies": [_therapy("IntReALL HR induction", "2022-03-07", "2022-04-04", "MRD_positive"),
                      _therapy("blinatumomab", "2022-04-20", "2022-05-18", "MRD_positive",
                               "bispecific")],
        "cart_infusions": [{"product": "tisagenlecleucel", "date": "2022-07-05"}],
        "antigen_expression": [{"date": "2022-03-01", "CD19_percent": 98, "CD22_percent": 88},
                               {"date": "2022-08-16", "CD19_percent": 2, "CD22_percent": 81}]})
    m = [mrd(2.1e-4, D(2022, 5, 18), method="ngs", timepoint="end_of_blinatumomab"),
         mrd(6.5e-5, D(2022, 6, 20), method="ngs", timepoint="pre_cart"),
         mrd(1.7e-3, D(2022, 8, 16), method="ngs", timepoint="cart_day_42")]
    return c, m


def test_no_hsct_first_for_a_patient_not_in_remission(kb):
    c, m = _cd19_negative_progression_after_cart()
    r = _run(c, kb, m, cart={"persistence": {"last_sample_day": 70, "present": True},
                                "b_cell_aplasia": {"ongoing": True}})
    assert r["patient"]["in_remission"] is False
    assert "allogeneic-hsct" not in _ids(r)  # before: option 1
    assert any("not in remission" in x for x in _exc(r, "allogeneic-hsct")["reasons"])
    ids = _ids(r)
    # CD22-directed options before any first-relapse chemotherapy backbone
    first_chemo = min((ids.index(i) for i in ids if i.endswith("backbone") or i == "vpld-reinduction"),
                      default=len(ids))
    assert ids.index("inotuzumab") < first_chemo and ids.index("cd22-cart") < first_chemo


def test_no_relapse_salvage_in_mrd_negative_remission_after_cart(kb):
    c = make_case(extra={"cart_infusions": [{"product": "tisagenlecleucel", "date": "2019-03-01"}],
                         "antigen_expression": [{"date": "2019-01-10", "CD19_percent": 95,
                                                 "CD22_percent": 90}]})
    m = [mrd(None, D(2019, 3, 29), lod=1e-6, loq=1e-6, method="ngs", timepoint="cart_day_28")]
    r = _run(c, kb, m, cart={"persistence": {"last_sample_day": 70, "present": True},
                                "b_cell_aplasia": {"ongoing": True}})
    assert r["patient"]["disease_status"] == "cr_mrd_negative"
    for i in ("inotuzumab", "clofarabine-salvage", "cd22-cart", "cd19-cd22-cart", "bortezomib",
              "tisagenlecleucel", "vpld-reinduction"):
        assert i not in _ids(r), i


def test_refractory_is_derived_from_the_mrd_course(kb):
    # never MRD-negative after the relapse, MRD rises by >= 1 log: refractory -> BH3 mimetics
    c = make_case(extra={"therapies": [_therapy("reinduction", "2019-01-14", "2019-02-11")]})
    m = [mrd(1e-4, D(2019, 2, 11)), mrd(1.5e-3, D(2019, 3, 11))]
    r = _run(c, kb, m)
    assert r["patient"]["refractory"] is True
    assert {"venetoclax", "navitoclax"} <= set(_ids(r))


def test_blinatumomab_phase3_level_only_in_its_setting(kb):
    # second relapse after HSCT: the randomised trials were in first relapse before HSCT
    c = make_case(relapses=[
        {"number": 1, "date": "2019-01-10", "site": "isolated_bm", "marrow_blasts_percent": 60},
        {"number": 2, "date": "2020-06-10", "site": "isolated_bm", "marrow_blasts_percent": 40}],
        extra={"transplants": [{"date": "2019-05-01", "donor": "matched_sibling"}],
               "antigen_expression": [{"date": "2020-06-10", "CD19_percent": 97}],
               "therapies": [_therapy("reinduction", "2020-06-15", "2020-07-31")]})
    blin = _opt(_run(c, kb), "blinatumomab")
    assert not blin["evidence_in_setting"].startswith("randomised phase 3")
    assert blin["evidence_in_setting"].startswith("phase 1/2 in this setting")
    # Ph+ first relapse: AALL1331 excluded Ph+ -> its randomised level is not "in setting"
    ph = make_case(dx_lesions=[{"name": "BCR::ABL1", "kind": "fusion"}],
                   extra={"antigen_expression": [{"date": "2019-01-10", "CD19_percent": 95}]})
    items = _opt(_run(ph, kb), "blinatumomab")["evidence_items"]
    aall1331 = next(i for i in items if "AALL1331" in i["summary"])
    assert aall1331["in_setting"] is False and "Ph+" in aall1331["why"]
    # a second transplant is not shown as standard of care
    r = _run(c, kb, [mrd(None, D(2020, 8, 1), lod=1e-5)])
    second = _opt(r, "second-allogeneic-hsct")
    assert second["eligibility"].startswith("off-label") and "allogeneic-hsct" not in _ids(r)


def test_nothing_defaults_to_standard_and_bortezomib_stays_in_its_setting(kb):
    # late isolated CNS relapse: bortezomib (off-label, studied in marrow relapse) not relevant
    cns = make_case(dx=D(2014, 1, 10), relapse=D(2019, 1, 10), end=D(2016, 3, 10),
                    site="isolated_cns", blasts=0)
    r = _run(cns, kb)
    assert "bortezomib" not in _ids(r)
    assert all(o["access"]["route"] in ("standard", "label", "trial", "off_label", "compassionate")
               for o in r["options"])
    # second relapse, CD19+ : tisagenlecleucel (label) ranks above bortezomib (off-label)
    c = make_case(relapses=[
        {"number": 1, "date": "2017-01-10", "site": "isolated_bm", "marrow_blasts_percent": 60},
        {"number": 2, "date": "2019-01-10", "site": "isolated_bm", "marrow_blasts_percent": 40}],
        extra={"antigen_expression": [{"date": "2019-01-10", "CD19_percent": 97}]})
    ids = _ids(_run(c, kb))
    assert ids.index("tisagenlecleucel") < ids.index("bortezomib")
    assert _opt(_run(c, kb), "bortezomib")["eligibility"].startswith("off-label")


def test_partial_cd19_gives_a_caution_with_the_negative_fraction(kb):
    c = make_case(extra={"antigen_expression": [{"date": "2019-01-10", "CD19_percent": 25,
                                                 "CD22_percent": 95}]})
    blin = _opt(_run(c, kb), "blinatumomab")
    assert any("75 % of blasts are CD19-negative" in x for x in blin["cautions"])


def test_lesions_count_by_effect(kb):
    c = make_case(relapse_lesions=[
        {"name": "TP53", "kind": "snv", "detail": "p.P72R", "vaf": 0.5},        # polymorphism
        {"name": "NT5C2", "kind": "indel", "detail": "p.K76fs", "vaf": 0.2},    # truncating, GoF gene
        {"name": "NRAS", "kind": "snv", "detail": "p.A146V", "vaf": 0.1,
         "classification": "uncertain_significance"}])                          # VUS
    r = _run(c, kb)
    classes = {cl for les in r["patient"]["lesions"] for cl in les["classes"]}
    assert not classes & {"tp53_alteration", "thiopurine_resistance", "ras_pathway"}
    assert "selumetinib" not in _ids(r) and "trametinib" not in _ids(r)
    sr = _opt(r, "bfm-intreall-sr-backbone")
    assert not any("TP53" in x or "thiopurine" in x for x in sr["cautions"])
    note = next(n for n in r["notes"] if n.startswith("lesions not counted"))
    assert "p.P72R" in note and "p.K76fs" in note and "uncertain significance" in note
    # the same genes with an activating hotspot / damaging change still count
    c2 = make_case(relapse_lesions=[{"name": "NT5C2", "kind": "snv", "detail": "p.R367Q"},
                                    {"name": "TP53", "kind": "snv", "detail": "p.R248Q"}])
    classes2 = {cl for les in _run(c2, kb)["patient"]["lesions"] for cl in les["classes"]}
    assert {"tp53_alteration", "thiopurine_resistance"} <= classes2


def test_extramedullary_transplant_rules_and_site_consistency():
    # very early IEM with MRD 1e-4 (< BFM 1e-3): IntReALL HR (derived) -> HSCT, as for early IEM
    ve = make_case(dx=D(2018, 1, 10), relapse=D(2019, 1, 10), end=None, site="isolated_cns", blasts=0)
    tr = stratify(ve, [mrd(1e-4, D(2019, 2, 20))]).transplant
    assert tr.decision == "indicated" and "IntReALL HR" in tr.rule
    assert "intreall_very_early_iem" in {x["name"] for x in stratify(ve, []).rules}
    early = make_case(dx=D(2015, 1, 10), relapse=D(2018, 3, 15), end=D(2017, 12, 1),
                      site="isolated_cns", blasts=0)
    assert stratify(early, [mrd(1e-4, D(2018, 4, 20))]).transplant.decision == "indicated"
    # "isolated marrow" with CNS3 is said, not accepted silently
    bm = make_case(relapses=[{"number": 1, "date": "2019-01-10", "site": "isolated_bm",
                              "marrow_blasts_percent": 60, "cns_status": "CNS3"}])
    assert any("CNS3" in w and "combined" in w for w in stratify(bm).warnings)


def test_ph_positive_relapse_has_a_transplant_option(kb):
    c = make_case(dx_lesions=[{"name": "BCR::ABL1", "kind": "fusion"}],
                  extra={"therapies": [_therapy("dasatinib + chemotherapy", "2019-01-14",
                                                "2019-02-11", "MRD_negative")]})
    r = _run(c, kb)
    assert "allogeneic-hsct-ph-positive" in _ids(r)
    assert "allogeneic-hsct" not in _ids(r)  # the first-relapse HSCT entry is Ph-negative


def test_high_burden_uses_the_current_burden_not_the_relapse_count(kb):
    # very early relapse (BFM S4: blinatumomab consolidation before HSCT is relevant) with 80 %
    # blasts, then in remission with MRD 1e-4: no high-burden caution now
    c = make_case(dx=D(2018, 6, 1), end=None, blasts=80, extra={
        "therapies": [_therapy("reinduction", "2019-01-14", "2019-02-11", "CR")],
        "antigen_expression": [{"date": "2019-01-10", "CD19_percent": 100}]})
    # before: the 80 % relapse count kept the caution after remission; in remission without an
    # MRD result the burden is unknown, not 80 %
    in_cr = _run(c, kb)
    assert in_cr["patient"]["marrow_blasts_percent"] is None
    assert not any("high marrow burden" in x for x in _opt(in_cr, "blinatumomab")["cautions"])
    # at relapse (no therapy yet) the relapse count is the burden: caution (>= 50 %, Topp 2015)
    at_relapse = make_case(dx=D(2018, 6, 1), end=None, blasts=80, extra={
        "antigen_expression": [{"date": "2019-01-10", "CD19_percent": 100}]})
    assert any("high marrow burden" in x for x in _opt(_run(at_relapse, kb), "blinatumomab")["cautions"])
    r = _run(c, kb, [mrd(1e-4, D(2019, 2, 11))])
    assert r["patient"]["marrow_blasts_percent"] == 0.01  # 1e-4 as percent
    assert not any("high marrow burden" in x for x in _opt(r, "blinatumomab")["cautions"])


def test_tumour_board_fields_give_cautions_exclusions_and_missing_notes(kb):
    base = {"antigen_expression": [{"date": "2019-01-10", "CD22_percent": 90}]}
    c = make_case(extra=base)
    r = _run(c, kb)
    ino = _opt(r, "inotuzumab") if "inotuzumab" in _ids(r) else _exc(r, "inotuzumab")
    # needed organ-function fields are missing -> said so (inotuzumab label: bilirubin, VOD)
    assert any(m.startswith("needed field missing: bilirubin") for m in ino.get("missing_fields", []))
    sr = _opt(r, "bfm-intreall-sr-backbone")
    assert any("cumulative anthracycline" in m for m in sr["missing_fields"])
    # recorded: bilirubin 1.4 x ULN -> VOD/SOS caution; Lansky 40 -> IntReALL SR excluded
    tb = {"organ_function": {"bilirubin_x_uln": 1.4, "alt_x_uln": 2.0},
          "performance_status": {"scale": "lansky", "value": 40},
          "cumulative_anthracycline_mg_m2": 240, "trial_notes": "eligible for a CD22 CAR-T study"}
    c2 = make_case(extra={**base, "tumour_board": tb})
    r2 = _run(c2, kb)
    assert any("bilirubin 1.4 x ULN" in x for x in _opt(r2, "inotuzumab")["cautions"])
    assert not _opt(r2, "inotuzumab")["missing_fields"]
    assert any("Lansky/Karnofsky < 50" in x and "Lansky 40" in x
               for x in _exc(r2, "bfm-intreall-sr-backbone")["reasons"])
    assert any("CD22 CAR-T study" in n for n in r2["notes"])


def test_molecular_relapse_after_hsct_is_a_post_transplant_setting(kb):
    # T-ALL: relapse, CR MRD-negative, HSCT, then PCR MRD 1.5e-4 confirmed by 1.3e-3: a molecular
    # relapse after HSCT -> the first-HSCT entry gives way to the second-HSCT option (off-label,
    # retrospective evidence), and T-ALL salvage is proposed
    c = make_case(lineage="T", site="combined", blasts=38, extra={
        "therapies": [_therapy("reinduction", "2019-01-14", "2019-02-11", "CR")],
        "transplants": [{"date": "2019-04-01", "donor": "matched_unrelated"}]})
    m = [mrd(None, D(2019, 2, 11), lod=1e-5), mrd(1.5e-4, D(2019, 7, 1), method="pcr"),
         mrd(1.3e-3, D(2019, 8, 1), method="pcr")]
    r = _run(c, kb, m)
    assert r["patient"]["disease_status"] == "molecular_relapse"
    assert r["patient"]["relapse_after_hsct"] is True
    assert any("after a prior allogeneic HSCT" in x for x in _exc(r, "allogeneic-hsct")["reasons"])
    assert _opt(r, "second-allogeneic-hsct")["eligibility"].startswith("off-label")
    assert {"nelarabine", "daratumumab-t-all"} <= set(_ids(r))
