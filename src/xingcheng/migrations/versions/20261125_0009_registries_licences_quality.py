"""base registries: e-licences, standard addresses, field ownership, claims and corrections; data quality reports

Revision ID: 0009
Revises: 0002
Create Date: 2026-11-25 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db


revision = '0009'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registry_licence_key',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_registry_licence_key'))
    )
    op.create_table('registry_licence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('licence_type', sa.String(length=32), nullable=False),
    sa.Column('type_name', sa.String(length=64), nullable=False),
    sa.Column('holder_kind', sa.String(length=16), nullable=False),
    sa.Column('holder_id', sa.String(length=18), nullable=False),
    sa.Column('holder_name', sa.String(length=128), nullable=False),
    sa.Column('issuing_department_code', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('issued_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('signing_key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.Column('revoked_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=200), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issuing_department_code'], ['department.code'], name=op.f('fk_registry_licence_issuing_department_code_department')),
    sa.ForeignKeyConstraint(['signing_key_id'], ['registry_licence_key.key_id'], name=op.f('fk_registry_licence_signing_key_id_registry_licence_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_licence')),
    sa.UniqueConstraint('number', name=op.f('uq_registry_licence_number'))
    )
    with op.batch_alter_table('registry_licence', schema=None) as batch_op:
        batch_op.create_index('ix_registry_licence_holder', ['holder_id', 'licence_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_licence_licence_type'), ['licence_type'], unique=False)
    op.create_table('registry_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('division_code', sa.String(length=6), nullable=False),
    sa.Column('street', sa.String(length=32), nullable=False),
    sa.Column('community', sa.String(length=32), nullable=False),
    sa.Column('road', sa.String(length=32), nullable=False),
    sa.Column('house_number', sa.Integer(), nullable=False),
    sa.Column('full_address', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['division_code'], ['division.code'], name=op.f('fk_registry_address_division_code_division')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_address')),
    sa.UniqueConstraint('code', name=op.f('uq_registry_address_code'))
    )
    with op.batch_alter_table('registry_address', schema=None) as batch_op:
        batch_op.create_index('ix_registry_address_road', ['division_code', 'road', 'house_number'], unique=False)
    op.create_table('registry_field_owner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registry_name', sa.String(length=16), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('grade', sa.String(length=2), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], name=op.f('fk_registry_field_owner_department_code_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_field_owner')),
    sa.UniqueConstraint('registry_name', 'field', name=op.f('uq_registry_field_owner_registry_name_field'))
    )
    op.create_table('registry_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registry_name', sa.String(length=16), nullable=False),
    sa.Column('record_key', sa.String(length=18), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('observed_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('authority_department_code', sa.String(length=32), nullable=False),
    sa.Column('authority_value', sa.Text(), nullable=True),
    sa.Column('checked_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=64), nullable=False),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolution_note', sa.String(length=500), nullable=True),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], name=op.f('fk_registry_claim_department_code_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_claim'))
    )
    with op.batch_alter_table('registry_claim', schema=None) as batch_op:
        batch_op.create_index('ix_registry_claim_record', ['registry_name', 'record_key', 'field'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_claim_status'), ['status'], unique=False)
    op.create_table('registry_correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('registry_name', sa.String(length=16), nullable=False),
    sa.Column('record_key', sa.String(length=18), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('proposed_value', sa.Text(), nullable=True),
    sa.Column('authority_department_code', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['authority_department_code'], ['department.code'], name=op.f('fk_registry_correction_authority_department_code_department')),
    sa.ForeignKeyConstraint(['claim_id'], ['registry_claim.id'], name=op.f('fk_registry_correction_claim_id_registry_claim')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_correction'))
    )
    with op.batch_alter_table('registry_correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_correction_authority_department_code'), ['authority_department_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_correction_claim_id'), ['claim_id'], unique=False)
    op.create_table('quality_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=160), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('measured_at', xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('defects', sa.Integer(), nullable=False),
    sa.Column('measured_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_report'))
    )
    with op.batch_alter_table('quality_report', schema=None) as batch_op:
        batch_op.create_index('ix_quality_report_subject_time', ['subject', 'measured_at'], unique=False)
    op.create_table('quality_defect',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=48), nullable=False),
    sa.Column('record_ref', sa.String(length=64), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['quality_report.id'], name=op.f('fk_quality_defect_report_id_quality_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_defect'))
    )
    with op.batch_alter_table('quality_defect', schema=None) as batch_op:
        batch_op.create_index('ix_quality_defect_report_rule', ['report_id', 'rule'], unique=False)
    op.create_table('quality_defect_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=160), nullable=False),
    sa.Column('rule', sa.String(length=48), nullable=False),
    sa.Column('record_ref', sa.String(length=64), nullable=False),
    sa.Column('injected_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_defect_label'))
    )
    with op.batch_alter_table('quality_defect_label', schema=None) as batch_op:
        batch_op.create_index('ix_quality_defect_label_subject', ['subject', 'rule'], unique=False)


def downgrade() -> None:
    op.drop_table('quality_defect_label')
    op.drop_table('quality_defect')
    op.drop_table('quality_report')
    op.drop_table('registry_correction')
    op.drop_table('registry_claim')
    op.drop_table('registry_field_owner')
    op.drop_table('registry_address')
    op.drop_table('registry_licence')
    op.drop_table('registry_licence_key')
