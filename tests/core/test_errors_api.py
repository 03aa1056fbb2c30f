"""The error contract of every prefix: problem+json, CKAN, SensorThings, Open311, FHIR; bad input never 500."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"


def test_health_ready_metrics(client):
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "in-process"}
    assert client.get("/metrics").json()["requests"] >= 2


def test_unknown_api_path_is_404_problem(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/api/v1/no-such-thing"
    assert "no such endpoint" in body["detail"]


def test_wrong_method_is_405_problem(client):
    response = client.delete("/api/v1/auth/token")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


def test_ckan_prefix_answers_in_ckan_envelope(client):
    response = client.get("/api/3/action/package_show?id=nope")
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False
    assert body["error"]["__type"] == "Not Found Error"


def test_sensorthings_prefix_answers_in_its_format(client, auth):
    body = client.get("/sta/v1.1/Things(999999)", headers=auth("operator")).json()
    assert body == {"code": 404, "type": "error", "message": body["message"]}
    anonymous = client.get("/sta/v1.1/Things(999999)").json()
    assert anonymous == {"code": 401, "type": "error", "message": anonymous["message"]}


def test_open311_prefix_answers_error_list_json_and_xml(client):
    as_json = client.get("/open311/v2/requests/none.json")
    assert as_json.status_code == 404
    assert as_json.json()[0]["code"] == 404
    as_xml = client.get("/open311/v2/requests/none.xml")
    assert as_xml.headers["content-type"].startswith("application/xml")
    assert "<errors><error><code>404</code>" in as_xml.text


def test_fhir_prefix_answers_operation_outcome(client):
    response = client.get("/fhir/r4/Patient/unknown")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"


def test_malformed_json_is_400_problem(client, auth):
    response = client.post(
        "/api/v1/admin/users", content=b'{"username": "x",', headers={**auth("admin"), "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert "not valid JSON" in response.json()["detail"]


def test_wrong_types_and_unknown_fields_are_422_with_field_paths(client, auth):
    response = client.post(
        "/api/v1/admin/users",
        json={"username": 12, "display_name": "x", "password": "short", "kind": "robot", "roles": [], "extra": 1},
        headers=auth("admin"),
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"username", "password", "kind", "roles", "extra"} <= fields
    assert all(e["in"] == "body" for e in response.json()["errors"])


def test_bad_query_parameter_is_422(client, auth):
    response = client.get("/api/v1/registries/persons?limit=0", headers=auth("admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"
    assert response.json()["errors"][0]["in"] == "query"


@pytest.mark.parametrize("declared", [True, False])
def test_oversized_body_is_413(client, auth, declared):
    body = b'{"name": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    headers = {**auth("admin"), "content-type": "application/json"}
    if declared:
        response = client.post("/api/v1/admin/api-keys", content=body, headers=headers)
    else:
        def chunks():
            for i in range(0, len(body), 1024 * 1024):
                yield body[i : i + 1024 * 1024]

        response = client.post("/api/v1/admin/api-keys", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


def test_openapi_lists_stable_operation_ids(client):
    spec = client.get("/openapi.json").json()
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"auth-token", "auth-me", "admin-users-create", "registries-persons-list", "health"} <= ids
