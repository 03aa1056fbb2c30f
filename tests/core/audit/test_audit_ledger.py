"""Recording, sequencing, signing and proofs on SQLite and PostgreSQL, checked against the RFC reference."""

from __future__ import annotations

import math
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from audit_rfc9162_reference import Rfc9162
from audit_test_helpers import LedgerDb, check_ledger_against_reference, create_audit_tables
from sqlalchemy import create_engine, func, select, text

from xingcheng.core.audit import service
from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.models import AuditEntry, AuditTreeHead
from xingcheng.core.audit.sequencer import Sequencer, sequence_pending, sequencer_turn
from xingcheng.core.audit.service import AuditEvent, record, record_entry
from xingcheng.core.audit.signing import Signer, signer_for
from xingcheng.core.audit.verify import verify_ledger
from xingcheng.core.auth import Principal
from xingcheng.core.db import Database, utcnow
from xingcheng.core.errors import Invalid, NotFound

CLERK = Principal(kind="staff", name="clerk", department_code="scj")


def record_some(ledger: LedgerDb, count: int, *, start: int = 0) -> None:
    with ledger.database.session_scope() as session:
        for i in range(start, start + count):
            record(
                session, actor=CLERK if i % 3 else "nightly-export", action="exchange.deliver" if i % 2 else "grant.decide",
                subject=f"dataset:scj/licences#{i}", purpose=None if i % 4 == 0 else "监管执法",
                result="ok" if i % 5 else "denied", details=None if i % 6 == 0 else {"i": i, "名称": "长沙", "f": 0.1},
                content_hash=None if i % 2 == 0 else bytes([i % 256]) * 32,
            )


def test_record_then_sequence_builds_a_signed_rfc9162_tree(
    ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings
) -> None:
    sizes = [1, 6, 9, 16, 38]  # heads at 1, 7, 16, 32, 70
    done = 0
    for size in sizes:
        record_some(ledger, size, start=done)
        done += size
        assert sequence_pending(ledger.database, signer=signer, settings=audit_settings) == size
    assert sequence_pending(ledger.database, signer=signer, settings=audit_settings) == 0
    state = check_ledger_against_reference(ledger.engine, signer.public_key)
    assert [h.tree_size for h in state.heads] == [0, 1, 7, 16, 32, 70]
    rfc = Rfc9162("sm3")
    with ledger.database.session_scope() as session:
        for head in state.heads[1:]:
            for m in range(head.tree_size):
                proof = service.inclusion_proof(session, leaf_index=m, tree_size=head.tree_size)
                assert proof.leaf_hash == state.leaf_hashes[m]
                assert proof.root_hash == bytes(head.root_hash)
                assert rfc.verify_inclusion(m, head.tree_size, proof.leaf_hash, proof.audit_path, bytes(head.root_hash))
        for first in range(1, 70):
            consistency = service.consistency_proof(session, first=first)
            assert rfc.verify_consistency(first, 70, rfc.mth(state.leaf_hashes[:first]), bytes(state.heads[-1].root_hash),
                                          consistency.consistency)
    report = verify_ledger(ledger.database, public_keys=[signer.public_key])
    assert report.ok, report.findings
    assert (report.tree_size, report.entries_checked, report.tree_heads_checked) == (70, 70, 6)
    with ledger.database.session_scope() as session:  # inside a caller's session too
        assert verify_ledger(session, public_keys=[signer.public_key]).ok


def test_rollback_leaves_no_entry_and_no_gap(ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings) -> None:
    record_some(ledger, 3)
    session = ledger.database.sessionmaker()
    entry = record_entry(session, actor=CLERK, action="exchange.approve", subject="request:9")
    session.flush()
    assert entry.id is not None and entry.leaf_index is None  # flushed, not committed
    session.rollback()
    session.close()
    record_some(ledger, 2, start=3)
    assert sequence_pending(ledger.database, signer=signer, settings=audit_settings) == 5
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_entry WHERE subject = 'request:9'")).scalar_one() == 0
    state = check_ledger_against_reference(ledger.engine, signer.public_key)
    assert len(state.leaf_hashes) == 5


def test_an_entry_committed_late_gets_a_later_leaf_index(
    make_ledger_db: Callable[[str], LedgerDb], signer: Signer, audit_settings: AuditSettings
) -> None:
    # Only PostgreSQL lets two writers hold open transactions; SQLite's single writer commits in id order.
    ledger = make_ledger_db("postgres")
    slow = ledger.database.sessionmaker()
    late = record_entry(slow, actor=CLERK, action="exchange.deliver", subject="slow")
    slow.flush()  # lower id, still open
    record_some(ledger, 3)
    assert sequence_pending(ledger.database, signer=signer, settings=audit_settings) == 3
    slow.commit()
    slow.close()
    record_some(ledger, 1, start=3)
    assert sequence_pending(ledger.database, signer=signer, settings=audit_settings) == 2
    with ledger.database.session_scope() as session:
        placed = session.get(AuditEntry, late.id)
        assert placed is not None and placed.leaf_index == 3  # sequenced after the three that committed first
        ids = session.scalars(select(AuditEntry.id).order_by(AuditEntry.leaf_index)).all()
    assert ids[3] == late.id and late.id < ids[0]
    check_ledger_against_reference(ledger.engine, signer.public_key)
    assert verify_ledger(ledger.database, public_keys=[signer.public_key]).ok


