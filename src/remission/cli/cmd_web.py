"""``serve``, ``user add | disable | list | reset-totp``, ``access grant | revoke | list`` and
``audit verify``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from remission.cli.common import DB_OPTION, JSON_OPTION, db_url, emit


def _password(prompt: bool) -> str:
    """The new password: from a hidden prompt on a terminal, else the first line of stdin."""
    if sys.stdin.isatty() and prompt:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    user = typer.Typer(help="Accounts of the web application.", no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None)
    audit_g = typer.Typer(help="The audit log of the web application.", no_args_is_help=True,
                          add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    access_g = typer.Typer(help="Who may see which patient in the web application (see remission.app.access).",
                           no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                           rich_markup_mode=None)
    root.add_typer(user, name="user")
    root.add_typer(access_g, name="access")
    root.add_typer(audit_g, name="audit")

    @root.command("serve")
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        db: str | None = DB_OPTION,
        files: Path = typer.Option(Path("remission-files"), "--files", help="Folder for signed-off assay files."),
        cases: list[Path] | None = typer.Option(None, "--cases", help="Folder(s) with case files (ROOT/*/case.yaml), so re-analysis finds their assay files (repeatable)."),
        workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes (uvicorn --workers); sessions, CSRF tokens and the audit chain are in the store, so any worker may serve any request."),
        job_workers: int = typer.Option(1, "--job-workers", min=1, help="Threads checking FASTQ and large FCS uploads in the background."),
    ) -> None:
        """Start the web application (FastAPI + uvicorn) on the store."""
        import uvicorn

        from remission.web import WebSettings, create_app

        settings = WebSettings(db_url=db_url(db), files_dir=files, case_roots=tuple(cases or ()),
                               job_workers=job_workers)
        print(f"remission web application on http://{host}:{port}/ (store {db_url(db)}"
              + (f", {workers} worker processes" if workers > 1 else "") + "); "
              "create accounts with `remission user add NAME --role ROLE`", file=sys.stderr)
        # no access log: request lines contain patient ids (the audit log records who saw what)
        if workers == 1:
            uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_level="info")
            return
        import os

        # once, before the workers start: migrate the store (failing here on a bad URL, not in each
        # worker); jobs a stopped server left are taken over by the workers (stale heartbeats only)
        from remission.store import Store
        from remission.web.server import SETTINGS_ENV, settings_to_env

        with Store(settings.db_url):
            pass
        os.environ[SETTINGS_ENV] = settings_to_env(settings)
        uvicorn.run("remission.web.server:create_app_from_env", factory=True, workers=workers, host=host,
                    port=port, access_log=False, log_level="info")

    @user.command("add")
    def user_add(
        name: str = typer.Argument(..., help="User name."),
        role: str = typer.Option(..., "--role", help="admin, clinician, lab or viewer."),
        totp: bool = typer.Option(False, "--totp", help="Require a TOTP second factor (always on for admins)."),
        db: str | None = DB_OPTION,
        json_out: bool = JSON_OPTION,
    ) -> None:
        """Create an account; the password is read from a hidden prompt (or the first line of stdin)."""
        from remission.app.auth import create_user
        from remission.store import Store

        password = _password(prompt=True)
        with Store(db_url(db)) as st:
            u, secret = create_user(st, name, role, password, totp=totp)
        result = {"username": u.username, "role": u.role, "totp": secret is not None}
        if secret:
            import pyotp

            result["totp_uri"] = pyotp.TOTP(secret).provisioning_uri(name=u.username, issuer_name="remission")
        emit("user", result, json_out=json_out, human=lambda con: con.print(
            f"user {u.username} ({u.role}) created"
            + (f"; add this to an authenticator app (shown once): {result['totp_uri']}" if secret else "")))

    @user.command("disable")
    def user_disable(name: str = typer.Argument(..., help="User name."), db: str | None = DB_OPTION) -> None:
        """Disable an account and end all its sessions."""
        from remission.app.auth import disable_user
        from remission.store import Store

        with Store(db_url(db)) as st:
            disable_user(st, name, actor="cli", address="local")
        print(f"user {name} disabled; its sessions ended", file=sys.stderr)

    @user.command("list")
    def user_list(db: str | None = DB_OPTION, json_out: bool = JSON_OPTION) -> None:
        """List accounts."""
        from remission.app.auth import list_users
        from remission.store import Store

        with Store(db_url(db)) as st:
            rows = [u.model_dump() for u in list_users(st)]
        def human(con: object) -> None:
            for r in rows:
                con.print(f"{r['username']}\t{r['role']}\t{'disabled' if r['disabled'] else 'active'}")  # type: ignore[attr-defined]

        emit("users", {"users": rows}, json_out=json_out, human=human)

    @user.command("reset-totp")
    def user_reset_totp(name: str = typer.Argument(..., help="User name."), db: str | None = DB_OPTION) -> None:
        """Clear an account's second factor (a lost device) and end its sessions; the user enrols
        again on the Account page (an admin must, before doing anything else)."""
        from remission.app.auth import totp_reset
        from remission.store import Store

        with Store(db_url(db)) as st:
            n = totp_reset(st, name, actor="cli", address="local")
        print(f"second factor of {name} cleared; {n} session(s) ended", file=sys.stderr)

    def _grant_target(case_id: str | None, every: bool) -> str:
        """The patient id, or the every-patient mark with --all (exactly one of them)."""
        from remission.app.access import ALL_PATIENTS
        from remission.errors import ValidationError

        if every == (case_id is not None):
            raise ValidationError("give either a patient id or --all")
        return ALL_PATIENTS if every else str(case_id)

    @access_g.command("grant")
    def access_grant(
        name: str = typer.Argument(..., help="User name."),
        case_id: str | None = typer.Argument(None, help="Patient (case) id."),
        every: bool = typer.Option(False, "--all", help="Every patient, present and future."),
        db: str | None = DB_OPTION,
    ) -> None:
        """Let a user see one patient (or, with --all, every patient)."""
        from remission.app.access import grant
        from remission.store import Store

        target = _grant_target(case_id, every)
        with Store(db_url(db)) as st:
            new = grant(st, name, target, actor="cli", address="local")
        what = "every patient" if every else f"patient {target}"
        print(f"{name} may see {what}" + ("" if new else " (already granted)"), file=sys.stderr)

    @access_g.command("revoke")
    def access_revoke(
        name: str = typer.Argument(..., help="User name."),
        case_id: str | None = typer.Argument(None, help="Patient (case) id."),
        every: bool = typer.Option(False, "--all", help="The every-patient grant."),
        db: str | None = DB_OPTION,
    ) -> None:
        """Withdraw a grant."""
        from remission.app.access import revoke
        from remission.store import Store

        target = _grant_target(case_id, every)
        with Store(db_url(db)) as st:
            existed = revoke(st, name, target, actor="cli", address="local")
        print(f"grant {name} -> {target} " + ("revoked" if existed else "did not exist"), file=sys.stderr)

    @access_g.command("list")
    def access_list(name: str | None = typer.Argument(None, help="Only this user."), db: str | None = DB_OPTION,
                    json_out: bool = JSON_OPTION) -> None:
        """List grants (patient "*" = every patient)."""
        from remission.app.access import list_grants
        from remission.store import Store

        with Store(db_url(db)) as st:
            rows = [g.model_dump(mode="json") for g in list_grants(st, name)]

        def human(con: object) -> None:
            for r in rows:
                con.print(f"{r['username']}\t{r['case_id']}\t{r['granted_by']}\t{r['granted_at']}")  # type: ignore[attr-defined]

        emit("access", {"grants": rows}, json_out=json_out, human=human)

    @audit_g.command("verify")
    def audit_verify(db: str | None = DB_OPTION, json_out: bool = JSON_OPTION) -> None:
        """Recompute the audit log's hash chain; exit 1 when a row was changed or deleted."""
        from remission.app.audit import verify
        from remission.errors import ValidationError
        from remission.store import Store

        with Store(db_url(db)) as st:
            report = verify(st)
        emit("audit_verify", report.model_dump(), json_out=json_out, human=lambda con: con.print(
            f"audit log: {report.rows} rows, head {report.head}, " + ("intact" if report.ok else "BROKEN")))
        if not report.ok:
            raise ValidationError("audit log verification failed: " + "; ".join(report.problems[:5]))
