"""Work for the concurrency tests' threads and spawned processes: record, commit (or roll back), sequence."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.sequencer import Sequencer
from xingcheng.core.audit.service import record
from xingcheng.core.audit.signing import Signer
from xingcheng.core.auth import Principal
from xingcheng.core.db import Database, create_db_engine


def record_transactions(database: Database, *, name: str, transactions: int, per_transaction: int, seed: int) -> int:
    """Record in many small transactions, rolling every fifth back; returns how many entries committed."""
    rng = random.Random(seed)
    actor = Principal(kind="staff", name=name)
    committed = 0
    for t in range(transactions):
        session = database.sessionmaker()
        try:
            for i in range(per_transaction):
                record(session, actor=actor, action="exchange.deliver", subject=f"{name}:{t}:{i}",
                       details={"t": t, "i": i})
            if rng.random() < 0.2:
                session.rollback()
            else:
                session.commit()
                committed += per_transaction
        finally:
            session.close()
    return committed


def run_threads(database: Database, *, prefix: str, threads: int, transactions: int, per_transaction: int) -> int:
    results: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        done = record_transactions(database, name=f"{prefix}{n}", transactions=transactions,
                                   per_transaction=per_transaction, seed=n)
        with lock:
            results.append(done)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(results) == threads, "a recording thread failed"
    return sum(results)


def process_main(url: str, connect_args: dict[str, str], key_path: str, name: str, queue: Any) -> None:
    """One process of the two-process test: its own engine, sequencer and recording threads."""
    engine = create_db_engine(url, connect_args=connect_args) if connect_args else create_db_engine(url)
    database = Database(engine)
    signer = Signer.load_or_create(Path(key_path))  # both processes race to create the same key file
    sequencer = Sequencer(database, settings=AuditSettings(), signer=signer, merge_delay=0.01)
    sequencer.start()
    try:
        committed = run_threads(database, prefix=name, threads=3, transactions=30, per_transaction=4)
    finally:
        sequencer.stop(drain=True)
        engine.dispose()
    queue.put((name, committed, sequencer.sequenced))
