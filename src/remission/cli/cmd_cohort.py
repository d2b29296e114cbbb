"""``remission cohort km|cif|cox|finegray|landmark|build``: cohort survival analytics.

Each analysis command reads one table (CSV or Parquet: one row per patient, or per (start, stop]
interval for time-varying covariates), runs the pure engines of :mod:`remission.cohort`, and
prints a summary, the JSON envelope (``--json``) or a self-contained HTML report with SVG plots
(``-o report.html``). Data errors name the file, line and column (exit 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from remission.cli.common import DB_OPTION, JSON_OPTION, OUTPUT_OPTION, emit

TABLE_ARG = typer.Argument(..., help="Cohort table: .csv or .parquet, one row per patient/interval.")
TIME_OPT = typer.Option("time", "--time", help="Column with the follow-up time (or interval stop).")
EVENT_OPT = typer.Option("event", "--event", help="Column with the event code (0 = censored).")
GROUP_OPT = typer.Option(None, "--group", help="Column whose values define the groups compared.")
TIMES_OPT = typer.Option(None, "--times", help="Comma-separated times for the at-risk table "
                         "and the estimates (default: about six round numbers).")
UNIT_OPT = typer.Option("days", "--unit", help="Unit of the time column (for labels only).")
FOLLOWUP_OPT = typer.Option(None, "--last-followup", help="Column with each patient's last "
                            "follow-up time: an event recorded after it is an error.")
COV_OPT = typer.Option(None, "--covariate", "-x", help="Covariate column (repeatable, or "
                       "comma-separated); text columns become indicators against the first level.")


# ---- helpers ---------------------------------------------------------------------------------
def _split(items: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for it in items or ():
        out += [s.strip() for s in it.split(",") if s.strip()]
    return out


@contextmanager
def _located(path: Path) -> Iterator[None]:
    """Engine data errors get the file name and the file line of their row."""
    from remission.errors import CohortDataError
    from remission.io.cohort import locate

    try:
        yield
    except CohortDataError as err:
        if err.path is not None:
            raise
        raise locate(err, path) from None


def _load(table: Path, columns: Sequence[str | None]) -> Any:
    from remission.io.cohort import read_cohort_table

    return read_cohort_table(table, [c for c in columns if c])


def _num(df: Any, col: str, table: Path) -> Any:
    from remission.io.cohort import numeric_column

    return numeric_column(df, col, table)


def _time_event(df: Any, time: str, event: str, last_followup: str | None,
                table: Path) -> tuple[Any, Any]:
    """Time and event columns; with ``last_followup``, no event may lie after it."""
    from remission.cohort._data import check_event_after_censoring

    t, e = _num(df, time, table), _num(df, event, table)
    if last_followup:
        with _located(table):
            check_event_after_censoring(t, e, _num(df, last_followup, table), time_column=time,
                                        censor_column=last_followup)
    return t, e


def _labels(df: Any, col: str | None) -> Any:
    if col is None:
        return None
    return df[col].to_numpy()


def _design(df: Any, names: Sequence[str], table: Path) -> tuple[Any, list[str]]:
    """Covariate matrix: numeric columns as they are, text columns as 0/1 indicators."""
    import numpy as np
    import pandas as pd

    from remission.errors import CohortDataError

    cols: list[Any] = []
    labels: list[str] = []
    for name in names:
        s = df[name]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            cols.append(s.to_numpy(dtype=float))
            labels.append(name)
            continue
        if bool(s.isna().any()):
            i = int(np.flatnonzero(s.isna().to_numpy())[0])
            raise CohortDataError(f"{name} must not be missing", path=table, line=i + 2,
                                  field=name)
        levels = sorted(s.astype(str).unique())
        for lev in levels[1:]:
            cols.append((s.astype(str) == lev).to_numpy(dtype=float))
            labels.append(f"{name}={lev}")
    if not cols:
        raise CohortDataError("at least one --covariate is needed", path=table)
    return np.column_stack(cols), labels


def _times(values: str | None, tmax: float) -> list[float]:
    import math

    if values:
        from remission.errors import ValidationError

        try:
            return [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValidationError(f"--times must be comma-separated numbers, but was {values!r}") \
                from None
    if not tmax > 0:
        return [0.0]
    raw = tmax / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(tmax // step) + 1)]


def _shown(grid: list[float]) -> list[float]:
    """The (at most five) positive times shown in terminal tables."""
    return [g for g in grid if g > 0][:5]


def _clean(obj: Any) -> Any:
    """JSON-ready: NaN/inf become null (the envelope forbids NaN)."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    return obj


