"""Citizen requests (民生诉求): the request itself and its timeline of handling steps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xingcheng.core.db import Base, TimestampMixin, utcnow


class CitizenRequest(TimestampMixin, Base):
    """One request from a citizen, whichever channel it came by (web, API, Open311).

    Status: ``dispatch`` (routing unsure: in the dispatcher's queue) → ``assigned`` (to a department)
    → ``accepted`` → ``replied`` → ``closed`` (citizen confirmed, or no answer in time); a reopen goes
    back to ``accepted``; a duplicate is ``merged`` into the first request of its place and kind.
    """

    __tablename__ = "citizen_request"
    __table_args__ = (
        Index("ix_citizen_request_status_department", "status", "department_code"),
        Index("ix_citizen_request_category_created", "category_code", "created_at"),
        Index("ix_citizen_request_division", "division_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket: Mapped[str] = mapped_column(String(20), unique=True)  # 工单号, the Open311 service_request_id
    token: Mapped[str] = mapped_column(String(32), unique=True)  # Open311 token
    channel: Mapped[str] = mapped_column(String(16))  # web | api | open311 | phone
    client_name: Mapped[str | None] = mapped_column(String(128), default=None)  # Open311 app (API key name)
    description: Mapped[str] = mapped_column(Text)
    category_code: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"), default=None)
    route_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    route_method: Mapped[str] = mapped_column(String(16))  # auto | dispatcher | citizen | transfer
    status: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200), default="")
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    division_code: Mapped[str | None] = mapped_column(String(6), default=None)
    street: Mapped[str | None] = mapped_column(String(32), default=None)  # 街道/镇
    citizen_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None, index=True)
    contact_name: Mapped[str | None] = mapped_column(String(64), default=None)
    contact_phone: Mapped[str | None] = mapped_column(String(20), default=None)
    contact_email: Mapped[str | None] = mapped_column(String(128), default=None)
    media_url: Mapped[str | None] = mapped_column(String(300), default=None)
    sla_days: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    warned_at: Mapped[datetime | None] = mapped_column(default=None)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    replied_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    reply: Mapped[str | None] = mapped_column(Text, default=None)
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("citizen_request.id"), default=None)
    satisfaction: Mapped[int | None] = mapped_column(Integer, default=None)  # 1..5
    feedback: Mapped[str | None] = mapped_column(Text, default=None)

    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.id", cascade="all, delete-orphan"
    )


class RequestEvent(Base):
    """One step in a request's handling, shown to the citizen and the departments as its timeline."""

    __tablename__ = "citizen_request_event"
    __table_args__ = (Index("ix_citizen_request_event_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("citizen_request.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[CitizenRequest] = relationship(back_populates="events")
