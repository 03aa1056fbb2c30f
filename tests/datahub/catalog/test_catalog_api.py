"""Catalogue API on SQLite and PostgreSQL: create, upload with bad rows, search with facets, graded reads."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from catalog_testing import CLERK, CSV, GOOD_ID, PURPOSE, dataset_body
from sqlalchemy import select

from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.db import utcnow
from xingcheng.core.grants.schemas import GrantCreate
from xingcheng.core.grants.service import create_grant, revoke_grant

BASE = "/api/v1/catalog/datasets"
SLUG = "xzsp/dog-immunisation"


def _problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def _create_and_upload(client, auth) -> dict:  # type: ignore[no-untyped-def]
    created = client.post(BASE, json=dataset_body(), headers=auth("clerk"))
    assert created.status_code == 201, created.text
    uploaded = client.post(f"{BASE}/{SLUG}/rows", files={"file": ("dogs.csv", CSV.encode(), "text/csv")}, headers=auth("clerk"))
    assert uploaded.status_code == 200, uploaded.text
    return uploaded.json()


def test_create_dataset_and_bad_input(client, auth):
    created = client.post(BASE, json=dataset_body(), headers=auth("clerk"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["slug"] == SLUG and body["schema_version"] == 1 and body["row_count"] == 0
    assert [f["grade"] for f in body["fields"]] == ["L3", "L3", "L3", "L1", "L2"]
    assert client.get(f"{BASE}/{SLUG}", headers=auth("operator")).json()["title"] == "长沙市犬类免疫登记信息"

    _problem(client.post(BASE, json=dataset_body(), headers=auth("clerk")), 409)
    for bad in (dataset_body(name="Dogs"), dataset_body(name="a"), dataset_body(name="x" * 101), dataset_body(name="狗"),
                dataset_body(name="ok-name", grade="L2"), dataset_body(name="ok-name", grade="L9"),
                dataset_body(name="ok-name", fields=[{"name": "n", "title": "x", "kind": "phone", "type": "int"}]),
                dataset_body(name="ok-name", fields=[{"name": "a", "title": "x"}, {"name": "a", "title": "y"}])):
        problem = _problem(client.post(BASE, json=bad, headers=auth("clerk")), 422)
        assert problem["errors"], problem
    # Department staff register datasets of their own department only; stewards curate any.
    _problem(client.post(BASE, json=dataset_body(owner_department_code="gaj"), headers=auth("clerk")), 403)
    assert client.post(BASE, json=dataset_body(owner_department_code="gaj"), headers=auth("steward")).status_code == 201
    _problem(client.post(BASE, json=dataset_body(owner_department_code="nope"), headers=auth("steward")), 422)
    _problem(client.post(BASE, json=dataset_body(), headers=auth("operator")), 403)
    _problem(client.get(f"{BASE}/xzsp/no-such", headers=auth("clerk")), 404)
    _problem(client.get(BASE, headers=auth("citizen")), 403)


def test_upload_reports_bad_rows_and_keeps_good_ones(client, auth):
    result = _create_and_upload(client, auth)
    assert (result["rows_received"], result["rows_accepted"], result["rows_rejected"]) == (5, 2, 3)
    rejected = {r["row"]: " ".join(r["reasons"]) for r in result["rejected"]}
    assert sorted(rejected) == [2, 3, 4]
    assert "owner_id" in rejected[2]
    assert all(f in rejected[3] for f in ("phone", "dog_count", "vaccinated_on"))
    assert "required" in rejected[4]
    assert result["row_count"] == 2
    # A second batch appends; an unknown column refuses the whole upload rather than dropping it.
    again = client.post(f"{BASE}/{SLUG}/rows", files={"file": ("more.csv", CSV.encode(), "text/csv")}, headers=auth("clerk"))
    assert again.json()["row_count"] == 4
    _problem(client.post(f"{BASE}/{SLUG}/rows", files={"file": ("x.csv", b"owner_id,colour\n1,red\n", "text/csv")},
                         headers=auth("clerk")), 422)
    _problem(client.post(f"{BASE}/{SLUG}/rows", files={"file": ("x.csv", b"", "text/csv")}, headers=auth("clerk")), 422)
    _problem(client.post(f"{BASE}/{SLUG}/rows", files={"file": ("x.csv", CSV.encode(), "text/csv")},
                         headers=auth("operator")), 403)


def test_owner_reads_clear_and_delivery_is_audited(client, auth, any_db):
    _create_and_upload(client, auth)
    response = client.get(f"{BASE}/{SLUG}/rows", params={"purpose": PURPOSE}, headers=auth("clerk"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["basis"] == "owner" and body["total"] == 2
    assert [r["owner_id"] for r in body["items"]] == [GOOD_ID, GOOD_ID]
    assert body["items"][0] == {"owner_id": GOOD_ID, "owner_name": "张三", "phone": "13812345678", "dog_count": 2,
                                "vaccinated_on": "2026-03-01"}
    expected = hashlib.sha256(json.dumps(body["items"], ensure_ascii=False, sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()
    assert body["content_hash"] == expected
    entries = any_db.scalars(select(AuditEntry).where(AuditEntry.subject == f"dataset:{SLUG}")).all()
    actions = {e.action for e in entries}
    assert {"catalog.dataset.create", "catalog.rows.upload", "grant.decide", "catalog.rows.read"} <= actions
    delivery = next(e for e in entries if e.action == "catalog.rows.read")
    assert delivery.content_hash == bytes.fromhex(expected) and delivery.purpose == PURPOSE
    # Paging works over the stored parts.
    second = client.get(f"{BASE}/{SLUG}/rows", params={"purpose": PURPOSE, "offset": 1, "limit": 5}, headers=auth("clerk"))
    assert [r["owner_name"] for r in second.json()["items"]] == ["欧阳修"]


def test_other_department_needs_an_active_grant(client, auth, any_db):
    _create_and_upload(client, auth)
    url, params = f"{BASE}/{SLUG}/rows", {"purpose": PURPOSE}
    problem = _problem(client.get(url, params=params, headers=auth("steward")), 403)
    assert "no grant" in problem["detail"]
    _problem(client.get(url, headers=auth("clerk")), 403)  # L3 needs a stated purpose, even for the owner

    grant = create_grant(any_db, data=GrantCreate(
        resource_key=f"dataset:{SLUG}", grantee_department_code="dsj", fields=["owner_id", "owner_name", "dog_count"],
        grade_ceiling="L3", purpose=PURPOSE, expires_at=utcnow() + timedelta(days=30)), granted_by=CLERK)
    any_db.commit()  # the session is the requests' session: a refused request rolls back what is not committed
    body = client.get(url, params=params, headers=auth("steward")).json()
    assert body["basis"] == "grant"
    assert body["fields"] == {"owner_id": "masked:partial", "owner_name": "masked:partial", "phone": "withheld",
                              "dog_count": "clear", "vaccinated_on": "clear"}
    first = body["items"][0]
    assert first["owner_id"] == "110105********002X" and first["owner_name"] == "张*" and "phone" not in first
    assert first["dog_count"] == 2
    sample = client.get(f"{BASE}/{SLUG}/sample", params=params, headers=auth("steward")).json()
    assert sample["items"][0]["owner_id"] == "110105********002X"
    _problem(client.get(url, params={"purpose": "marketing"}, headers=auth("steward")), 403)

    revoke_grant(any_db, grant_id=grant.id, revoked_by=CLERK, reason="review finished")
    any_db.commit()
    assert "revoked" in _problem(client.get(url, params=params, headers=auth("steward")), 403)["detail"]
    past = utcnow() - timedelta(days=10)
    create_grant(any_db, data=GrantCreate(
        resource_key=f"dataset:{SLUG}", grantee_department_code="dsj", grade_ceiling="L3", purpose=PURPOSE,
        valid_from=past, expires_at=past + timedelta(days=1)), granted_by=CLERK, now=past)
    any_db.commit()
    assert "expired" in _problem(client.get(url, params=params, headers=auth("steward")), 403)["detail"]
    denials = any_db.scalars(select(AuditEntry).where(AuditEntry.subject == f"dataset:{SLUG}",
                                                      AuditEntry.action == "grant.decide", AuditEntry.result == "denied")).all()
    assert len(denials) >= 4


def test_search_finds_chinese_text_with_facets(client, auth):
    assert client.post(BASE, json=dataset_body(), headers=auth("clerk")).status_code == 201
    found = client.get(BASE, params={"q": "犬类免疫"}, headers=auth("operator")).json()
    assert found["items"][0]["slug"] == SLUG and found["items"][0]["score"] > 0
    assert {"value": "xzsp", "count": found["facets"]["department"][0]["count"]} in found["facets"]["department"]
    by_field = client.get(BASE, params={"q": "犬主姓名"}, headers=auth("operator")).json()
    assert SLUG in [i["slug"] for i in by_field["items"]]

    demo = client.get(BASE, params={"q": "企业登记", "limit": 5}, headers=auth("operator")).json()
    assert demo["total"] >= 2 and demo["items"][0]["title"] == "长沙市企业登记信息"
    scores = [i["score"] for i in demo["items"]]
    assert scores == sorted(scores, reverse=True)
    assert set(demo["facets"]) == {"department", "category", "grade", "tag"}
    assert sum(f["count"] for f in demo["facets"]["grade"]) == demo["total"]

    everything = client.get(BASE, params={"limit": 1}, headers=auth("operator")).json()
    assert everything["total"] >= 500
    l1 = client.get(BASE, params={"grade": "L1", "category": "base", "limit": 1}, headers=auth("operator")).json()
    assert 0 < l1["total"] < everything["total"]
    assert l1["facets"]["grade"] == [{"value": "L1", "count": l1["total"]}]
    tagged = client.get(BASE, params={"tag": "公交"}, headers=auth("operator")).json()
    assert tagged["total"] >= 1 and all("公交" in i["tags"] for i in tagged["items"])
    assert client.get(BASE, params={"q": "完全不存在的词语组合"}, headers=auth("operator")).json()["total"] == 0
    _problem(client.get(BASE, params={"grade": "L7"}, headers=auth("operator")), 422)


def test_schema_change_makes_a_new_version(client, auth):
    _create_and_upload(client, auth)
    fields = dataset_body()["fields"] + [{"name": "breed", "title": "犬种"}]
    updated = client.put(f"{BASE}/{SLUG}/schema", json={"fields": fields}, headers=auth("clerk"))
    assert updated.status_code == 200, updated.text
    assert updated.json()["schema_version"] == 2 and updated.json()["row_count"] == 0
    same = client.put(f"{BASE}/{SLUG}/schema", json={"fields": fields}, headers=auth("clerk"))
    assert same.json()["schema_version"] == 2
    too_sensitive = [*fields[:-1], {"name": "breed", "title": "犬种", "grade": "L4"}]
    _problem(client.put(f"{BASE}/{SLUG}/schema", json={"fields": too_sensitive}, headers=auth("clerk")), 422)


def test_demo_open_dataset_sample_for_any_staff(client, auth):
    body = client.get(f"{BASE}/sthj/air-quality-hourly/sample", headers=auth("operator")).json()
    assert body["basis"] == "public" and 0 < len(body["items"]) <= 10