def _finish(kind: str, title: str, result: dict[str, Any], *, table: Path, json_out: bool,
            output: Path | None, parameters: dict[str, Any],
            sections: Callable[[], list[dict[str, Any]]],
            human: Callable[[Any], None]) -> None:
    result = _clean(result)
    if output is not None and output.suffix.lower() in (".html", ".htm"):
        from remission import __version__
        from remission.io.checksums import input_files
        from remission.report.cohort import render_cohort_html

        html = render_cohort_html(title, sections(),
                                  inputs=[f.model_dump() for f in input_files([table])],
                                  parameters=parameters, version=__version__)
        output.write_text(html, encoding="utf-8")
        if json_out:
            emit(kind, result, json_out=True, inputs=[table], parameters=parameters)
        return
    emit(kind, result, json_out=json_out, output=output, inputs=[table], parameters=parameters,
         human=human)


def _fmt(v: Any, spec: str = ".4g") -> str:
    return "NA" if v is None else format(v, spec)


def _km_section(res: dict[Any, Any], times: list[float], unit: str, title: str,
                ylabel: str = "survival probability") -> dict[str, Any]:
    from remission.report.cohort import curve_svg

    curves = {str(k): {"time": r.time.tolist(), "value": r.survival.tolist(),
                       "lower": _clean(r.lower.tolist()), "upper": _clean(r.upper.tolist()),
                       "at_risk": r.at_risk(times).tolist()} for k, r in res.items()}
    rows = [{"group": str(k), "n": int(r.n_risk[0]) if len(r.n_risk) else 0,
             "events": int(r.n_event.sum()), "median": _clean(r.median),
             "median 95% CI": f"{_fmt(_clean(r.median_lower))}–{_fmt(_clean(r.median_upper))}"}
            for k, r in res.items()]
    first = next(iter(res.values()))
    return {"heading": title, "svg": curve_svg(curves, risk_times=times, ylabel=ylabel,
                                               title=title, time_unit=unit),
            "rows": rows, "columns": ["group", "n", "events", "median", "median 95% CI"],
            "rules": list(first.rules)}


def _forest_section(cov: list[dict[str, Any]], title: str, ratio_key: str,
                    rules: Sequence[str], notes: Sequence[str] = ()) -> dict[str, Any]:
    from remission.report.cohort import forest_svg

    rows = [{"name": c["name"], "estimate": c[ratio_key], "lower": c["ci_lower"],
             "upper": c["ci_upper"]} for c in cov]
    table = [{"covariate": c["name"], "coef": c["coef"], "se": c["se"], "ratio": c[ratio_key],
              "95% CI": f"{c['ci_lower']:.3g}–{c['ci_upper']:.3g}", "p": c["p_value"]}
             for c in cov]
    return {"heading": title, "svg": forest_svg(rows, xlabel=ratio_key.replace("_", " "),
                                                title=title),
            "rows": table, "columns": ["covariate", "coef", "se", "ratio", "95% CI", "p"],
            "rules": list(rules), "notes": list(notes)}


