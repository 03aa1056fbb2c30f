"""Registry reads over HTTP: masked for staff, own record in full for citizens and enterprises."""

from __future__ import annotations

import re

from stdnum.cn import ric


def test_staff_list_is_masked_and_paged(client, auth):
    # Reads go through the grant check: 行政审批服务局 holds a grant for 政务服务办理 (L3, masked).
    page = client.get("/api/v1/registries/persons?limit=5&offset=5&purpose=政务服务办理", headers=auth("clerk")).json()
    assert page["limit"] == 5 and page["offset"] == 5 and len(page["items"]) == 5
    assert page["total"] >= 1000 and page["basis"] == "grant"
    assert page["fields"]["id_number"] == "masked" and page["fields"]["phone"] == "withheld"  # phone is L4
    for person in page["items"]:
        assert re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", person["id_number"])
        assert "*" in person["name"] and "phone" not in person


def test_staff_without_purpose_see_only_the_internal_view(client, auth):
    page = client.get("/api/v1/registries/persons?limit=3", headers=auth("clerk")).json()
    assert page["basis"] == "staff"
    assert all("id_number" not in p and "name" not in p and "division_code" in p for p in page["items"])
    denied = client.get("/api/v1/registries/persons?limit=3&purpose=随便看看", headers=auth("clerk"))
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("application/problem+json")
    by_name = client.get("/api/v1/registries/persons?name=张", headers=auth("clerk"))
    assert by_name.status_code == 403  # filtering on a field one may not see would reveal it


def test_filter_by_district(client, auth):
    page = client.get("/api/v1/registries/persons?division_code=430104&limit=50", headers=auth("steward")).json()
    assert page["items"] and all(p["division_code"] == "430104" for p in page["items"])


def test_citizen_sees_own_record_in_full(client, auth):
    person = client.get("/api/v1/registries/persons/me", headers=auth("citizen")).json()
    assert ric.is_valid(person["id_number"])
    assert "*" not in person["name"]


def test_enterprise_sees_own_entity_and_staff_cannot_use_me(client, auth):
    entity = client.get("/api/v1/registries/legal-entities/me", headers=auth("enterprise")).json()
    assert entity["status"] == "active"
    assert client.get("/api/v1/registries/legal-entities/me", headers=auth("clerk")).status_code == 403


def test_district_counts_cover_all_nine_districts(client, auth):
    counts = client.get("/api/v1/registries/stats/districts", headers=auth("operator")).json()
    assert [c["division_code"] for c in counts] == [
        "430102", "430103", "430104", "430105", "430111", "430112", "430121", "430181", "430182"
    ]
    assert sum(c["persons"] for c in counts) == client.get(
        "/api/v1/registries/persons?limit=1", headers=auth("admin")
    ).json()["total"]


def test_legal_entity_search(client, auth):
    first = client.get("/api/v1/registries/legal-entities?limit=1", headers=auth("clerk")).json()["items"][0]
    found = client.get(f"/api/v1/registries/legal-entities?q={first['credit_code']}", headers=auth("clerk")).json()
    assert found["total"] == 1 and found["items"][0]["name"] == first["name"]


def test_every_registry_read_is_audited(client, auth, any_db):
    from sqlalchemy import select

    from xingcheng.core.audit.models import AuditEntry

    client.get("/api/v1/registries/persons?division_code=430105&limit=3", headers=auth("steward"))
    client.get("/api/v1/registries/persons/me", headers=auth("citizen"))
    entries = any_db.scalars(
        select(AuditEntry).where(AuditEntry.action.like("registries.person.%")).order_by(AuditEntry.id)
    ).all()
    assert [(e.actor_name, e.action, e.result) for e in entries[-2:]] == [
        ("steward", "registries.person.list", "staff"),
        ("citizen", "registries.person.read_own", "ok"),
    ]
    assert entries[-2].details["division_code"] == "430105" and entries[-2].details["returned"] == 3
