"""open data: published packages and their resources

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-25 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_package",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=32), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("published_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        sa.Column("modified_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["catalog_dataset.id"],
                                name=op.f("fk_opendata_package_dataset_id_catalog_dataset"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_package")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_opendata_package_dataset_id")),
    )
    with op.batch_alter_table("opendata_package", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_package_state_theme", ["state", "theme"], unique=False)

    op.create_table(
        "opendata_resource",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["opendata_package.id"],
                                name=op.f("fk_opendata_resource_package_id_opendata_package"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_resource")),
        sa.UniqueConstraint("package_id", "format", name=op.f("uq_opendata_resource_package_id_format")),
    )
    with op.batch_alter_table("opendata_resource", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opendata_resource_package_id"), ["package_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opendata_resource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opendata_resource_package_id"))
    op.drop_table("opendata_resource")
    with op.batch_alter_table("opendata_package", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_package_state_theme")
    op.drop_table("opendata_package")