# ---- commands --------------------------------------------------------------------------------
def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    cohort = groups["cohort"]

    @cohort.command("km")
    def km_cmd(
        table: Path = TABLE_ARG,
        time: str = TIME_OPT,
        event: str = EVENT_OPT,
        group: str | None = GROUP_OPT,
        strata: str | None = typer.Option(None, "--strata", help="Column to stratify the log-rank test by."),
        conf_type: str = typer.Option("log", "--conf-type", help="Band scale: log (R default), log-log or plain."),
        times: str | None = TIMES_OPT,
        unit: str = UNIT_OPT,
        last_followup: str | None = FOLLOWUP_OPT,
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Kaplan–Meier curves (Greenwood, band, median with CI), at-risk table, log-rank test."""
        from remission.cohort import kaplan_meier_groups, logrank_test
        from remission.errors import ValidationError

        if conf_type not in ("log", "log-log", "plain"):
            raise ValidationError(f"--conf-type must be log, log-log or plain, but was {conf_type!r}")
        df = _load(table, [time, event, group, strata, last_followup])
        t, e = _time_event(df, time, event, last_followup, table)
        with _located(table):
            res = kaplan_meier_groups(t, e, _labels(df, group), conf_type=conf_type)
            lr = logrank_test(t, e, _labels(df, group), strata=_labels(df, strata)) \
                if group else None
        grid = _times(times, float(t.max()) if len(t) else 0.0)
        result: dict[str, Any] = {
            "groups": {str(k): {**r.to_dict(), "at_risk_table": {
                "time": grid, "n_risk": r.at_risk(grid).tolist(),
                "survival": r.survival_at(grid).tolist()}} for k, r in res.items()},
            "logrank": lr.to_dict() if lr else None}
        params = {"time": time, "event": event, "group": group, "strata": strata,
                  "conf_type": conf_type, "unit": unit}

        def human(console: Any) -> None:
            from rich.table import Table

            tab = Table("group", "n", "events", "median", "95% CI",
                        *[f"S({g:g})" for g in _shown(grid)], title=f"Kaplan–Meier: {table.name}")
            for k, r in res.items():
                tab.add_row(str(k), str(int(r.n_risk[0])), str(int(r.n_event.sum())),
                            _fmt(_clean(r.median)),
                            f"{_fmt(_clean(r.median_lower))}–{_fmt(_clean(r.median_upper))}",
                            *[f"{v:.3f}" for v in r.survival_at(_shown(grid))])
            console.print(tab)
            if lr:
                console.print(f"log-rank{' (stratified)' if strata else ''}: χ² = {lr.chisq:.4g} "
                              f"on {lr.df} df, p = {lr.p_value:.4g}")

        def sections() -> list[dict[str, Any]]:
            s = [_km_section(res, grid, unit, f"Kaplan–Meier by {group or 'cohort'}")]
            if lr:
                s[0]["notes"] = [f"log-rank χ² = {lr.chisq:.4g} on {lr.df} df, p = {lr.p_value:.4g}"]
                s[0]["rules"] += list(lr.rules)
            return s

        _finish("cohort_km", "Kaplan–Meier survival", result, table=table, json_out=json_out,
                output=output, parameters=params, sections=sections, human=human)

    @cohort.command("cif")
    def cif_cmd(
        table: Path = TABLE_ARG,
        time: str = TIME_OPT,
        event: str = EVENT_OPT,
        group: str | None = GROUP_OPT,
        strata: str | None = typer.Option(None, "--strata", help="Column to stratify Gray's test by."),
        rho: float = typer.Option(0.0, "--rho", help="Gray's test weight power (1 - F)^rho; 0 = cmprsk default."),
        times: str | None = TIMES_OPT,
        unit: str = UNIT_OPT,
        last_followup: str | None = FOLLOWUP_OPT,
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Cumulative incidence of each cause (Aalen–Johansen, exact on ties) and Gray's test."""
        from remission.cohort import cumulative_incidence_groups, gray_test

        df = _load(table, [time, event, group, strata, last_followup])
        t, e = _time_event(df, time, event, last_followup, table)
        with _located(table):
            res = cumulative_incidence_groups(t, e, _labels(df, group))
            causes = next(iter(res.values())).causes
            tests = [gray_test(t, e, _labels(df, group), cause=c, strata=_labels(df, strata),
                               rho=rho) for c in causes] if group else []
        grid = _times(times, float(t.max()) if len(t) else 0.0)
        result: dict[str, Any] = {
            "groups": {str(k): {**r.to_dict(), "at_times": {
                "time": grid, "cif": r.cif_at(grid).tolist(),
                "variance": r.variance_at(grid).tolist(), "n_risk": r.at_risk(grid).tolist()}}
                for k, r in res.items()},
            "gray_tests": [g.to_dict() for g in tests]}
        params = {"time": time, "event": event, "group": group, "strata": strata, "rho": rho,
                  "unit": unit}

        def human(console: Any) -> None:
            from rich.table import Table

            tab = Table("group", "cause", *[f"CIF({g:g})" for g in _shown(grid)],
                        title=f"Cumulative incidence: {table.name}")
            for k, r in res.items():
                at = r.cif_at(_shown(grid))
                for j, c in enumerate(r.causes):
                    tab.add_row(str(k), str(c), *[f"{v:.4f}" for v in at[:, j]])
            console.print(tab)
            for g in tests:
                console.print(f"Gray's test, cause {g.cause}: χ² = {g.statistic:.4g} on {g.df} df, "
                              f"p = {g.p_value:.4g}")

        def sections() -> list[dict[str, Any]]:
            from remission.report.cohort import curve_svg

            out = []
            for j, c in enumerate(causes):
                curves = {str(k): {"time": r.time.tolist(), "value": r.cif[:, j].tolist(),
                                   "at_risk": r.at_risk(grid).tolist()} for k, r in res.items()}
                title = f"Cumulative incidence of cause {c} by {group or 'cohort'}"
                notes = [f"Gray's test χ² = {g.statistic:.4g} on {g.df} df, p = {g.p_value:.4g}"
                         for g in tests if g.cause == c]
                out.append({"heading": title, "svg": curve_svg(
                    curves, risk_times=grid, ylabel="cumulative incidence", title=title,
                    time_unit=unit, start=0.0, band=False), "notes": notes,
                    "rules": list(next(iter(res.values())).rules)
                    + [r for g in tests if g.cause == c for r in g.rules]})
            return out

        _finish("cohort_cif", "Cumulative incidence (competing risks)", result, table=table,
                json_out=json_out, output=output, parameters=params, sections=sections,
                human=human)

    @cohort.command("cox")
    def cox_cmd(
        table: Path = TABLE_ARG,
        time: str = TIME_OPT,
        event: str = EVENT_OPT,
        covariate: list[str] | None = COV_OPT,
        start: str | None = typer.Option(None, "--start", help="Column with the interval start, for (start, stop] rows."),
        id_col: str | None = typer.Option(None, "--id", help="Patient column (interval checks; with --robust the cluster)."),
        strata: str | None = typer.Option(None, "--strata", help="Column: separate baseline hazard per value."),
        ties: str = typer.Option("efron", "--ties", help="efron (R default) or breslow."),
        robust: bool = typer.Option(False, "--robust", help="Sandwich variance clustered on --id."),
        cause: int | None = typer.Option(None, "--cause", help="Cause-specific model: this event code is the event, other codes are censored."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Cox regression; time-varying covariates as (start, stop] rows (--start, --id)."""
        from remission.cohort import cox_ph

        names = _split(covariate)
        df = _load(table, [time, event, start, id_col, strata, *names])
        x, labels = _design(df, names, table)
        ev = _num(df, event, table)
        if cause is not None:  # cause-specific hazard: competing events censor
            ev = (ev == cause).astype(float)
        with _located(table):
            fit = cox_ph(x, _num(df, time, table), ev, names=labels,
                         start=_num(df, start, table) if start else None, ties=ties,
                         strata=_labels(df, strata), ids=_labels(df, id_col),
                         cluster=_labels(df, id_col) if robust else None, robust=robust)
        result = fit.to_dict()
        params = {"time": time, "event": event, "start": start, "id": id_col, "strata": strata,
                  "covariates": names, "ties": ties, "robust": robust, "cause": cause}
        if cause is not None:
            result["rules"].append(f"cause-specific hazard of event code {cause}: other event "
                                   "codes are censored at their time")

        def human(console: Any) -> None:
            _print_model(console, result, "hazard_ratio", f"Cox model: {table.name}")
            console.print(f"n = {fit.n} rows, {fit.n_event} events; LR χ² = {fit.lr_test:.4g} on "
                          f"{fit.df} df (p = {fit.p_value('lr'):.3g}), Wald {fit.wald_test:.4g}, "
                          f"score {fit.score_test:.4g}")

        def sections() -> list[dict[str, Any]]:
            return [_forest_section(result["covariates"], "Cox model: hazard ratios",
                                    "hazard_ratio", fit.rules,
                                    [f"{fit.n} rows, {fit.n_event} events; likelihood-ratio "
                                     f"χ² = {fit.lr_test:.4g} on {fit.df} df"])]

        _finish("cohort_cox", "Cox regression", result, table=table, json_out=json_out,
                output=output, parameters=params, sections=sections, human=human)

    @cohort.command("finegray")
    def finegray_cmd(
        table: Path = TABLE_ARG,
        time: str = TIME_OPT,
        event: str = EVENT_OPT,
        covariate: list[str] | None = COV_OPT,
        cause: int = typer.Option(1, "--cause", help="Event code of the cause of interest."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Fine–Gray subdistribution hazards regression for one cause (as cmprsk crr)."""
        from remission.cohort import fine_gray

        names = _split(covariate)
        df = _load(table, [time, event, *names])
        x, labels = _design(df, names, table)
        with _located(table):
            fit = fine_gray(x, _num(df, time, table), _num(df, event, table), cause=cause,
                            names=labels)
        result = fit.to_dict()
        params = {"time": time, "event": event, "cause": cause, "covariates": names}

        def human(console: Any) -> None:
            _print_model(console, result, "subdistribution_hazard_ratio",
                         f"Fine–Gray model, cause {cause}: {table.name}")
            console.print(f"n = {fit.n}; {fit.n_event} events of cause {cause}, "
                          f"{fit.n_competing} competing")

        def sections() -> list[dict[str, Any]]:
            return [_forest_section(result["covariates"],
                                    f"Fine–Gray model, cause {cause}: subdistribution hazard ratios",
                                    "subdistribution_hazard_ratio", fit.rules)]

        _finish("cohort_finegray", "Fine–Gray regression", result, table=table,
                json_out=json_out, output=output, parameters=params, sections=sections,
                human=human)

    @cohort.command("landmark")
    def landmark_cmd(
        table: Path = TABLE_ARG,
        time: str = TIME_OPT,
        event: str = EVENT_OPT,
        at: float = typer.Option(..., "--at", help="Landmark time (same unit as --time), e.g. 28."),
        group: str | None = typer.Option(None, "--group", help="Column with a grouping known at the landmark (e.g. MRD at day 28)."),
        horizon: float | None = typer.Option(None, "--horizon", help="Censor this long after the landmark."),
        times: str | None = TIMES_OPT,
        unit: str = UNIT_OPT,
        last_followup: str | None = FOLLOWUP_OPT,
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Landmark analysis: patients event-free at --at, clock restarted, KM and log-rank."""
        from remission.cohort import kaplan_meier_groups, landmark, logrank_test

        df = _load(table, [time, event, group, last_followup])
        t, e = _time_event(df, time, event, last_followup, table)
        with _located(table):
            lm = landmark(t, e, at, horizon=horizon, unit=unit)
            labels = _labels(df, group)
            g = labels[lm.index] if labels is not None else None
            ev = (lm.event != 0).astype(int)
            res = kaplan_meier_groups(lm.time, ev, g)
            lr = logrank_test(lm.time, ev, g) if g is not None and len(set(g.tolist())) > 1 \
                else None
        grid = _times(times, float(lm.time.max()) if len(lm.time) else 0.0)
        rule = lm.rule + (f"; groups from column {group!r} (its values must be known at the "
                          "landmark)" if group else "")
        result = {"landmark": {**lm.to_dict(), "rule": rule},
                  "groups": {str(k): r.to_dict() for k, r in res.items()},
                  "logrank": lr.to_dict() if lr else None}
        params = {"time": time, "event": event, "at": at, "group": group, "horizon": horizon,
                  "unit": unit}

        def human(console: Any) -> None:
            console.print(f"[bold]Rule[/bold]: {rule}")
            for k, r in res.items():
                console.print(f"  {k}: n = {int(r.n_risk[0])}, events {int(r.n_event.sum())}, "
                              f"median {_fmt(_clean(r.median))} {unit} after the landmark")
            if lr:
                console.print(f"log-rank χ² = {lr.chisq:.4g} on {lr.df} df, p = {lr.p_value:.4g}")

        def sections() -> list[dict[str, Any]]:
            s = _km_section(res, grid, unit, f"Landmark at {at:g} {unit}: survival after the "
                            "landmark")
            s["notes"] = [rule] + ([f"log-rank χ² = {lr.chisq:.4g} on {lr.df} df, p = "
                                    f"{lr.p_value:.4g}"] if lr else [])
            s["rules"] = list(lm.rules) + s["rules"]
            return [s]

        _finish("cohort_landmark", "Landmark analysis", result, table=table, json_out=json_out,
                output=output, parameters=params, sections=sections, human=human)

    @cohort.command("build")
    def build_cmd(
        db: str | None = DB_OPTION,
        where: list[str] | None = typer.Option(None, "--where", help="Filter FIELD=VALUE on the stored case (repeatable): case_id, sex, lineage, site, product."),
        origin: str = typer.Option("relapse", "--origin", help="Time origin: relapse (first relapse), cart (first infusion) or hsct (first transplant)."),
        landmark_days: list[float] | None = typer.Option(None, "--mrd-landmark", help="Day after the origin for an MRD landmark column (repeatable; e.g. 28)."),
        window_days: float = typer.Option(14.0, "--mrd-window", help="An MRD landmark value must be at most this many days before its landmark."),
        intervals: bool = typer.Option(False, "--intervals", help="Write MRD as a time-varying covariate: (start, stop] rows."),
        output: Path = typer.Option(..., "-o", "--output", help="Table to write (.csv or .parquet)."),
        json_out: bool = JSON_OPTION,
    ) -> None:
        """Turn stored case analyses into an analysis-ready table (read-only on the store)."""
        import sqlalchemy as sa

        from remission.app.cohort import build_table
        from remission.cli.common import check_db_url
        from remission.errors import StoreError
        from remission.io.cohort import write_cohort_table
        from remission.store import Store

        url = check_db_url(db)
        u = sa.engine.make_url(url)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:" \
                and not Path(u.database).exists():
            # read-only: never create (and migrate) an empty store just to read nothing from it
            raise StoreError(f"no store at {u.database!r} (cohort build only reads a store)")
        with Store(url) as store:
            table, notes = build_table(store, where=_split(where), origin=origin,
                                       landmarks=list(landmark_days or ()), window_days=window_days,
                                       intervals=intervals)
        write_cohort_table(table, output)
        result = {"output": str(output), "rows": len(table), "columns": list(table.columns),
                  "notes": notes}
        params = {"where": _split(where), "origin": origin, "mrd_landmarks": landmark_days,
                  "mrd_window_days": window_days, "intervals": intervals}

        def human(console: Any) -> None:
            console.print(f"wrote {output} ({len(table)} rows, columns: {', '.join(table.columns)})")
            for n in notes:
                console.print(f"  note: {n}")

        emit("cohort_build", result, json_out=json_out, inputs=[], parameters=params,
             human=human)


def _print_model(console: Any, result: dict[str, Any], ratio: str, title: str) -> None:
    from rich.table import Table

    tab = Table("covariate", "coef", "se", "ratio", "95% CI", "p", title=title)
    for c in result["covariates"]:
        tab.add_row(c["name"], f"{c['coef']:.5g}", f"{c['se']:.4g}", f"{c[ratio]:.4g}",
                    f"{c['ci_lower']:.3g}–{c['ci_upper']:.3g}", f"{c['p_value']:.3g}")
    console.print(tab)
