"""Publishing through the staff API and the public downloads, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
from opendata_testing import ACTION, ckan_error, ok, resource_id, unpublished_l1
from sqlalchemy import select

from xingcheng.core.audit.models import AuditEntry

BASE = "/api/v1/opendata/packages"
CATALOG = "/api/v1/catalog/datasets"
ROWS = "window,address,served\n政务服务中心1号窗口,长沙市岳麓区岳麓大道218号,120\n政务服务中心2号窗口,长沙市岳麓区岳麓大道218号,95\n"


def _own_dataset(client, auth, grade: str = "L1", name: str = "service-windows") -> str:  # type: ignore[no-untyped-def]
    field_grade = "L1" if grade == "L1" else grade
    body = {"owner_department_code": "xzsp", "name": name, "title": "长沙市政务服务窗口", "category": "base", "grade": grade,
            "update_frequency": "monthly", "tags": ["政务服务", "窗口"], "licence": "CC-BY-4.0", "fields": [
                {"name": "window", "title": "窗口名称", "required": True}, {"name": "address", "title": "地址"},
                {"name": "served", "title": "月服务人次", "type": "int", "grade": field_grade}]}
    created = client.post(CATALOG, json=body, headers=auth("clerk"))
    assert created.status_code == 201, created.text
    uploaded = client.post(f"{CATALOG}/xzsp/{name}/rows", files={"file": ("w.csv", ROWS.encode(), "text/csv")},
                           headers=auth("clerk"))
    assert uploaded.status_code == 200 and uploaded.json()["rows_accepted"] == 2, uploaded.text
    return f"xzsp/{name}"


def test_department_publishes_its_l1_dataset_and_downloads_work(client, auth, any_db):
    slug = _own_dataset(client, auth)
    assert client.post(BASE, json={"dataset": slug}).status_code == 401
    published = client.post(BASE, json={"dataset": slug, "theme": "government", "notes": "每月更新"}, headers=auth("clerk"))
    assert published.status_code == 201, published.text
    package = published.json()
    assert package["state"] == "active" and package["theme"] == "government" and package["row_count"] == 2
    assert [r["format"] for r in package["resources"]] == ["CSV", "JSON", "Parquet"]
    assert any_db.scalar(select(AuditEntry.action).where(AuditEntry.action == "opendata.package.publish",
                                                         AuditEntry.subject == f"dataset:{slug}")) is not None
    shown = ok(client.get(f"{ACTION}/package_show", params={"id": slug}))
    assert shown["notes"].endswith("每月更新") and shown["license_id"] == "CC-BY-4.0"
    assert ok(client.get(f"{ACTION}/package_search", params={"q": "政务服务窗口", "rows": 1}))["results"][0]["name"] == slug
    urls = {r["format"]: r["url"].split("testserver", 1)[-1] for r in shown["resources"]}
    got = client.get(urls["CSV"])
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="xzsp_service-windows.csv"' in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows == [{"window": "政务服务中心1号窗口", "address": "长沙市岳麓区岳麓大道218号", "served": "120"},
                    {"window": "政务服务中心2号窗口", "address": "长沙市岳麓区岳麓大道218号", "served": "95"}]
    assert json.loads(client.get(urls["JSON"]).content)[1] == {"window": "政务服务中心2号窗口",
                                                               "address": "长沙市岳麓区岳麓大道218号", "served": 95}
    table = pq.read_table(io.BytesIO(client.get(urls["Parquet"]).content))
    assert table.num_rows == 2 and table.column("served").to_pylist() == [120, 95]
    # Already published → 409; withdrawn → gone from the portal; published again → same package id.
    assert client.post(BASE, json={"dataset": slug}, headers=auth("clerk")).status_code == 409
    withdrawn = client.delete(f"{BASE}/{slug}", headers=auth("clerk"))
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    ckan_error(client.get(f"{ACTION}/package_show", params={"id": slug}), 404, "Not Found Error")
    assert client.get(urls["CSV"]).status_code == 404
    listed = client.get(BASE, params={"state": "withdrawn", "department": "xzsp"}, headers=auth("steward")).json()
    assert [p["name"] for p in listed["items"]] == [slug]
    again = client.post(BASE, json={"dataset": slug}, headers=auth("steward"))
    assert again.status_code == 201 and again.json()["id"] == package["id"]


def test_l2_and_above_cannot_be_published(client, auth):
    slug = _own_dataset(client, auth, grade="L2", name="window-staffing")
    refused = client.post(BASE, json={"dataset": slug}, headers=auth("clerk"))
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json")
    assert "graded L2" in refused.json()["detail"] and "only L1" in refused.json()["detail"]
    for regulated in ("gaj/population-register", "scj/legal-entity-register"):
        assert client.post(BASE, json={"dataset": regulated}, headers=auth("steward")).status_code == 409


def test_only_own_department_or_steward_publishes(client, auth, any_db):
    dataset = unpublished_l1(any_db)
    assert dataset is not None and dataset.owner_department_code != "xzsp"
    other = client.post(BASE, json={"dataset": dataset.slug}, headers=auth("clerk"))
    assert other.status_code == 403, other.text
    assert client.post(BASE, json={"dataset": dataset.slug}, headers=auth("operator")).status_code == 403
    assert client.post(BASE, json={"dataset": dataset.slug, "theme": "nonsense"}, headers=auth("steward")).status_code == 422
    assert client.post(BASE, json={"dataset": "xzsp/does-not-exist"}, headers=auth("steward")).status_code == 404
    assert client.post(BASE, json={"dataset": dataset.slug}, headers=auth("steward")).status_code == 201
    assert dataset.slug in ok(client.get(f"{ACTION}/package_list"))


def test_parquet_download_streams_every_row(client, any_db):
    rid = resource_id(any_db, "sthj/air-quality-daily", "Parquet")
    got = client.get(f"/api/v1/opendata/resources/{rid}/download")
    assert got.status_code == 200 and got.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(got.content))
    total = ok(client.get(f"{ACTION}/datastore_search", params={"resource_id": rid, "limit": 0}))["total"]
    assert table.num_rows == total > 0 and "aqi" in table.column_names
    assert client.get("/api/v1/opendata/resources/not-an-id/download").status_code == 422
