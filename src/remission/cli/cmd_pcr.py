"""``remission mrd pcr``, ``remission mrd course`` and ``remission mrd compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from remission.cli.common import JSON_OPTION, OUTPUT_OPTION, emit, parse_rule_overrides

PARAM_OPTION = typer.Option(None, "--param",
                            help="Override a rule: NAME=VALUE (repeatable; value parsed as YAML).")


def _params(items: list[str] | None, known: Any) -> dict[str, Any]:
    return parse_rule_overrides(items, known=known)


def _fmt(x: float | None, spec: str = ".1e") -> str:
    return "-" if x is None else format(x, spec)


def _pcr_human(res: dict[str, Any]) -> Any:
    def show(console: Any) -> None:
        from rich.table import Table

        from remission.cli.common import notice_line
        from remission.domain.mrd import format_mrd

        t = Table("marker", "accepted", "slope", "R²", "efficiency", "QR", "sensitivity",
                  title="Standard curves")
        for m in res["markers"]:
            c = m["curve"] or {}
            t.add_row(m["target"], "yes" if m["accepted"] else "NO",
                      _fmt(c.get("slope"), ".3f"), _fmt(c.get("r2"), ".4f"),
                      _fmt(c.get("efficiency"), ".0%"), _fmt(m["quantitative_range"], ".0e"),
                      _fmt(m["sensitivity"], ".0e"))
        console.print(t)
        for m in res["markers"]:
            for r in m["reasons"]:
                console.print(f"  {r}")
        t = Table("sample", "marker", "result", "LoD", "LoQ", "reasons", title="Follow-up samples")
        for s in res["samples"]:
            shown = ("not evaluable" if s["category"] == "not_evaluable"
                     else format_mrd(s["category"], s["value"], s["lod"], s["loq"]))
            t.add_row(s["sample"], s["target"], shown, _fmt(s["lod"]), _fmt(s["loq"]),
                      "; ".join(s["reasons"]))
        console.print(t)
        t = Table("sample", "case-level MRD", "marker", "policy", "stratification markers",
                  title="Case level")
        for c in res["case_level"]:
            shown = ("not evaluable" if c["category"] == "not_evaluable"
                     else format_mrd(c["category"], c["value"], c["lod"], c["loq"]))
            t.add_row(c["sample"], shown, c["marker"] or "-", c["policy"],
                      f"{c['markers_for_stratification']} ({'ok' if c['stratification_markers_ok'] else 'too few'})")
        console.print(t)
        for r in res["reasons"]:
            console.print(f"{r}", style="yellow")
        console.print(f"{notice_line()}", style="dim")

    return show


def _course_human(res: dict[str, Any]) -> Any:
    def show(console: Any) -> None:
        from rich.table import Table

        from remission.cli.common import notice_line

        t = Table("date", "method", "MRD", "LoD", "LoQ", "response", "log reduction", title="MRD course")
        for p in res["points"]:
            lr = p.get("log_reduction")
            lr_s = "-" if not lr else (("≥ " if lr["bound"] == "at_least" else "") + f"{lr['value']:.1f}")
            t.add_row(p["date"], p["method"], p["display"], _fmt(p["lod"]), _fmt(p["loq"]),
                      p["response"], lr_s)
        console.print(t)
        for mc in res["method_changes"]:
            console.print(f"method change {mc['date']}: {', '.join(mc['from'])} → {', '.join(mc['to'])}")
        for f in res["fits"]:
            if not f.get("fitted"):
                console.print(f"{f['method']}: no regrowth fit ({'; '.join(f['reasons'])})")
                continue
            lo, hi = f["doubling_time_days_ci"]
            line = (f"{f['method']}: doubling time {_fmt(f['doubling_time_days'], '.1f')} d "
                    f"({f['interval_level'] * 100:g} % CI {_fmt(lo, '.1f')}–{_fmt(hi, '.1f') if hi else '∞'}), "
                    f"{f['n_quantifiable']} quantifiable + {f['n_below_lod']} < LoD + "
                    f"{f['n_not_quantifiable']} < LoQ")
            pr = f.get("projection")
            if pr:
                line += (f"; {pr['threshold_fraction'] * 100:g} % blasts projected {pr['date']} "
                         f"({pr['ci_low'] or 'unbounded'} – {pr['ci_high'] or 'unbounded'})")
            console.print(line)
        mr = res["molecular_relapse"]
        console.print(f"molecular relapse: {mr['status']}" + (f" ({mr['date']})" if mr.get("date") else ""))
        console.print(f"{notice_line()}", style="dim")

    return show


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    mrd = groups["mrd"]

    @mrd.command("pcr")
    def pcr_cmd(
        plate: Path = typer.Argument(..., help="RQ-PCR plate export CSV (well, sample, target, kind, level, ct, replicate)."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
        param: list[str] | None = PARAM_OPTION,
    ) -> None:
        """RQ-PCR MRD of a plate, EuroMRD-style: standard curves, QR, sensitivity, categories."""
        from remission.io.qpcr import read_plate
        from remission.mrd.pcr import PCR_RULES, analyze_plate

        params = _params(param, PCR_RULES)
        res = analyze_plate(read_plate(plate), params).as_dict()
        emit("pcr_mrd", res, json_out=json_out, output=output, inputs=[plate],
             parameters={**{k: r.value for k, r in PCR_RULES.items()}, **params},
             human=_pcr_human(res))

    @mrd.command("course")
    def course_cmd(
        case: Path = typer.Argument(..., help="Case file (YAML or JSON)."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
        param: list[str] | None = PARAM_OPTION,
    ) -> None:
        """The MRD course of a case across methods: response, relapse rules, regrowth, projection."""
        from remission.errors import ValidationError
        from remission.mrd.course import COURSE_RULES
        from remission.pipeline import analyze

        params = _params(param, COURSE_RULES)
        # only the MRD engines and the course itself: nothing after it is needed here
        analysis = analyze(case, parameters={"mrd_course": params}, targets=("mrd_course",))
        sec = analysis.section("mrd_course")
        if sec is None:
            raise ValidationError(f"case {case.name} has no MRD result (no MRD samples or reports)")
        if sec.error:
            raise ValidationError(f"MRD course failed: {sec.error}")
        res = sec.data()
        res["case_id"] = analysis.case_id
        res["engine_warnings"] = [w.splitlines()[0] for w in analysis.warnings]
        emit("mrd_course", res, json_out=json_out, output=output,
             inputs=[case.parent / i.path for i in analysis.provenance.inputs],
             parameters={**{k: r.value for k, r in COURSE_RULES.items()}, **params},
             human=_course_human(res))

    @mrd.command("compare")
    def compare_cmd(
        pairs: Path = typer.Argument(..., help="CSV: sample, method_a, status_a, value_a, method_b, status_b, value_b [, lod_*, loq_*]."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Compare two MRD methods on paired samples: Bland–Altman (log10), Lin's CCC, concordance."""
        from remission.io.mrd_pairs import read_mrd_pairs
        from remission.mrd.compare import compare_methods

        res = compare_methods(read_mrd_pairs(pairs))

        def show(console: Any) -> None:
            from remission.cli.common import notice_line

            ba = res["bland_altman_log10"]
            console.print(f"{res['n_pairs']} pairs, {res['n_both_quantifiable']} quantifiable by both")
            if ba:
                console.print(f"Bland–Altman (log10 A − log10 B): bias {ba['bias']:+.3f}, "
                              f"limits of agreement {ba['loa_low']:+.3f} to {ba['loa_high']:+.3f}")
            if res["lins_ccc_log10"] is not None:
                console.print(f"Lin's CCC (log10): {res['lins_ccc_log10']:.3f}")
            c = res["concordance"]
            console.print(f"concordance: both + {c['both_positive']}, A+/B− {c['a_positive_b_negative']}, "
                          f"A−/B+ {c['a_negative_b_positive']}, both − {c['both_negative']}; "
                          f"overall {c['overall_agreement']:.0%}")
            for n in res["notes"]:
                console.print(f"{n}", style="yellow")
            console.print(f"{notice_line()}", style="dim")

        emit("mrd_compare", res, json_out=json_out, output=output, inputs=[pairs], human=show)
