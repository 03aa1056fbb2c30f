"""``xingcheng iot ...``: operator commands of the sensing platform."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xingcheng.core.auth import SYSTEM
from xingcheng.core.db import get_database
from xingcheng.core.errors import Invalid, Unavailable
from xingcheng.core.migrate import upgrade
from xingcheng.core.settings import get_settings
from xingcheng.iot import quality, simulator
from xingcheng.iot.evaluation import simulate_and_evaluate
from xingcheng.iot.export import export_observations
from xingcheng.iot.importer import import_things, read_file
from xingcheng.iot.retention import apply_retention
from xingcheng.iot.store import borrowed_store, close_store, open_store
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


@cli.command("quality")
def quality_command(
    day: Annotated[str | None, typer.Option("--date", help="Beijing day YYYY-MM-DD; default: the newest data's day.")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department's datastreams.")] = None,
    save: Annotated[bool, typer.Option(help="Keep the report in the daily history.")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
) -> None:
    """The daily data-quality report: completeness, validity, timeliness, duplicates, stuck and silent sensors."""
    try:
        wanted = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise Invalid(f"--date must be YYYY-MM-DD, not {day!r}") from exc
    database = get_database()
    upgrade(database.engine)
    store = open_store()  # one clear line when the serving process holds the embedded store
    try:
        with database.session_scope() as session:
            report = quality.compute_report(session, store=store, day=wanted or quality.latest_data_day(store),
                                            department_code=department)
            if save and department is None:
                quality.save_report(session, report, actor=SYSTEM)
    finally:
        close_store()
    if json_output:
        print(report.model_dump_json())
        return
    out = Console()

    def pct(value: float | None) -> str:
        return f"{value:.2%}" if value is not None else "-"

    table = Table(title=f"数据质量日报 {report.day.isoformat()}（目标 {report.target:.0%}）")
    for column in ("部门", "数据流", "应收", "实收", "完整率", "有效率", "及时率", "重复", "拒收", "僵死", "静默"):
        table.add_column(column, justify="right")
    rows = [(d.department_name, d) for d in report.departments] + [("全市", report.summary)]
    for name, f in rows:
        table.add_row(name, str(f.datastreams), f"{f.expected:,}", f"{f.received:,}", pct(f.completeness),
                      pct(f.validity), pct(f.timeliness), str(f.duplicates), str(f.rejected), str(f.stuck), str(f.silent))
    out.print(table)
    for p in report.problems[:10]:
        flags = "、".join(flag for flag, on in (("静默", p.silent), ("僵死", p.stuck)) if on) or "缺数"
        out.print(f"  {p.key}  {p.thing_name}  完整率 {pct(p.completeness)}  {flags}")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


@cli.command("export")
def export_command(
    since: Annotated[str | None, typer.Option(help="First UTC day to export (YYYY-MM-DD); default: the oldest stored.")] = None,
    until: Annotated[str | None, typer.Option(help="Last UTC day to export (YYYY-MM-DD); default: the newest stored.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
) -> None:
    """Export observations to the Parquet lake (lake/observations/date=…/property=…); a re-exported day is replaced."""
    first, last = _day(since, "--since"), _day(until, "--until")
    database = get_database()
    upgrade(database.engine)
    spinner = console.status("exporting…", spinner="dots") if not json_output else nullcontext()
    with database.session_scope() as session, borrowed_store() as store, spinner:
        report = export_observations(session, store, since=first, until=last)
    if json_output:
        print(json.dumps(report.as_dict()))
        return
    console.print(f"[green]{report.rows:,} observations of {report.days} day(s) in {report.files} file(s)[/] "
                  f"under {report.root} ({report.seconds:.1f} s)")


@cli.command("retention")
def retention_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
) -> None:
    """Roll raw observations older than XC_IOT__RAW_RETENTION_DAYS up into hours, delete them, expire old roll-ups."""
    with borrowed_store() as store:
        report = apply_retention(store, now=datetime.now().astimezone())
    if json_output:
        print(json.dumps(report.as_dict()))
        return
    console.print(f"raw before {report.raw_before}: {report.raw_deleted:,} rows rolled into {report.hours_rolled_up:,} "
                  f"hourly buckets and deleted; {report.rollup_deleted:,} roll-ups before {report.rollup_before} expired")


@cli.command("simulate")
def simulate_command(
    rate: Annotated[float | None, typer.Option(min=0.1, max=100_000, help="Observations/s (default: natural).")] = None,
    minutes: Annotated[float | None, typer.Option(min=0.1, help="Stop after this many minutes; default: until Ctrl+C.")] = None,
    mqtt: Annotated[bool, typer.Option("--mqtt/--inprocess", help="Publish to the broker, or ingest in-process.")] = True,
    fault_rate: Annotated[float, typer.Option(min=0.0, max=0.5, help="Fault chance per reading.")] = 0.0005,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
) -> None:
    """Stream a live, realistic feed for the demo city's sensors (diurnal rhythms, weather, rush hours, faults)."""
    settings = get_settings()
    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        feed = simulator.Simulator.from_registry(session, seed=seed, rate=rate, fault_rate=fault_rate)
    if not feed.streams:
        raise Unavailable("no active sensors are registered: run `xingcheng demo load` or `xingcheng iot import` first")
    closer: Callable[[], None]
    if mqtt:
        if not settings.mqtt_url:
            raise Unavailable("set XC_MQTT_URL to the broker (e.g. mqtt://127.0.0.1:1883) or use --inprocess")
        try:
            sink_mqtt = simulator.MqttSink(settings.mqtt_url)
        except (OSError, ValueError) as exc:
            raise Unavailable(f"cannot reach the MQTT broker: {exc}") from exc
        sink: simulator.Sink = sink_mqtt
        closer = sink_mqtt.close
    else:
        store = open_store()  # one clear line when the serving process holds the embedded store
        sink, closer = simulator.inprocess_sink(database.session_scope, store), close_store
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    console.print(f"simulating {len(feed.streams)} datastreams at {feed.natural_rate():.1f} observations/s "
                  f"({'MQTT' if mqtt else 'in-process'}; Ctrl+C to stop)")
    total = simulator.Delivery()
    last_report = time.monotonic()
    try:
        for delivered in simulator.run(feed, sink, seconds=minutes * 60 if minutes else None, stop=stop):
            total.add(delivered)
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                console.print(f"{total.published} published, {total.accepted} accepted, {total.rejected} rejected")
    finally:
        closer()
    console.print(f"done: {total.published} published, {total.accepted} accepted, {total.duplicate} duplicate, "
                  f"{total.rejected} rejected")
