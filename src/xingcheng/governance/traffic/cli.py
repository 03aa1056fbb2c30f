"""``xingcheng traffic ...``: the SUMO evaluation, network import, retiming and plan application."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from xingcheng.core.db import get_database
from xingcheng.core.migrate import upgrade

console = Console(stderr=True)
cli = typer.Typer(help="Smart traffic (智慧交通): signal retiming and its evaluation in SUMO.", no_args_is_help=True)

LABELS = {
    "mean_delay_s": "mean delay per vehicle (s)",
    "mean_travel_time_s": "mean travel time (s)",
    "mean_speed_kmh": "mean speed (km/h)",
    "mean_stops": "stops per vehicle",
    "throughput": "throughput (vehicles arrived)",
}


@cli.command("evaluate")
def evaluate_command(
    network: Annotated[Path, typer.Option("--network", exists=True, dir_okay=False, help="SUMO .net.xml")],
    routes: Annotated[Path, typer.Option("--routes", exists=True, dir_okay=False,
                                         help="SUMO routes: routes, trips or flows (from/to edges)")],
    hours: Annotated[float, typer.Option("--hours", min=0.05, max=24, help="simulated hours")] = 2.0,
    seed: Annotated[int, typer.Option("--seed", help="SUMO random seed, the same for both runs")] = 42,
    coordinate: Annotated[bool, typer.Option("--coordinate/--no-coordinate", help="green-wave offsets")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object: fixed, adaptive, change_pct.")] = False,
) -> None:
    """Fixed-time (the network's own programs) vs the platform's 15-minute retiming, same demand and seed."""
    from xingcheng.governance.traffic.evaluate import METRICS, evaluate

    if not json_output:
        console.print(f"simulating {hours:g} h twice (fixed, adaptive) on {network.name} …")
    result = evaluate(network, routes, hours=hours, seed=seed, coordinate=coordinate)
    if json_output:
        clean = {part: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
                 for part, values in result.items()}
        print(json.dumps(clean, ensure_ascii=False))
        return
    table = Table(title=f"{network.name} · {routes.name} · {hours:g} h · seed {seed}")
    table.add_column("metric")
    table.add_column("fixed-time", justify="right")
    table.add_column("adaptive", justify="right")
    table.add_column("change", justify="right")
    for key in METRICS:
        table.add_row(LABELS[key], f"{result['fixed'][key]:g}", f"{result['adaptive'][key]:g}",
                      f"{result['change_pct'][key]:+.1f}%")
    Console().print(table)


@cli.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="SUMO .net.xml")],
    key: Annotated[str, typer.Option("--key", help="network key, e.g. wuyi-corridor")],
    name: Annotated[str, typer.Option("--name", help="display name (zh-CN)")],
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a SUMO network: intersections and plans, links, detectors (registered as IoT things)."""
    from xingcheng.governance.traffic.service import import_network

    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        report = import_network(session, path=file, key=key, name=name)
    if json_output:
        print(report.model_dump_json())
        return
    console.print(f"[green]{report.intersections} intersections, {report.links} links, "
                  f"{report.detectors} detectors ({report.datastreams} datastreams) imported as '{key}'[/]")


@cli.command("retime")
def retime_command(
    network: Annotated[str, typer.Option("--network", help="network key")],
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Retime every intersection from the last interval's detector counts; plans take effect at the next boundary."""
    from xingcheng.governance.traffic.planning import retime_network

    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        report = retime_network(session, network_key=network)
    if json_output:
        print(json.dumps(report, default=str))
        return
    console.print(f"{report['retimed']} plans scheduled for {report['effective_at']}, {report['rejected']} rejected, "
                  f"{report['unchanged']} unchanged ({report['seconds']} s)")


@cli.command("apply")
def apply_command(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Send every plan whose time has come to its controller adapter."""
    from xingcheng.governance.traffic.planning import apply_due_plans

    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        report = apply_due_plans(session)
    if json_output:
        print(json.dumps(report))
        return
    console.print(f"{report['applied']} plans applied; {len(report['failed'])} failed")
