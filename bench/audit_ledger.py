"""Audit ledger benchmark (SQLite): appends/s, and proofs at 1M entries against recomputing the root.

    python bench/audit_ledger.py [--entries 1000000] [--appends 50000] [--verify]

1. Builds a ledger of ``--entries`` sequenced entries in bulk (executemany of rows whose leaf hashes,
   subtree hashes and signed tree head are computed with the ledger's own code — no shortcut in the
   format), so the proofs below run against a full-size tree.
2. Times inclusion and consistency proofs served from the stored subtrees (O(log n) lookups), and
   the naive baseline: read every leaf hash and recompute the root.
3. Times appends on top of it: ``record_many`` / ``record`` in transactions, then ``sequence_pending``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from rich.console import Console
from rich.progress import Progress
from rich.table import Table as RichTable
from sqlalchemy import Table, insert

from xingcheng.core.audit import service
from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.merkle import CompactTree, hasher, merkle_root_naive, verify_consistency, verify_inclusion
from xingcheng.core.audit.models import AuditEntry, AuditNode, AuditTreeHead, encode_leaf
from xingcheng.core.audit.sequencer import sequence_pending
from xingcheng.core.audit.signing import STH_VERSION, Signer, tree_head_bytes
from xingcheng.core.audit.verify import verify_ledger
from xingcheng.core.auth import Principal
from xingcheng.core.db import Base, Database, create_db_engine

console = Console(width=max(Console().width, 120))
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"load average at start {load}")


def build_bulk(db: Database, signer: Signer, entries: int, algorithm: str) -> float:
    """Write ``entries`` sequenced entries, their subtree hashes and signed heads with executemany."""
    hash_ = hasher(algorithm)
    tree = CompactTree(hash_)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    chunk = 50_000
    with Progress(console=console, transient=True) as bar, db.engine.begin() as conn:
        task = bar.add_task(f"building {entries:,} entries", total=entries)
        for start in range(0, entries, chunk):
            rows, nodes = [], []
            for i in range(start, min(start + chunk, entries)):
                recorded_at = base + timedelta(microseconds=i * 1000)
                subject, details, content_hash = f"person:43010219900101{i % 10000:04d}", {"n": i}, i.to_bytes(32, "big")
                leaf_hash = hash_.leaf(encode_leaf(
                    version=1, leaf_index=i, entry_id=i + 1, recorded_at=recorded_at, actor_kind="staff",
                    actor_name="clerk", action="exchange.deliver", subject=subject, purpose="监管执法", result="ok",
                    details=details, content_hash=content_hash))
                nodes.extend(tree.append(leaf_hash))
                rows.append((i + 1, i, 1, recorded_at.strftime(SQLITE_TIME), "staff", "clerk", "exchange.deliver",
                             subject, "监管执法", "ok", json.dumps(details), content_hash, leaf_hash))
            conn.exec_driver_sql(
                "INSERT INTO audit_entry (id, leaf_index, leaf_version, recorded_at, actor_kind, actor_name, action, "
                "subject, purpose, result, details, content_hash, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            conn.exec_driver_sql("INSERT INTO audit_node (level, position, hash) VALUES (?, ?, ?)", nodes)
            bar.update(task, completed=min(start + chunk, entries))
        now_ms = time.time_ns() // 1_000_000
        for size, previous, root in ((0, 0, hash_.empty_root()), (entries, 0, tree.root())):
            signed = tree_head_bytes(version=STH_VERSION, algorithm=algorithm, tree_size=size, previous_size=previous,
                                     timestamp_ms=now_ms, root_hash=root)
            conn.execute(insert(AuditTreeHead).values(
                tree_size=size, previous_size=previous, root_hash=root, algorithm=algorithm, timestamp_ms=now_ms,
                key_id=signer.key_id, signature=signer.sign(signed), version=STH_VERSION))
    return time.perf_counter() - started


def time_proofs(db: Database, entries: int, count: int) -> tuple[list[float], list[float]]:
    rng = random.Random(1)
    hash_ = hasher("sm3")
    inclusion, consistency = [], []
    session = db.sessionmaker()
    try:
        head = service.latest_tree_head_or_raise(session)
        for _ in range(50):  # warm the statement cache and SQLite's page cache like a running server
            service.inclusion_proof(session, leaf_index=rng.randrange(entries))
        for _ in range(count):
            leaf = rng.randrange(entries)
            started = time.perf_counter()
            proof = service.inclusion_proof(session, leaf_index=leaf)
            inclusion.append(time.perf_counter() - started)
            assert verify_inclusion(hash_, leaf_hash=proof.leaf_hash, index=leaf, size=entries, path=proof.audit_path,
                                    root=head.root_hash)
            first = rng.randrange(1, entries)
            started = time.perf_counter()
            cproof = service.consistency_proof(session, first=first)
            consistency.append(time.perf_counter() - started)
            assert verify_consistency(hash_, first=first, second=entries, first_root=cproof.first_root,
                                      second_root=head.root_hash, proof=cproof.consistency)
    finally:
        session.close()
    return inclusion, consistency


def naive_root(db: Database, expected: bytes) -> float:
    """The baseline a proof avoids: read every leaf hash and hash the whole tree again."""
    started = time.perf_counter()
    with db.engine.connect() as conn:
        leaves = [bytes(h) for (h,) in conn.exec_driver_sql("SELECT leaf_hash FROM audit_entry ORDER BY leaf_index")]
    root = merkle_root_naive(leaves, hasher("sm3"))
    elapsed = time.perf_counter() - started
    assert root == expected, "the naive root must agree with the signed tree head"
    return elapsed


def time_appends(db: Database, signer: Signer, appends: int, *, batch: int, one_by_one: bool) -> tuple[float, float]:
    """Seconds to record and sequence ``appends`` entries; and of that, seconds spent sequencing."""
    settings = AuditSettings(batch_size=max(batch, 1000))
    clerk = Principal(kind="staff", name="clerk")
    sequencing = 0.0
    started = time.perf_counter()
    for start in range(0, appends, batch):
        with db.session_scope() as session:
            if one_by_one:
                for i in range(start, min(start + batch, appends)):
                    service.record(session, actor=clerk, action="exchange.deliver", subject=f"row:{i}",
                                   details={"i": i}, content_hash=bytes(32))
            else:
                service.record_many(session, [
                    service.AuditEvent(clerk, "exchange.deliver", f"row:{i}", details={"i": i}, content_hash=bytes(32))
                    for i in range(start, min(start + batch, appends))])
        seq_started = time.perf_counter()
        sequence_pending(db, signer=signer, settings=settings)
        sequencing += time.perf_counter() - seq_started
    return time.perf_counter() - started, sequencing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger size for the proof timings")
    parser.add_argument("--appends", type=int, default=50_000, help="entries appended for the throughput timing")
    parser.add_argument("--proofs", type=int, default=2_000, help="random proofs to time")
    parser.add_argument("--verify", action="store_true", help="also time verify_ledger over the whole ledger")
    args = parser.parse_args()
    console.print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="xc-audit-bench-") as tmp:
        engine = create_db_engine(f"sqlite:///{Path(tmp) / 'audit.db'}")
        Base.metadata.create_all(engine, tables=[cast(Table, m.__table__) for m in (AuditEntry, AuditNode, AuditTreeHead)])
        db = Database(engine)
        signer = Signer.load_or_create(Path(tmp) / "keys" / "audit-signing.key")
        build_seconds = build_bulk(db, signer, args.entries, "sm3")
        with db.engine.connect() as conn:
            root = service.latest_tree_head_or_raise(conn).root_hash
        inclusion, consistency = time_proofs(db, args.entries, args.proofs)
        naive = naive_root(db, root)
        verify_seconds = None
        if args.verify:
            started = time.perf_counter()
            report = verify_ledger(db, public_keys=[signer.public_key], max_merge_delay=3600)
            verify_seconds = time.perf_counter() - started
            assert report.ok, report.findings[:3]
        bulk_total, bulk_seq = time_appends(db, signer, args.appends, batch=1000, one_by_one=False)
        single_count = max(args.appends // 10, 100)
        single_total, _ = time_appends(db, signer, single_count, batch=100, one_by_one=True)
        after = verify_ledger(db, public_keys=[signer.public_key], max_merge_delay=3600) if args.verify else None
        engine.dispose()

    def ms(values: list[float], q: float) -> str:
        return f"{statistics.quantiles(values, n=100)[int(q) - 1] * 1000:.3f} ms"

    median_inclusion = statistics.median(inclusion)
    table = RichTable(title=f"audit ledger on SQLite — {args.entries:,} entries, SM3, Ed25519")
    for column in ("measurement", "result", "goal"):
        table.add_column(column)
    table.add_row("appends: record_many + sequence, transactions of 1,000",
                  f"{args.appends / bulk_total:,.0f} /s", "≥ 20,000 /s")
    table.add_row("  of which sequencing alone", f"{args.appends / bulk_seq:,.0f} /s", "")
    table.add_row("appends: record() one by one + sequence, transactions of 100",
                  f"{single_count / single_total:,.0f} /s", "")
    table.add_row(f"inclusion proof at {args.entries:,} (median / p99)",
                  f"{median_inclusion * 1000:.3f} ms / {ms(inclusion, 99)}", "< 1 ms")
    table.add_row(f"consistency proof at {args.entries:,} (median / p99)",
                  f"{statistics.median(consistency) * 1000:.3f} ms / {ms(consistency, 99)}", "")
    table.add_row(f"naive: read {args.entries:,} leaf hashes and recompute the root", f"{naive * 1000:,.0f} ms", "")
    table.add_row("proof from stored subtrees vs naive root", f"{naive / median_inclusion:,.0f}× faster", "")
    table.add_row(f"bulk build of {args.entries:,} entries (executemany)", f"{build_seconds:.1f} s", "")
    if verify_seconds is not None:
        table.add_row(f"verify_ledger over {args.entries:,} entries", f"{verify_seconds:.1f} s", "")
    if after is not None:
        table.add_row("verify_ledger after the appends", "OK" if after.ok else after.findings[0].message, "")
    console.print(table)


if __name__ == "__main__":
    main()
