"""citizen requests (民生诉求, Open311)

Revision ID: 0013
Revises: 0002
Create Date: 2026-11-25 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db

revision = "0013"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('citizen_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket', sa.String(length=20), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('client_name', sa.String(length=128), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category_code', sa.String(length=16), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('route_confidence', sa.Float(), nullable=True),
    sa.Column('route_method', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('division_code', sa.String(length=6), nullable=True),
    sa.Column('street', sa.String(length=32), nullable=True),
    sa.Column('citizen_account_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=64), nullable=True),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('contact_email', sa.String(length=128), nullable=True),
    sa.Column('media_url', sa.String(length=300), nullable=True),
    sa.Column('sla_days', sa.Integer(), nullable=False),
    sa.Column('due_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('warned_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('assigned_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('replied_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('transfer_count', sa.Integer(), nullable=False),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('duplicate_count', sa.Integer(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('feedback', sa.Text(), nullable=True),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_account_id'], ['account.id'], name=op.f('fk_citizen_request_citizen_account_id_account')),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], name=op.f('fk_citizen_request_department_code_department')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['citizen_request.id'], name=op.f('fk_citizen_request_merged_into_id_citizen_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_request')),
    sa.UniqueConstraint('ticket', name=op.f('uq_citizen_request_ticket')),
    sa.UniqueConstraint('token', name=op.f('uq_citizen_request_token'))
    )
    op.create_index('ix_citizen_request_category_created', 'citizen_request', ['category_code', 'created_at'], unique=False)
    op.create_index(op.f('ix_citizen_request_citizen_account_id'), 'citizen_request', ['citizen_account_id'], unique=False)
    op.create_index('ix_citizen_request_division', 'citizen_request', ['division_code'], unique=False)
    op.create_index('ix_citizen_request_status_department', 'citizen_request', ['status', 'department_code'], unique=False)
    op.create_table('citizen_request_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['citizen_request.id'], name=op.f('fk_citizen_request_event_request_id_citizen_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_request_event'))
    )
    op.create_index('ix_citizen_request_event_request', 'citizen_request_event', ['request_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index("ix_citizen_request_event_request", table_name="citizen_request_event")
    op.drop_table("citizen_request_event")
    op.drop_index("ix_citizen_request_status_department", table_name="citizen_request")
    op.drop_index("ix_citizen_request_division", table_name="citizen_request")
    op.drop_index(op.f("ix_citizen_request_citizen_account_id"), table_name="citizen_request")
    op.drop_index("ix_citizen_request_category_created", table_name="citizen_request")
    op.drop_table("citizen_request")
