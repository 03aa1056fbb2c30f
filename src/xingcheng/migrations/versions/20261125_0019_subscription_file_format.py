"""exchange subscription file format and compression

Revision ID: 0019
Revises: 0007
Create Date: 2026-11-25 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no server default: existing subscriptions keep the delivery defaults (zstd Parquet).
    with op.batch_alter_table('exchange_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_format', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('compression', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exchange_subscription', schema=None) as batch_op:
        batch_op.drop_column('compression')
        batch_op.drop_column('file_format')
