"""``remission clonal``: clones, clone tree and relapse pattern from VCF/MAF (+ copy number, purity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from remission.cli.common import (
    JSON_OPTION,
    OUTPUT_OPTION,
    choice,
    emit,
    parse_rule_overrides,
    styled,
)


def _human(res: dict[str, Any]) -> Any:
    def show(console: Any) -> None:
        from rich.table import Table

        from remission.cli.common import notice_line

        samples = res["samples"]
        t = Table("clone", "mutations", *[f"CCF {s} ({res['roles'][s]})" for s in samples], "parent", "status",
                  "genes", title=f"Clones ({res['n_mutations']} mutations)")
        for c in res["clusters"]:
            t.add_row(str(c["id"]), str(c["n_mutations"]),
                      *[f"{c['ccf'][s]:.2f} ± {c['ccf_sd'][s]:.2f}" for s in samples],
                      "germline" if c["parent"] is None and c["placed"] else
                      ("unplaced" if not c["placed"] else str(c["parent"])),
                      c["status"] or "-", ", ".join(c["genes"][:5]))
        console.print(t)
        pat = res.get("relapse_pattern")
        if pat:
            console.print(styled((f"relapse pattern: {pat['pattern']}", "bold"), f" — {pat['explanation']}"))
        for les in res["lesions"]:
            console.print(f"  {les['gene']} ({les['mutation']}): clone {les['clone']} {les['clone_status']}; "
                          f"{les['resistance']} — {les['mechanism']} [{les['tag']}]")
        for r in res["rules"].values():
            if r["tag"] in ("R", "U", "user"):
                console.print(f"rests on {r['name']} = {r['value']} [{r['tag']}] ({r['source']})", style="dim")
        for w in res["warnings"]:
            console.print(f"warning: {w}", style="yellow")
        console.print(f"{notice_line()}", style="dim")

    return show


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @root.command("clonal")
    def clonal(
        files: list[Path] = typer.Argument(..., help="VCF (AD per sample) or MAF files, plus optional "
                                                     "copy-number segment and purity TSVs."),
        purity: list[str] = typer.Option([], "--purity", help="SAMPLE=FRACTION tumour purity (repeatable)."),
        role: list[str] = typer.Option([], "--role", help="SAMPLE=ROLE (diagnosis, relapse, remission, "
                                                          "follow_up); default: from the sample names."),
        param: list[str] = typer.Option([], "--param", help="RULE=VALUE override (e.g. major_clone_ccf=0.4)."),
        max_clusters: int = typer.Option(8, "--max-clusters", min=1, help="Largest number of clones tried."),
        criterion: str = typer.Option("bic", "--criterion", help="Model selection: bic or icl."),
        seed: int = typer.Option(0, "--seed", help="Random seed of the EM restarts."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Clonal architecture: CCF, clones across samples, clone tree and relapse pattern."""
        import warnings

        from remission.clonal import analyze_clonal
        from remission.clonal.pattern import DEFAULT_RULES
        from remission.errors import RemissionWarning, excerpt
        from remission.io.variants import read_variant_inputs

        def pairs(items: list[str], what: str) -> dict[str, Any]:
            out = {}
            for item in items:
                k, sep, v = item.partition("=")
                if not sep or not k.strip():
                    raise typer.BadParameter(f"must be NAME=VALUE, but was {excerpt(item)}",
                                             param_hint=what)
                out[k.strip()] = v.strip()
            return out

        choice(criterion, ("bic", "icl"), "--criterion")
        roles = pairs(role, "--role")
        params = parse_rule_overrides(param, known=DEFAULT_RULES)
        from remission.knowledge import default_vocabulary

        inputs = read_variant_inputs(files, purity=purity)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemissionWarning)  # carried in the result's warnings
            res = analyze_clonal(inputs.table, purity=inputs.purity, segments=inputs.segments, roles=roles or None,
                                 parameters=params, seed=seed, max_clusters=max_clusters,
                                 criterion=criterion,  # type: ignore[arg-type]
                                 relapse_lesions=default_vocabulary().relapse_lesions())
        d = res.as_dict()
        emit("clonal", d, json_out=json_out, output=output, inputs=files,
             parameters={"purity": inputs.purity, "roles": res.roles, "seed": seed, "max_clusters": max_clusters,
                         "criterion": criterion, **{k: r["value"] for k, r in d["rules"].items()}},
             human=_human(d))
