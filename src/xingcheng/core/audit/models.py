"""Ledger tables — entries, stored subtree hashes, signed tree heads — and the canonical leaf bytes.

Canonical leaf bytes, version 1 (what a leaf hash covers; every integer big-endian)::

    "xc-audit-leaf"                 13 ASCII bytes, domain separation from other uses of SM3
    version           u8            1
    leaf_index        u64           position in the log, assigned when sequenced
    entry_id          u64           the row's id, so rows cannot trade places unnoticed
    recorded_at       i64           microseconds since 1970-01-01T00:00:00Z
    actor_kind        str           str = u32 byte length || UTF-8 bytes
    actor_name        str
    action            str
    subject           str
    purpose           opt(str)      opt(x) = 0x00 when absent, else 0x01 || x
    result            str
    details           opt(str)      canonical JSON: keys sorted by code point, separators "," ":",
                                    no whitespace, UTF-8 unescaped, NaN/Infinity refused,
                                    floats in Python's shortest round-trip repr
    content_hash      opt(bytes)    bytes = u32 byte length || bytes

A leaf covers its leaf index: an entry that commits late (lower id, later commit) simply gets a
later index, and moving an entry to another index breaks its leaf hash.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, utcnow

LEAF_MAGIC = b"xc-audit-leaf"
LEAF_VERSION = 1
SUPPORTED_LEAF_VERSIONS = frozenset({LEAF_VERSION})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HEADER = struct.Struct(">BQQq")
_LENGTH = struct.Struct(">I")

# Column sizes, checked by ``service.record`` so SQLite and PostgreSQL refuse the same inputs.
ACTOR_KIND_MAX, ACTOR_NAME_MAX, ACTION_MAX, SUBJECT_MAX, PURPOSE_MAX, RESULT_MAX = 16, 128, 64, 256, 256, 32
CONTENT_HASH_MAX = 64

# SQLite wants INTEGER for an auto-incrementing rowid key; PostgreSQL gets a 64-bit identity.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    """One audited event. ``leaf_index`` stays NULL until the sequencer has put it in the tree."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        # The sequencer's queue: small, because sequenced rows leave it.
        Index("ix_audit_entry_pending", "id", sqlite_where=text("leaf_index IS NULL"),
              postgresql_where=text("leaf_index IS NULL")),
        Index("ix_audit_entry_actor_name", "actor_name"),
        Index("ix_audit_entry_action", "action"),
        Index("ix_audit_entry_subject", "subject"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True, default=None)
    leaf_version: Mapped[int] = mapped_column(SmallInteger, default=LEAF_VERSION)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(ACTOR_KIND_MAX))
    actor_name: Mapped[str] = mapped_column(String(ACTOR_NAME_MAX))
    action: Mapped[str] = mapped_column(String(ACTION_MAX))
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX))
    purpose: Mapped[str | None] = mapped_column(String(PURPOSE_MAX), default=None)
    result: Mapped[str] = mapped_column(String(RESULT_MAX), default="ok")
    # json, not jsonb: the text comes back as written, so the canonical form is recomputable.
    details: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), default=None)
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary(CONTENT_HASH_MAX), default=None)
    leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)


class AuditNode(Base):
    """The hash of a complete, aligned subtree: leaves ``[position << level, (position + 1) << level)``.

    Level 0 (leaf hashes) lives in ``audit_entry.leaf_hash``; this table holds levels ≥ 1.
    """

    __tablename__ = "audit_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditTreeHead(Base):
    """A signed tree head: one per sequencing batch; see ``signing.tree_head_bytes`` for what is signed."""

    __tablename__ = "audit_tree_head"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    # The size of the head before this one: a deleted head leaves a hole in the chain.
    previous_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    algorithm: Mapped[str] = mapped_column(String(16))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    version: Mapped[int] = mapped_column(SmallInteger, default=1)

    @property
    def issued_at(self) -> datetime:
        return _EPOCH + timedelta(milliseconds=self.timestamp_ms)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """The one serialisation of a JSON value that leaf bytes use (see the module docstring)."""
    return _CANONICAL.encode(value)


def epoch_micros(moment: datetime) -> int:
    """Exact microseconds since the Unix epoch (integer arithmetic, no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; audit times are timezone-aware UTC")
    return (moment - _EPOCH) // _MICROSECOND


def _str(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _LENGTH.pack(len(raw)) + raw


def _opt_bytes(value: bytes | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + _LENGTH.pack(len(value)) + value


def encode_leaf(
    *,
    version: int,
    leaf_index: int,
    entry_id: int,
    recorded_at: datetime,
    actor_kind: str,
    actor_name: str,
    action: str,
    subject: str,
    purpose: str | None,
    result: str,
    details: Any | None,
    content_hash: bytes | None,
) -> bytes:
    """The canonical leaf bytes of an entry at ``leaf_index`` (format in the module docstring)."""
    if version not in SUPPORTED_LEAF_VERSIONS:
        raise ValueError(f"leaf format version {version} is not supported")
    return b"".join((
        LEAF_MAGIC,
        _HEADER.pack(version, leaf_index, entry_id, epoch_micros(recorded_at)),
        _str(actor_kind),
        _str(actor_name),
        _str(action),
        _str(subject),
        _opt_bytes(None if purpose is None else purpose.encode("utf-8")),
        _str(result),
        _opt_bytes(None if details is None else canonical_json(details).encode("utf-8")),
        _opt_bytes(content_hash),
    ))


def leaf_bytes_of(entry: Any, leaf_index: int) -> bytes:
    """Leaf bytes of an ``AuditEntry`` or a row with the same column names, placed at ``leaf_index``."""
    return encode_leaf(
        version=entry.leaf_version,
        leaf_index=leaf_index,
        entry_id=entry.id,
        recorded_at=entry.recorded_at,
        actor_kind=entry.actor_kind,
        actor_name=entry.actor_name,
        action=entry.action,
        subject=entry.subject,
        purpose=entry.purpose,
        result=entry.result,
        details=entry.details,
        content_hash=None if entry.content_hash is None else bytes(entry.content_hash),
    )
