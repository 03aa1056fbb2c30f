"""The audit API: entries, the signed tree head and proofs a client can check on its own."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from audit_rfc9162_reference import Rfc9162
from audit_test_helpers import LedgerDb, spec_sth_bytes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from xingcheng.core.audit import api
from xingcheng.core.audit.sequencer import sequence_pending
from xingcheng.core.audit.service import record
from xingcheng.core.auth import Principal
from xingcheng.core.deps import current_principal, get_session
from xingcheng.core.problems import install_error_handlers


@dataclass(frozen=True)
class Auditor(Principal):
    """A caller holding ``audit:read`` (the lead grants it to admin and data_steward)."""

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset({"audit:read"})


@pytest.fixture
def client(ledger: LedgerDb, tmp_path: Path, audit_env: Callable[..., None]) -> Iterator[TestClient]:
    audit_env(signing_key_file=tmp_path / "keys" / "audit-signing.key")
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(api.router)

    def session() -> Iterator[Session]:
        with ledger.database.session_scope() as s:
            yield s

    app.dependency_overrides[get_session] = session
    app.dependency_overrides[current_principal] = lambda: Auditor(kind="staff", name="auditor")
    app.state.ledger = ledger
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def fill(ledger: LedgerDb, count: int, *, sequence: bool = True) -> None:
    with ledger.database.session_scope() as session:
        for i in range(count):
            record(session, actor="export-job" if i % 2 else Principal(kind="staff", name="clerk"),
                   action="exchange.deliver" if i % 3 else "grant.decide", subject=f"row:{i}",
                   content_hash=bytes([i]) * 32)
    if sequence:
        sequence_pending(ledger.database)  # the default signer: the key file named in the environment


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def test_entries_page_and_filter(client: TestClient) -> None:
    ledger: LedgerDb = client.app.state.ledger  # type: ignore[attr-defined]
    fill(ledger, 9)
    fill(ledger, 2, sequence=False)
    page = client.get("/api/v1/audit/entries", params={"limit": 4, "offset": 0}).json()
    assert page["total"] == 11 and len(page["items"]) == 4
    assert [item["leaf_index"] for item in page["items"][:2]] == [None, None]  # newest: not sequenced yet
    assert page["items"][2]["leaf_index"] == 8
    assert b64(page["items"][2]["leaf_hash"]) and len(b64(page["items"][2]["content_hash"])) == 32
    filtered = client.get("/api/v1/audit/entries", params={"action": "grant.decide", "actor": "clerk"}).json()
    # grant.decide by clerk: rows 0 and 6 of the first batch, row 0 of the second
    assert filtered["total"] == 3 and sorted(i["subject"] for i in filtered["items"]) == ["row:0", "row:0", "row:6"]
    assert client.get("/api/v1/audit/entries", params={"subject": "row:5"}).json()["total"] == 1


def test_signed_tree_head_and_proofs_check_out_independently(client: TestClient) -> None:
    ledger: LedgerDb = client.app.state.ledger  # type: ignore[attr-defined]
    fill(ledger, 5)
    first = client.get("/api/v1/audit/sth").json()
    fill(ledger, 8)
    sth = client.get("/api/v1/audit/sth").json()
    assert (sth["tree_size"], sth["previous_size"], sth["algorithm"]) == (13, 5, "sm3")
    head = type("Head", (), {"algorithm": sth["algorithm"], "root_hash": b64(sth["root_hash"]),
                             "tree_size": sth["tree_size"], "previous_size": sth["previous_size"],
                             "timestamp_ms": sth["timestamp"]})
    Ed25519PublicKey.from_public_bytes(b64(sth["public_key"])).verify(b64(sth["signature"]), spec_sth_bytes(head))
    rfc = Rfc9162("sm3")
    root = b64(sth["root_hash"])
    for leaf in range(13):
        proof = client.get("/api/v1/audit/proof/inclusion", params={"leaf_index": leaf}).json()
        assert proof["tree_size"] == 13 and b64(proof["root_hash"]) == root
        assert rfc.verify_inclusion(leaf, 13, b64(proof["leaf_hash"]), [b64(p) for p in proof["audit_path"]], root)
    old = client.get("/api/v1/audit/proof/inclusion", params={"leaf_index": 2, "tree_size": 5}).json()
    assert rfc.verify_inclusion(2, 5, b64(old["leaf_hash"]), [b64(p) for p in old["audit_path"]],
                                b64(first["root_hash"]))
    consistency = client.get("/api/v1/audit/proof/consistency", params={"first": 5, "second": 13}).json()
    assert rfc.verify_consistency(5, 13, b64(first["root_hash"]), root, [b64(p) for p in consistency["consistency"]])


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/v1/audit/proof/inclusion", {"leaf_index": 4}, 422),  # leaf_index >= tree_size
    ("/api/v1/audit/proof/inclusion", {"leaf_index": 1, "tree_size": 9}, 422),  # beyond the latest head
    ("/api/v1/audit/proof/inclusion", {"leaf_index": -1}, 422),
    ("/api/v1/audit/proof/inclusion", {}, 422),
    ("/api/v1/audit/proof/consistency", {"first": 3, "second": 2}, 422),  # first > second
    ("/api/v1/audit/proof/consistency", {"first": 2, "second": 5}, 422),
    ("/api/v1/audit/proof/consistency", {"first": "x"}, 422),
])
def test_bad_parameters_are_problems(client: TestClient, path: str, params: dict[str, object], status: int) -> None:
    fill(client.app.state.ledger, 4)  # type: ignore[attr-defined]
    response = client.get(path, params=params)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


def test_an_empty_log_has_no_head_yet(client: TestClient) -> None:
    response = client.get("/api/v1/audit/sth")
    assert response.status_code == 404 and "has no signed tree head" in response.json()["detail"]


def test_reading_the_ledger_needs_the_audit_read_permission(client: TestClient) -> None:
    client.app.dependency_overrides[current_principal] = lambda: Principal(  # type: ignore[attr-defined]
        kind="staff", name="clerk", roles=frozenset({"department_staff"}))
    for path in ("/api/v1/audit/entries", "/api/v1/audit/sth", "/api/v1/audit/proof/consistency?first=0"):
        response = client.get(path)
        assert response.status_code == 403 and "audit:read" in response.json()["detail"]
