"""Schemathesis over the whole OpenAPI document: generated input, valid or not, never gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

from xc_testing import login, session_dependency
from xingcheng.app import create_app
from xingcheng.core.deps import get_session

app = create_app(with_ui=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def admin_headers(db: Session) -> Iterator[dict[str, str]]:
    """Requests run in the test's rolled-back session, logged in as admin so input reaches the services."""

    app.dependency_overrides[get_session] = session_dependency(db)
    with TestClient(app) as client:
        yield login(client, "admin")
    app.dependency_overrides.clear()


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case, admin_headers):  # type: ignore[no-untyped-def]
    response = case.call(headers={**admin_headers, **(case.headers or {})})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400 and case.path.startswith("/api/"):
        assert response.headers.get("content-type", [""])[0].startswith("application/problem+json"), response.headers
