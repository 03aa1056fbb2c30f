"""Many writers and several sequencers at once: no fork, no reused or skipped leaf index, nothing lost."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from audit_test_helpers import LedgerDb, check_ledger_against_reference
from audit_workers import process_main, run_threads

from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.sequencer import Sequencer, sequence_pending
from xingcheng.core.audit.signing import Signer
from xingcheng.core.audit.verify import verify_ledger
from xingcheng.core.db import Database


def test_threads_record_while_two_sequencers_run(ledger: LedgerDb, signer: Signer) -> None:
    # Two sequencers on separate engines (separate pools), as two API workers would have.
    second = Database(ledger.new_engine())
    sequencers = [Sequencer(db, settings=AuditSettings(), signer=signer, merge_delay=0.005)
                  for db in (ledger.database, second)]
    for sequencer in sequencers:
        sequencer.start()
    try:
        committed = run_threads(ledger.database, prefix="t", threads=6, transactions=12, per_transaction=5)
        # Let the sequencers catch up once, so the second round lands on a tree they have grown meanwhile.
        deadline = time.monotonic() + 30
        while sum(s.sequenced for s in sequencers) < committed and time.monotonic() < deadline:
            time.sleep(0.01)
        committed += run_threads(ledger.database, prefix="u", threads=6, transactions=12, per_transaction=5)
    finally:
        for sequencer in sequencers:
            sequencer.stop(drain=True)
        second.engine.dispose()
    assert committed > 0
    state = check_ledger_against_reference(ledger.engine, signer.public_key)
    assert len(state.leaf_hashes) == committed and state.unsequenced == 0
    assert sum(s.sequenced for s in sequencers) == committed  # each entry sequenced exactly once
    assert len(state.heads) >= 3  # the empty head, at least one per round
    report = verify_ledger(ledger.database, public_keys=[signer.public_key])
    assert report.ok, report.findings


def test_two_processes_each_with_a_sequencer_share_one_log(ledger: LedgerDb, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    key_path = tmp_path / "keys" / "audit-signing.key"
    processes = [
        context.Process(target=process_main, args=(ledger.url, ledger.connect_args, str(key_path), name, queue))
        for name in ("p", "q")
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    assert [p.exitcode for p in processes] == [0, 0]
    results = [queue.get(timeout=5) for _ in processes]
    committed = sum(r[1] for r in results)
    signer = Signer.load(key_path)
    assert sequence_pending(ledger.database, signer=signer, settings=AuditSettings(), wait=True) == 0
    state = check_ledger_against_reference(ledger.engine, signer.public_key)  # one key, every head valid
    assert len(state.leaf_hashes) == committed
    assert sum(r[2] for r in results) == committed  # each entry sequenced exactly once, by one of the two
    report = verify_ledger(ledger.database, public_keys=[signer.public_key])
    assert report.ok, report.findings
