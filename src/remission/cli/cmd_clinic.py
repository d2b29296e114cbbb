"""``remission risk CASE`` and ``remission options CASE``: relapse risk and therapy options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from remission.cli.common import JSON_OPTION, OUTPUT_OPTION, emit, parse_rule_overrides, styled

_PARAM_HELP = "Override a rule: NAME=VALUE (value parsed as YAML; repeatable)."


def _parse(items: list[str] | None, known: Any) -> dict[str, Any]:
    # lists become tuples: rule values are compared with the (immutable) defaults
    return {k: tuple(v) if isinstance(v, list) else v
            for k, v in parse_rule_overrides(items, known=known).items()}


def _context(case_path: Path, reported_only: bool) -> tuple[Any, list[Any], dict[str, Any], list[Path]]:
    """Load the case; MRD values and earlier sections (from the MRD/CAR-T engines unless
    ``reported_only``); and the input files for provenance."""
    from remission.io.casefile import case_inputs, load_case
    from remission.pipeline import analyze, upstream_of

    case = load_case(case_path)
    inputs = case_inputs(case_path, case)
    if reported_only:
        return case, [rep.to_result() for rep in case.mrd_reports], {}, inputs
    from remission.cli.common import progress

    # the engines risk and options read (MRD, CAR-T); risk and options themselves are computed
    # by the command with its own parameters
    upstream = upstream_of("risk", "options", "state")
    with progress(f"analysing {case_path.name}") as bar:
        task = bar.add_task(f"MRD and CAR-T engines for {case_path.name}", total=len(upstream))
        analysis = analyze(case_path, targets=upstream,
                           progress=lambda title: bar.update(task, advance=1, description=title))
    for w in analysis.warnings:  # an engine that failed: its MRD values are missing
        typer.echo(f"warning: {w.splitlines()[0]}", err=True)
    sections = {s.name: s for s in analysis.sections}
    return case, list(analysis.mrd), sections, inputs


def _risk_table(console: Any, res: dict[str, Any]) -> None:
    from rich.table import Table

    from remission.domain import NOT_A_MEDICAL_DEVICE

    tp = res["time_point"] or "unknown"
    console.print(styled((f"Relapse {res['relapse_number']}", "bold"), f" ({res['relapse_date']}): "
                  f"{res['lineage']}, site {res['case_site']} ({res['site']}), time point {tp}; "
                  f"COG {res['cog_time_point']}; {res['months_from_diagnosis']} months from diagnosis"))
    t = Table("scheme", "group", "rule path", title="Risk groups")
    for key, label in (("bfm", "ALL-REZ BFM"), ("intreall", "IntReALL"), ("allr3", "UK ALLR3"),
                       ("cog", "COG")):
        g = res.get(key)
        if g is None:
            t.add_row(label, "-", "not applicable (see flags)")
        else:
            grp = g["group"] or f"pending ({'/'.join(g['candidates'])}: {g['pending']})"
            t.add_row(g["scheme"], grp, " > ".join(g["rule_path"]))
    console.print(t)
    tr = res.get("transplant")
    if tr:
        mv = tr["mrd"]["display"] if tr.get("mrd") else "none"
        console.print(styled(("Transplant", "bold"), f" ({tr['backbone']}): {tr['decision']} - {tr['rule']}; "
                      f"MRD used: {mv}"))
        for alt in tr.get("alternatives", []):
            console.print(f"  alternative ({alt['backbone']}): {alt['decision']} - {alt['rule']}")
    for f in res["flags"]:
        console.print(styled((f"flag {f['code']}:", "yellow"), f" {f['message']}"))
    for w in res["warnings"]:
        console.print(styled(("warning:", "yellow"), f" {w}"))
    for r in res["rules"]:
        console.print(f"rests on [{r['tag']}] {r['name']} = {r['value']!r} ({r['source']})", style="dim")
    console.print(f"{NOT_A_MEDICAL_DEVICE}", style="dim")


def _options_table(console: Any, res: dict[str, Any], width: int = 78) -> None:
    """Options as wrapped text blocks that read at 80 columns (a wide table does not)."""
    import textwrap

    def out(text: str, indent: str = "") -> None:
        for line in textwrap.wrap(text, width=width, initial_indent=indent,
                                  subsequent_indent=indent + "  ") or [indent]:
            console.print(line, markup=False, highlight=False)

    kb = res["knowledge_base"]
    out(f"Therapy options (knowledge base {kb['version']}); order: {res['ranking']}")
    for n in res["notes"]:
        out(f"note: {n}")
    for o in res["options"]:
        console.print("")
        out(f"{o['rank']}. {o['name']}")
        out(f"access: {o['eligibility']}", "   ")
        out(f"evidence: {o.get('evidence_in_setting') or o['evidence_level']}", "   ")
        for w in o["why"]:
            out(f"why: {w}", "   ")
        for c in o["cautions"]:
            out(f"caution: {c}", "   ")
        for m in o.get("missing_fields", []):
            out(m, "   ")
        if o.get("immune_context"):
            out(o["immune_context"], "   ")
        out("cites: " + "; ".join(c["source"] for c in o["citations"]), "   ")
    console.print("")
    out("Not proposed:")
    for e in res["excluded"]:
        out(f"{e['name']}: " + "; ".join(e["reasons"]), "  ")
    out(res["notice"])


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @root.command("risk")
    def risk_cmd(
        case: Path = typer.Argument(..., help="Case file (YAML or JSON)."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        reported_mrd_only: bool = typer.Option(
            False, "--reported-mrd-only",
            help="Use only MRD values reported in the case file (skip the MRD engines)."),
        relapse: int | None = typer.Option(
            None, "--relapse", min=1,
            help="Which relapse to classify (default: the first; a later one is flagged)."),
    ) -> None:
        """Risk groups of a relapse (BFM S1-S4, IntReALL, UK ALLR3, COG AALL1331) and the
        transplant MRD rule, each with its rule path."""
        from remission.clinic.risk import RISK_RULES, stratify

        overrides = _parse(param, RISK_RULES)
        c, mrd, _, inputs = _context(case, reported_mrd_only)
        res = stratify(c, mrd, rules=overrides, relapse_number=relapse).to_json()
        emit("risk", res, json_out=json_out, output=output, inputs=inputs, parameters=overrides,
             human=lambda con: _risk_table(con, res))

    @root.command("options")
    def options_cmd(
        case: Path = typer.Argument(..., help="Case file (YAML or JSON)."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
        knowledge: Path | None = typer.Option(
            None, "--knowledge", help="Knowledge-base folder (VERSION + *.yaml) instead of the bundled one."),
        param: list[str] | None = typer.Option(None, "--param", help=_PARAM_HELP),
        allow_unknown_lesions: bool = typer.Option(
            False, "--allow-unknown-lesions",
            help="List lesion names the vocabulary does not know instead of failing."),
        reported_mrd_only: bool = typer.Option(
            False, "--reported-mrd-only",
            help="Use only MRD values reported in the case file (skip the MRD engines)."),
        relapse: int | None = typer.Option(
            None, "--relapse", min=1,
            help="Which relapse's site and lesions to read (default: the latest)."),
    ) -> None:
        """Evidence-linked therapy options for the case, evaluated against where the patient
        stands now, ranked, with reasons, evidence level in the patient's setting and citations;
        excluded options with their reasons. Proposes, never decides."""
        from remission.clinic.options import OPTIONS_RULES, patient_profile, propose_options
        from remission.clinic.risk import stratify
        from remission.domain import CartResult, RiskResult
        from remission.knowledge import load_knowledge_base
        from remission.state import disease_state

        overrides = _parse(param, OPTIONS_RULES)
        kb = load_knowledge_base(knowledge, rule_names=OPTIONS_RULES)
        c, mrd, sections, inputs = _context(case, reported_mrd_only)
        risk = (RiskResult.model_validate(stratify(c, mrd, relapse_number=relapse).to_json())
                if c.relapses else None)
        cart_sec = sections.get("cart")
        cart = cart_sec.result if cart_sec is not None and not cart_sec.error else None
        cart = cart if isinstance(cart, CartResult) else None
        state = disease_state(c, mrd, cart=cart)
        profile = patient_profile(c, vocabulary=kb.vocabulary, mrd=mrd, risk=risk, cart=cart,
                                  allow_unknown_lesions=allow_unknown_lesions, rules=overrides,
                                  state=state, relapse_number=relapse)
        res = propose_options(profile, kb, rules=overrides)
        params: dict[str, Any] = dict(overrides)
        if knowledge is not None:
            params["knowledge"] = str(knowledge)
        emit("options", res, json_out=json_out, output=output, inputs=inputs, parameters=params,
             human=lambda con: _options_table(con, res), knowledge_base_version=kb.version)
