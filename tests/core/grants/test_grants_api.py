"""The grants routes over HTTP: permissions, problem+json errors, visibility (a small app of their own)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from grants_fixtures import *  # noqa: F403 — the fixtures
from grants_helpers import OTHER, PURPOSE, RESOURCE_KEY, ROLES
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.deps import current_principal, get_session
from xingcheng.core.grants.api import router
from xingcheng.core.problems import install_error_handlers

BODY = {"resource_key": RESOURCE_KEY, "grantee_department_code": OTHER, "grade_ceiling": "L3", "purpose": PURPOSE}


class Caller:
    principal: Principal | None = None


@pytest.fixture
def api(session: Session) -> Iterator[tuple[TestClient, Caller]]:
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    caller = Caller()

    def as_caller() -> Principal:
        assert caller.principal is not None
        return caller.principal

    def in_test_session() -> Iterator[Session]:
        yield session
        session.flush()

    app.dependency_overrides[get_session] = in_test_session
    app.dependency_overrides[current_principal] = as_caller
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, caller


def body(**changes: Any) -> dict[str, Any]:
    return BODY | {"expires_at": (utcnow() + timedelta(days=30)).isoformat()} | changes


def test_steward_issues_lists_and_revokes(api: tuple[TestClient, Caller]) -> None:
    client, caller = api
    caller.principal = ROLES["data_steward"]
    created = client.post("/api/v1/grants", json=body(fields=["id_number"]))
    assert created.status_code == 201, created.text
    grant = created.json()
    assert (grant["status"], grant["fields"], grant["granted_by"]) == ("active", ["id_number"], "steward")
    listed = client.get("/api/v1/grants", params={"resource_key": RESOURCE_KEY, "status": "active"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == grant["id"]
    revoked = client.post(f"/api/v1/grants/{grant['id']}/revoke", json={"reason": "loan closed"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = client.post(f"/api/v1/grants/{grant['id']}/revoke", json={"reason": "again"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already revoked" in again.json()["detail"]


def test_department_staff_may_not_issue_but_see_their_own(api: tuple[TestClient, Caller]) -> None:
    client, caller = api
    caller.principal = ROLES["data_steward"]
    grant = client.post("/api/v1/grants", json=body()).json()
    other = client.post("/api/v1/grants", json=body(grantee_department_code="yjj")).json()
    caller.principal = ROLES["staff_other"]
    refused = client.post("/api/v1/grants", json=body(purpose="statistics"))
    assert refused.status_code == 403 and "'grants:manage'" in refused.json()["detail"]
    assert [g["id"] for g in client.get("/api/v1/grants").json()["items"]] == [grant["id"]]
    assert client.get(f"/api/v1/grants/{grant['id']}").status_code == 200
    assert client.get(f"/api/v1/grants/{other['id']}").status_code == 404
    assert client.post(f"/api/v1/grants/{grant['id']}/revoke", json={"reason": "x"}).status_code == 403


@pytest.mark.parametrize(
    ("changes", "status", "fragment"),
    [
        ({"grantee_department_code": "dsj"}, 403, "separation of duties"),
        ({"grantee_department_code": "nope"}, 422, "no department with code 'nope'"),
        ({"grade_ceiling": "L1"}, 422, "grade_ceiling"),
        ({"unexpected": 1}, 422, "unexpected"),
    ],
)
def test_refusals_are_problem_documents(api: tuple[TestClient, Caller], changes: dict[str, Any], status: int,
                                        fragment: str) -> None:
    client, caller = api
    caller.principal = ROLES["data_steward"]
    response = client.post("/api/v1/grants", json=body(**changes))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.text


def test_citizens_see_no_grants(api: tuple[TestClient, Caller]) -> None:
    client, caller = api
    caller.principal = ROLES["citizen"]
    assert client.get("/api/v1/grants").status_code == 403
