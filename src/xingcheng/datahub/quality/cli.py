"""``xingcheng quality report``: measure the registries (and datasets) and print the figures."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from xingcheng.core.audit.sequencer import sequence_pending
from xingcheng.core.db import get_database
from xingcheng.core.migrate import upgrade
from xingcheng.datahub.quality import service

console = Console()
cli = typer.Typer(help="Data quality (数据质量): reports for the base registries and catalogue datasets.",
                  no_args_is_help=True)


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


@cli.command("report")
def report_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with the figures.")] = False,
    datasets: Annotated[bool, typer.Option("--datasets/--no-datasets", help="Also measure every dataset holding rows.")] = False,
    subject: Annotated[list[str] | None, typer.Option("--subject", help="Only this subject (repeatable).")] = None,
) -> None:
    """Measure completeness, validity, uniqueness, consistency and timeliness; keep the reports as history."""
    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        service.run(session, actor="cli:quality", subjects=subject or None, datasets=datasets)
        figures = service.summary(session)
    sequence_pending(database)
    if json_output:
        print(json.dumps(figures, ensure_ascii=False, default=str))
        return
    table = Table(title="数据质量报告 (target > 98%)")
    for column in ("subject", "records", "completeness", "validity", "uniqueness", "consistency", "timeliness",
                   "accuracy", "defects"):
        table.add_column(column, justify="left" if column == "subject" else "right")
    for name, m in figures["registries"].items():
        table.add_row(name, str(m["records"]), *(_pct(m[k]) for k in ("completeness", "validity", "uniqueness",
                                                                      "consistency", "timeliness", "accuracy")),
                      str(m["defects"]))
    average = figures["datasets"]["average"]
    if average:
        table.add_row(f"datasets (mean of {figures['datasets']['measured']})", "", *(_pct(average[k]) for k in (
            "completeness", "validity", "uniqueness", "consistency", "timeliness", "accuracy")), "")
    console.print(table)
    found = figures["detection"]
    if found["labelled"]:
        console.print(f"defect detection vs labels: precision {found['precision']:.4f}, recall {found['recall']:.4f} "
                      f"({found['true_positives']} of {found['labelled']} labelled found, {found['detected']} reported)")
