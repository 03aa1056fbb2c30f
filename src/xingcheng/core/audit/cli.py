"""``xingcheng verify-audit``: recompute the audit ledger; OK with the tree size, or the first finding and exit 1."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from xingcheng.core.audit.verify import verify_ledger
from xingcheng.core.db import get_database

app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)


@app.command("verify")
def verify_audit(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object with the report."),
) -> None:
    """Recompute every leaf, subtree and signed tree head of the audit ledger; exit 1 on the first problem."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("verifying audit ledger"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=json_output or not console.is_terminal, transient=True,
    ) as bar:
        task = bar.add_task("leaves", total=None)
        report = verify_ledger(
            get_database(), progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    if json_output:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    elif report.ok:
        print(f"OK: audit ledger verified — tree size {report.tree_size} ({report.algorithm}), "
              f"{report.tree_heads_checked} signed tree heads, {report.pending} entries awaiting sequencing")
    else:
        first = report.first
        assert first is not None
        print(first.message, file=sys.stderr)
    if not report.ok:
        raise typer.Exit(1)
