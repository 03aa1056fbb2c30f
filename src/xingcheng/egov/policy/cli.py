"""``xingcheng policy ...``: match an enterprise, preview or push a policy, show the efficiency figures."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xingcheng.core.db import get_database
from xingcheng.core.migrate import upgrade
from xingcheng.egov.policy import matching, service

console = Console()
cli = typer.Typer(help="政策精准推送: match enterprises to 惠企政策, push, and measure.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")]


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


@cli.command("match")
def match_command(credit_code: Annotated[str, typer.Argument(help="unified social credit code")],
                  json_output: JsonFlag = False) -> None:
    """The policies an enterprise qualifies for, with the reasons, and its near misses."""
    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        result = matching.matches_for(session, credit_code=credit_code)
    if json_output:
        _print_json(result)
        return
    console.print(f"[bold]{result['name']}[/]（{credit_code}）：符合 {len(result['qualified'])} 项，"
                  f"差一项 {len(result['near_misses'])} 项")
    for match in result["qualified"]:
        console.print(f"  [green]✓[/] {match['title']} — {match['benefit_note']}")
    for match in result["near_misses"][:20]:
        console.print(f"  [yellow]△[/] {match['title']} — 缺少：{'；'.join(match['missing'])}")


@cli.command("preview")
def preview_command(policy_id: Annotated[int, typer.Argument(help="policy id")],
                    division: Annotated[str | None, typer.Option(help="GB/T 2260 district code")] = None,
                    json_output: JsonFlag = False) -> None:
    """How many enterprises a policy reaches, per district, and what blocks the near misses."""
    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        policy = service.get_or_raise(session, policy_id=policy_id)
        result = matching.preview(session, policy=policy, division_code=division)
    if json_output:
        _print_json(result)
        return
    console.print(f"{policy.title}：{result['qualified']} 户符合，{result['near_misses']} 户差一项"
                  f"（共 {result['enterprises']} 户）")
    table = Table("区县", "符合", "差一项")
    for row in result["by_district"]:
        table.add_row(row["division_name"], str(row["qualified"]), str(row["near_misses"]))
    console.print(table)


@cli.command("push")
def push_command(policy_id: Annotated[int, typer.Argument(help="policy id")], json_output: JsonFlag = False) -> None:
    """Push a published policy to every enterprise that qualifies (re-runs add only new ones)."""
    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        campaign = service.push_policy(session, policy_id=policy_id, actor="cli")
        result = {k: getattr(campaign, k) for k in ("id", "policy_id", "qualified", "new_pushes", "already_pushed",
                                                    "notified_accounts", "grants", "granted_yuan")}
    if json_output:
        _print_json(result)
        return
    console.print(f"推送完成：符合 {result['qualified']} 户，新推送 {result['new_pushes']} 户，"
                  f"此前已推送 {result['already_pushed']} 户，免申即享兑现 {result['grants']} 笔")


@cli.command("stats")
def stats_command(json_output: JsonFlag = False) -> None:
    """Pushes, feedback precision and amounts granted."""
    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        result = service.stats(session)
    if json_output:
        _print_json(result)
        return
    for key, value in result.items():
        console.print(f"{key}: {value}")
