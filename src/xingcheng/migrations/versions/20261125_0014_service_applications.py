"""service applications (一网通办 申办): applications, materials, uploads, timeline, ratings; task hold for 补正

Revision ID: 0014
Revises: 0006, 0005
Create Date: 2026-11-25 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db


revision = '0014'
down_revision = ('0006', '0005')
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_application_upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_account_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_application_upload'))
    )
    with op.batch_alter_table('service_application_upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_application_upload_owner_account_id'), ['owner_account_id'], unique=False)

    op.create_table('service_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('item_code', sa.String(length=32), nullable=False),
    sa.Column('item_name', sa.String(length=128), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('process_key', sa.String(length=64), nullable=False),
    sa.Column('applicant_account_id', sa.Integer(), nullable=False),
    sa.Column('applicant_kind', sa.String(length=16), nullable=False),
    sa.Column('applicant_key', sa.String(length=18), nullable=False),
    sa.Column('applicant_name', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('form', sa.JSON(), nullable=False),
    sa.Column('materials_required', sa.Integer(), nullable=False),
    sa.Column('materials_provided', sa.Integer(), nullable=False),
    sa.Column('visits', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('result_licences', sa.JSON(), nullable=False),
    sa.Column('correction_note', sa.Text(), nullable=False),
    sa.Column('submitted_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('due_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['workflow_instance.id'], name=op.f('fk_service_application_instance_id_workflow_instance')),
    sa.ForeignKeyConstraint(['item_code'], ['service_item.code'], name=op.f('fk_service_application_item_code_service_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_application')),
    sa.UniqueConstraint('applicant_account_id', 'idempotency_key', name=op.f('uq_service_application_applicant_account_id_idempotency_key')),
    sa.UniqueConstraint('number', name=op.f('uq_service_application_number'))
    )
    with op.batch_alter_table('service_application', schema=None) as batch_op:
        batch_op.create_index('ix_service_application_applicant', ['applicant_account_id', 'submitted_at'], unique=False)
        batch_op.create_index('ix_service_application_department_status', ['department_code', 'status'], unique=False)
        batch_op.create_index('ix_service_application_item_status', ['item_code', 'status'], unique=False)

    op.create_table('service_application_material',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('provision', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['service_application.id'], name=op.f('fk_service_application_material_application_id_service_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['service_application_upload.id'], name=op.f('fk_service_application_material_upload_id_service_application_upload')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_application_material'))
    )
    with op.batch_alter_table('service_application_material', schema=None) as batch_op:
        batch_op.create_index('ix_service_application_material_app', ['application_id', 'position'], unique=False)

    op.create_table('service_application_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['service_application.id'], name=op.f('fk_service_application_event_application_id_service_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_application_event'))
    )
    with op.batch_alter_table('service_application_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_application_event_application_id'), ['application_id'], unique=False)

    op.create_table('service_application_rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=32), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['service_application.id'], name=op.f('fk_service_application_rating_application_id_service_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_application_rating')),
    sa.UniqueConstraint('application_id', name=op.f('uq_service_application_rating_application_id'))
    )
    with op.batch_alter_table('service_application_rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_application_rating_item_code'), ['item_code'], unique=False)



    with op.batch_alter_table('workflow_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspended_seconds_left', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('workflow_task', schema=None) as batch_op:
        batch_op.drop_column('suspended_seconds_left')
    op.drop_table('service_application_rating')
    op.drop_table('service_application_event')
    op.drop_table('service_application_material')
    op.drop_table('service_application')
    op.drop_table('service_application_upload')
