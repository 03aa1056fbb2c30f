"""Applications for service items, their materials, uploads, the citizen-facing timeline and ratings (好差评)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xingcheng.core.db import Base, TimestampMixin, utcnow
from xingcheng.workflow.models import WorkflowInstance


class Application(TimestampMixin, Base):
    """One application (办件) for a catalogue item, run by a workflow instance."""

    __tablename__ = "service_application"
    __table_args__ = (
        UniqueConstraint("applicant_account_id", "idempotency_key"),
        Index("ix_service_application_applicant", "applicant_account_id", "submitted_at"),
        Index("ix_service_application_item_status", "item_code", "status"),
        Index("ix_service_application_department_status", "department_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)  # 办件编号, e.g. XC20261125-1A2B3C4D
    item_code: Mapped[str] = mapped_column(ForeignKey("service_item.code"))
    item_name: Mapped[str] = mapped_column(String(128))
    department_code: Mapped[str] = mapped_column(String(32))
    process_key: Mapped[str] = mapped_column(String(64))  # the catalogue's link: generic | enterprise-start | instant-…
    applicant_account_id: Mapped[int] = mapped_column(Integer)
    applicant_kind: Mapped[str] = mapped_column(String(16))  # citizen | enterprise
    applicant_key: Mapped[str] = mapped_column(String(18))  # GB 11643 ID number or GB 32100 credit code
    applicant_name: Mapped[str] = mapped_column(String(128))
    # submitted | in_review | correction_requested | approved | rejected | withdrawn
    status: Mapped[str] = mapped_column(String(24), default="submitted")
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    materials_required: Mapped[int] = mapped_column(Integer, default=0)
    materials_provided: Mapped[int] = mapped_column(Integer, default=0)  # what the applicant had to provide
    visits: Mapped[int] = mapped_column(Integer, default=0)  # trips to a window this application needs
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_instance.id"), default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)  # approved | rejected
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    result_licences: Mapped[list[str]] = mapped_column(JSON, default=list)  # e-licence numbers delivered
    correction_note: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), default=None)
    request_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    materials: Mapped[list[ApplicationMaterial]] = relationship(
        back_populates="application", order_by="ApplicationMaterial.position", cascade="all, delete-orphan")
    # The timeline; a new application's events are written in the same flush as the application itself.
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application", order_by="ApplicationEvent.id", cascade="all, delete-orphan")
    # The process running it. Set at submit, it also keeps the new instance (and its new inbox rows) in the
    # unit of work after the flush, so the answer does not read them back.
    instance: Mapped[WorkflowInstance | None] = relationship()


class ApplicationMaterial(Base):
    """One required material and how it was provided (or why the applicant did not have to)."""

    __tablename__ = "service_application_material"
    __table_args__ = (Index("ix_service_application_material_app", "application_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("service_application.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item_code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    # online_form | upload | e_licence (the applicant referenced one) | registry | auto_licence | produced
    provision: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(64), default=None)  # licence number, upload sha256, registry key
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("service_application_upload.id"), default=None)

    application: Mapped[Application] = relationship(back_populates="materials")


class ApplicationUpload(Base):
    """A file an applicant uploaded for a material; the bytes live under ``<data_dir>/uploads/``."""

    __tablename__ = "service_application_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_account_id: Mapped[int] = mapped_column(Integer, index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplicationEvent(Base):
    """The applicant's timeline: submitted, accepted, 补正, decided, delivered … (staff names stay internal)."""

    __tablename__ = "service_application_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("service_application.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    application: Mapped[Application] = relationship(back_populates="events")


class ApplicationRating(Base):
    """好差评: the applicant's rating (1–5) and comment, once per finished application."""

    __tablename__ = "service_application_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("service_application.id", ondelete="CASCADE"), unique=True)
    item_code: Mapped[str] = mapped_column(String(32), index=True)
    department_code: Mapped[str] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
