"""``remission clonal``: clones, clone tree and relapse pattern from VCF/MAF (+ copy number, purity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from remission.cli.common import JSON_OPTION, OUTPUT_OPTION, emit


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
            console.print(f"[bold]relapse pattern: {pat['pattern']}[/bold] — {pat['explanation']}")
        for les in res["lesions"]:
            console.print(f"  {les['gene']} ({les['mutation']}): clone {les['clone']} {les['clone_status']}; "
                          f"{les['resistance']} — {les['mechanism']} [{les['tag']}]")
        for r in res["rules"].values():
            if r["tag"] in ("R", "U", "user"):
                console.print(f"[dim]rests on {r['name']} = {r['value']} [{r['tag']}] ({r['source']})[/dim]")
        for w in res["warnings"]:
            console.print(f"[yellow]warning: {w}[/yellow]")
        console.print(f"[dim]{notice_line()}[/dim]")

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

        import yaml

        from remission.clonal import analyse_clonal
        from remission.errors import RemissionWarning, ValidationError
        from remission.io.variants import read_variant_inputs

        def pairs(items: list[str], what: str) -> dict[str, Any]:
            out = {}
            for item in items:
                k, sep, v = item.partition("=")
                if not sep or not k:
                    raise ValidationError(f"{what} must be NAME=VALUE, but was {item!r}")
                out[k.strip()] = v.strip()
            return out

        if criterion not in ("bic", "icl"):
            raise ValidationError(f"--criterion must be one of bic, icl, but was {criterion!r}")
        roles = pairs(role, "--role")
        params = {k: yaml.safe_load(v) for k, v in pairs(param, "--param").items()}
        from remission.knowledge import default_vocabulary

        inputs = read_variant_inputs(files, purity=purity)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemissionWarning)  # carried in the result's warnings
            res = analyse_clonal(inputs.table, purity=inputs.purity, segments=inputs.segments, roles=roles or None,
                                 parameters=params, seed=seed, max_clusters=max_clusters,
                                 criterion=criterion,  # type: ignore[arg-type]
                                 relapse_lesions=default_vocabulary().relapse_lesions())
        d = res.as_dict()
        emit("clonal", d, json_out=json_out, output=output, inputs=files,
             parameters={"purity": inputs.purity, "roles": res.roles, "seed": seed, "max_clusters": max_clusters,
                         "criterion": criterion, **{k: r["value"] for k, r in d["rules"].items()}},
             human=_human(d))
