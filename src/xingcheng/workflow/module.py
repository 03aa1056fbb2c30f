"""The workflow engine's declaration: routes, CLI (deploy, escalate), demo deployment, nav, cockpit card."""

from __future__ import annotations

import json

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xingcheng.core.db import get_database
from xingcheng.core.registry import CockpitCard, DemoContext, DemoStep, Module
from xingcheng.workflow import inbox, service
from xingcheng.workflow.api import router
from xingcheng.workflow.models import WorkflowInstance

cli = typer.Typer(help="BPMN/DMN workflow engine (业务中台).", no_args_is_help=True)


@cli.command("deploy")
def deploy_command(as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Deploy the processes and decision tables shipped with the platform (new versions only when changed)."""
    with get_database().session_scope() as session:
        rows = [{"key": d.key, "kind": d.kind, "version": d.version} for d in service.deploy_shipped(session)]
    typer.echo(json.dumps({"definitions": rows}, ensure_ascii=False) if as_json else
               "\n".join(f"{r['kind']:4} {r['key']} v{r['version']}" for r in rows))


@cli.command("escalate")
def escalate_command(as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Mark tasks past their deadline and notify their departments (run from a scheduler)."""
    with get_database().session_scope() as session:
        count = inbox.escalate_overdue(session)
    typer.echo(json.dumps({"escalated": count}) if as_json else f"escalated {count} overdue task(s)")


def deploy_demo(session: Session, _ctx: DemoContext) -> None:
    service.deploy_shipped(session)


def running_instances(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(WorkflowInstance)
                              .where(WorkflowInstance.status == "running")) or 0)


module = Module(
    name="workflow",
    router=router,
    cli=cli,
    cli_name="workflow",
    demo_steps=(DemoStep("workflow_definitions", deploy_demo, description="deploy the shipped BPMN processes and DMN tables"),),
    cockpit_cards=(CockpitCard("workflow_running", "在办流程", running_instances, unit="件", order=60),),
)
