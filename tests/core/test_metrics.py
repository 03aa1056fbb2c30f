"""/metrics counts every HTTP request and every 5xx answer (``CountRequests``, a plain ASGI middleware)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.testclient import TestClient

from xingcheng.core.errors import Unavailable, XingchengError


def _crash() -> None:
    raise RuntimeError("a bug in a route")


def _platform_error() -> None:
    raise XingchengError("something broke inside")  # status 500


def _unavailable() -> None:
    raise Unavailable("the registry is down")


def _answer_502() -> JSONResponse:
    return JSONResponse({"detail": "bad gateway"}, status_code=502)


def _stream() -> StreamingResponse:
    return StreamingResponse(iter([b"a", b"b", b"c"]), media_type="text/plain")


def _ok() -> PlainTextResponse:
    return PlainTextResponse("ok")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The platform's app with a few test-only routes (one app for this module: its own counters). Only routes
    that never open the database: this app has no test session behind it."""
    from xingcheng.app import create_app

    app: FastAPI = create_app(with_ui=False)
    for path, endpoint in (("/test-only/crash", _crash), ("/test-only/platform-error", _platform_error),
                           ("/test-only/unavailable", _unavailable), ("/test-only/502", _answer_502),
                           ("/test-only/stream", _stream), ("/test-only/ok", _ok)):
        app.add_api_route(path, endpoint, include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _metrics(client: TestClient) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.json()


def test_the_first_request_of_an_app_is_the_first_counted() -> None:
    """Lifespan events are not requests: a fresh app's first /metrics counts itself only."""
    from xingcheng.app import create_app

    with TestClient(create_app(with_ui=False)) as fresh:
        assert _metrics(fresh) | {"uptime_seconds": 0} == {"uptime_seconds": 0, "requests": 1, "server_errors": 0}
        assert _metrics(fresh)["requests"] == 2


def test_requests_grow_by_the_number_of_requests_made(client: TestClient) -> None:
    before = _metrics(client)
    assert client.get("/health").status_code == 200
    assert client.get("/test-only/ok").text == "ok"
    assert client.get("/test-only/stream").text == "abc"
    assert client.get("/api/v1/no-such-thing").status_code == 404
    assert client.get("/nowhere-at-all").status_code == 404
    assert client.post("/health").status_code == 405
    after = _metrics(client)
    assert after["requests"] == before["requests"] + 6 + 1  # the second /metrics counts itself too
    assert after["server_errors"] == before["server_errors"]  # 4xx are not server errors


@pytest.mark.parametrize("path, status", [
    ("/test-only/platform-error", 500),
    ("/test-only/unavailable", 503),
    ("/test-only/502", 502),
])
def test_a_5xx_answer_is_a_server_error(client: TestClient, path: str, status: int) -> None:
    before = _metrics(client)
    response = client.get(path)
    assert response.status_code == status
    after = _metrics(client)
    assert after["server_errors"] == before["server_errors"] + 1
    assert after["requests"] == before["requests"] + 2


def test_a_crash_is_a_server_error(client: TestClient) -> None:
    before = _metrics(client)
    response = client.get("/test-only/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    after = _metrics(client)
    assert after["requests"] == before["requests"] + 2
    assert after["server_errors"] == before["server_errors"] + 1
