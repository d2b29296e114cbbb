"""Cohort definition from the store: stored case analyses -> one analysis-ready cohort table.

The use case behind ``remission cohort build`` (and any web page that offers it). Read-only on
the store. Every row carries a ``derivation`` text saying how its time, event and
covariates were obtained, so that a table can be audited against the stored cases.

What the case record holds decides what can be derived:

- time origin: first relapse, first CAR-T infusion or first HSCT (``--origin``);
- event ``second_relapse``: the first relapse dated after the origin (code 1), else censored (0)
  at the last dated record of the case (relapse, therapy, transplant, infusion, MRD, sample,
  and the case's ``outcome.last_contact`` / ``outcome.death_date``);
- competing risks ``cause``: 1 second relapse, 2 death in remission (death after the origin with
  no relapse between), 0 censored; time ``cause_days`` to the first of these;
- ``death`` (overall survival): 1 when ``outcome.death_date`` is recorded, time ``death_days``;
  cases without an ``outcome`` are censored at their last dated record (the notes count them);
- covariates: risk groups (ALL-REZ BFM, IntReALL, UK ALLR3) from the stored risk section; MRD at
  each landmark (last value in a window before it, as a fraction; negative = 0); CAR-T
  persistence (detectable at the last kinetics sample) and the last detectable day since
  infusion, from the stored CAR-T section; with ``--intervals``, MRD as a time-varying covariate in (start, stop] rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from remission.domain.analysis import CaseAnalysis
from remission.domain.checks import check_nonnegative
from remission.domain.results import CartResult, RiskResult
from remission.errors import ValidationError

__all__ = ["build_cohort_table", "build_table", "rows_from_analyses"]

ORIGINS = ("relapse", "cart", "hsct")
WHERE_FIELDS = ("case_id", "sex", "lineage", "site", "product")


def _parse_where(items: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for it in items:
        key, sep, value = it.partition("=")
        key = key.strip()
        if not sep or key not in WHERE_FIELDS:
            raise ValidationError(f"--where must be FIELD=VALUE with FIELD one of "
                                  f"{', '.join(WHERE_FIELDS)}, but was {it!r}")
        out.append((key, value.strip()))
    return out


def _matches(a: CaseAnalysis, where: list[tuple[str, str]]) -> bool:
    c = a.case
    for key, value in where:
        if key == "case_id":
            got = [a.case_id]
        elif key == "sex":
            got = [c.patient.sex]
        elif key == "lineage":
            got = [str(c.diagnosis.lineage)]
        elif key == "site":
            got = [str(r.site) for r in sorted(c.relapses, key=lambda r: r.number)[:1]]
        else:
            got = [i.product for i in c.cart_infusions]
        if value not in got:
            return False
    return True


def _origin(a: CaseAnalysis, origin: str) -> tuple[dt.date | None, str]:
    c = a.case
    if origin == "relapse":
        rel = sorted(c.relapses, key=lambda r: (r.number, r.date))
        return (rel[0].date, f"origin: relapse {rel[0].number} on {rel[0].date}") if rel \
            else (None, "no relapse recorded")
    if origin == "cart":
        inf = sorted(c.cart_infusions, key=lambda i: i.date)
        return (inf[0].date, f"origin: CAR-T infusion ({inf[0].product}) on {inf[0].date}") \
            if inf else (None, "no CAR-T infusion recorded")
    tx = sorted(c.transplants, key=lambda t: t.date)
    return (tx[0].date, f"origin: HSCT ({tx[0].donor}) on {tx[0].date}") if tx \
        else (None, "no HSCT recorded")


def _last_record(a: CaseAnalysis) -> dt.date:
    c = a.case
    dates: list[dt.date] = [c.diagnosis.date]
    dates += [r.date for r in c.relapses]
    dates += [t.start for t in c.therapies] + [t.end for t in c.therapies if t.end]
    dates += [t.date for t in c.transplants] + [i.date for i in c.cart_infusions]
    dates += [m.date for m in c.mrd_reports] + [s.date for s in c.samples]
    dates += [g.date for g in c.antigen_expression]
    dates += [m.date for m in a.mrd if m.date is not None]
    dates += [d for d in (c.outcome.last_contact, c.outcome.death_date) if d is not None]
    return max(dates)


def _mrd_series(a: CaseAnalysis) -> list[tuple[dt.date, float, str]]:
    """(date, MRD fraction, status) of every dated, evaluable MRD result, by date.

    Negative results count as 0 (below the limit of detection); positive-not-quantifiable
    results as their LoQ when known, else their LoD (an upper bound), so never a plain guess.
    """
    out = []
    for m in a.mrd:
        if m.date is None or m.status not in ("negative", "positive", "positive_not_quantifiable"):
            continue
        if m.status == "negative":
            v = 0.0
        elif m.value is not None:
            v = float(m.value)
        else:
            bound = m.loq if m.loq is not None else m.lod
            if bound is None:
                continue
            v = float(bound)
        out.append((m.date, v, str(m.status)))
    return sorted(out, key=lambda r: r[0])


def _risk_groups(a: CaseAnalysis) -> dict[str, str | None]:
    sec = a.section("risk")
    res = sec.result if sec is not None else None
    out: dict[str, str | None] = {}
    for scheme in ("bfm", "intreall", "allr3"):
        g = getattr(res, scheme, None) if isinstance(res, RiskResult) else None
        out[f"risk_{scheme}"] = g.group if g is not None else None
    return out


def _persistence(a: CaseAnalysis) -> tuple[bool | None, float | None]:
    sec = a.section("cart")
    res = sec.result if sec is not None else None
    if not isinstance(res, CartResult) or res.persistence is None:
        return None, None
    return res.persistence.present, res.persistence_day


def rows_from_analyses(analyses: Iterable[CaseAnalysis], *, origin: str = "relapse",
                       landmarks: Sequence[float] = (), window_days: float = 14.0,
                       intervals: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Table rows (dicts) and notes; one row per patient, or per interval with ``intervals``.

    Per patient: :func:`_outcome` (times to second relapse, competing cause and death),
    :func:`_add_landmarks` (MRD at each landmark), then one row or :func:`_interval_rows`.
    """
    if origin not in ORIGINS:
        raise ValidationError(f"origin must be one of {', '.join(ORIGINS)}, but was {origin!r}")
    check_nonnegative("window_days", window_days)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    analyses_list = list(analyses)
    for a in analyses_list:
        t0, why = _origin(a, origin)
        if t0 is None:
            skipped.append(f"{a.case_id} ({why})")
            continue
        outcome, ev_text = _outcome(a, t0)
        time, event = outcome["time_days"], outcome["second_relapse"]
        base: dict[str, Any] = {"case_id": a.case_id, "origin": origin, "origin_date": t0.isoformat(), **outcome}
        base.update(_risk_groups(a))
        present, pday = _persistence(a)
        base["cart_persistence"] = present
        base["cart_last_detectable_days_since_infusion"] = pday
        series = [(d, v, s) for d, v, s in _mrd_series(a)]
        parts = [why, ev_text, f"time = {time} days", "risk groups from the stored risk section"]
        _add_landmarks(base, parts, series, t0, landmarks, window_days)
        if present is not None:
            parts.append(f"CAR-T persistence {'present' if present else 'absent'} at the last "
                         "kinetics sample (stored CAR-T section)")
        if intervals:
            rows.extend(_interval_rows(base, parts, series, t0, time, event))
        else:
            rows.append({**base, "derivation": "; ".join(parts)})
    return rows, _table_notes(analyses_list, skipped)


