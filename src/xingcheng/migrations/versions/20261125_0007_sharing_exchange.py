"""sharing exchange: share requests, push subscriptions, delivery log

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-25 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("dataset_slug", sa.String(length=140), nullable=False),
        sa.Column("owner_department_code", sa.String(length=32), nullable=False),
        sa.Column("requester_department_code", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("legal_basis", sa.String(length=500), nullable=False),
        sa.Column("requested_until", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("last_cursor", sa.String(length=40), nullable=True),
        sa.Column("created_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["catalog_dataset.id"],
                                name=op.f("fk_exchange_request_dataset_id_catalog_dataset"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_department_code"], ["department.code"],
                                name=op.f("fk_exchange_request_owner_department_code_department")),
        sa.ForeignKeyConstraint(["requester_department_code"], ["department.code"],
                                name=op.f("fk_exchange_request_requester_department_code_department")),
        sa.ForeignKeyConstraint(["grant_id"], ["data_grant.id"], name=op.f("fk_exchange_request_grant_id_data_grant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_request")),
    )
    with op.batch_alter_table("exchange_request", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_request_owner_status", ["owner_department_code", "status"], unique=False)
        batch_op.create_index("ix_exchange_request_requester", ["requester_department_code"], unique=False)

    op.create_table(
        "exchange_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("cursor", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("last_run_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["exchange_request.id"],
                                name=op.f("fk_exchange_subscription_request_id_exchange_request"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_subscription")),
    )
    with op.batch_alter_table("exchange_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_subscription_request_id"), ["request_id"], unique=False)

    op.create_table(
        "exchange_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("dataset_slug", sa.String(length=140), nullable=False),
        sa.Column("owner_department_code", sa.String(length=32), nullable=False),
        sa.Column("consumer_department_code", sa.String(length=32), nullable=False),
        sa.Column("division_code", sa.String(length=12), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("cursor_from", sa.String(length=40), nullable=False),
        sa.Column("cursor_to", sa.String(length=40), nullable=False),
        sa.Column("grant_ids", sa.JSON(), nullable=False),
        sa.Column("file", sa.String(length=300), nullable=True),
        sa.Column("audit_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("delivered_by", sa.String(length=128), nullable=False),
        sa.Column("delivered_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["exchange_request.id"],
                                name=op.f("fk_exchange_delivery_request_id_exchange_request"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["subscription_id"], ["exchange_subscription.id"],
                                name=op.f("fk_exchange_delivery_subscription_id_exchange_subscription"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_delivery")),
    )
    with op.batch_alter_table("exchange_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_delivery_day", ["day"], unique=False)
        batch_op.create_index("ix_exchange_delivery_consumer", ["consumer_department_code", "day"], unique=False)
        batch_op.create_index("ix_exchange_delivery_hash", ["content_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exchange_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_delivery_hash")
        batch_op.drop_index("ix_exchange_delivery_consumer")
        batch_op.drop_index("ix_exchange_delivery_day")
    op.drop_table("exchange_delivery")
    with op.batch_alter_table("exchange_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_subscription_request_id"))
    op.drop_table("exchange_subscription")
    with op.batch_alter_table("exchange_request", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_request_requester")
        batch_op.drop_index("ix_exchange_request_owner_status")
    op.drop_table("exchange_request")
