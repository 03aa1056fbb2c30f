"""Department inboxes: staff claim and complete their own department's tasks; deadlines escalate.

Claims and completions are optimistic: an UPDATE conditioned on the version the clerk saw, so of
two clerks acting on one task at once exactly one wins and the other gets 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import SYSTEM, Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, NotFound
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.workflow import service
from xingcheng.workflow.models import WorkflowTask

OPEN = ("open", "claimed")


def get_task_or_raise(session: Session, *, task_id: int) -> WorkflowTask:
    task = session.get(WorkflowTask, task_id)
    if task is None:
        raise NotFound(f"no workflow task {task_id}")
    return task


def seconds_left(task: WorkflowTask, now: datetime) -> int | None:
    if task.due_at is None or task.status not in OPEN:
        return None
    return int((task.due_at - now).total_seconds())


def list_inbox(
    session: Session, *, principal: Principal, page: PageParams, status: str | None = None
) -> tuple[list[WorkflowTask], int]:
    """The caller's department queue, most urgent first."""
    if not principal.department_code:
        raise Forbidden("only staff of a department have an inbox")
    statement: Select[WorkflowTask] = select(WorkflowTask).where(
        WorkflowTask.department_code == principal.department_code).order_by(WorkflowTask.due_at, WorkflowTask.id)
    statement = statement.where(WorkflowTask.status == status) if status else statement.where(
        WorkflowTask.status.in_(OPEN))
    return paginate(session, statement, page)


def _authorize(task: WorkflowTask, principal: Principal) -> None:
    if principal.department_code != task.department_code:
        raise Forbidden(f"this task belongs to department '{task.department_code}', not yours")
    if task.role not in principal.roles and "admin" not in principal.roles and task.role != "department_staff":
        raise Forbidden(f"this task needs the role '{task.role}'")


def _bump(session: Session, task: WorkflowTask, seen: int, **values: Any) -> None:
    try:
        result = session.execute(update(WorkflowTask).where(WorkflowTask.id == task.id, WorkflowTask.version == seen)
                                 .values(version=seen + 1, updated_at=utcnow(), **values)
                                 .execution_options(synchronize_session=False))
    except OperationalError as exc:
        # SQLite: our read snapshot predates another clerk's committed write (SQLITE_BUSY_SNAPSHOT);
        # PostgreSQL instead waits for the row lock and then matches no row. Both mean: someone was first.
        if "locked" not in str(exc.orig):
            raise
        raise Conflict("another clerk acted on this task first; reload the inbox") from None
    if getattr(result, "rowcount", 1) != 1:
        raise Conflict("another clerk acted on this task first; reload the inbox")
    for name, value in {"version": seen + 1, **values}.items():
        setattr(task, name, value)


def _check_version(task: WorkflowTask, version: int | None) -> int:
    if version is not None and version != task.version:
        raise Conflict(f"the task changed (version {task.version}, you saw {version}); reload the inbox")
    return task.version


def claim_task(session: Session, *, task_id: int, principal: Principal, version: int | None = None) -> WorkflowTask:
    task = get_task_or_raise(session, task_id=task_id)
    _authorize(task, principal)
    if task.status == "claimed" and task.claimed_by == principal.account_id:
        return task
    if task.status != "open":
        raise Conflict(f"the task is {task.status}" + (f" by {task.claimed_by_name}" if task.claimed_by_name else ""))
    _bump(session, task, _check_version(task, version), status="claimed", claimed_by=principal.account_id,
          claimed_by_name=principal.name[:64])
    service.record_event(session, instance_id=task.instance_id, action="task.claim", task_spec=task.task_spec,
                         actor=principal)
    audit.record(session, actor=principal, action="workflow.task.claim", subject=f"workflow_task:{task.id}")
    return task


def complete_task(
    session: Session, *, task_id: int, principal: Principal, variables: Mapping[str, Any], version: int | None = None
) -> WorkflowTask:
    """Complete a task of the caller's department (claiming it if open) and advance its instance."""
    task = get_task_or_raise(session, task_id=task_id)
    _authorize(task, principal)
    if task.status not in OPEN:
        raise Conflict(f"the task is already {task.status}")
    if task.status == "claimed" and task.claimed_by != principal.account_id:
        raise Conflict(f"the task is claimed by {task.claimed_by_name}")
    _bump(session, task, _check_version(task, version), status="completed", completed_at=utcnow(),
          claimed_by=principal.account_id, claimed_by_name=principal.name[:64])
    service.advance(session, task=task, actor=principal, variables=variables)
    return task


def suspend_task(
    session: Session, *, task_id: int, principal: Principal, reason: str, version: int | None = None
) -> WorkflowTask:
    """Put a task on hold while the applicant corrects the application (补正); the SLA clock stops."""
    task = get_task_or_raise(session, task_id=task_id)
    _authorize(task, principal)
    if task.status not in OPEN:
        raise Conflict(f"the task is {task.status}")
    if task.status == "claimed" and task.claimed_by != principal.account_id:
        raise Conflict(f"the task is claimed by {task.claimed_by_name}")
    left = seconds_left(task, utcnow())
    _bump(session, task, _check_version(task, version), status="waiting", claimed_by=principal.account_id,
          claimed_by_name=principal.name[:64], suspended_seconds_left=left)
    service.record_event(session, instance_id=task.instance_id, action="task.suspend", task_spec=task.task_spec,
                         actor=principal, details={"reason": reason[:500]})
    audit.record(session, actor=principal, action="workflow.task.suspend", subject=f"workflow_task:{task.id}")
    return task


def resume_task(session: Session, *, task_id: int, actor: Principal) -> WorkflowTask:
    """Back into the inbox (claimed by the clerk who asked) with the SLA time that was left."""
    task = get_task_or_raise(session, task_id=task_id)
    if task.status != "waiting":
        raise Conflict(f"the task is {task.status}, not waiting")
    left = task.suspended_seconds_left
    due = utcnow() + timedelta(seconds=left) if left is not None else task.due_at
    _bump(session, task, task.version, status="claimed" if task.claimed_by else "open", due_at=due,
          suspended_seconds_left=None)
    service.record_event(session, instance_id=task.instance_id, action="task.resume", task_spec=task.task_spec,
                         actor=actor)
    audit.record(session, actor=actor, action="workflow.task.resume", subject=f"workflow_task:{task.id}")
    return task


def escalate_overdue(session: Session, *, now: datetime | None = None) -> int:
    """Mark open tasks past their SLA and tell their departments; each task escalates once. Returns the count."""
    now = now or utcnow()
    overdue = list(session.scalars(select(WorkflowTask).where(
        WorkflowTask.status.in_(OPEN), WorkflowTask.due_at < now, WorkflowTask.escalated_at.is_(None))))
    for task in overdue:
        task.escalated_at = now
        notify(session, source="workflow", data=NotificationCreate(
            recipient_kind="department", recipient_key=task.department_code, title=f"待办超期：{task.name}",
            body=f"办件 {task.instance_id} 的“{task.name}”已超过办理时限，请尽快处理。", channels=["in_app", "event"]))
        service.record_event(session, instance_id=task.instance_id, action="task.escalate", task_spec=task.task_spec,
                             actor="system", details={"due_at": task.due_at.isoformat() if task.due_at else None})
        audit.record(session, actor=SYSTEM, action="workflow.task.escalate", subject=f"workflow_task:{task.id}")
    session.flush()
    return len(overdue)
