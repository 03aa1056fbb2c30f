"""``xingcheng verify-audit``: OK with the tree size, or exit 1 with the first finding as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from audit_test_helpers import LedgerDb
from typer.testing import CliRunner

from xingcheng.core.audit import cli
from xingcheng.core.audit.sequencer import sequence_pending
from xingcheng.core.audit.service import record


@pytest.fixture
def run(ledger: LedgerDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, audit_env):  # type: ignore[no-untyped-def]
    audit_env(signing_key_file=tmp_path / "keys" / "audit-signing.key")
    monkeypatch.setattr(cli, "get_database", lambda: ledger.database)
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("verify-audit")(cli.verify_audit)  # as the lead registers it on the top-level command
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["verify-audit", *args])

    with ledger.database.session_scope() as session:
        for i in range(12):
            record(session, actor="export-job", action="exchange.deliver", subject=f"row:{i}")
    sequence_pending(ledger.database)
    return invoke


def test_ok_prints_the_tree_size(run, ledger: LedgerDb) -> None:  # type: ignore[no-untyped-def]
    result = run()
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: audit ledger verified — tree size 12 (sm3)")
    as_json = json.loads(run("--json").stdout)
    assert as_json["ok"] is True and as_json["tree_size"] == 12 and as_json["findings"] == []


def test_a_tampered_ledger_exits_1_with_the_first_finding(run, ledger: LedgerDb) -> None:  # type: ignore[no-untyped-def]
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_entry SET subject = 'edited' WHERE leaf_index IN (4, 9)")
        entry_id = conn.exec_driver_sql("SELECT id FROM audit_entry WHERE leaf_index = 4").scalar_one()
    result = run()
    assert result.exit_code == 1
    assert result.stderr.strip() == f"entry {entry_id} (leaf 4) was modified: its content no longer matches its leaf hash"
    assert result.stdout == ""
    report = json.loads(run("--json").stdout)
    assert report["ok"] is False and [f["leaf_index"] for f in report["findings"]] == [4, 9]
