"""``xingcheng exchange ...``: run push subscriptions and print exchange statistics."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from xingcheng.core.audit.sequencer import sequence_pending
from xingcheng.core.db import get_database
from xingcheng.core.events import create_bus
from xingcheng.core.migrate import upgrade
from xingcheng.core.outbox import current_bus, set_bus
from xingcheng.core.settings import get_settings
from xingcheng.datahub.exchange import flows
from xingcheng.datahub.exchange.stats import exchange_stats

console = Console(stderr=True)
cli = typer.Typer(help="Sharing exchange (共享交换): push deliveries and statistics.", no_args_is_help=True)


@cli.command("push")
def push_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with the per-subscription results.")]
    = False,
) -> None:
    """Deliver new rows to every active subscription (event topic, or file in its stored format), then sequence the audit log."""
    database = get_database()
    upgrade(database.engine)
    previous = current_bus()
    bus = previous or create_bus(get_settings().mqtt_url, client_id="xingcheng-exchange-push")
    set_bus(bus)
    try:
        with database.session_scope() as session:
            results = flows.run_due(session)
    finally:
        set_bus(previous)
        if bus is not previous:
            bus.close()
    sequence_pending(database)
    summary: dict[str, Any] = {"subscriptions": len(results), "records": sum(r["records"] for r in results),
                               "deliveries": sum(r["deliveries"] for r in results), "results": results}
    if json_output:
        print(json.dumps(summary, ensure_ascii=False))
        return
    for result in results:
        console.print(f"#{result['subscription_id']}: {result['status']} {result['records']} 条 {result['detail']}")
    console.print(f"[green]{summary['records']} records in {summary['deliveries']} deliveries[/]")


@cli.command("stats")
def stats_command(
    days: Annotated[int, typer.Option(min=1, max=366, help="Window of the per-day figures.")] = 30,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Records exchanged: cumulative total, per consumer department, district and day."""
    with get_database().session_scope() as session:
        stats = exchange_stats(session, days=days)
    if json_output:
        print(json.dumps(stats, ensure_ascii=False, default=str))
        return
    console.print(f"累计交换 {stats['total_records']:,} 条（{stats['total_deliveries']:,} 次交付）")
    for row in stats["by_consumer"][:10]:
        console.print(f"  {row['key']:<10} {row['records']:>12,}")
