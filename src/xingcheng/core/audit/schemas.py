"""API models of the audit ledger; hashes, signatures and keys travel as base64 (as CT's JSON API does)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from pydantic import PlainSerializer, WithJsonSchema

from xingcheng.core.schemas import Schema


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


Base64 = Annotated[
    bytes,
    PlainSerializer(_b64, return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}, mode="serialization"),
]


class AuditEntryRead(Schema):
    id: int
    leaf_index: int | None  # null until the sequencer has put the entry in the tree
    recorded_at: datetime
    actor_kind: str
    actor_name: str
    action: str
    subject: str
    purpose: str | None
    result: str
    details: Any | None
    content_hash: Base64 | None
    leaf_hash: Base64 | None


class TreeHeadRead(Schema):
    """The latest signed tree head and what is needed to check its signature (see ``signing.py``)."""

    version: int
    tree_size: int
    previous_size: int
    root_hash: Base64
    algorithm: str
    timestamp: int  # milliseconds since the Unix epoch, as signed
    issued_at: datetime
    signature: Base64  # Ed25519 over ``signing.tree_head_bytes``
    key_id: Base64  # SHA-256 of the raw public key
    public_key: Base64 | None  # raw 32-byte Ed25519 key; null when the key file is not readable here


class InclusionProofRead(Schema):
    leaf_index: int
    tree_size: int
    entry_id: int
    algorithm: str
    leaf_hash: Base64
    audit_path: list[Base64]  # RFC 9162 §2.1.3, leaf to root
    root_hash: Base64  # MTH of the first tree_size leaves


class ConsistencyProofRead(Schema):
    first: int
    second: int
    algorithm: str
    consistency: list[Base64]  # RFC 9162 §2.1.4
    first_root: Base64
    second_root: Base64
