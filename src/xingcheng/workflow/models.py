"""Workflow tables: versioned BPMN/DMN definitions, serialised instances, department task inbox, timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xingcheng.core.db import Base, TimestampMixin, utcnow


class WorkflowDefinition(Base):
    """One deployed version of a BPMN process or DMN decision; content is the file as uploaded."""

    __tablename__ = "workflow_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)  # BPMN process id / DMN decision id
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(64))


class WorkflowInstance(TimestampMixin, Base):
    """A running or finished process; ``state`` is SpiffWorkflow's serialised workflow (restart-safe)."""

    __tablename__ = "workflow_instance"
    __table_args__ = (Index("ix_workflow_instance_status_key", "status", "process_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("workflow_definition.id"))
    process_key: Mapped[str] = mapped_column(String(64))
    business_key: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | completed | cancelled
    state: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current_tasks: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Optimistic lock: parallel branches completed at once must not overwrite each other's state.
    version: Mapped[int] = mapped_column(default=1)

    # Its inbox rows; a new instance's are written in the same flush as the rest of the step.
    tasks: Mapped[list[WorkflowTask]] = relationship(order_by="WorkflowTask.id")


class WorkflowTask(TimestampMixin, Base):
    """A ready user task mirrored into its department's inbox."""

    __tablename__ = "workflow_task"
    __table_args__ = (
        Index("ix_workflow_task_department_status", "department_code", "status"),
        UniqueConstraint("instance_id", "engine_task_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instance.id"), index=True)
    engine_task_id: Mapped[str] = mapped_column(String(36))  # SpiffWorkflow task UUID
    task_spec: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    department_code: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32), default="department_staff")
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    # open | claimed | waiting (on hold for the applicant's correction) | completed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open")
    claimed_by: Mapped[int | None] = mapped_column(default=None)  # account id
    claimed_by_name: Mapped[str | None] = mapped_column(String(64), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    suspended_seconds_left: Mapped[int | None] = mapped_column(default=None)  # SLA left when put on hold
    version: Mapped[int] = mapped_column(default=1)


class WorkflowEvent(Base):
    """The instance's timeline: every state change, in order (the audit ledger holds the same facts)."""

    __tablename__ = "workflow_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instance.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(48))
    task_spec: Mapped[str | None] = mapped_column(String(64), default=None)
    actor: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
