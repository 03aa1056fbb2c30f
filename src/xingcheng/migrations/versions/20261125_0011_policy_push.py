"""policy precision push (惠企政策, pushes, 免申即享 grants)

Revision ID: 0011
Revises: 0002
Create Date: 2026-11-25 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db

revision = '0011'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_enterprise_profile',
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('revenue_yuan', sa.BigInteger(), nullable=True),
    sa.Column('export_yuan', sa.BigInteger(), nullable=True),
    sa.Column('graduates_hired', sa.Integer(), nullable=True),
    sa.Column('insured_employees', sa.Integer(), nullable=True),
    sa.Column('layoff_rate_percent', sa.Float(), nullable=True),
    sa.Column('specialised_sme', sa.Boolean(), nullable=True),
    sa.Column('tech_sme', sa.Boolean(), nullable=True),
    sa.Column('invention_patents', sa.Integer(), nullable=True),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('credit_code', name=op.f('pk_policy_enterprise_profile'))
    )
    op.create_table('policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('issuer', sa.String(length=64), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('division_code', sa.String(length=6), nullable=True),
    sa.Column('benefit_amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('benefit_note', sa.String(length=200), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('no_application', sa.Boolean(), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], name=op.f('fk_policy_department_code_department')),
    sa.ForeignKeyConstraint(['division_code'], ['division.code'], name=op.f('fk_policy_division_code_division')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy')),
    sa.UniqueConstraint('code', name=op.f('uq_policy_code'))
    )
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_department_code'), ['department_code'], unique=False)
        batch_op.create_index('ix_policy_status_level', ['status', 'level'], unique=False)

    op.create_table('policy_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('started_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('qualified', sa.Integer(), nullable=False),
    sa.Column('new_pushes', sa.Integer(), nullable=False),
    sa.Column('already_pushed', sa.Integer(), nullable=False),
    sa.Column('notified_accounts', sa.Integer(), nullable=False),
    sa.Column('grants', sa.Integer(), nullable=False),
    sa.Column('granted_yuan', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_policy_campaign_policy_id_policy'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_campaign'))
    )
    with op.batch_alter_table('policy_campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_campaign_policy_id'), ['policy_id'], unique=False)

    op.create_table('policy_push',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('pushed_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('notified_accounts', sa.Integer(), nullable=False),
    sa.Column('feedback', sa.String(length=16), nullable=True),
    sa.Column('feedback_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('feedback_note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['policy_campaign.id'], name=op.f('fk_policy_push_campaign_id_policy_campaign'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_policy_push_policy_id_policy'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_push')),
    sa.UniqueConstraint('policy_id', 'credit_code', name=op.f('uq_policy_push_policy_id_credit_code'))
    )
    with op.batch_alter_table('policy_push', schema=None) as batch_op:
        batch_op.create_index('ix_policy_push_credit_code', ['credit_code', 'pushed_at'], unique=False)
        batch_op.create_index('ix_policy_push_pushed_at', ['pushed_at'], unique=False)

    op.create_table('policy_benefit_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('push_id', sa.Integer(), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('granted_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_policy_benefit_grant_policy_id_policy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['push_id'], ['policy_push.id'], name=op.f('fk_policy_benefit_grant_push_id_policy_push'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_benefit_grant')),
    sa.UniqueConstraint('policy_id', 'credit_code', name=op.f('uq_policy_benefit_grant_policy_id_credit_code'))
    )
    with op.batch_alter_table('policy_benefit_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_benefit_grant_credit_code'), ['credit_code'], unique=False)
        batch_op.create_index('ix_policy_benefit_grant_granted_at', ['granted_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('policy_benefit_grant', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_benefit_grant_granted_at')
        batch_op.drop_index(batch_op.f('ix_policy_benefit_grant_credit_code'))

    op.drop_table('policy_benefit_grant')
    with op.batch_alter_table('policy_push', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_push_pushed_at')
        batch_op.drop_index('ix_policy_push_credit_code')

    op.drop_table('policy_push')
    with op.batch_alter_table('policy_campaign', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_campaign_policy_id'))

    op.drop_table('policy_campaign')
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_status_level')
        batch_op.drop_index(batch_op.f('ix_policy_department_code'))

    op.drop_table('policy')
    op.drop_table('policy_enterprise_profile')
