"""registry field encryption: the person's L4 fields (phone, disability grade) and claim/correction values, SM4-GCM

Revision ID: 0017
Revises: 0009
Create Date: 2026-11-25 18:45:00

Existing rows are sealed in place, in batches by primary key, with the data dir's field keyring
(``core.crypto``; created on first use). A value already sealed (``v1:…``; no phone, digit or JSON text
starts so) is left alone, so re-running after an interruption finishes the job. Each value is bound
to its ``table.column``, as ``EncryptedString`` expects.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from xingcheng.core.crypto import VERSION, current_keyring

revision = '0017'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 2_000
SEALED = f"{VERSION}:"
# table → (primary key, encrypted columns); claim and correction values may carry an L4 value.
COLUMNS = {
    "person": ("id", ("phone", "disability_grade")),
    "registry_claim": ("id", ("value", "authority_value")),
    "registry_correction": ("id", ("proposed_value",)),
}


def _convert(table_name: str, change: Callable[[str, str], str | None]) -> None:
    """Rewrite every non-null value of the table's encrypted columns with ``change(binding, value)``."""
    pk, columns = COLUMNS[table_name]
    table = sa.table(table_name, sa.column(pk), *[sa.column(c, sa.Text) for c in columns])
    update = sa.update(table).where(table.c[pk] == sa.bindparam("_pk")).values(
        {c: sa.bindparam(f"_{c}") for c in columns})
    bind, last = op.get_bind(), None
    while True:
        query = sa.select(table.c[pk], *[table.c[c] for c in columns]).order_by(table.c[pk]).limit(BATCH)
        if last is not None:
            query = query.where(table.c[pk] > last)
        rows = bind.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        params = []
        for row in rows:
            new = {f"_{c}": None if v is None else change(f"{table_name}.{c}", str(v))
                   for c, v in zip(columns, row[1:], strict=True)}
            if any(new[f"_{c}"] != (None if v is None else str(v)) for c, v in zip(columns, row[1:], strict=True)):
                params.append({"_pk": row[0], **new})
        if params:
            bind.execute(update, params)


def _seal(binding: str, value: str) -> str:
    return value if value.startswith(SEALED) else current_keyring().encrypt(value, binding=binding)


def _open(binding: str, value: str) -> str:
    return current_keyring().decrypt(value, binding=binding) if value.startswith(SEALED) else value


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('phone', existing_type=sa.String(length=11), type_=sa.Text(), existing_nullable=True)
        batch_op.alter_column('disability_grade', existing_type=sa.Integer(), type_=sa.Text(), existing_nullable=True,
                              postgresql_using="disability_grade::text" if is_pg else None)
    for table_name in COLUMNS:
        _convert(table_name, _seal)


def downgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    for table_name in COLUMNS:
        _convert(table_name, _open)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('disability_grade', existing_type=sa.Text(), type_=sa.Integer(), existing_nullable=True,
                              postgresql_using="disability_grade::integer" if is_pg else None)
        batch_op.alter_column('phone', existing_type=sa.Text(), type_=sa.String(length=11), existing_nullable=True)