def _outcome(a: CaseAnalysis, t0: dt.date) -> tuple[dict[str, int], str]:
    """Times from ``t0``: to second relapse (else censored at the last record), to the first of
    relapse (cause 1) or death in remission (cause 2), and to death; with the derivation text."""
    later = sorted((r for r in a.case.relapses if r.date > t0), key=lambda r: r.date)
    last = _last_record(a)
    if later:
        end, event = later[0].date, 1
        ev_text = f"event: relapse {later[0].number} on {later[0].date}"
    else:
        end, event = last, 0
        ev_text = f"censored at the last dated record, {last}"
    time = (end - t0).days
    death = a.case.outcome.death_date
    if later:
        cause, cause_end = 1, later[0].date
    elif death is not None and death >= t0:
        cause, cause_end = 2, death
        ev_text += f"; death in remission on {death}"
    else:
        cause, cause_end = 0, last
    died = death is not None and death >= t0
    if died and cause != 2:
        ev_text += f"; death on {death}" + (f" ({a.case.outcome.death_cause})"
                                            if a.case.outcome.death_cause else "")
    return {"time_days": time, "second_relapse": event, "cause": cause, "cause_days": (cause_end - t0).days,
            "death": int(died), "death_days": ((death if died and death is not None else last) - t0).days}, ev_text


