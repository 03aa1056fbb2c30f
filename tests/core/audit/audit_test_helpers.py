"""Independent checks of a whole ledger, from the documented formats, for the audit tests.

Leaf bytes and signed tree-head bytes are re-encoded here from the format descriptions in
``models.py`` and ``signing.py``; tree maths comes from ``audit_rfc9162_reference``.
"""

from __future__ import annotations

import itertools
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from audit_rfc9162_reference import Rfc9162
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from xingcheng.core.audit import service
from xingcheng.core.audit.models import AuditEntry, AuditNode, AuditTreeHead
from xingcheng.core.db import Base, Database, create_db_engine

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AUDIT_TABLES = [AuditEntry.__table__, AuditNode.__table__, AuditTreeHead.__table__]


def create_audit_tables(engine: Engine) -> None:
    Base.metadata.create_all(engine, tables=AUDIT_TABLES)  # type: ignore[arg-type]


class LedgerDb:
    """Where a ledger lives: URL and engine options, so other processes can open it too."""

    def __init__(self, backend: str, url: str, connect_args: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.url = url
        self.connect_args = connect_args or {}
        self.database = Database(self.new_engine())

    def new_engine(self) -> Engine:
        if self.connect_args:
            return create_db_engine(self.url, connect_args=self.connect_args)
        return create_db_engine(self.url)

    @property
    def engine(self) -> Engine:
        return self.database.engine


def spec_leaf_bytes(row: Any, index: int) -> bytes:
    def string(value: str) -> bytes:
        raw = value.encode("utf-8")
        return struct.pack(">I", len(raw)) + raw

    def optional(value: bytes | None) -> bytes:
        return b"\x00" if value is None else b"\x01" + struct.pack(">I", len(value)) + value

    micros = (row.recorded_at - EPOCH) // timedelta(microseconds=1)
    details = None if row.details is None else json.dumps(
        row.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return (
        b"xc-audit-leaf" + struct.pack(">BQQq", 1, index, row.id, micros)
        + string(row.actor_kind) + string(row.actor_name) + string(row.action) + string(row.subject)
        + optional(None if row.purpose is None else row.purpose.encode()) + string(row.result)
        + optional(details) + optional(None if row.content_hash is None else bytes(row.content_hash))
    )


def spec_sth_bytes(head: Any) -> bytes:
    name: bytes = head.algorithm.encode()
    root = bytes(head.root_hash)
    return (b"xc-audit-sth" + bytes((1, len(name))) + name
            + struct.pack(">QQQ", head.tree_size, head.previous_size, head.timestamp_ms) + bytes((len(root),)) + root)


@dataclass
class LedgerState:
    leaf_hashes: list[bytes]
    entry_ids: list[int]
    heads: list[Any]
    unsequenced: int


def check_ledger_against_reference(engine: Engine, public_key: bytes) -> LedgerState:
    """Assert everything a client could check: contiguous leaves, leaf hashes, signatures, roots, no fork."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_entry WHERE leaf_index IS NOT NULL ORDER BY leaf_index")).all()
        unsequenced = conn.execute(text("SELECT count(*) FROM audit_entry WHERE leaf_index IS NULL")).scalar_one()
        heads = conn.execute(text("SELECT * FROM audit_tree_head ORDER BY tree_size")).all()
        # Typed values (aware datetimes, parsed JSON) come through the ORM; raw SQL gives SQLite's strings.
        entries = {e.id: e for e in Session(bind=conn).scalars(select(AuditEntry))}
    assert [r.leaf_index for r in rows] == list(range(len(rows))), "leaf indexes must be 0..n-1, none reused or skipped"
    assert heads, "a sequenced log has signed tree heads"
    rfc = Rfc9162(heads[0].algorithm)
    leaf_hashes = []
    for row in rows:
        expected = rfc.leaf_hash(spec_leaf_bytes(entries[row.id], row.leaf_index))
        assert bytes(row.leaf_hash) == expected, f"leaf {row.leaf_index}"
        leaf_hashes.append(expected)
    key = Ed25519PublicKey.from_public_bytes(public_key)
    assert heads[0].tree_size == 0
    assert heads[-1].tree_size == len(rows), "every sequenced leaf is covered by the latest head"
    for previous, head in itertools.pairwise(heads):
        assert head.previous_size == previous.tree_size
        assert head.timestamp_ms >= previous.timestamp_ms
    with engine.connect() as conn:
        for head in heads:
            key.verify(bytes(head.signature), spec_sth_bytes(head))  # raises InvalidSignature
            assert bytes(head.root_hash) == rfc.mth(leaf_hashes[: head.tree_size]), f"root at {head.tree_size}"
        for first, second in itertools.pairwise(heads):
            if first.tree_size == 0:
                continue
            proof = service.consistency_proof(conn, first=first.tree_size, second=second.tree_size)
            assert rfc.verify_consistency(first.tree_size, second.tree_size, bytes(first.root_hash),
                                          bytes(second.root_hash), proof.consistency), "fork"
    return LedgerState(leaf_hashes, [r.id for r in rows], list(heads), int(unsequenced))
