"""Method comparison on paired samples: Bland–Altman on log10 MRD, Lin's CCC, concordance.

- **Bland–Altman** (Bland JM, Altman DG, *Lancet* 1986;1:307-310): on ``log10 MRD`` of pairs
  quantified by both methods, bias = mean of ``log10 a - log10 b``, limits of agreement
  ``bias ± 1.96·SD`` (SD with ``n - 1``). A bias of 0.3 means method A reads 2× higher.
- **Lin's concordance correlation coefficient** (Lin LI, *Biometrics* 1989;45:255-268):
  ``ρc = 2·s_ab / (s_a² + s_b² + (mean_a - mean_b)²)`` with moments over ``n`` (as in Lin's
  paper), on the same log10 pairs.
- **Positive/negative concordance**: every pair, detectable (positive or positive not
  quantifiable) vs negative, as a 2×2 table with overall, positive and negative agreement and
  Cohen's kappa.

Pairs where either side is not quantifiable enter only the concordance table: values below
the LoQ are not used as numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from remission.domain.mrd import MrdResult
from remission.errors import ValidationError

__all__ = ["bland_altman", "compare_methods", "concordance_table", "lins_ccc"]


def _pairs(a: Sequence[float], b: Sequence[float], what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValidationError(f"{what} needs two sequences of equal length, but had "
                              f"{x.shape!r} and {y.shape!r}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValidationError(f"{what} values must be finite numbers, but some were not")
    return x, y


def lins_ccc(a: Sequence[float], b: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient (population moments, Lin 1989).

    >>> round(lins_ccc([1, 2, 3], [1, 2, 3]), 6)
    1.0
    """
    x, y = _pairs(a, b, "Lin's CCC")
    if len(x) < 2:
        raise ValidationError(f"Lin's CCC needs at least 2 pairs, but had {len(x)}")
    mx, my = x.mean(), y.mean()
    sxy = float(np.mean((x - mx) * (y - my)))
    denom = float(np.var(x) + np.var(y) + (mx - my) ** 2)
    if denom == 0:
        raise ValidationError("Lin's CCC is undefined when every value is identical")
    return 2.0 * sxy / denom


def bland_altman(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Bland–Altman statistics of two paired measurement series (already on the log scale)."""
    x, y = _pairs(a, b, "Bland–Altman")
    n = len(x)
    if n < 2:
        raise ValidationError(f"Bland–Altman needs at least 2 pairs, but had {n}")
    d = x - y
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    return {"n": n, "bias": bias, "sd": sd, "loa_low": bias - 1.96 * sd,
            "loa_high": bias + 1.96 * sd, "differences": d.tolist(),
            "means": ((x + y) / 2).tolist()}


def concordance_table(a_positive: Sequence[bool], b_positive: Sequence[bool]) -> dict[str, Any]:
    """2×2 positive/negative table with overall, positive and negative agreement and kappa."""
    if len(a_positive) != len(b_positive):
        raise ValidationError("both methods need the same number of pairs, but had "
                              f"{len(a_positive)} and {len(b_positive)}")
    n = len(a_positive)
    pp = sum(1 for x, y in zip(a_positive, b_positive, strict=True) if x and y)
    pn = sum(1 for x, y in zip(a_positive, b_positive, strict=True) if x and not y)
    np_ = sum(1 for x, y in zip(a_positive, b_positive, strict=True) if not x and y)
    nn = n - pp - pn - np_
    out: dict[str, Any] = {"n": n, "both_positive": pp, "a_positive_b_negative": pn,
                           "a_negative_b_positive": np_, "both_negative": nn}
    out["overall_agreement"] = (pp + nn) / n if n else None
    out["positive_agreement"] = 2 * pp / (2 * pp + pn + np_) if (2 * pp + pn + np_) else None
    out["negative_agreement"] = 2 * nn / (2 * nn + pn + np_) if (2 * nn + pn + np_) else None
    if n:
        po = (pp + nn) / n
        pe = ((pp + pn) * (pp + np_) + (nn + pn) * (nn + np_)) / n**2
        out["kappa"] = (po - pe) / (1 - pe) if pe < 1 else None
    else:
        out["kappa"] = None
    return out


def compare_methods(pairs: Sequence[tuple[MrdResult, MrdResult]]) -> dict[str, Any]:
    """Compare two methods on paired results of the same samples (JSON-ready dict)."""
    if not pairs:
        raise ValidationError("pairs must hold at least one pair, but was empty")
    methods_a = sorted({a.method for a, _ in pairs})
    methods_b = sorted({b.method for _, b in pairs})
    quant = [(a, b) for a, b in pairs if a.status == "positive" and b.status == "positive"
             and a.value and b.value]
    result: dict[str, Any] = {"n_pairs": len(pairs), "methods_a": methods_a,
                              "methods_b": methods_b, "n_both_quantifiable": len(quant)}
    notes = []
    if len(quant) >= 2:
        la = [math.log10(a.value) for a, _ in quant if a.value]
        lb = [math.log10(b.value) for _, b in quant if b.value]
        result["bland_altman_log10"] = bland_altman(la, lb)
        try:
            result["lins_ccc_log10"] = lins_ccc(la, lb)
        except ValidationError as exc:
            result["lins_ccc_log10"] = None
            notes.append(str(exc))
    else:
        result["bland_altman_log10"] = None
        result["lins_ccc_log10"] = None
        notes.append(f"{len(quant)} pair(s) quantifiable by both methods; Bland–Altman and Lin's "
                     "CCC need at least 2")
    result["concordance"] = concordance_table(
        [a.status != "negative" for a, _ in pairs], [b.status != "negative" for _, b in pairs])
    result["notes"] = notes
    return result
