"""Q&A: curated FAQ per service item and the anonymised question log

Revision ID: 0010
Revises: 0006
Create Date: 2026-11-25 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xingcheng.core.db

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_faq",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=32), nullable=False),
        sa.Column("question", sa.String(length=200), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_code"], ["service_item.code"], name=op.f("fk_qa_faq_item_code_service_item"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_faq")),
    )
    with op.batch_alter_table("qa_faq", schema=None) as batch_op:
        batch_op.create_index("ix_qa_faq_item", ["item_code"], unique=False)

    op.create_table(
        "qa_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asked_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("question", sa.String(length=500), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("top_codes", sa.String(length=120), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("clarified", sa.Boolean(), nullable=False),
        sa.Column("clicked_code", sa.String(length=32), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("feedback_at", xingcheng.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_question")),
    )
    with op.batch_alter_table("qa_question", schema=None) as batch_op:
        batch_op.create_index("ix_qa_question_answered", ["answered", "asked_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_qa_question_asked_at"), ["asked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("qa_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_question_asked_at"))
        batch_op.drop_index("ix_qa_question_answered")
    op.drop_table("qa_question")
    with op.batch_alter_table("qa_faq", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_faq_item")
    op.drop_table("qa_faq")
