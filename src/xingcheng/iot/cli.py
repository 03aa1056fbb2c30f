"""``xingcheng iot ...``: operator commands of the sensing platform."""

from __future__ import annotations

import json
import signal
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xingcheng.core.db import get_database
from xingcheng.core.errors import Unavailable
from xingcheng.core.migrate import upgrade
from xingcheng.core.settings import get_settings
from xingcheng.iot.evaluation import simulate_and_evaluate
from xingcheng.iot.importer import import_things, read_file
from xingcheng.iot.store import close_store, open_store
from xingcheng.iot.worker import SHARE_GROUP, IngestWorker, shared_filter

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


@cli.command("worker")
def worker_command(
    worker_id: Annotated[str, typer.Option("--id", help="Stable client id of this worker slot, e.g. xc-ingest-1.")],
    group: Annotated[str, typer.Option(help="Shared-subscription group the workers split the load in.")] = SHARE_GROUP,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000, help="Observations per durable write.")] = 5000,
) -> None:
    """Consume device observations from MQTT (shared subscription, manual acks after the durable write)."""
    settings = get_settings()
    if not settings.mqtt_url:
        raise Unavailable("set XC_MQTT_URL to the broker the devices publish to (e.g. mqtt://127.0.0.1:1883)")
    database = get_database()
    upgrade(database.engine)
    store = open_store()  # one clear line when the serving process holds the embedded store
    worker = IngestWorker(settings.mqtt_url, client_id=worker_id, database=database, store=store, group=group,
                          batch_size=batch_size)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    console.print(f"ingest worker {worker_id} consuming {shared_filter(group)} (Ctrl+C to stop)")
    worker.start()
    try:
        while not stop.wait(10.0):
            s = worker.stats
            console.print(f"{s.messages} messages: {s.accepted} accepted, {s.duplicate} duplicate, {s.rejected} rejected")
    finally:
        worker.stop()
        close_store()


@cli.command("evaluate")
def evaluate_command(
    seed: Annotated[int, typer.Option(help="Random seed of the simulated day.")] = 7,
    hours: Annotated[int, typer.Option(min=6, max=168, help="Simulated hours.")] = 24,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
) -> None:
    """Score the city's alert rules: a simulated day with labelled incidents and near misses, precision and recall."""
    database = get_database()
    upgrade(database.engine)
    spinner = console.status("simulating and evaluating…", spinner="dots") if not json_output else nullcontext()
    with database.session_scope() as session, spinner:
        result = simulate_and_evaluate(session, seed=seed, hours=hours)
    if json_output:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    table = Table(title=f"alert accuracy: {result.things} sensors, {result.observations:,} observations, {hours} h")
    for column in ("incidents", "near misses", "alerts", "true pos.", "false pos.", "precision", "recall", "mean detection"):
        table.add_column(column, justify="right")
    table.add_row(str(result.incidents), str(result.near_misses), str(result.alerts), str(result.true_positives),
                  str(result.false_positives), f"{result.precision:.1%}", f"{result.recall:.1%}",
                  f"{result.mean_detection_minutes} min" if result.mean_detection_minutes is not None else "-")
    Console().print(table)
    for kind, figures in result.by_type.items():
        Console().print(f"  {kind}: {figures['incidents']:.0f} incidents, recall {figures['recall']:.1%}")
