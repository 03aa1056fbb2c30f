"""The ``xingcheng`` command. Every error is one readable line and a non-zero exit, never a traceback."""

from __future__ import annotations

import getpass
import json
import logging
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

import xingcheng
from xingcheng.core.audit.cli import verify_audit
from xingcheng.core.auth import Role
from xingcheng.core.db import get_database
from xingcheng.core.errors import Conflict, XingchengError
from xingcheng.core.settings import get_settings
from xingcheng.modules import MODULES

console = Console(stderr=True)
app = typer.Typer(
    name="xingcheng", help="Xingcheng (星城) city digital platform.", no_args_is_help=True,
    pretty_exceptions_enable=False, add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo city (synthetic Changsha).", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
for _module in MODULES:
    if _module.cli is not None:
        app.add_typer(_module.cli, name=_module.cli_name or _module.name)


def _version(value: bool) -> None:
    if value:
        print(f"xingcheng {xingcheng.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Xingcheng (星城): city digital base + e-government, governance, society and economy."""


def upgrade_database() -> None:
    from xingcheng.core.migrate import upgrade

    upgrade(get_database().engine)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (SQLite or PostgreSQL, from XC_DATABASE_URL)."""
    upgrade_database()
    console.print("[green]database is at the latest schema[/]")


@demo_app.command("load")
def demo_load(
    seed: Annotated[int, typer.Option(help="Same seed, same city.")] = 42,
    scale: Annotated[str, typer.Option(help="small (seconds, for tests) or city (≥100k citizens, ≥20k enterprises).")] = "small",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with the timings.")] = False,
) -> None:
    """Build the synthetic Changsha into an empty database."""
    from xingcheng.demo.runner import city_is_loaded, load_demo

    if scale not in ("small", "city"):
        raise typer.BadParameter("scale must be 'small' or 'city'", param_hint="--scale")
    upgrade_database()
    if city_is_loaded(get_database()):
        raise Conflict("the database already holds a city; use a fresh data directory (XC_DATA_DIR) to reload")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=json_output,
    ) as bar:
        task = bar.add_task("demo city", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        timings = load_demo(get_database(), MODULES, seed=seed, scale=scale, progress=progress)  # type: ignore[arg-type]
    total = sum(t.seconds for t in timings)
    if json_output:
        print(json.dumps({"seed": seed, "scale": scale, "seconds": round(total, 2),
                          "steps": {t.name: round(t.seconds, 3) for t in timings}}))
        return
    table = Table(title=f"demo city loaded (seed {seed}, scale {scale})")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for timing in timings:
        table.add_row(timing.name, f"{timing.seconds:.2f}")
    table.add_row("[bold]total", f"[bold]{total:.2f}")
    console.print(table)


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="Role of the new account.")],
    department: Annotated[str | None, typer.Option(help="Department code (staff).")] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console.")] = None,
    id_number: Annotated[str | None, typer.Option(help="GB 11643 ID number (citizen).")] = None,
    credit_code: Annotated[str | None, typer.Option(help="GB 32100 credit code (enterprise).")] = None,
    password: Annotated[str | None, typer.Option(help="Password; asked for when omitted.", envvar="XC_NEW_PASSWORD")] = None,
) -> None:
    """Create a login account."""
    from xingcheng.core.identity.schemas import AccountCreate
    from xingcheng.core.identity.service import create_account

    kind = {Role.CITIZEN: "citizen", Role.ENTERPRISE: "enterprise"}.get(role, "staff")
    if role is Role.DEVICE:
        raise typer.BadParameter("devices use API keys, not accounts", param_hint="--role")
    if password is None:
        password = getpass.getpass("password: ")
    data = AccountCreate(
        username=username, display_name=display_name or username, password=password, kind=kind,
        roles=[role], department_code=department, id_number=id_number, credit_code=credit_code,
    )
    upgrade_database()
    with get_database().session_scope() as session:
        account = create_account(session, data=data)
        console.print(f"[green]created {account.kind} account '{account.username}' ({role.value})[/]")


keys_app = typer.Typer(help="Field-encryption keys (SM4-GCM).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with the counts.")] = False,
) -> None:
    """Add a new active SM4 key and re-encrypt every encrypted column with it."""
    import xingcheng.migrations.metadata  # noqa: F401 — every table, so every encrypted column is found
    from xingcheng.core.crypto import rotate_field_keys

    upgrade_database()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  disable=json_output) as bar:
        task = bar.add_task("re-encrypting", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        report = rotate_field_keys(get_database(), get_settings().data_dir, progress=progress)
    if json_output:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        console.print(f"[green]active key {report.active_key_id}[/] (was {report.previous_key_id}); "
                      f"{report.reencrypted} value(s) re-encrypted")
    if report.failures:
        raise XingchengError(f"{len(report.failures)} value(s) could not be re-encrypted; first: {report.failures[0]}")


app.command("verify-audit")(verify_audit)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (XC_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (XC_PORT).")] = None,
    demo: Annotated[bool, typer.Option(help="Load the small demo city first when the database is empty.")] = False,
) -> None:
    """Serve the API and the web console (migrates the database first)."""
    import uvicorn

    from xingcheng.app import create_app
    from xingcheng.demo.runner import city_is_loaded, load_demo

    settings = get_settings()
    upgrade_database()
    if demo and not city_is_loaded(get_database()):
        console.print("loading the demo city (first start)…")
        load_demo(get_database(), MODULES)
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Xingcheng {xingcheng.__version__} on http://{bind_host}:{bind_port}  (data: {settings.data_dir.resolve()})")
    uvicorn.run(create_app(settings=settings), host=bind_host, port=bind_port, log_level="info")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "input"
        return f"{where}: {first.get('msg', 'invalid').removeprefix('Value error, ')}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {str(exc.orig if hasattr(exc, 'orig') and exc.orig else exc).splitlines()[0]}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 — the promise is one readable line, whatever broke
        import click

        if isinstance(exc, click.ClickException):
            print(f"error: {exc.format_message()}", file=sys.stderr)
            sys.exit(exc.exit_code)
        if isinstance(exc, XingchengError | ValidationError | SQLAlchemyError | ValueError | OSError):
            print(f"error: {_one_line(exc)}", file=sys.stderr)
            sys.exit(1)
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
