"""``xingcheng iot ...``: operator commands of the sensing platform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from xingcheng.core.db import get_database
from xingcheng.core.migrate import upgrade
from xingcheng.iot.importer import import_things, read_file

console = Console(stderr=True)
cli = typer.Typer(help="IoT sensing (物联感知): sensor registry and observations.", no_args_is_help=True)


@cli.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV (header row) or JSON list.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with the counts and seconds.")] = False,
) -> None:
    """Register things and their datastreams in bulk; already registered keys are skipped."""
    database = get_database()
    upgrade(database.engine)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=json_output,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        table = read_file(file)
        with database.session_scope() as session:
            report = import_things(session, table=table, progress=progress)
    if json_output:
        print(json.dumps(report.model_dump()))
        return
    console.print(
        f"[green]{report.things} things and {report.datastreams} datastreams registered[/] "
        f"({report.skipped} already known) in {report.seconds:.1f} s"
    )
