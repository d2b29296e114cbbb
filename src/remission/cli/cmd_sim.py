"""``remission sim fit|compare|timeline|cohort|validate``: virtual patients (model projections)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import typer

from remission.cli.common import JSON_OPTION, OUTPUT_OPTION, emit, parse_rule_overrides

_PARAM_HELP = "Override a simulator parameter: NAME=VALUE (repeatable; see --json 'parameters')."
_LABEL = "MODEL PROJECTION (virtual patients; not a prediction, not a recommendation)"


def _fit_case(case: Path, seed: int, proposals: int, draws: int, overrides: dict[str, Any]) -> tuple[Any, ...]:
    """Analyse the case (MRD and CAR-T engines) and calibrate the simulator to it."""
    from remission.pipeline import analyze
    from remission.sim.case import case_inputs
    from remission.sim.fit import fit_patient
    from remission.sim.parameters import resolve_sim

    rules = resolve_sim(overrides)
    # only the MRD engines, the course and CAR-T monitoring: nothing else is read here
    analysis = analyze(case, targets=("mrd_course", "cart"))
    cart = analysis.section("cart")
    cart_data = cart.data() if cart is not None and cart.result is not None else None
    inputs = case_inputs(analysis.case, analysis.mrd, cart_data)
    fit = fit_patient(inputs.observations, seed=seed, history=inputs.history, stein=inputs.stein,
                      bca=inputs.bca, n_proposals=proposals, n_draws=draws, rules=rules)
    ins = [case.parent / i.path for i in analysis.provenance.inputs]
    return analysis, inputs, fit, rules, ins


def _params(rules: Any, **extra: Any) -> dict[str, Any]:
    from remission.domain.parameters import rule_values

    return {**extra, "rules": rule_values(rules)}


def _rests_on(rules: Any) -> list[dict[str, Any]]:
    from remission.domain.parameters import rests_on

    return rests_on(rules.values())


def _write_figure(output: Path, svg_text: str, title: str) -> None:
    from markupsafe import escape

    from remission.cli.common import notice_line

    if output.suffix.lower() == ".svg":
        output.write_text(svg_text.replace('class="plot" role="img" ', 'xmlns="http://www.w3.org/2000/svg" ', 1),
                          encoding="utf-8")
        return
    output.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head><body>"
        f"<h1>{escape(title)}</h1><p><strong>{escape(_LABEL)}</strong></p>{svg_text}"
        f"<p>{escape(notice_line())}</p></body></html>\n", encoding="utf-8")


def _is_figure(output: Path | None) -> bool:
    return output is not None and output.suffix.lower() in (".svg", ".html", ".htm")


def _fit_svg(fit: Any, t_ref: Any, title: str) -> str:
    import numpy as np

    from remission.report.plots import figure, svg

    fig, ax = figure(8.0, 3.2)
    d = fit.band_days
    ax.fill_between(d, fit.band_log10["q05"], fit.band_log10["q95"], alpha=0.25, label="model 90 % band")
    ax.plot(d, fit.band_log10["q50"], lw=1.2, label="model median")
    o = fit.observations
    ex = o.kind == 0
    ax.plot(o.days[ex], o.y[ex], "o", color="black", label="MRD (quantified)")
    cen = ~ex
    ax.plot(o.days[cen], o.hi[cen], "v", color="grey", label="MRD (censored: below limit)")
    ax.set_ylim(max(float(np.nanmin(fit.band_log10["q05"])), -8.0) - 0.5, 0.3)
    ax.set_xlabel(f"days since first MRD result ({t_ref})")
    ax.set_ylabel("log10 leukaemic fraction")
    ax.set_title(f"{title} — model projection", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return str(svg(fig, title=title))


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    sim = groups["sim"]

    @sim.command("fit")
    def fit_cmd(
        case: Path = typer.Argument(..., help="Case file (YAML or JSON) with MRD results."),
        seed: int = typer.Option(20260101, "--seed", help="Random seed (results are reproducible)."),
        proposals: int = typer.Option(4000, "--proposals", help="Importance-sampling proposals per round."),
        draws: int = typer.Option(1000, "--draws", help="Posterior draws kept."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Calibrate a virtual patient to the case's MRD course (censored values censored), CAR-T, BCA."""
        analysis, inputs, fit, rules, ins = _fit_case(case, seed, proposals, draws, parse_rule_overrides(param))
        res = fit.summary()
        res.update(case_id=analysis.case_id, first_mrd_date=inputs.t_ref.isoformat(), notes=list(inputs.notes),
                   rests_on=_rests_on(rules))
        if _is_figure(output):
            assert output is not None
            _write_figure(output, _fit_svg(fit, inputs.t_ref, f"MRD fit: {analysis.case_id}"), "Virtual-patient fit")
            return

        def human(console: Any) -> None:
            console.print(f"[bold]{_LABEL}[/bold]")
            td, now = res["doubling_time_days"], res["log10_mrd_now"]
            console.print(f"case {res['case_id']}: {fit.observations.n} MRD results from {res['first_mrd_date']}")
            console.print(f"doubling time {td['q50']:.3g} d (90 % interval {td['q05']:.3g}-{td['q95']:.3g})")
            console.print(f"log10 MRD on day {res['now_day']}: {now['q50']:.2f} ({now['q05']:.2f} to {now['q95']:.2f})")
            console.print(f"{res['method']}; effective sample size {res['effective_sample_size']:.0f}")
            for w in res["warnings"] + res["notes"]:
                console.print(f"[yellow]note:[/yellow] {w}")
            from remission.cli.common import notice_line

            console.print(f"[dim]{notice_line()}[/dim]")

        emit("sim_fit", res, json_out=json_out, output=output, inputs=ins,
             parameters=_params(rules, seed=seed, proposals=proposals, draws=draws), human=human)

    @sim.command("compare")
    def compare_cmd(
        case: Path = typer.Argument(..., help="Case file (YAML or JSON) with MRD results."),
        strategy: list[str] = typer.Option(["watch", "blina_then_cart", "cart_then_hsct", "ino_then_hsct"],
                                           "--strategy", help="Strategy to project (repeatable; the first is the reference)."),
        seed: int = typer.Option(20260101, "--seed", help="Random seed."),
        draws: int = typer.Option(200, "--draws", help="Posterior draws projected."),
        replicates: int = typer.Option(10, "--replicates", help="Stochastic runs per draw."),
        method: str = typer.Option("flow", "--method", help="MRD method for 'MRD-negative' (ngs, flow, pcr)."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Project strategies: P(haematological relapse), P(CD19− relapse), P(MRD-negative remission), P(death)."""
        from remission.sim.strategies import DEATH_NOTE, compare, strategy_rests_on

        analysis, _inputs, fit, rules, ins = _fit_case(case, seed, 2000, draws, parse_rule_overrides(param))
        res = compare(fit.patients_now, strategy, seed=seed, replicates=replicates, rules=rules, method=method)
        res.update(case_id=analysis.case_id, projection_start_day=fit.now_day, rests_on=_rests_on(rules))
        if _is_figure(output):
            assert output is not None
            _write_figure(output, _compare_svg(res), f"Strategy comparison: {analysis.case_id}")
            return

        def human(console: Any) -> None:
            from rich.table import Table

            from remission.cli.common import notice_line

            console.print(f"[bold]{_LABEL}[/bold]")
            t = Table("strategy", "month", "P(haem. relapse)", "P(CD19− relapse)", "P(MRD-neg remission)", "P(death)",
                      title=f"{analysis.case_id}: mean and 5-95 % range over posterior draws")
            for name, s in res["strategies"].items():
                for m in (3, 6, 12):
                    p = s["probabilities"]
                    cells = []
                    for k in ("haem_relapse", "cd19neg_relapse", "mrd_negative_remission", "death"):
                        v = p.get(f"{k}_{m}m")
                        cells.append("-" if v is None else f"{v['p']:.0%} ({v['low']:.0%}-{v['high']:.0%})")
                    t.add_row(name, str(m), *cells)
            console.print(t)
            for name, dr in res["drivers_vs_reference"].items():
                top = ", ".join(f"{k} {v:+.0%}" for k, v in list(dr.items())[:3])
                console.print(f"drivers {name} vs {res['reference']}: {top}")
            common = set(strategy_rests_on("watch", rules))
            for name, s in res["strategies"].items():
                own = [k for k in s.get("rests_on", []) if k not in common]
                if own:
                    console.print(f"{name} also rests on (uncited): {', '.join(own)}")
            console.print(DEATH_NOTE)
            console.print(f"[dim]{notice_line()}[/dim]")

        emit("sim_compare", res, json_out=json_out, output=output, inputs=ins,
             parameters=_params(rules, seed=seed, draws=draws, replicates=replicates, strategies=strategy,
                                method=method), human=human)

    @sim.command("timeline")
    def timeline_cmd(
        case: Path = typer.Argument(..., help="Case file (YAML or JSON) with MRD results."),
        seed: int = typer.Option(20260101, "--seed", help="Random seed."),
        draws: int = typer.Option(1000, "--draws", help="Posterior draws projected."),
        horizon_days: int = typer.Option(365, "--horizon-days", help="Projection horizon."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Projected time to haematological relapse beside the time CAR-T, donor and HSCT need."""
        import numpy as np

        from remission.sim.case import patient_state
        from remission.sim.timeline import strategy_timeline

        analysis, inputs, fit, rules, ins = _fit_case(case, seed, 2000, draws, parse_rule_overrides(param))
        state = patient_state(analysis.case, float(np.median(fit.patients_now.burden0)))
        res = strategy_timeline(fit.patients_now, seed=seed, state=state, horizon_days=horizon_days, rules=rules,
                                now_offset_days=fit.now_day)
        res.update(case_id=analysis.case_id, projection_start_date=str(inputs.t_ref.fromordinal(
            inputs.t_ref.toordinal() + fit.now_day)), rests_on=_rests_on(rules))
        if _is_figure(output):
            assert output is not None
            title = f"Strategy timeline: {analysis.case_id}"
            if output.suffix.lower() == ".svg":
                _write_figure(output, _timeline_svg(res), title)
            else:
                from remission.report.sections.sim import render_result

                _write_figure(output, render_result({**res, "svg": _timeline_svg(res)}), title)
            return

        def human(console: Any) -> None:
            from remission.cli.common import notice_line

            console.print(f"[bold]{_LABEL}[/bold] — from {res['projection_start_date']}")
            rel = res["time_to_haematological_relapse_days"]
            console.print(f"time to haematological relapse without treatment: median {_d(rel['q50'])} d "
                          f"(90 % interval {_d(rel['q05'])}-{_d(rel['q95'])} d)")
            for o in res["options"]:
                dn = o["days_needed"]
                console.print(f"  {o['option']}: median {_d(dn['q50'])} d (IQR {_d(dn['q25'])}-{_d(dn['q75'])}); "
                              f"never available {o['share_never_available']:.0%}; relapse first in "
                              f"{o['p_relapse_before_available']:.0%}")
            console.print(res["bridge_question"])
            for b in res["bridges"]:
                console.print(f"  bridge {b['bridge']}: {'fits' if b['fits'] else 'does not fit'} — "
                              + "; ".join(b["reasons"]))
            car = res["cd19_car_t"]
            console.print(f"  CD19 CAR-T: {'fits' if car['fits'] else 'does not fit'} — " + "; ".join(car["reasons"]))
            console.print(res["note"])
            console.print(f"[dim]{notice_line()}[/dim]")

        emit("sim_timeline", res, json_out=json_out, output=output, inputs=ins,
             parameters=_params(rules, seed=seed, draws=draws, horizon_days=horizon_days), human=human)

    @sim.command("cohort")
    def cohort_cmd(
        n: int = typer.Option(1000, "--n", help="Virtual patients."),
        strategy: str = typer.Option("cart", "--strategy", help="Strategy (see 'remission sim strategies')."),
        seed: int = typer.Option(20260101, "--seed", help="Random seed."),
        population: str = typer.Option("morphological_relapse", "--population",
                                       help="morphological_relapse or mrd_positive."),
        horizon_days: int = typer.Option(730, "--horizon-days", help="Follow-up of the virtual cohort."),
        chunk_size: int = typer.Option(100_000, "--chunk-size", help="Patients per chunk (per Dask task)."),
        scheduler: str | None = typer.Option(None, "--scheduler",
                                             help="Run chunks on Dask: 'local' (LocalCluster) or a scheduler address."),
        workers: int = typer.Option(2, "--workers", help="Workers of the local Dask cluster."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """A virtual cohort as a cohort table (CSV: id, time, event, cause, covariates)."""
        from remission.sim.cohort import COHORT_COLUMNS, run_cohort, summarise
        from remission.sim.parameters import resolve_sim

        overrides = parse_rule_overrides(param)
        rules = resolve_sim(overrides)
        res = run_cohort(n, strategy, seed=seed, population=population,  # type: ignore[arg-type]
                         horizon_days=horizon_days, chunk_size=chunk_size, scheduler=scheduler,
                         n_workers=workers, overrides=overrides)
        table = res["table"]
        summary = {"label": "model projection (virtual cohort)", "strategy": strategy, "population": population,
                   **summarise(table), "rests_on": _rests_on(rules)}
        if output is not None and output.suffix.lower() == ".csv":
            # plain CSV (no comment lines, which survival readers reject); every row carries the label
            with open(output, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow([*COHORT_COLUMNS, "label", "seed"])
                cols = [table[c] for c in COHORT_COLUMNS]
                for row in zip(*cols, strict=True):
                    w.writerow([*(_cell(v) for v in row), "model projection", seed])
            output = None
            if not json_out:
                return

        def human(console: Any) -> None:
            from remission.cli.common import notice_line

            console.print(f"[bold]{_LABEL}[/bold]")
            console.print(f"{summary['n']} virtual patients, strategy {strategy}: {summary['events']} events; "
                          + ", ".join(f"{k} {v}" for k, v in summary["causes"].items()))
            console.print(f"[dim]{notice_line()}[/dim]")

        emit("sim_cohort", summary, json_out=json_out, output=output,
             parameters=_params(rules, n=n, strategy=strategy, seed=seed, population=population,
                                horizon_days=horizon_days, chunk_size=chunk_size), human=human)

    @sim.command("strategies")
    def strategies_cmd(
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """List the strategies the simulator knows (names for --strategy)."""
        from remission.sim.strategies import STRATEGIES

        names = {k: v.description for k, v in STRATEGIES.items()}
        res = {"label": "model projection", "strategies": names}

        def human(console: Any) -> None:
            for k, v in names.items():
                console.print(f"{k:18s} {v}")

        emit("sim_strategies", res, json_out=json_out, output=output, human=human)

    @sim.command("validate")
    def validate_cmd(
        n: int = typer.Option(4000, "--n", help="Virtual patients."),
        seed: int = typer.Option(20180201, "--seed", help="Random seed."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Virtual trials (ELIANA; blinatumomab vs chemotherapy): calibration and held-out anchors."""
        from remission.sim.parameters import resolve_sim
        from remission.sim.validation import (
            virtual_trial_blinatumomab,
            virtual_trial_eliana,
            virtual_trial_inotuzumab,
        )

        rules = resolve_sim(parse_rule_overrides(param))
        res = virtual_trial_eliana(n, seed=seed, rules=rules)
        res["blinatumomab_vs_chemotherapy"] = virtual_trial_blinatumomab(n, seed=seed, rules=rules)
        res["inotuzumab"] = virtual_trial_inotuzumab(n, seed=seed, rules=rules)
        res["rests_on"] = _rests_on(rules)

        def human(console: Any) -> None:
            from rich.table import Table

            from remission.cli.common import notice_line

            console.print(f"[bold]{_LABEL}[/bold]")
            t = Table("anchor", "role", "published", "model (95 % CI)", "within CI", title=res["population"])
            for k, a in res["anchors"].items():
                ci = a["published_ci"]
                pub = f"{a['published']:.0%}" + (f" ({ci[0]:.0%}-{ci[1]:.0%})" if ci else "")
                t.add_row(k, a["role"], pub, f"{a['model']:.1%} ({a['model_ci'][0]:.1%}-{a['model_ci'][1]:.1%})",
                          "-" if a["within_published_ci"] is None else str(a["within_published_ci"]))
            console.print(t)
            po = res["pulsipher_ordering"]
            rrs = ", ".join(f"{k} RR {po[k]['relative_risk']:.2f}" for k in
                            ("ngs_mrd_positive_month3", "ngs_mrd_positive_day28", "b_cell_recovery_first_year")
                            if po[k]["relative_risk"] is not None)
            console.print(f"Pulsipher 2022 ordering ({po['published_order']}): {rrs}; "
                          f"reproduced: {po['order_reproduced']}")
            bl = res["blinatumomab_vs_chemotherapy"]
            console.print(f"blinatumomab vs chemotherapy ({bl['population']}): MRD-negative "
                          f"{bl['model']['blinatumomab']:.1%} vs {bl['model']['chemotherapy']:.1%}")
            for k, a in bl["anchors"].items():
                if "model" in a:
                    console.print(f"  {k} ({a['role']}): published {a['published']:.0%} "
                                  f"({a['published_ci'][0]:.0%}-{a['published_ci'][1]:.0%}), model {a['model']:.0%}, "
                                  f"within: {a['within_published_ci']}")
                else:
                    console.print(f"  {k} ({a['role']}): blinatumomab published {a['blinatumomab']['published']:.0%} "
                                  f"model {a['blinatumomab']['model']:.0%}; chemotherapy published "
                                  f"{a['chemotherapy']['published']:.0%} model {a['chemotherapy']['model']:.0%}")
            ia = res["inotuzumab"]["anchor"]
            console.print(f"inotuzumab, {ia['name']} ({ia['role']}): published {ia['published']:.1%} "
                          f"(90 % CI {ia['published_ci'][0]:.1%}-{ia['published_ci'][1]:.1%}), model {ia['model']:.1%}; "
                          f"rests on {', '.join(res['inotuzumab']['rests_on'])}")
            console.print(f"[dim]{notice_line()}[/dim]")

        emit("sim_validate", res, json_out=json_out, output=output, parameters=_params(rules, n=n, seed=seed),
             human=human)


def _d(v: float | None) -> str:
    return ">horizon" if v is None else f"{v:.0f}"


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if v != v else f"{v:.6g}"
    return v


def _compare_svg(res: dict[str, Any]) -> str:
    from remission.report.plots import figure, svg

    fig, ax = figure(8.0, 3.2)
    names = list(res["strategies"])
    for j, m in enumerate((3, 6, 12)):
        vals = [res["strategies"][s]["probabilities"][f"haem_relapse_{m}m"] for s in names]
        x = [i + (j - 1) * 0.25 for i in range(len(names))]
        ax.bar(x, [v["p"] for v in vals], width=0.25, label=f"{m} months",
               yerr=[[v["p"] - v["low"] for v in vals], [v["high"] - v["p"] for v in vals]], capsize=2)
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.set_ylabel("P(haematological relapse)")
    ax.set_ylim(0, 1.05)
    ax.set_title("model projection: mean and 5-95 % range over posterior draws", fontsize=9)
    ax.legend(fontsize=7)
    return str(svg(fig, title="strategy comparison"))


def _timeline_svg(res: dict[str, Any]) -> str:
    from remission.report.plots import figure, svg

    fig, ax = figure(8.0, 2.8)
    rows = [("time to haematological relapse (watch)", res["time_to_haematological_relapse_days"])]
    rows += [(o["option"], o["days_needed"]) for o in res["options"]]
    h = res["horizon_days"]
    for i, (_label, q) in enumerate(rows):
        lo, hi = q["q05"] if q["q05"] is not None else h, q["q95"] if q["q95"] is not None else h
        ax.plot([lo, hi], [i, i], lw=2)
        q25 = q["q25"] if q["q25"] is not None else h
        q75 = q["q75"] if q["q75"] is not None else h
        ax.plot([q25, q75], [i, i], lw=7, alpha=0.5)
        if q["q50"] is not None:
            ax.plot([q["q50"]], [i], "k|", ms=12)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_xlabel("days from now (5-95 % line, IQR bar, median tick)")
    ax.set_xlim(0, h)
    ax.set_title("model projection — shows assumptions, does not recommend", fontsize=9)
    return str(svg(fig, title="strategy timeline"))
