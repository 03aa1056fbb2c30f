"""Schemathesis over the whole OpenAPI document: generated input, valid or not, never gets a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from conftest import login
from hypothesis import HealthCheck, settings

from xingcheng.core.deps import get_session


@pytest.fixture
def fuzz_schema(api_app, db):  # type: ignore[no-untyped-def]
    def override():  # type: ignore[no-untyped-def]
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    api_app.dependency_overrides[get_session] = override
    yield schemathesis.openapi.from_asgi("/openapi.json", api_app)
    api_app.dependency_overrides.clear()


@pytest.fixture
def admin_headers(client):  # type: ignore[no-untyped-def]
    return login(client, "admin")


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case, admin_headers):  # type: ignore[no-untyped-def]
    # Logged in as admin so generated input reaches validation and the services, not just 401.
    response = case.call(headers={**admin_headers, **(case.headers or {})})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400 and case.path.startswith("/api/"):
        assert response.headers.get("content-type", [""])[0].startswith("application/problem+json")
