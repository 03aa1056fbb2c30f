"""iot alert rules, their streaming state, and alerts

Revision ID: 0015
Revises: 0004
Create Date: 2026-11-25 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db

revision = '0015'
down_revision = '0004'
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('open', 'acknowledged')")


def upgrade() -> None:
    op.create_table('iot_alert_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('property', sa.String(length=64), nullable=False),
    sa.Column('thing_kind', sa.String(length=32), nullable=True),
    sa.Column('division_code', sa.String(length=6), nullable=True),
    sa.Column('thing_key', sa.String(length=64), nullable=True),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iot_alert_rule')),
    sa.UniqueConstraint('key', name=op.f('uq_iot_alert_rule_key'))
    )
    op.create_table('iot_alert_rule_state',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=130), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['iot_alert_rule.id'], name=op.f('fk_iot_alert_rule_state_rule_id_iot_alert_rule'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rule_id', 'subject', name=op.f('pk_iot_alert_rule_state'))
    )
    op.create_table('iot_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('thing_key', sa.String(length=64), nullable=True),
    sa.Column('datastream_key', sa.String(length=130), nullable=True),
    sa.Column('division_code', sa.String(length=6), nullable=True),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('opened_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('closed_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['iot_alert_rule.id'], name=op.f('fk_iot_alert_rule_id_iot_alert_rule'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iot_alert'))
    )
    op.create_index(op.f('ix_iot_alert_division_code'), 'iot_alert', ['division_code'], unique=False)
    op.create_index(op.f('ix_iot_alert_department_code'), 'iot_alert', ['department_code'], unique=False)
    op.create_index('ix_iot_alert_status_opened', 'iot_alert', ['status', 'opened_at'], unique=False)
    op.create_index('uq_iot_alert_live_dedup', 'iot_alert', ['dedup_key'], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    op.drop_index('uq_iot_alert_live_dedup', table_name='iot_alert')
    op.drop_index('ix_iot_alert_status_opened', table_name='iot_alert')
    op.drop_index(op.f('ix_iot_alert_department_code'), table_name='iot_alert')
    op.drop_index(op.f('ix_iot_alert_division_code'), table_name='iot_alert')
    op.drop_table('iot_alert')
    op.drop_table('iot_alert_rule_state')
    op.drop_table('iot_alert_rule')
