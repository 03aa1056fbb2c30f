"""Exchange API on SQLite and PostgreSQL: request → approve → masked pull with cursor → revoke/expire, proofs, stats."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from exchange_testing import (
    CATALOG,
    EXCHANGE,
    ID_A,
    ID_B,
    PURPOSE,
    SLUG,
    approved_request,
    make_dataset,
    owner_headers,
    read_arrow,
    request_body,
    upload,
)
from sqlalchemy import select

from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.db import utcnow
from xingcheng.core.grants.models import DataGrant


def _problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def _canonical(items: list) -> str:  # type: ignore[type-arg]
    text = json.dumps(items, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_no_grant_no_data_then_approved_fields_masked(client, auth, any_db):
    make_dataset(client, any_db)
    # Without a grant the clerk's department (xzsp) reads none of gaj's L3 rows, by any route.
    problem = _problem(client.get(f"{CATALOG}/{SLUG}/rows", params={"purpose": PURPOSE}, headers=auth("clerk")), 403)
    assert "no grant" in problem["detail"]
    created = client.post(f"{EXCHANGE}/requests", json=request_body(), headers=auth("clerk"))
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "pending" and request["owner_department_code"] == "gaj"
    assert "before approval" in _problem(client.get(f"{EXCHANGE}/requests/{request['id']}/rows", headers=auth("clerk")),
                                         403)["detail"]
    inbox = client.get(f"{EXCHANGE}/requests", params={"box": "inbox", "status": "pending"},
                       headers=owner_headers(client, any_db)).json()
    assert request["id"] in [r["id"] for r in inbox["items"]]

    # The owner approves and narrows the grant to two of the three requested fields.
    approved = client.post(f"{EXCHANGE}/requests/{request['id']}/approve",
                           json={"reason": "依据充分", "fields": ["id_number", "division_code"]},
                           headers=owner_headers(client, any_db))
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["grant_status"] == "active"
    grant = any_db.get(DataGrant, body["grant_id"])
    assert grant is not None and grant.fields == ["id_number", "division_code"] and grant.grade_ceiling == "L3"
    assert grant.purpose == PURPOSE and grant.grantee_department_code == "xzsp"

    page = client.get(f"{EXCHANGE}/requests/{request['id']}/rows", params={"limit": 3}, headers=auth("clerk"))
    assert page.status_code == 200, page.text
    data = page.json()
    assert data["fields"] == {"id_number": "masked:partial", "name": "withheld", "phone": "withheld",
                              "address": "withheld", "division_code": "clear"}
    assert data["items"][0] == {"id_number": ID_A[:6] + "********" + ID_A[-4:], "division_code": "430104"}
    assert data["items"][1]["id_number"] == ID_B[:6] + "********" + ID_B[-4:]
    assert all(set(item) == {"id_number", "division_code"} for item in data["items"])  # never beyond the grant
    assert data["records"] == 3 and data["more"] is True
    # The hash is the hash of the delivered items, and the ledger holds the same hash.
    assert data["content_hash"] == _canonical(data["items"])
    entry = any_db.scalar(select(AuditEntry).where(AuditEntry.action == "exchange.deliver",
                                                   AuditEntry.content_hash == bytes.fromhex(data["content_hash"])))
    assert entry is not None and entry.subject == f"dataset:{SLUG}" and entry.purpose == PURPOSE
    assert entry.details["records"] == 3 and entry.details["fields"]["name"] == "withheld"
    proof = client.post(f"{EXCHANGE}/verify", json={"content_hash": data["content_hash"]}, headers=auth("clerk")).json()
    assert proof["valid"] is True and proof["audit_entry_id"] == entry.id and proof["delivery"]["records"] == 3
    _problem(client.post(f"{EXCHANGE}/verify", json={"content_hash": "0" * 64}, headers=auth("clerk")), 404)
    # The owner's own staff read clear through the catalogue; other departments see nothing of the request.
    _problem(client.get(f"{EXCHANGE}/requests/{request['id']}", headers=auth("operator")), 404)


def test_cursor_delivers_only_new_rows(client, auth, any_db):
    make_dataset(client, any_db, rows=5)
    request = approved_request(client, any_db, auth)
    url = f"{EXCHANGE}/requests/{request['id']}/rows"
    first = client.get(url, params={"limit": 1000}, headers=auth("clerk")).json()
    assert first["records"] == 5 and first["more"] is False and first["cursor"] == "0.0"
    empty = client.get(url, params={"cursor": first["next_cursor"]}, headers=auth("clerk")).json()
    assert empty["records"] == 0 and empty["next_cursor"] == first["next_cursor"]
    upload(client, any_db, 100, 3)  # three new rows arrive
    page = client.get(url, params={"cursor": first["next_cursor"], "limit": 2}, headers=auth("clerk")).json()
    assert page["records"] == 2 and page["more"] is True
    rest = client.get(url, params={"cursor": page["next_cursor"], "format": "arrow", "limit": 10}, headers=auth("clerk"))
    assert rest.status_code == 200 and rest.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert rest.headers["x-content-sha256"] == hashlib.sha256(rest.content).hexdigest()
    table = read_arrow(rest.content)
    assert table.num_rows == 1 and table.column_names == ["id_number", "name", "division_code"]
    assert table.column("name").to_pylist() == ["张*"]  # row 102 of the CSV: 张三
    assert rest.headers["x-more"] == "false"
    parquet = client.get(url, params={"format": "parquet", "limit": 100000}, headers=auth("clerk"))
    assert parquet.content[:4] == b"PAR1" and parquet.headers["x-records"] == "8"
    assert any_db.scalar(select(AuditEntry.id).where(
        AuditEntry.content_hash == bytes.fromhex(parquet.headers["x-content-sha256"]))) is not None
    # Bad cursors and page sizes are 422s.
    for params in ({"cursor": "abc"}, {"cursor": "1.-1"}, {"limit": 0}, {"limit": 5000}, {"format": "csv"}):
        _problem(client.get(url, params=params, headers=auth("clerk")), 422)


def test_revoked_and_expired_grants_refuse_the_next_pull(client, auth, any_db):
    make_dataset(client, any_db)
    request = approved_request(client, any_db, auth)
    url = f"{EXCHANGE}/requests/{request['id']}/rows"
    assert client.get(url, headers=auth("clerk")).status_code == 200
    _problem(client.post(f"{EXCHANGE}/requests/{request['id']}/revoke", json={"reason": "x"}, headers=auth("clerk")), 403)
    revoked = client.post(f"{EXCHANGE}/requests/{request['id']}/revoke", json={"reason": "核查工作已结束"},
                          headers=owner_headers(client, any_db))
    assert revoked.status_code == 200 and revoked.json()["grant_status"] == "revoked"
    problem = _problem(client.get(url, headers=auth("clerk")), 403)
    assert "revoked" in problem["detail"] and "核查工作已结束" in problem["detail"]
    denied = any_db.scalars(select(AuditEntry).where(AuditEntry.action == "grant.decide", AuditEntry.result == "denied",
                                                     AuditEntry.subject == f"dataset:{SLUG}")).all()
    assert denied, "the refusal is audited"
    _problem(client.post(f"{EXCHANGE}/requests/{request['id']}/revoke", json={"reason": "again"},
                         headers=owner_headers(client, any_db)), 409)

    second = approved_request(client, any_db, auth, purpose="tax-registration-check")
    grant = any_db.get(DataGrant, second["grant_id"])
    assert grant is not None
    grant.valid_from, grant.expires_at = utcnow() - timedelta(days=10), utcnow() - timedelta(seconds=1)
    any_db.commit()
    problem = _problem(client.get(f"{EXCHANGE}/requests/{second['id']}/rows", headers=auth("clerk")), 403)
    assert "expired" in problem["detail"]


def test_decisions_permissions_and_bad_input(client, auth, any_db):
    make_dataset(client, any_db)
    created = client.post(f"{EXCHANGE}/requests", json=request_body(), headers=auth("clerk")).json()
    _problem(client.post(f"{EXCHANGE}/requests", json=request_body(), headers=auth("clerk")), 409)  # still pending
    # Only the owning department decides; the requester cannot approve itself.
    _problem(client.post(f"{EXCHANGE}/requests/{created['id']}/approve", json={}, headers=auth("clerk")), 403)
    _problem(client.post(f"{EXCHANGE}/requests/{created['id']}/approve", json={}, headers=auth("steward")), 403)
    _problem(client.post(f"{EXCHANGE}/requests/{created['id']}/approve", json={"fields": ["phone"]},
                         headers=owner_headers(client, any_db)), 422)  # cannot widen the request
    rejected = client.post(f"{EXCHANGE}/requests/{created['id']}/reject", json={"reason": "用途不明确"},
                           headers=owner_headers(client, any_db))
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_reason"] == "用途不明确"
    _problem(client.post(f"{EXCHANGE}/requests/{created['id']}/approve", json={}, headers=owner_headers(client, any_db)),
             409)
    assert "rejected" in _problem(client.get(f"{EXCHANGE}/requests/{created['id']}/rows", headers=auth("clerk")),
                                  403)["detail"]
    mine = client.get(f"{EXCHANGE}/requests", params={"box": "mine"}, headers=auth("clerk")).json()
    assert created["id"] in [r["id"] for r in mine["items"]]
    _problem(client.post(f"{EXCHANGE}/requests", json=request_body(), headers=auth("operator")), 403)
    _problem(client.get(f"{EXCHANGE}/requests", headers=auth("citizen")), 403)
    _problem(client.post(f"{EXCHANGE}/requests", json=request_body(), headers=owner_headers(client, any_db)), 422)
    for bad in (request_body(fields=["salary"]), request_body(requested_until=(utcnow() - timedelta(days=1)).isoformat()),
                request_body(dataset="gaj/no-such-set"), request_body(legal_basis=" "), request_body(fields=["Bad Name"])):
        response = client.post(f"{EXCHANGE}/requests", json=bad, headers=auth("clerk"))
        assert response.status_code in (404, 422), response.text
    l1 = client.get(CATALOG, params={"grade": "L1", "limit": 1}, headers=auth("clerk")).json()["items"][0]["slug"]
    assert "L1" in _problem(client.post(f"{EXCHANGE}/requests", json=request_body(dataset=l1, fields=None),
                                        headers=auth("clerk")), 422)["detail"]


def test_statistics_count_delivered_records(client, auth, any_db):
    before = client.get(f"{EXCHANGE}/stats", headers=auth("operator")).json()
    make_dataset(client, any_db, rows=7)
    request = approved_request(client, any_db, auth)
    client.get(f"{EXCHANGE}/requests/{request['id']}/rows", params={"limit": 4}, headers=auth("clerk"))
    after = client.get(f"{EXCHANGE}/stats", headers=auth("operator")).json()
    assert after["total_records"] == before["total_records"] + 4
    assert after["total_deliveries"] == before["total_deliveries"] + 1
    gained = {f["source"] + ">" + f["target"]: f["records"] for f in after["flows"]}
    had = {f["source"] + ">" + f["target"]: f["records"] for f in before["flows"]}
    assert gained["gaj>xzsp"] - had.get("gaj>xzsp", 0) == 4
    assert any(d["key"] == "430100" for d in after["by_district"])  # xzsp is a city-level department
    assert after["by_day"][-1]["day"] == utcnow().date().isoformat()
    deliveries = client.get(f"{EXCHANGE}/deliveries", params={"request_id": request["id"]}, headers=auth("clerk")).json()
    assert deliveries["total"] == 1 and deliveries["items"][0]["records"] == 4
    _problem(client.get(f"{EXCHANGE}/stats", params={"days": 0}, headers=auth("operator")), 422)
