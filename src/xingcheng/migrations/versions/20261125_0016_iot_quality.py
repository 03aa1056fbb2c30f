"""iot data-quality report history

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('iot_quality_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('datastreams', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('valid', sa.Integer(), nullable=False),
    sa.Column('timely', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('stuck', sa.Integer(), nullable=False),
    sa.Column('silent', sa.Integer(), nullable=False),
    sa.Column('completeness', sa.Float(), nullable=True),
    sa.Column('validity', sa.Float(), nullable=True),
    sa.Column('timeliness', sa.Float(), nullable=True),
    sa.Column('latency_p95_s', sa.Float(), nullable=True),
    sa.Column('computed_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iot_quality_report')),
    sa.UniqueConstraint('day', 'department_code', name=op.f('uq_iot_quality_report_day_department_code'))
    )


def downgrade() -> None:
    op.drop_table('iot_quality_report')
