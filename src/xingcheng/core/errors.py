"""Domain errors. Services raise these; one handler at the edge renders each protocol's format."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class XingchengError(Exception):
    """Base of every error the platform reports to a caller."""

    status: int = 500
    title: str = "Internal error"
    slug: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors or [])
        self.headers = dict(headers or {})


class Invalid(XingchengError):
    status, title, slug = 422, "Invalid input", "invalid"


class BadRequest(XingchengError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(XingchengError):
    status, title, slug = 401, "Authentication required", "unauthorized"

    def __init__(self, detail: str = "log in first", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(XingchengError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(XingchengError):
    status, title, slug = 404, "Not found", "not-found"


class MethodNotAllowed(XingchengError):
    status, title, slug = 405, "Method not allowed", "method-not-allowed"


class Conflict(XingchengError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(XingchengError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(XingchengError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class Locked(XingchengError):
    status, title, slug = 423, "Locked", "locked"


class TooManyRequests(XingchengError):
    status, title, slug = 429, "Too many requests", "too-many-requests"


class Unavailable(XingchengError):
    status, title, slug = 503, "Service unavailable", "unavailable"


ERROR_BY_STATUS: dict[int, type[XingchengError]] = {
    cls.status: cls
    for cls in (
        BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict,
        PayloadTooLarge, UnsupportedMediaType, Invalid, Locked, TooManyRequests, Unavailable,
    )
}
