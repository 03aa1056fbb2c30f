"""The department side of applications: the inbox with applications attached, and clerks' decisions
(approve, reject, ask for correction) — each one also moves the application and tells the applicant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, NotFound
from xingcheng.core.schemas import PageParams
from xingcheng.egov.applications import service
from xingcheng.egov.applications.models import Application
from xingcheng.workflow import inbox
from xingcheng.workflow.models import WorkflowTask


def application_of_task(session: Session, task: WorkflowTask) -> Application:
    application = session.scalar(select(Application).where(Application.instance_id == task.instance_id))
    if application is None:
        raise NotFound(f"task {task.id} does not belong to an application")
    return application


def inbox_entries(session: Session, *, principal: Principal, page: PageParams, status: str | None = None
                  ) -> tuple[list[dict[str, Any]], int]:
    """The department's queue, most urgent first, each task with its application and SLA countdown."""
    tasks, total = inbox.list_inbox(session, principal=principal, page=page, status=status)
    now = utcnow()
    by_instance = {a.instance_id: a for a in session.scalars(select(Application).where(
        Application.instance_id.in_([t.instance_id for t in tasks])))}
    entries = [{"task_id": t.id, "task_name": t.name, "task_status": t.status, "task_version": t.version,
                "due_at": t.due_at, "seconds_left": inbox.seconds_left(t, now), "application": by_instance[t.instance_id]}
               for t in tasks if t.instance_id in by_instance]
    return entries, total


def decide(session: Session, *, task_id: int, clerk: Principal, action: str, reason: str = "",
           version: int | None = None) -> Application:
    """A clerk acts on an inbox task: approve (pass the step), reject, or ask for correction (补正)."""
    task = inbox.get_task_or_raise(session, task_id=task_id)
    if clerk.department_code != task.department_code:
        raise Forbidden(f"this task belongs to department '{task.department_code}', not yours")
    application = application_of_task(session, task)
    service.sync(session, application)
    if application.status in service.CLOSED:
        raise Conflict(f"the application is {application.status}; it cannot be acted on")
    if application.status == "correction_requested" and task.status == "waiting":
        raise Conflict("the application is waiting for the applicant's correction")
    service.bump(session, application)
    reason = reason.strip()
    if action == "correction":
        inbox.suspend_task(session, task_id=task.id, principal=clerk, reason=reason, version=version)
        application.status, application.correction_note = "correction_requested", reason
        service._event(session, application, "correction", task.name, f"请补正：{reason}")
        service._tell_applicant(session, application, "请补正材料",
                                f"您的“{application.item_name}”申请需要补正：{reason}")
    else:
        approved = action == "approve"
        variables: dict[str, Any] = {"approved": approved, f"{task.task_spec}_approved": approved,
                                     **({"reason": reason} if reason else {})}
        inbox.complete_task(session, task_id=task.id, principal=clerk, variables=variables, version=version)
        if application.status == "submitted":
            application.status = "in_review"
        service._event(session, application, "step", task.name,
                       f"{task.name}：{'通过' if approved else '不予通过'}" + (f"（{reason}）" if reason else ""))
        service.sync(session, application)
    audit.record(session, actor=clerk, action=f"applications.{action}", subject=f"application:{application.number}",
                 details={"task": task.task_spec})
    session.flush()
    return application
