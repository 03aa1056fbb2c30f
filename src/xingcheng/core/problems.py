"""One exception handler for the whole URL space; the path prefix picks the error format.

``/api/v1`` → RFC 9457 problem+json; ``/api/3/action`` → CKAN envelope; ``/sta/v1.1`` →
SensorThings JSON error; ``/open311/v2`` → Open311 error list (JSON or XML); ``/fhir/r4`` →
FHIR OperationOutcome. Domain code only raises ``core.errors`` types.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xingcheng.core.errors import (
    ERROR_BY_STATUS,
    BadRequest,
    Invalid,
    PayloadTooLarge,
    Unavailable,
    XingchengError,
)

log = logging.getLogger("xingcheng.errors")
PROBLEM_BASE = "https://xingcheng.dev/problems/"

CKAN_TYPES = {
    400: "Validation Error", 401: "Authorization Error", 403: "Authorization Error",
    404: "Not Found Error", 409: "Validation Error", 422: "Validation Error",
}
FHIR_CODES = {
    400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
    409: "conflict", 413: "too-costly", 422: "invalid", 429: "throttled",
}


def _loc_to_pointer(loc: Sequence[Any]) -> str:
    # A JSON Pointer into the request body, or the parameter name for query/path/header.
    parts = loc[1:] if loc and loc[0] == "body" else loc
    return "/".join(str(p) for p in parts)


def validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``{field, message, type}`` with dotted field paths, inputs left out."""
    items = []
    for err in exc.errors():
        loc = err.get("loc", ())
        where = loc[0] if loc else "body"
        field = ".".join(str(p) for p in loc[1:]) if len(loc) > 1 else str(where)
        message = str(err.get("msg", "invalid value"))
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        items.append(
            {"in": str(where), "field": field, "pointer": "/" + _loc_to_pointer(loc), "message": message, "type": err.get("type")}
        )
    return items


def to_domain_error(exc: Exception) -> XingchengError:
    if isinstance(exc, XingchengError):
        return exc
    if isinstance(exc, RequestValidationError):
        items = validation_items(exc)
        if any(item["type"] == "json_invalid" for item in items):
            return BadRequest("the request body is not valid JSON", errors=items)
        summary = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
        return Invalid(f"request failed validation — {summary}", errors=items)
    if isinstance(exc, StarletteHTTPException) and isinstance(exc.__cause__, XingchengError):
        # FastAPI wraps errors raised while reading the body (e.g. our size limit) in a 400.
        return exc.__cause__
    if isinstance(exc, StarletteHTTPException):
        cls = ERROR_BY_STATUS.get(exc.status_code, XingchengError)
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
        err = cls(detail, headers=exc.headers)
        if cls is XingchengError:
            err.status = exc.status_code
        return err
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        # SQLite's single writer stayed busy past busy_timeout: nothing was written, a retry will do.
        return Unavailable("the database is busy; nothing was saved — retry in a moment",
                           headers={"Retry-After": "1"})
    return XingchengError("an unexpected error occurred; it has been logged")


def render_error(path: str, err: XingchengError) -> Response:
    """The response for ``err`` in the format that ``path``'s protocol defines."""
    headers = dict(err.headers)
    if path.startswith("/api/3/action"):
        ckan_error: dict[str, Any] = {"__type": CKAN_TYPES.get(err.status, "Internal Error"), "message": err.detail}
        for item in err.errors:
            ckan_error.setdefault(item.get("field", "body"), []).append(item.get("message"))
        body = {"help": path, "success": False, "error": ckan_error}
        return JSONResponse(body, status_code=err.status, headers=headers)
    if path.startswith("/sta/"):
        return JSONResponse({"code": err.status, "type": "error", "message": err.detail}, status_code=err.status, headers=headers)
    if path.startswith("/open311/"):
        if path.endswith(".xml"):
            xml = (
                '<?xml version="1.0" encoding="utf-8"?><errors><error>'
                f"<code>{err.status}</code><description>{escape(err.detail)}</description></error></errors>"
            )
            return Response(xml, status_code=err.status, media_type="application/xml", headers=headers)
        return JSONResponse([{"code": err.status, "description": err.detail}], status_code=err.status, headers=headers)
    if path.startswith("/fhir/"):
        code = FHIR_CODES.get(err.status, "exception")
        issues: list[dict[str, Any]] = [{"severity": "error", "code": code, "diagnostics": err.detail}]
        issues += [
            {"severity": "error", "code": "invalid", "diagnostics": i.get("message"), "expression": [i.get("field")]}
            for i in err.errors
        ]
        return JSONResponse(
            {"resourceType": "OperationOutcome", "issue": issues},
            status_code=err.status, media_type="application/fhir+json", headers=headers,
        )
    problem: dict[str, Any] = {
        "type": PROBLEM_BASE + err.slug,
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "instance": path,
    }
    if err.errors:
        problem["errors"] = err.errors
    return JSONResponse(problem, status_code=err.status, media_type="application/problem+json", headers=headers)


async def handle_error(request: Request, exc: Exception) -> Response:
    err = to_domain_error(exc)
    if err.status >= 500:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render_error(request.url.path, err)


def install_error_handlers(app: FastAPI) -> None:
    for exc_type in (XingchengError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(exc_type, handle_error)


class BodyLimitMiddleware:
    """Refuses request bodies over the limit with 413 in the path's format, before parsing them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        too_large = PayloadTooLarge(f"the request body exceeds the limit of {self.max_bytes} bytes")
        headers: Mapping[bytes, bytes] = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await render_error(path, too_large)(scope, receive, send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if not response_started:
                await render_error(path, too_large)(scope, receive, send)