def test_record_refuses_what_it_could_not_store_alike_everywhere(make_ledger_db: Callable[[str], LedgerDb]) -> None:
    ledger = make_ledger_db("sqlite")
    with ledger.database.session_scope() as session:
        with pytest.raises(ValueError, match="action must not be empty"):
            record(session, actor=CLERK, action="", subject="x")
        with pytest.raises(ValueError, match="longer than 256"):
            record(session, actor=CLERK, action="a", subject="x" * 257)
        with pytest.raises(ValueError, match="plain JSON"):
            record(session, actor=CLERK, action="a", subject="x", details={"bad": math.nan})
        with pytest.raises(ValueError, match="plain JSON"):
            record(session, actor=CLERK, action="a", subject="x", details={"bad": object()})
        with pytest.raises(ValueError, match="content_hash"):
            record(session, actor=CLERK, action="a", subject="x", content_hash=b"")
        entry = record_entry(session, actor=CLERK, action="a", subject="x", details={"t": (1, 2), "n": {3: "三"}})
        assert (entry.actor_kind, entry.actor_name) == ("staff", "clerk")
        assert entry.details == {"t": [1, 2], "n": {"3": "三"}}  # as it will read back from the database
        system = record_entry(session, actor="nightly-export", action="a", subject="y")
        assert (system.actor_kind, system.actor_name) == ("system", "nightly-export")


def test_record_many_adds_entries_in_the_callers_transaction(
    ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings
) -> None:
    events = [AuditEvent(CLERK, "exchange.deliver", f"row:{i}", content_hash=bytes(32)) for i in range(25)]
    session = ledger.database.sessionmaker()
    assert service.record_many(session, events) == 25
    session.rollback()
    session.close()
    with ledger.database.session_scope() as session:
        service.record_many(session, events)
        service.record_many(session, [])
    assert sequence_pending(ledger.database, signer=signer, settings=audit_settings) == 25
    check_ledger_against_reference(ledger.engine, signer.public_key)


def test_hash_algorithm_is_fixed_when_the_log_is_created(
    make_ledger_db: Callable[[str], LedgerDb], signer: Signer
) -> None:
    ledger = make_ledger_db("sqlite")
    record_some(ledger, 5)
    sequence_pending(ledger.database, signer=signer, settings=AuditSettings(hash_algorithm="sha256"))
    record_some(ledger, 5, start=5)
    sequence_pending(ledger.database, signer=signer, settings=AuditSettings(hash_algorithm="sm3"))
    with ledger.database.session_scope() as session:
        assert set(session.scalars(select(AuditTreeHead.algorithm))) == {"sha256"}
    state = check_ledger_against_reference(ledger.engine, signer.public_key)
    assert Rfc9162("sha256").mth(state.leaf_hashes) == bytes(state.heads[-1].root_hash)
    assert verify_ledger(ledger.database, public_keys=[signer.public_key], settings=AuditSettings()).ok


def test_sequencing_in_batches_signs_one_head_per_batch(ledger: LedgerDb, signer: Signer) -> None:
    record_some(ledger, 23)
    assert sequence_pending(ledger.database, signer=signer, settings=AuditSettings(batch_size=5)) == 23
    state = check_ledger_against_reference(ledger.engine, signer.public_key)
    assert [h.tree_size for h in state.heads] == [0, 5, 10, 15, 20, 23]