def _add_landmarks(base: dict[str, Any], parts: list[str], series: Sequence[tuple[dt.date, float, str]],
                   t0: dt.date, landmarks: Sequence[float], window_days: float) -> None:
    """``mrd_day<L>``: the last MRD within ``window_days`` before each landmark day ``L``."""
    for lm in landmarks:
        lo = t0 + dt.timedelta(days=lm - window_days)
        hi = t0 + dt.timedelta(days=lm)
        inwin = [(d, v) for d, v, _ in series if lo <= d <= hi]
        key = f"mrd_day{lm:g}"
        base[key] = inwin[-1][1] if inwin else None
        parts.append(f"{key}: last MRD from {lo} to {hi}" +
                     (f" ({inwin[-1][0]})" if inwin else " (none)"))


def _interval_rows(base: dict[str, Any], parts: list[str], series: Sequence[tuple[dt.date, float, str]],
                   t0: dt.date, time: int, event: int) -> list[dict[str, Any]]:
    """Counting-process rows with MRD as a time-varying covariate: the last value known at each moment."""
    rows: list[dict[str, Any]] = []
    before = [(d, v) for d, v, _ in series if d <= t0]
    cuts = [((d - t0).days, v, d) for d, v, _ in series if t0 < d and (d - t0).days < time]
    start, value = 0, (before[-1][1] if before else None)
    src = f"MRD on {before[-1][0]}" if before else "no MRD before the origin"
    for day, v, d in cuts:
        if day > start:
            rows.append({**base, "start": start, "stop": day, "event": 0, "mrd": value,
                         "derivation": "; ".join([*parts, f"interval ({start}, {day}]: {src}"])})
            start = day
        value, src = v, f"MRD on {d}"
    rows.append({**base, "start": start, "stop": time, "event": event, "mrd": value,
                 "derivation": "; ".join([*parts, f"interval ({start}, {time}]: {src}"])})
    return rows


def _table_notes(analyses: Sequence[CaseAnalysis], skipped: Sequence[str]) -> list[str]:
    """Notes on cases without an outcome record and cases left out for want of the origin event."""
    notes = []
    no_outcome = [a.case_id for a in analyses
                  if a.case.outcome.last_contact is None and a.case.outcome.death_date is None]
    if no_outcome:
        notes.append(f"{len(no_outcome)} case(s) record no outcome (last contact or death): they "
                     "are censored for death at their last dated record: " + ", ".join(no_outcome))
    if skipped:
        notes.append(f"{len(skipped)} case(s) without the origin event were left out: "
                     + ", ".join(skipped))
    return notes


def build_table(store: Any, *, where: Sequence[str] = (), origin: str = "relapse",
                landmarks: Sequence[float] = (), window_days: float = 14.0,
                intervals: bool = False, only: Collection[str] | None = None) -> tuple[Any, list[str]]:
    """The cohort table (``pandas.DataFrame``) from the latest stored analysis of each case.

    ``only``: the case ids that may be used (an account's access scope; ``None`` = every case).
    Other cases are never loaded, so nothing of theirs reaches the table or its notes."""
    import pandas as pd

    cond = _parse_where(where)
    latest: dict[str, str] = {}
    for s in store.list_analyses():  # oldest first: the last one per case wins
        if only is None or s.case_id in only:
            latest[s.case_id] = s.analysis_id
    analyses = (store.get_analysis(latest[c]) for c in sorted(latest))
    rows, notes = rows_from_analyses((a for a in analyses if _matches(a, cond)), origin=origin,
                                     landmarks=landmarks, window_days=window_days,
                                     intervals=intervals)
    return pd.DataFrame(rows), notes


#: the public name of :func:`build_table` in :mod:`remission.app`
build_cohort_table = build_table
