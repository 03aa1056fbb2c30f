"""The workflow engine's declaration: routes, CLI (deploy, escalate), demo deployment, nav, cockpit card."""

from __future__ import annotations

import json
import logging
import os
import threading

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


log = logging.getLogger("xingcheng.workflow")


class Escalator:
    """Runs ``escalate_overdue`` every ``XC_WORKFLOW__ESCALATION_SECONDS`` (default 60; 0 = off) inside ``serve``."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def interval() -> float:
        try:
            return max(float(os.environ.get("XC_WORKFLOW__ESCALATION_SECONDS", "60")), 0.0)
        except ValueError:
            return 60.0

    def run_once(self) -> int:
        with get_database().session_scope() as session:
            return inbox.escalate_overdue(session)

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                count = self.run_once()
                if count:
                    log.info("escalated %d overdue task(s)", count)
            except Exception:
                log.warning("task escalation failed; retrying in %.0f s", every, exc_info=True)

    def start(self) -> None:
        every = self.interval()
        if every <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(every,), name="xc-escalator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


ESCALATOR = Escalator()


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
    on_startup=ESCALATOR.start,
    on_shutdown=ESCALATOR.stop,
)
