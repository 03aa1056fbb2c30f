"""Recording audit entries in the caller's transaction, reading them, and proofs from stored subtrees.

Services call ``record`` next to the change it records; the edge commits both or neither.
No leaf index is assigned here — that is the sequencer's job after commit (``sequencer.py``) —
so a rolled-back transaction leaves no entry and no gap, and recording takes no global lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, and_, bindparam, func, insert, or_, select
from sqlalchemy.orm import Session

from xingcheng.core.appended import append_row, write_queued
from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.merkle import (
    NodeId,
    Range,
    aligned_subtrees,
    consistency_proof_ranges,
    hasher,
    inclusion_path_ranges,
    root_from_subtrees,
)
from xingcheng.core.audit.models import (
    ACTION_MAX,
    ACTOR_KIND_MAX,
    ACTOR_NAME_MAX,
    CONTENT_HASH_MAX,
    LEAF_VERSION,
    PURPOSE_MAX,
    RESULT_MAX,
    SUBJECT_MAX,
    AuditEntry,
    AuditNode,
    AuditTreeHead,
    canonical_json,
)
from xingcheng.core.audit.signing import KEY_FILE_NAME, Signer, signer_for
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Invalid, NotFound, XingchengError
from xingcheng.core.settings import get_settings

Reader = Session | Connection


class LedgerDamaged(XingchengError):
    """A stored hash a proof needs is missing: the ledger was tampered with; run verify-audit."""

    status, title, slug = 500, "Audit ledger damaged", "audit-ledger-damaged"


def audit_settings() -> AuditSettings:
    """The ledger's settings (``XC_AUDIT__...``)."""
    return get_settings().audit


def signing_key_path(settings: AuditSettings | None = None) -> Path:
    configured = (settings or audit_settings()).signing_key_file
    return configured if configured is not None else get_settings().data_dir / "keys" / KEY_FILE_NAME


def default_signer(settings: AuditSettings | None = None) -> Signer:
    """The log's signing key, created with 0600 permissions on first use."""
    return signer_for(signing_key_path(settings))