def test_signing_key_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-signing.key"
    signers: list[Signer] = []
    threads = [threading.Thread(target=lambda: signers.append(Signer.load_or_create(path))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({s.public_key for s in signers}) == 1  # racing creators agree on one key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["audit-signing.key"]  # no temporary files left
    assert signer_for(path).public_key == signers[0].public_key
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        Signer.load(path)


def test_the_default_key_and_settings_come_from_the_environment(audit_env: Callable[..., None]) -> None:
    from xingcheng.core.settings import get_settings

    assert service.signing_key_path() == get_settings().data_dir / "keys" / "audit-signing.key"
    audit_env(hash_algorithm="sha256", merge_delay=0.5)
    assert (service.audit_settings().hash_algorithm, service.audit_settings().merge_delay) == ("sha256", 0.5)
    audit_env(hash_algorithm="md5")
    with pytest.raises(ValueError, match="hash_algorithm"):
        service.audit_settings()


def test_a_second_sequencer_stands_aside_while_one_is_at_work(
    ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings
) -> None:
    record_some(ledger, 4)
    with sequencer_turn(ledger.engine) as conn:
        assert conn is not None
        other = ledger.new_engine()
        try:
            assert sequence_pending(other, signer=signer, settings=audit_settings) == 0  # lock taken: stand aside
        finally:
            other.dispose()
    assert sequence_pending(ledger.database, signer=signer, settings=audit_settings) == 4


def test_background_sequencer_sequences_within_the_merge_delay(
    ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings
) -> None:
    sequencer = Sequencer(ledger.database, settings=audit_settings, signer=signer, merge_delay=0.05)
    with sequencer:
        assert sequencer.running
        record_some(ledger, 10)
        deadline = time.monotonic() + 10
        while sequencer.sequenced < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        record_some(ledger, 3, start=10)
    assert not sequencer.running
    assert sequencer.sequenced == 13  # the last three by the drain in stop()
    check_ledger_against_reference(ledger.engine, signer.public_key)


def test_verify_flags_entries_left_unsequenced_beyond_the_maximum_merge_delay(
    ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings
) -> None:
    record_some(ledger, 3)
    sequence_pending(ledger.database, signer=signer, settings=audit_settings)
    record_some(ledger, 2, start=3)
    fresh = verify_ledger(ledger.database, public_keys=[signer.public_key], max_merge_delay=60)
    assert fresh.ok and fresh.pending == 2
    late = verify_ledger(ledger.database, public_keys=[signer.public_key], max_merge_delay=60,
                         now=utcnow() + timedelta(minutes=5))
    assert not late.ok
    assert [f.kind for f in late.findings] == ["pending", "pending"]
    assert "still unsequenced after the maximum merge delay of 60 s" in late.findings[0].message


def test_proof_requests_outside_the_signed_tree_are_refused(
    ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings
) -> None:
    with ledger.database.session_scope() as session, pytest.raises(NotFound):
        service.inclusion_proof(session, leaf_index=0)
    record_some(ledger, 5)
    sequence_pending(ledger.database, signer=signer, settings=audit_settings)
    with ledger.database.session_scope() as session:
        for call in (
            lambda: service.inclusion_proof(session, leaf_index=5),
            lambda: service.inclusion_proof(session, leaf_index=2, tree_size=6),
            lambda: service.inclusion_proof(session, leaf_index=3, tree_size=3),
            lambda: service.consistency_proof(session, first=4, second=3),
            lambda: service.consistency_proof(session, first=1, second=9),
        ):
            with pytest.raises(Invalid):
                call()
        empty = service.consistency_proof(session, first=0, second=5)
        assert empty.consistency == [] and empty.first_root == Rfc9162("sm3").mth([])
        same = service.consistency_proof(session, first=5)
        assert same.consistency == [] and same.first_root == same.second_root


def test_counts_and_listing(ledger: LedgerDb, signer: Signer, audit_settings: AuditSettings) -> None:
    record_some(ledger, 12)
    with ledger.database.session_scope() as session:
        assert service.pending_count(session) == 12
        items, total = service.list_entries(session, action="exchange.deliver", limit=4)
        assert total == 6 and len(items) == 4 and items[0].id > items[-1].id  # newest first
        _, by_actor = service.list_entries(session, actor="nightly-export")
        assert by_actor == 4
        assert service.list_entries(session, subject="dataset:scj/licences#7")[1] == 1
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 12


def test_a_sqlite_sequencer_holds_the_write_lock_during_its_turn(make_ledger_db: Callable[[str], LedgerDb]) -> None:
    ledger = make_ledger_db("sqlite")
    path = ledger.engine.url.database
    assert path is not None
    with sequencer_turn(ledger.engine) as conn:
        assert conn is not None
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # released with the turn
    other.execute("ROLLBACK")
    other.close()


def test_sequencing_works_with_pysqlite_legacy_transactions(tmp_path: Path, signer: Signer) -> None:
    # An engine without the BEGIN hook of core.db: pysqlite then starts transactions at the first write.
    engine = create_engine(f"sqlite:///{tmp_path / 'legacy.db'}", connect_args={"timeout": 10})
    create_audit_tables(engine)
    ledger = LedgerDb.__new__(LedgerDb)
    ledger.backend, ledger.url, ledger.connect_args = "sqlite", str(engine.url), {}
    ledger.database = Database(engine)
    record_some(ledger, 9)
    with sequencer_turn(engine) as conn:
        assert conn is not None
        other = sqlite3.connect(str(tmp_path / "legacy.db"), timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    assert sequence_pending(engine, signer=signer, settings=AuditSettings()) == 9
    check_ledger_against_reference(engine, signer.public_key)
    assert verify_ledger(engine, public_keys=[signer.public_key]).ok
    engine.dispose()
