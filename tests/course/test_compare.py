"""Method comparison: Lin's CCC and Bland–Altman against hand calculations, concordance table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.cli import main
from remission.errors import InputError, ValidationError
from remission.io.mrd_pairs import read_mrd_pairs
from remission.mrd.compare import bland_altman, compare_methods, concordance_table, lins_ccc


def test_lins_ccc_hand_calculation():
    # x = 1,2,3,4; y = 1.1,1.9,3.2,3.9.  Population moments (Lin 1989):
    # mean_x = 2.5, mean_y = 2.525; var_x = 5/4 = 1.25;
    # y - mean_y = -1.425, -0.625, 0.675, 1.375 -> var_y = (2.030625+0.390625+0.455625+1.890625)/4 = 1.191875
    # cov = ((-1.5)(-1.425)+(-0.5)(-0.625)+(0.5)(0.675)+(1.5)(1.375))/4 = 4.85/4 = 1.2125
    # ccc = 2·1.2125 / (1.25 + 1.191875 + 0.025²) = 2.425 / 2.4425 = 0.992835
    assert lins_ccc([1, 2, 3, 4], [1.1, 1.9, 3.2, 3.9]) == pytest.approx(0.992835, abs=1e-6)
    # a constant shift lowers CCC though Pearson r stays 1: x vs x+1 -> 2·1.25/(2.5 + 1) = 0.714286
    assert lins_ccc([1, 2, 3, 4], [2, 3, 4, 5]) == pytest.approx(0.714286, abs=1e-6)


def test_bland_altman_hand_calculation():
    # differences -0.1, 0.1, -0.2, 0.1: bias -0.025; SD (n-1) = √(0.0675/3) = 0.15;
    # limits -0.025 ± 1.96·0.15 = -0.319, 0.269
    ba = bland_altman([1, 2, 3, 4], [1.1, 1.9, 3.2, 3.9])
    assert ba["bias"] == pytest.approx(-0.025)
    assert ba["sd"] == pytest.approx(0.15)
    assert ba["loa_low"] == pytest.approx(-0.319) and ba["loa_high"] == pytest.approx(0.269)


def test_concordance_table_hand_calculation():
    # A: + + - - +, B: + - - + +  -> both+ 2, A+B- 1, A-B+ 1, both- 1
    # overall 3/5; positive agreement 2·2/(4+2) = 0.667; negative 2·1/(2+2) = 0.5
    # kappa: pe = (3·3 + 2·2)/25 = 0.52 -> (0.6 - 0.52)/0.48 = 0.1667
    t = concordance_table([True, True, False, False, True], [True, False, False, True, True])
    assert (t["both_positive"], t["a_positive_b_negative"], t["a_negative_b_positive"], t["both_negative"]) == (2, 1, 1, 1)
    assert t["overall_agreement"] == pytest.approx(0.6)
    assert t["positive_agreement"] == pytest.approx(2 / 3)
    assert t["negative_agreement"] == pytest.approx(0.5)
    assert t["kappa"] == pytest.approx(1 / 6)


@pytest.mark.parametrize("bad", [[1.0], [1.0, float("nan")], [1.0, float("inf")]])
def test_ccc_bad_input(bad):
    with pytest.raises(ValidationError):
        lins_ccc(bad, [1.0] * len(bad))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(-6, 0), st.floats(-6, 0)), min_size=3, max_size=30))
def test_ccc_invariants(pairs):
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    if np.var(x) < 1e-9 or np.var(y) < 1e-9:
        return
    c = lins_ccc(x, y)
    r = float(np.corrcoef(x, y)[0, 1])
    assert -1 - 1e-9 <= c <= 1 + 1e-9
    assert c == pytest.approx(lins_ccc(y, x))  # symmetric
    assert abs(c) <= abs(r) + 1e-9  # CCC = r · bias-correction factor <= |r|


PAIRS = """sample,method_a,status_a,value_a,method_b,status_b,value_b,lod_a,loq_a,lod_b,loq_b
S1,pcr,positive,1e-3,ngs,positive,1.5e-3,1e-5,1e-4,1e-6,5e-6
S2,pcr,positive,2e-4,ngs,positive,2.5e-4,1e-5,1e-4,1e-6,5e-6
S3,pcr,positive_not_quantifiable,3e-5,ngs,positive,4e-5,1e-5,1e-4,1e-6,5e-6
S4,pcr,negative,,ngs,positive_not_quantifiable,3e-6,1e-5,1e-4,1e-6,5e-6
S5,pcr,negative,,ngs,negative,,1e-5,1e-4,1e-6,5e-6
S6,pcr,positive,5e-2,ngs,positive,4e-2,1e-5,1e-4,1e-6,5e-6
"""


def test_compare_methods_uses_only_quantified_pairs_as_numbers(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_text(PAIRS)
    res = compare_methods(read_mrd_pairs(p))
    # quantified by both: S1, S2, S6 -> log10 differences log10(1e-3/1.5e-3) = -0.17609,
    # log10(2e-4/2.5e-4) = -0.09691, log10(5e-2/4e-2) = 0.09691 -> bias -0.05870
    assert res["n_both_quantifiable"] == 3
    assert res["bland_altman_log10"]["bias"] == pytest.approx((-0.176091 - 0.096910 + 0.096910) / 3, abs=1e-5)
    t = res["concordance"]
    assert (t["both_positive"], t["a_positive_b_negative"], t["a_negative_b_positive"], t["both_negative"]) == (4, 0, 1, 1)
    assert 0.9 < res["lins_ccc_log10"] <= 1


def test_cli_compare_json(tmp_path, capsys):
    p = tmp_path / "pairs.csv"
    p.write_text(PAIRS)
    assert main(["mrd", "compare", str(p), "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["schema"] == "remission.mrd_compare/1"
    assert env["result"]["n_pairs"] == 6
    assert main(["mrd", "compare", str(p)]) == 0
    assert "Lin's CCC" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "match"), [
    ("sample,method_a\n", r"line 1, field status_a: missing column"),
    (PAIRS.splitlines()[0] + "\nS1,pcr,positive,12,ngs,positive,1e-3,,,,\n", r"line 2, field value_a: expected a fraction in \[0, 1\] \(not percent\)"),
    (PAIRS.splitlines()[0] + "\nS1,elisa,positive,1e-3,ngs,positive,1e-3,,,,\n", r"line 2, field method_a"),
    (PAIRS.splitlines()[0] + "\nS1,pcr,positive,,ngs,positive,1e-3,,,,\n", r"line 2, field value_a: a positive result needs a value"),
    (PAIRS.splitlines()[0] + "\nS1,pcr,negative,1e-3,ngs,positive,1e-3,,,,\n", r"line 2, field value_a: a negative result has no value"),
])
def test_bad_pairs_files(tmp_path, text, match):
    p = tmp_path / "pairs.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        read_mrd_pairs(p)


def test_log_bias_reads_as_fold_change():
    # a bias of log10(2) = 0.30103 means method A reads twice method B
    a = [math.log10(v * 2) for v in (1e-4, 1e-3, 1e-2)]
    b = [math.log10(v) for v in (1e-4, 1e-3, 1e-2)]
    assert bland_altman(a, b)["bias"] == pytest.approx(0.30103, abs=1e-5)
