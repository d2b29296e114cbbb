"""``remission cart grade|kinetics|bcells``: CAR-T toxicity grading, cellular kinetics, B-cell aplasia."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from remission.cli.common import (
    JSON_OPTION,
    OUTPUT_OPTION,
    emit,
    parse_rule_overrides,
    positive_numbers,
    styled,
)

_PARAM_HELP = "Override a rule: NAME=VALUE (repeatable; see the rules in --json 'parameters')."


def _params(items: list[str] | None, known: Any) -> dict[str, Any]:
    return parse_rule_overrides(items, known=known)


def _date(value: str | None) -> dt.date | None:
    from remission.errors import excerpt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"must be an ISO date (YYYY-MM-DD), but was {excerpt(value)}",
                                 param_hint="--infusion-date") from None


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec)


def _grade_text(g: dict[str, Any]) -> str:
    if g["grade"] is not None:
        return str(g["grade"])
    lo, hi = g["grade_range"]
    return f"{lo}-{hi}"


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    cart = groups["cart"]

    @cart.command("grade")
    def grade_cmd(
        observations: Path = typer.Argument(..., help="Observation CSV (one row per assessment)."),
        age_years: float | None = typer.Option(None, "--age-years", callback=positive_numbers,
                                               help="Patient age in years (ICE >= 12 y, CAPD below)."),
        infusion_date: str | None = typer.Option(None, "--infusion-date", help="Infusion date, to turn a 'date' column into days."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Grade CRS (ASTCT, Penn, Lee 2014, CTCAE v5) and ICANS (ASTCT) for each assessment."""
        from remission.cart.toxicity import TOXICITY_RULES, grade_course
        from remission.domain.parameters import resolve, rule_values
        from remission.io.cart import read_observations

        overrides = _params(param, TOXICITY_RULES)
        rules = resolve(TOXICITY_RULES, overrides)
        assessments = read_observations(observations, age_years=age_years, infusion_date=_date(infusion_date),
                                        capd_age_below_years=float(rules["capd_age_below_years"].value))
        course = grade_course(assessments, age_years=age_years, rules=rules)
        result = course.as_dict()
        result["rests_on"] = course.rests_on

        def human(console: Any) -> None:
            from rich.table import Table

            t = Table("day", "CRS ASTCT", "Penn", "Lee 2014", "CTCAE v5", "ICANS", "CRS driver", "ICANS driver",
                      title=f"Toxicity grades: {observations.name}")
            for g in result["assessments"]:
                crs = g["crs"]
                t.add_row(_fmt(g["day"], "g") if g["day"] is not None else str(g["date"]),
                          _grade_text(crs["ASTCT"]), _grade_text(crs["Penn"]), _grade_text(crs["Lee2014"]),
                          _grade_text(crs["CTCAE5"]), _grade_text(g["icans"]),
                          crs["ASTCT"]["driver"], g["icans"]["driver"])
            console.print(t)
            for syn, scales in result["max_grade"].items():
                for scale, m in scales.items():
                    console.print(f"max {syn} ({scale}): {_grade_text(m)} on day {_fmt(m['day'], 'g')}: {m['driver']}")
            for syn, o in result["onset"].items():
                if o["onset_day"] is not None:
                    console.print(f"{syn}: onset day {o['onset_day']:g}, duration {_fmt(o['duration_days'], 'g')} "
                                  f"days{' (ongoing)' if o['ongoing'] else ''}")

        emit("cart_grade", result, json_out=json_out, output=output, inputs=[observations],
             parameters={"age_years": age_years, "infusion_date": infusion_date, "rules": rule_values(rules)},
             human=human)

    @cart.command("kinetics")
    def kinetics_cmd(
        file: Path = typer.Argument(..., help="Kinetics CSV: day, value, unit, below_lod."),
        infusion_date: str | None = typer.Option(None, "--infusion-date", help="Infusion date, to turn a 'date' column into days."),
        no_fit: bool = typer.Option(False, "--no-fit", help="NCA only; skip the Stein 2019 model fit."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """CAR-T cellular kinetics: NCA, Stein 2019 fit (below-LoD censored), population percentile."""
        from remission.cart.kinetics import KINETICS_RULES, analyze_kinetics
        from remission.domain.parameters import rule_values
        from remission.io.cart import read_kinetics

        overrides = _params(param, KINETICS_RULES)
        series = read_kinetics(file, infusion_date=_date(infusion_date))
        res = analyze_kinetics(series, overrides=overrides, fit=not no_fit)
        result = res.as_dict()
        result["rests_on"] = res.rests_on

        def human(console: Any) -> None:
            n = result["nca"]
            u = result["unit"]
            console.print(styled(("NCA", "bold"), f" ({file.name}, {u})"))
            console.print(f"  Cmax {_fmt(n['cmax'])} on day {_fmt(n['tmax'], 'g')}; AUC {_fmt(n['auc_0_28'])} "
                          f"{u}·d ({n['auc_method']})")
            console.print(f"  Clast {_fmt(n['clast'])} on day {_fmt(n['tlast'], 'g')} (last detectable); "
                          f"terminal T½ {_fmt(n['half_life_days'])} d over {n['lambda_z_window']}")
            f = result["fit"]
            if f:
                console.print(styled(("Stein 2019 fit", "bold"), f" ({f['method']})"))
                console.print(f"  Cmax {_fmt(f['cmax'])}, Tmax {_fmt(f['tmax'])} d, foldx {_fmt(f['foldx'])}, "
                              f"α {_fmt(f['alpha'])}/d, FB {_fmt(f['fb'])}, β {_fmt(f['beta'])}/d")
            elif result["fit_error"]:
                console.print(f"Stein fit not possible: {result['fit_error']}")
            if result["population_percentiles"]:
                console.print("  population percentiles (Stein 2019): " + ", ".join(
                    f"{k} {v:.0f}" for k, v in result["population_percentiles"].items()))
            for note in result["notes"]:
                console.print(styled(("note:", "yellow"), f" {note}"))

        emit("cart_kinetics", result, json_out=json_out, output=output, inputs=[file],
             parameters={"fit": not no_fit, "rules": rule_values(res.rules)}, human=human)

    @cart.command("bcells")
    def bcells_cmd(
        file: Path = typer.Argument(..., help="B-cell CSV: day (or date), value, unit."),
        infusion_date: str | None = typer.Option(None, "--infusion-date", help="Infusion date (needed with a 'date' column)."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """B-cell aplasia periods, B-cell recovery and early loss of aplasia."""
        from remission.cart.bcells import BCELL_RULES, b_cell_aplasia
        from remission.domain.parameters import rule_values
        from remission.io.cart import read_b_cells

        overrides = _params(param, BCELL_RULES)
        inf = _date(infusion_date)
        series = read_b_cells(file, infusion_date=inf)
        res = b_cell_aplasia(series, infusion_date=inf, overrides=overrides)
        result = res.as_dict()
        result["rests_on"] = res.rests_on

        def human(console: Any) -> None:
            console.print(f"B-cell aplasia threshold: {res.threshold:g} ({res.unit})")
            for p in result["periods"]:
                end = f"recovery on day {p['end_day']:g}" if p["ended_by_recovery"] else "ongoing"
                console.print(f"  aplasia from day {_fmt(p['start_day'], 'g')} to day "
                              f"{_fmt(p['last_aplastic_day'], 'g')} ({end})")
            console.print(f"ongoing: {res.ongoing}; recovery day: {_fmt(res.recovery_day, 'g')}")
            for s in result["signals"]:
                console.print(styled(("signal:", "yellow"), f" {s['signal']} ", (f"({s['source']})", "dim")))

        emit("cart_bcells", result, json_out=json_out, output=output, inputs=[file],
             parameters={"infusion_date": infusion_date, "rules": rule_values(res.rules)}, human=human)
