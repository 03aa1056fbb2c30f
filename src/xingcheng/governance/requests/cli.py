"""``xingcheng requests ...``: route a text, evaluate the router on a labelled file, run the SLA check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

cli = typer.Typer(help="Citizen requests (民生诉求): routing, evaluation, SLA.", no_args_is_help=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@cli.command("route")
def route_command(
    text: Annotated[str, typer.Argument(help="The request in the citizen's words.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Which category and department a request goes to, and how sure the router is."""
    from xingcheng.governance.requests.categories import by_code
    from xingcheng.governance.requests.classifier import MAX_LEN, get_router
    from xingcheng.governance.requests.service import CONFIDENCE_THRESHOLD

    if not text.strip():
        _fail("the text is empty")
    if len(text) > MAX_LEN:
        _fail(f"the text is longer than {MAX_LEN} characters")
    result = get_router().route(text)
    category = by_code()[result.category_code]
    payload = {
        "category_code": result.category_code, "category_name": category.name, "department_code": result.department_code,
        "confidence": result.confidence, "queued_for_dispatcher": result.confidence < CONFIDENCE_THRESHOLD,
        "alternatives": [{"department_code": d, "probability": p} for d, p in result.alternatives],
    }
    if json_output:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    queue = "（置信度低，进入人工派单队列）" if payload["queued_for_dispatcher"] else ""
    typer.echo(f"{category.name} → {result.department_code}  置信度 {result.confidence:.0%}{queue}")
    for code, p in result.alternatives:
        typer.echo(f"  其次: {code} {p:.0%}")


@cli.command("eval")
def eval_command(
    file: Annotated[Path, typer.Argument(help="JSON lines: {\"text\", \"department_code\"} per line.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print only {n, accuracy, per_department}.")] = False,
) -> None:
    """Department accuracy and per-department recall of the router on a labelled file."""
    from xingcheng.governance.requests.classifier import evaluate, get_router

    if not file.is_file():
        _fail(f"no such file: {file}")
    pairs: list[tuple[str, str]] = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {file}: {exc}")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, code = item["text"], item["department_code"]
        except (ValueError, KeyError, TypeError):
            _fail(f"{file}:{number}: not a JSON object with 'text' and 'department_code'")
        if not isinstance(text, str) or not isinstance(code, str) or not text.strip():
            _fail(f"{file}:{number}: 'text' and 'department_code' must be non-empty strings")
        pairs.append((text, code))
    if not pairs:
        _fail(f"{file} holds no labelled requests")
    result = evaluate(get_router(), pairs)
    if json_output:
        typer.echo(json.dumps({"n": result.n, "accuracy": result.accuracy, "per_department": {
            code: v["recall"] for code, v in result.per_department.items()
        }}, ensure_ascii=False))
        return
    typer.echo(f"{result.n} requests, department accuracy {result.accuracy:.1%}")
    for code, v in sorted(result.per_department.items(), key=lambda kv: kv[1]["recall"]):
        typer.echo(f"  {code:<10} n={v['n']:<4} recall {v['recall']:.0%}")


@cli.command("sla")
def sla_command(json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Warn, escalate and auto-close once now (the server does this every five minutes)."""
    from xingcheng.core.db import get_database
    from xingcheng.core.migrate import is_current

    database = get_database()
    try:
        current = is_current(database.engine)
    except Exception as exc:  # noqa: BLE001 - one readable line for any database failure
        _fail(f"cannot reach the database: {type(exc).__name__}")
    if not current:
        _fail("the database is not migrated; run 'xingcheng db upgrade' first")
    from xingcheng.core.audit.sequencer import sequence_pending
    from xingcheng.governance.requests.runtime import sla_once

    report = sla_once()
    sequence_pending(database)
    if json_output:
        typer.echo(json.dumps(report))
    else:
        typer.echo(f"warned {report['warned']}, escalated {report['escalated']}, auto-closed {report['auto_closed']}")
