"""Tampering with the stored ledger, by raw SQL on SQLite and PostgreSQL, is always detected.

One ledger per backend is built for the module; every tamper runs in a transaction that is
rolled back after ``verify_ledger`` has looked at it through the same connection.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from audit_rfc9162_reference import Rfc9162
from audit_test_helpers import (
    LedgerDb,
    check_ledger_against_reference,
    create_audit_tables,
    spec_leaf_bytes,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert, select, text, update

from xc_testing import PG_BASE_URL, postgres_schema_name, schema_connect_args
from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.audit.sequencer import sequence_pending
from xingcheng.core.audit.service import record
from xingcheng.core.audit.signing import Signer
from xingcheng.core.audit.verify import VerifyReport, verify_ledger
from xingcheng.core.auth import Principal

SIGNER = Signer.generate()
Tamper = Callable[[Connection], object]
BATCHES = (1, 6, 9, 16, 9)  # tree heads at 0, 1, 7, 16, 32, 41
SIZE = sum(BATCHES)


@dataclass
class Built:
    ledger: LedgerDb
    entry_ids: list[int]  # by leaf index
    nodes: list[tuple[int, int]]
    heads: list[tuple[int, int]]  # (id, tree_size)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with ExitStack() as cleanups:
        if request.param == "sqlite":
            ledger = LedgerDb("sqlite", f"sqlite:///{tmp_path_factory.mktemp('tamper') / 'audit.db'}")
        else:
            schema = cleanups.enter_context(postgres_schema_name("xc_tamper"))
            ledger = LedgerDb("postgres", PG_BASE_URL, schema_connect_args(schema))
        cleanups.callback(ledger.engine.dispose)
        create_audit_tables(ledger.engine)
        clerk = Principal(kind="staff", name="clerk")
        done = 0
        for size in BATCHES:
            with ledger.database.session_scope() as session:
                for i in range(done, done + size):
                    record(session, actor=clerk if i % 2 else "export-job", action="exchange.deliver", subject=f"row:{i}",
                           purpose="核查" if i % 3 else None, details={"i": i} if i % 4 else None,
                           content_hash=os.urandom(32) if i % 5 else None)
            done += size
            sequence_pending(ledger.database, signer=SIGNER, settings=AuditSettings())
        state = check_ledger_against_reference(ledger.engine, SIGNER.public_key)
        with ledger.engine.connect() as conn:
            nodes = [(int(a), int(b)) for a, b in conn.execute(text("SELECT level, position FROM audit_node ORDER BY 1, 2"))]
            heads = [(int(a), int(b)) for a, b in conn.execute(text("SELECT id, tree_size FROM audit_tree_head ORDER BY 2"))]
        yield Built(ledger, state.entry_ids, nodes, heads)


def verify_tampered(built: Built, tamper: Tamper) -> VerifyReport:
    with built.ledger.engine.connect() as conn:
        transaction = conn.begin()
        try:
            tamper(conn)
            return verify_ledger(conn, public_keys=[SIGNER.public_key], max_merge_delay=3600)
        finally:
            transaction.rollback()


# --- the tampers ------------------------------------------------------------------------------------------------

TEXT_FIELDS = ("actor_kind", "actor_name", "action", "subject", "result")
FIELDS = (*TEXT_FIELDS, "purpose", "details", "content_hash", "recorded_at", "leaf_version", "id")


def update_field(built: Built, leaf: int, field: str) -> Tamper:
    entry_id = built.entry_ids[leaf]

    def tamper(conn: Connection) -> None:
        where = {"id": entry_id}
        if field in TEXT_FIELDS:
            conn.execute(text(f"UPDATE audit_entry SET {field} = {field} || 'x' WHERE id = :id"), where)
        elif field == "purpose":
            conn.execute(text("UPDATE audit_entry SET purpose = COALESCE(purpose, '') || 'x' WHERE id = :id"), where)
        elif field == "details":
            conn.execute(text("UPDATE audit_entry SET details = '{\"forged\": true}' WHERE id = :id"), where)
        elif field == "content_hash":
            conn.execute(text("UPDATE audit_entry SET content_hash = :h WHERE id = :id"), {**where, "h": os.urandom(32)})
        elif field == "leaf_version":
            conn.execute(text("UPDATE audit_entry SET leaf_version = 2 WHERE id = :id"), where)
        elif field == "id":
            conn.execute(text("UPDATE audit_entry SET id = id + 100000 WHERE id = :id"), where)
        else:  # recorded_at: typed, because SQLite stores it as text in its own format
            moment = conn.execute(select(AuditEntry.recorded_at).where(AuditEntry.id == entry_id)).scalar_one()
            conn.execute(update(AuditEntry).where(AuditEntry.id == entry_id)
                         .values(recorded_at=moment + timedelta(seconds=1)))

    return tamper


def delete_entry(built: Built, leaf: int) -> Tamper:
    return lambda conn: conn.execute(text("DELETE FROM audit_entry WHERE leaf_index = :i"), {"i": leaf})


CONTENT = ("recorded_at", "actor_kind", "actor_name", "action", "subject", "purpose", "result", "details",
           "content_hash", "leaf_hash")


def swap_content(built: Built, a: int, b: int) -> Tamper:
    def tamper(conn: Connection) -> None:
        rows = {r.leaf_index: r for r in conn.execute(select(AuditEntry.leaf_index, *(getattr(AuditEntry, c) for c in CONTENT))
                                                      .where(AuditEntry.leaf_index.in_([a, b])))}
        for mine, theirs in ((a, b), (b, a)):
            conn.execute(update(AuditEntry).where(AuditEntry.leaf_index == mine)
                         .values({c: getattr(rows[theirs], c) for c in CONTENT}))

    return tamper


def swap_leaf_index(built: Built, a: int, b: int) -> Tamper:
    def tamper(conn: Connection) -> None:
        conn.execute(text("UPDATE audit_entry SET leaf_index = -1 WHERE leaf_index = :a"), {"a": a})
        conn.execute(text("UPDATE audit_entry SET leaf_index = :a WHERE leaf_index = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE audit_entry SET leaf_index = :b WHERE leaf_index = -1"), {"b": b})

    return tamper


def clear_leaf_index(built: Built, leaf: int) -> Tamper:
    return lambda conn: conn.execute(text("UPDATE audit_entry SET leaf_index = NULL WHERE leaf_index = :i"), {"i": leaf})


def forge(built: Built, leaf: int, *, replace: bool) -> Tamper:
    """Insert a row with a leaf index and the leaf hash an attacker who knows the format would compute."""

    def tamper(conn: Connection) -> None:
        if replace:
            conn.execute(text("DELETE FROM audit_entry WHERE leaf_index = :i"), {"i": leaf})
        conn.execute(insert(AuditEntry).values(
            id=900_000 + leaf, leaf_index=leaf, leaf_version=1, recorded_at=_now(), actor_kind="staff",
            actor_name="mallory", action="exchange.deliver", subject="forged", result="ok"))
        row = conn.execute(select(AuditEntry).where(AuditEntry.id == 900_000 + leaf)).one()
        forged_hash = Rfc9162("sm3").leaf_hash(spec_leaf_bytes(row, leaf))
        conn.execute(text("UPDATE audit_entry SET leaf_hash = :h WHERE id = :id"), {"h": forged_hash, "id": row.id})

    return tamper


def _now() -> Any:
    from xingcheng.core.db import utcnow

    return utcnow()


def update_leaf_hash(built: Built, leaf: int) -> Tamper:
    return lambda conn: conn.execute(text("UPDATE audit_entry SET leaf_hash = :h WHERE leaf_index = :i"),
                                     {"h": os.urandom(32), "i": leaf})


def rewrite_entry_and_hashes(built: Built, leaf: int) -> Tamper:
    """Change an entry and recompute its leaf hash and every stored subtree above it — all but the signature."""

    def tamper(conn: Connection) -> None:
        conn.execute(text("UPDATE audit_entry SET subject = 'rewritten' WHERE leaf_index = :i"), {"i": leaf})
        row = conn.execute(select(AuditEntry).where(AuditEntry.leaf_index == leaf)).one()
        rfc = Rfc9162("sm3")
        conn.execute(text("UPDATE audit_entry SET leaf_hash = :h WHERE leaf_index = :i"),
                     {"h": rfc.leaf_hash(spec_leaf_bytes(row, leaf)), "i": leaf})
        leaves = [bytes(h) for (h,) in conn.execute(text("SELECT leaf_hash FROM audit_entry ORDER BY leaf_index"))]
        for level, position in built.nodes:
            value = rfc.mth(leaves[position << level:(position + 1) << level])
            conn.execute(text("UPDATE audit_node SET hash = :h WHERE level = :l AND position = :p"),
                         {"h": value, "l": level, "p": position})

    return tamper


def update_node(built: Built, k: int) -> Tamper:
    level, position = built.nodes[k % len(built.nodes)]
    return lambda conn: conn.execute(text("UPDATE audit_node SET hash = :h WHERE level = :l AND position = :p"),
                                     {"h": os.urandom(32), "l": level, "p": position})


def delete_node(built: Built, k: int) -> Tamper:
    level, position = built.nodes[k % len(built.nodes)]
    return lambda conn: conn.execute(text("DELETE FROM audit_node WHERE level = :l AND position = :p"),
                                     {"l": level, "p": position})


def insert_node(built: Built, level: int) -> Tamper:
    return lambda conn: conn.execute(text("INSERT INTO audit_node (level, position, hash) VALUES (:l, :p, :h)"),
                                     {"l": level, "p": (SIZE >> max(level, 0)) + 3, "h": os.urandom(32)})


HEAD_FIELDS = {
    "root_hash": "root_hash = :b", "signature": "signature = :b", "key_id": "key_id = :b",
    "tree_size": "tree_size = tree_size + 100000", "previous_size": "previous_size = previous_size + 1",
    "timestamp_ms": "timestamp_ms = timestamp_ms + 1", "algorithm": "algorithm = 'sha256'", "version": "version = 2",
}


def update_head(built: Built, k: int, field: str) -> Tamper:
    head_id = built.heads[k % len(built.heads)][0]
    blob = os.urandom(64 if field == "signature" else 32)
    return lambda conn: conn.execute(text(f"UPDATE audit_tree_head SET {HEAD_FIELDS[field]} WHERE id = :id"),
                                     {"b": blob, "id": head_id} if ":b" in HEAD_FIELDS[field] else {"id": head_id})


def delete_head(built: Built, k: int) -> Tamper:
    head_id = built.heads[k % len(built.heads)][0]
    return lambda conn: conn.execute(text("DELETE FROM audit_tree_head WHERE id = :id"), {"id": head_id})


# --- tests ------------------------------------------------------------------------------------------------------


def test_the_untouched_ledger_verifies(built: Built) -> None:
    report = verify_tampered(built, lambda conn: None)
    assert report.ok, report.findings
    assert (report.tree_size, report.entries_checked, report.tree_heads_checked) == (SIZE, SIZE, 6)


@pytest.mark.parametrize("field", FIELDS)
def test_a_modified_field_is_reported_as_the_first_finding(built: Built, field: str) -> None:
    report = verify_tampered(built, update_field(built, 20, field))
    first = report.first
    assert first is not None and first.kind == "modified" and first.leaf_index == 20, report.findings
    entry_id = built.entry_ids[20] + (100000 if field == "id" else 0)
    assert first.message.startswith(f"entry {entry_id} (leaf 20) was modified"), first.message
    assert len(report.findings) == 1, report.findings  # the ancestors and later roots are consequences


def test_the_first_modified_entry_comes_first(built: Built) -> None:
    def tamper(conn: Connection) -> None:
        update_field(built, 33, "subject")(conn)
        update_field(built, 9, "action")(conn)

    report = verify_tampered(built, tamper)
    assert [f.leaf_index for f in report.findings] == [9, 33]
    assert report.findings[0].message == (
        f"entry {built.entry_ids[9]} (leaf 9) was modified: its content no longer matches its leaf hash")


@pytest.mark.parametrize("leaf", [0, 17, SIZE - 1])
def test_a_deleted_entry_is_reported(built: Built, leaf: int) -> None:
    report = verify_tampered(built, delete_entry(built, leaf))
    assert report.first is not None and report.first.kind == "deleted"
    assert report.first.message.startswith(f"leaf {leaf} is missing: its entry was deleted"), report.first.message


def test_swapped_rows_and_reordered_leaves_are_reported(built: Built) -> None:
    for tamper in (swap_content(built, 5, 30), swap_leaf_index(built, 5, 30)):
        report = verify_tampered(built, tamper)
        assert report.first is not None and report.first.kind == "modified" and report.first.leaf_index == 5
        assert {f.leaf_index for f in report.findings} == {5, 30}


def test_forged_rows_are_reported(built: Built) -> None:
    beyond = verify_tampered(built, forge(built, SIZE, replace=False))
    assert beyond.first is not None and beyond.first.kind == "inserted"
    assert beyond.first.message.startswith(f"entry 900{SIZE:03d} (leaf {SIZE}) was inserted")
    inside = verify_tampered(built, forge(built, 12, replace=True))
    assert inside.first is not None and inside.first.kind == "modified" and inside.first.position == 12
    assert "were modified together with their leaf hashes" in inside.first.message


def test_altered_hashes_are_told_apart_from_altered_entries(built: Built) -> None:
    leaf_hash = verify_tampered(built, update_leaf_hash(built, 22)).first
    assert leaf_hash is not None and leaf_hash.kind == "hash-altered" and leaf_hash.leaf_index == 22
    node = verify_tampered(built, update_node(built, built.nodes.index((2, 3)))).first
    assert node is not None and node.kind == "node"
    assert node.message == "subtree hash (level 2, position 3) over leaves 12–15 was altered"
    rewritten = verify_tampered(built, rewrite_entry_and_hashes(built, 35)).first
    assert rewritten is not None and rewritten.kind == "modified"
    assert "signed tree head" in rewritten.message and "between leaf 32 and leaf 40" in rewritten.message


def test_tree_head_tampering_is_reported(built: Built) -> None:
    for field in HEAD_FIELDS:
        report = verify_tampered(built, update_head(built, 3, field))
        assert not report.ok, field
        assert any(f.kind == "signature" for f in report.findings), (field, report.findings)
    middle = verify_tampered(built, delete_head(built, 3)).first
    assert middle is not None and middle.kind == "tree-head" and "tree heads were deleted" in middle.message
    latest = verify_tampered(built, delete_head(built, len(built.heads) - 1)).first
    assert latest is not None and latest.kind == "inserted" and latest.leaf_index == 32
    first = verify_tampered(built, delete_head(built, 0)).first
    assert first is not None and first.message.startswith("the log's first tree head (size 0) is missing")


def test_an_unknown_signing_key_is_reported(built: Built) -> None:
    report = verify_ledger(built.ledger.database, public_keys=[Signer.generate().public_key])
    assert not report.ok and {f.kind for f in report.findings} == {"signature"}
    assert verify_ledger(built.ledger.database, public_keys=[], settings=AuditSettings(
        signing_key_file=Path("/nonexistent/key"))).first.kind == "key"  # type: ignore[union-attr]


TAMPERS = ("field", "delete", "swap", "reorder", "clear-index", "forge-beyond", "forge-replace", "leaf-hash",
           "rewrite", "node", "delete-node", "insert-node", "head", "delete-head")


@st.composite
def tampers(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(TAMPERS))
    leaf = draw(st.integers(0, SIZE - 1))
    other = draw(st.integers(0, SIZE - 1).filter(lambda x: x != leaf))
    k = draw(st.integers(0, 1000))
    field = draw(st.sampled_from(FIELDS))
    head_field = draw(st.sampled_from(sorted(HEAD_FIELDS)))
    level = draw(st.integers(-1, 6))
    return kind, (leaf, other, k, field, head_field, level)


def make_tamper(built: Built, kind: str, params: Any) -> Tamper:
    leaf, other, k, field, head_field, level = params
    return {
        "field": lambda: update_field(built, leaf, field),
        "delete": lambda: delete_entry(built, leaf),
        "swap": lambda: swap_content(built, leaf, other),
        "reorder": lambda: swap_leaf_index(built, leaf, other),
        "clear-index": lambda: clear_leaf_index(built, leaf),
        "forge-beyond": lambda: forge(built, SIZE + k, replace=False),
        "forge-replace": lambda: forge(built, leaf, replace=True),
        "leaf-hash": lambda: update_leaf_hash(built, leaf),
        "rewrite": lambda: rewrite_entry_and_hashes(built, leaf),
        "node": lambda: update_node(built, k),
        "delete-node": lambda: delete_node(built, k),
        "insert-node": lambda: insert_node(built, level),
        "head": lambda: update_head(built, k, head_field),
        "delete-head": lambda: delete_head(built, k),
    }[kind]()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=tampers())
def test_every_random_tamper_is_detected(built: Built, case: tuple[str, Any]) -> None:
    kind, params = case
    report = verify_tampered(built, make_tamper(built, kind, params))
    assert not report.ok, (kind, params)
    assert report.first is not None and report.first.message


def test_random_tampers_at_random_places_in_a_row(built: Built) -> None:
    # Several tampers at once still put the earliest damage first.
    rng = random.Random(7)
    for _ in range(10):
        leaves = sorted(rng.sample(range(SIZE), 3))

        def tamper(conn: Connection, chosen: list[int] = leaves) -> None:
            for leaf in chosen:
                update_field(built, leaf, "subject")(conn)

        report = verify_tampered(built, tamper)
        assert [f.leaf_index for f in report.findings] == leaves
