"""Exchange tables: share requests (申请), push subscriptions (订阅) and the delivery log (交付记录)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin

REQUEST_STATES = ("pending", "approved", "rejected", "withdrawn")
CHANNELS = ("pull", "event", "file")


class ShareRequest(TimestampMixin, Base):
    """A department asks the owner of a dataset for (some of) its fields, for one purpose, on a legal basis."""

    __tablename__ = "exchange_request"
    __table_args__ = (
        Index("ix_exchange_request_owner_status", "owner_department_code", "status"),
        Index("ix_exchange_request_requester", "requester_department_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_dataset.id", ondelete="CASCADE"))
    dataset_slug: Mapped[str] = mapped_column(String(140))  # kept for display and audit subjects
    owner_department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    requester_department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    requested_by: Mapped[str] = mapped_column(String(128))
    fields: Mapped[list[str] | None] = mapped_column(JSON, default=None)  # None: every field
    purpose: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str] = mapped_column(String(500))
    requested_until: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # REQUEST_STATES
    decided_by: Mapped[str | None] = mapped_column(String(128), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("data_grant.id"), default=None)
    last_cursor: Mapped[str | None] = mapped_column(String(40), default=None)  # the last cursor handed out by a pull


class ShareSubscription(TimestampMixin, Base):
    """Push delivery of an approved request: new rows go to the consumer's event topic or as Parquet/Arrow files."""

    __tablename__ = "exchange_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("exchange_request.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # event | file
    cursor: Mapped[str] = mapped_column(String(40), default="")  # rows before it were delivered
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(128))
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    # File pushes only; None is the delivery default (parquet; its first codec in delivery.COMPRESSIONS).
    file_format: Mapped[str | None] = mapped_column(String(8), default=None)  # arrow | parquet
    compression: Mapped[str | None] = mapped_column(String(8), default=None)


class Delivery(Base):
    """One delivery of rows to a consumer, with the hash of the delivered bytes (also in the audit ledger)."""

    __tablename__ = "exchange_delivery"
    __table_args__ = (
        Index("ix_exchange_delivery_day", "day"),
        Index("ix_exchange_delivery_consumer", "consumer_department_code", "day"),
        Index("ix_exchange_delivery_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_request.id", ondelete="SET NULL"), default=None)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_subscription.id", ondelete="SET NULL"), default=None)
    dataset_slug: Mapped[str] = mapped_column(String(140))
    owner_department_code: Mapped[str] = mapped_column(String(32))
    consumer_department_code: Mapped[str] = mapped_column(String(32))
    division_code: Mapped[str | None] = mapped_column(String(12), default=None)  # the consumer's division
    channel: Mapped[str] = mapped_column(String(8))  # CHANNELS
    format: Mapped[str] = mapped_column(String(16))  # json | arrow | parquet
    purpose: Mapped[str] = mapped_column(String(100))
    records: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the delivered bytes
    cursor_from: Mapped[str] = mapped_column(String(40))
    cursor_to: Mapped[str] = mapped_column(String(40))
    grant_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    file: Mapped[str | None] = mapped_column(String(300), default=None)  # relative to the data dir
    audit_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    delivered_by: Mapped[str] = mapped_column(String(128))
    delivered_at: Mapped[datetime]
    day: Mapped[date]
