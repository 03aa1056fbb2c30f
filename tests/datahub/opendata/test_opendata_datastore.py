"""datastore_search on SQLite and PostgreSQL: filters, q, fields, sort, paging, totals, errors."""

from __future__ import annotations

import json

from opendata_testing import ACTION, ckan_error, ok, published, resource_id

from xingcheng.datahub.catalog.models import Dataset


def _search(client, **params):  # type: ignore[no-untyped-def]
    return ok(client.post(f"{ACTION}/datastore_search", json=params))


def test_fields_metadata_total_and_paging(client, any_db):
    _, dataset = published(any_db)
    rid = resource_id(any_db)
    everything = _search(client, resource_id=rid, limit=1000)
    assert everything["total"] == dataset.row_count == len(everything["records"]) > 0
    assert everything["fields"][0] == {"id": "_id", "type": "int"}
    types = {f["id"]: f["type"] for f in everything["fields"]}
    assert types["toilet_name"] == "text" and types["lng"] == "float8"
    assert next(f for f in everything["fields"] if f["id"] == "toilet_name")["info"]["label"] == "公厕名称"
    assert [r["_id"] for r in everything["records"]] == list(range(1, dataset.row_count + 1))
    page = _search(client, resource_id=rid, limit=3, offset=2)
    assert page["records"] == everything["records"][2:5] and page["total"] == dataset.row_count
    assert page["_links"]["next"].endswith("offset=5")
    # Every format of the package reads the same rows.
    assert _search(client, resource_id=resource_id(any_db, fmt="Parquet"), limit=1000)["records"] == everything["records"]


def test_filters_q_fields_and_sort(client, any_db):
    rid = resource_id(any_db)
    everything = _search(client, resource_id=rid, limit=1000)["records"]
    district = everything[0]["division_code"]
    expected = [r for r in everything if r["division_code"] == district]
    by_filter = _search(client, resource_id=rid, filters={"division_code": district}, limit=1000)
    assert by_filter["records"] == expected and by_filter["total"] == len(expected)
    kinds = sorted({r["toilet_type"] for r in everything})[:2]
    several = _search(client, resource_id=rid, filters={"toilet_type": kinds}, limit=1000)
    assert several["total"] == len([r for r in everything if r["toilet_type"] in kinds])
    # GET with filters as JSON text, as ckanapi's get_only mode sends it.
    got = ok(client.get(f"{ACTION}/datastore_search",
                        params={"resource_id": rid, "filters": json.dumps({"division_code": district}), "limit": 1000}))
    assert got["records"] == expected
    word = everything[0]["toilet_name"][:3]
    matched = _search(client, resource_id=rid, q=word, limit=1000)
    assert matched["total"] == len([r for r in everything if any(word in str(v) for v in r.values())]) > 0
    only = _search(client, resource_id=rid, q={"toilet_name": word}, limit=1000)
    assert only["total"] == len([r for r in everything if word in r["toilet_name"]])
    narrow = _search(client, resource_id=rid, fields="toilet_name,lng", sort="lng desc", limit=1000)
    assert [f["id"] for f in narrow["fields"]] == ["toilet_name", "lng"]
    assert all(set(r) == {"toilet_name", "lng"} for r in narrow["records"])
    lngs = [r["lng"] for r in narrow["records"]]
    assert lngs == sorted(lngs, reverse=True)
    no_total = _search(client, resource_id=rid, limit=2, include_total=False)
    assert "total" not in no_total and len(no_total["records"]) == 2


def test_dates_come_back_as_iso_text(client, any_db):
    slug = "sthj/air-quality-daily"
    rid = resource_id(any_db, slug)
    rows = _search(client, resource_id=rid, sort="report_date desc", limit=5)["records"]
    assert rows[0]["report_date"] == "2026-11-24"
    assert any_db.query(Dataset).filter(Dataset.slug == slug).one().grade == "L1"


def test_datastore_errors(client, any_db):
    rid = resource_id(any_db)
    ckan_error(client.post(f"{ACTION}/datastore_search", json={"resource_id": "f" * 36}), 404, "Not Found Error")
    ckan_error(client.post(f"{ACTION}/datastore_search", json={}), 422, "Validation Error")
    bad = ckan_error(client.post(f"{ACTION}/datastore_search", json={"resource_id": rid, "filters": {"password": "x"}}),
                     422, "Validation Error")
    assert "password" in bad["filters"][0]
    ckan_error(client.post(f"{ACTION}/datastore_search", json={"resource_id": rid, "filters": "{oops"}), 422,
               "Validation Error")
    ckan_error(client.post(f"{ACTION}/datastore_search", json={"resource_id": rid, "fields": ["nope"]}), 422,
               "Validation Error")
    ckan_error(client.post(f"{ACTION}/datastore_search", json={"resource_id": rid, "sort": "lng; DROP TABLE x"}), 422,
               "Validation Error")
    ckan_error(client.post(f"{ACTION}/datastore_search", json={"resource_id": rid, "limit": -1}), 422, "Validation Error")
    # Values are bound, never spliced: a quote in a filter value finds nothing rather than failing.
    assert _search(client, resource_id=rid, filters={"toilet_name": "x' OR '1'='1"})["total"] == 0