def _text(name: str, value: str, limit: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise TypeError(f"audit {name} must be a string, not {type(value).__name__}")
    if required and not value:
        raise ValueError(f"audit {name} must not be empty")
    if len(value) > limit:
        raise ValueError(f"audit {name} is longer than {limit} characters")
    return value


def _json_value(details: Any, *, normalise: bool = True) -> Any:
    """``details`` as it will read back from the database (keys as strings, tuples as lists)."""
    try:
        text = canonical_json(details)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be plain JSON (no NaN, no objects): {exc}") from None
    return json.loads(text) if normalise else details


@dataclass(frozen=True)
class AuditEvent:
    """One event for ``record_many``: the same fields ``record`` takes."""

    actor: Principal | str
    action: str
    subject: str
    purpose: str | None = None
    result: str = "ok"
    details: dict[str, Any] | None = None
    content_hash: bytes | None = None


def _values(event: AuditEvent, recorded_at: datetime, *, normalise: bool = True) -> dict[str, Any]:
    """The row for ``event``, validated so SQLite and PostgreSQL refuse the same inputs.

    ``normalise`` turns ``details`` into what it reads back as (an ORM object handed to the caller
    must agree with its row); without it the value is only checked to be plain JSON.
    """
    if isinstance(event.actor, Principal):
        actor_kind, actor_name = event.actor.kind, event.actor.name
    else:
        actor_kind, actor_name = "system", event.actor
    content_hash = event.content_hash
    if content_hash is not None and not (isinstance(content_hash, bytes) and 0 < len(content_hash) <= CONTENT_HASH_MAX):
        raise ValueError(f"audit content_hash must be 1–{CONTENT_HASH_MAX} bytes")
    return {
        "leaf_version": LEAF_VERSION,
        "recorded_at": recorded_at,
        "actor_kind": _text("actor kind", actor_kind, ACTOR_KIND_MAX),
        "actor_name": _text("actor name", actor_name, ACTOR_NAME_MAX),
        "action": _text("action", event.action, ACTION_MAX),
        "subject": _text("subject", event.subject, SUBJECT_MAX),
        "purpose": None if event.purpose is None else _text("purpose", event.purpose, PURPOSE_MAX, required=False),
        "result": _text("result", event.result, RESULT_MAX),
        "details": None if event.details is None else _json_value(event.details, normalise=normalise),
        "content_hash": content_hash,
    }


def record(
    session: Session,
    *,
    actor: Principal | str,
    action: str,
    subject: str,
    purpose: str | None = None,
    result: str = "ok",
    details: dict[str, Any] | None = None,
    content_hash: bytes | None = None,
) -> None:
    """Add an audit entry to the caller's transaction; the edge commits it.

    ``actor`` is the calling principal, or a string naming a system job (kind ``system``).
    ``content_hash`` is the digest of what was delivered when data leaves its owner.
    The entry is queued (``core.appended``): a request's entries go to the database in one executemany
    at its next flush, query or commit, without the ORM's per-row cost. ``record_entry`` when the
    caller needs the row itself (its id).
    """
    event = AuditEvent(actor, action, subject, purpose, result, details, content_hash)
    append_row(session, _entry, _values(event, utcnow()))  # normalised: a copy the caller cannot change later


def record_entry(
    session: Session,
    *,
    actor: Principal | str,
    action: str,
    subject: str,
    purpose: str | None = None,
    result: str = "ok",
    details: dict[str, Any] | None = None,
    content_hash: bytes | None = None,
) -> AuditEntry:
    """``record``, as an ORM object added to the session (flush before reading ``entry.id``)."""
    event = AuditEvent(actor, action, subject, purpose, result, details, content_hash)
    entry = AuditEntry(**_values(event, utcnow()))
    session.add(entry)
    return entry


def record_many(session: Session, events: Iterable[AuditEvent]) -> int:
    """Add many entries to the caller's transaction in one executemany (bulk deliveries, imports).

    Same guarantees as ``record``; no ORM objects are built, so it is several times faster.
    """
    recorded_at = utcnow()
    rows = [_values(event, recorded_at, normalise=False) for event in events]
    if rows:
        write_queued(session)  # entries recorded before these keep their place in the ledger
        session.connection().execute(insert(cast(Table, AuditEntry.__table__)), rows)
    return len(rows)


def list_entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Entries newest first, filtered by actor name, action and subject; with the total count."""
    statement = select(AuditEntry)
    if actor is not None:
        statement = statement.where(AuditEntry.actor_name == actor)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if subject is not None:
        statement = statement.where(AuditEntry.subject == subject)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), int(total)


# Built once: a proof runs the same three statements whatever the tree, so SQLAlchemy's compiled
# cache always hits (building an OR of node conditions per call cost more than the queries).
_entry, _node, _head = (cast(Table, m.__table__) for m in (AuditEntry, AuditNode, AuditTreeHead))
_LATEST_HEAD = select(_head).order_by(_head.c.tree_size.desc()).limit(1)
_LEAVES = select(_entry.c.leaf_index, _entry.c.leaf_hash, _entry.c.id).where(
    _entry.c.leaf_index.in_(bindparam("indexes", expanding=True))
)


@lru_cache(maxsize=256)
def _nodes_statement(count: int) -> Select[int, int, bytes]:
    """Look up ``count`` subtrees by primary key. An OR of equalities, because SQLite answers a row-value
    ``(level, position) IN (...)`` with a full scan but each OR term with an index search."""
    return select(_node.c.level, _node.c.position, _node.c.hash).where(or_(*(
        and_(_node.c.level == bindparam(f"l{i}"), _node.c.position == bindparam(f"p{i}")) for i in range(count)
    )))


def _connection(reader: Reader) -> Connection:
    # Core statements straight on the connection skip the ORM's execution machinery.
    return reader.connection() if isinstance(reader, Session) else reader


def latest_tree_head(reader: Reader) -> AuditTreeHead | None:
    """The newest signed tree head (None before the sequencer first ran), as a detached object."""
    row = _connection(reader).execute(_LATEST_HEAD).first()
    return None if row is None else AuditTreeHead(**row._asdict())


def latest_tree_head_or_raise(reader: Reader) -> AuditTreeHead:
    head = latest_tree_head(reader)
    if head is None:
        raise NotFound("the audit log has no signed tree head yet; the sequencer has not run")
    return head


def _damaged(missing: Iterable[NodeId]) -> LedgerDamaged:
    level, position = min(missing)
    return LedgerDamaged(
        f"the audit ledger has no stored hash for subtree (level {level}, position {position}); run verify-audit"
    )


def subtree_hashes(reader: Reader, nodes: Iterable[NodeId], *, entry_ids: dict[int, int] | None = None
                   ) -> dict[NodeId, bytes]:
    """Stored hashes of complete subtrees in at most two queries (a proof needs O(log n) of them).

    Level 0 comes from ``audit_entry.leaf_hash``; when ``entry_ids`` is given it receives the entry
    id of each leaf read. Raises ``LedgerDamaged`` when a hash is missing.
    """
    conn = _connection(reader)
    wanted = set(nodes)
    found: dict[NodeId, bytes] = {}
    leaves = [position for level, position in wanted if level == 0]
    interior = [node for node in wanted if node[0] > 0]
    if leaves:
        for index, leaf_hash, entry_id in conn.execute(_LEAVES, {"indexes": leaves}):
            if leaf_hash is not None:
                found[(0, int(index))] = bytes(leaf_hash)
                if entry_ids is not None:
                    entry_ids[int(index)] = int(entry_id)
    if interior:
        params = {key: value for i, (lv, pos) in enumerate(interior) for key, value in ((f"l{i}", lv), (f"p{i}", pos))}
        for level, position, node_hash in conn.execute(_nodes_statement(len(interior)), params):
            found[(int(level), int(position))] = bytes(node_hash)
    if len(found) < len(wanted):
        raise _damaged(wanted - found.keys())
    return found


def range_hashes(reader: Reader, algorithm: str, ranges: Sequence[Range], *, also_leaves: Sequence[int] = (),
                 entry_ids: dict[int, int] | None = None) -> list[bytes]:
    """MTH of each range, from its aligned subtrees fetched in one go (plus the leaves in ``also_leaves``)."""
    pieces = [aligned_subtrees(start, end) for start, end in ranges]
    wanted = [node for piece in pieces for node in piece] + [(0, index) for index in also_leaves]
    stored = subtree_hashes(reader, wanted, entry_ids=entry_ids)
    hash_ = hasher(algorithm)
    return [root_from_subtrees([stored[node] for node in piece], hash_) for piece in pieces] + [
        stored[(0, index)] for index in also_leaves
    ]


def root_at(reader: Reader, *, tree_size: int, algorithm: str) -> bytes:
    """MTH of the first ``tree_size`` leaves from the stored subtrees (≤ log2(n) lookups)."""
    if tree_size == 0:
        return hasher(algorithm).empty_root()
    return range_hashes(reader, algorithm, [(0, tree_size)])[0]


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    entry_id: int
    leaf_hash: bytes
    audit_path: list[bytes]
    root_hash: bytes
    algorithm: str


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    consistency: list[bytes]
    first_root: bytes
    second_root: bytes
    algorithm: str


def _checked_size(head: AuditTreeHead, tree_size: int | None, name: str) -> int:
    if tree_size is None:
        return head.tree_size
    if tree_size < 0 or tree_size > head.tree_size:
        raise Invalid(f"{name} {tree_size} is beyond the latest signed tree head (size {head.tree_size})")
    return tree_size


def inclusion_proof(reader: Reader, *, leaf_index: int, tree_size: int | None = None) -> InclusionProof:
    """PATH(leaf_index, D[tree_size]) from stored subtrees; ``tree_size`` defaults to the latest head's."""
    head = latest_tree_head_or_raise(reader)
    size = _checked_size(head, tree_size, "tree_size")
    if not 0 <= leaf_index < size:
        raise Invalid(f"leaf_index {leaf_index} is not in a tree of size {size}")
    # One round for everything: the path's subtrees, the root's and the leaf itself.
    entry_ids: dict[int, int] = {}
    ranges = [*inclusion_path_ranges(leaf_index, size), (0, size)]
    *path, root, leaf_hash = range_hashes(reader, head.algorithm, ranges, also_leaves=[leaf_index],
                                          entry_ids=entry_ids)
    return InclusionProof(
        leaf_index=leaf_index, tree_size=size, entry_id=entry_ids[leaf_index], leaf_hash=leaf_hash,
        audit_path=path, root_hash=root, algorithm=head.algorithm,
    )


def consistency_proof(reader: Reader, *, first: int, second: int | None = None) -> ConsistencyProof:
    """PROOF(first, D[second]) from stored subtrees; ``second`` defaults to the latest head's size."""
    head = latest_tree_head_or_raise(reader)
    second_size = _checked_size(head, second, "second")
    if first < 0 or first > second_size:
        raise Invalid(f"first {first} must be between 0 and second ({second_size})")
    ranges = consistency_proof_ranges(first, second_size)
    root_ranges = [(0, size) for size in (first, second_size) if size > 0]
    hashes = range_hashes(reader, head.algorithm, [*ranges, *root_ranges])
    empty = hasher(head.algorithm).empty_root()
    roots = iter(hashes[len(ranges):])
    first_root = next(roots) if first > 0 else empty
    second_root = next(roots) if second_size > 0 else empty
    return ConsistencyProof(
        first=first, second=second_size, consistency=hashes[: len(ranges)], first_root=first_root, second_root=second_root,
        algorithm=head.algorithm,
    )


def pending_count(reader: Reader) -> int:
    return int(reader.execute(select(func.count()).where(AuditEntry.leaf_index.is_(None))).scalar_one())
