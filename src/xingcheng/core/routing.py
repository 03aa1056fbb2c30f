"""Route groups that turn away, at once, a path none of their routes can match.

FastAPI (0.16x) matches a request by walking every included router and route in order, and each route
costs microseconds of scope bookkeeping: with the platform's ~170 API routes, reaching a module
included late cost 1–2 ms per request before any of its code ran (``bench/applications.py``). A module's
routes all begin with a few literal prefixes (``/api/v1/applications``, ``/open311/v2`` …), so a group
that first checks those prefixes answers "no match" in one string comparison for every other path.
Only a fast refusal is added: a path that passes is matched by FastAPI exactly as before.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette._utils import get_route_path  # the helper Starlette's own routes match with
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope


def literal_prefixes(routes: list[BaseRoute], prefix: str = "") -> set[str] | None:
    """The literal start of every route's path (up to its first ``{parameter}``); None when a route has no
    plain path (a mount, a websocket group …), so the caller cannot refuse anything."""
    found: set[str] = set()
    for route in routes:
        if isinstance(route, APIRoute | Route):
            found.add(prefix + route.path.split("{", 1)[0])
            continue
        included: Any = getattr(route, "original_router", None)  # FastAPI's _IncludedRouter
        context: Any = getattr(route, "include_context", None)
        if not isinstance(included, APIRouter) or context is None:
            return None
        nested = literal_prefixes(included.routes, prefix + str(context.prefix or ""))
        if nested is None:
            return None
        found |= nested
    return found


class GuardedRouter(APIRouter):
    """One module's router, included as is, behind a check of its routes' literal path prefixes."""

    def __init__(self, module_router: APIRouter, **include: Any) -> None:
        super().__init__()
        self.include_router(module_router, **include)
        prefixes = literal_prefixes(module_router.routes, str(include.get("prefix") or ""))
        # Longest first only for readability in a debugger; startswith() tries them all.
        self.path_prefixes: tuple[str, ...] | None = (
            tuple(sorted(prefixes, key=len, reverse=True)) if prefixes and "" not in prefixes else None)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The path Starlette itself matches routes against (without a mount's or --root-path's prefix).
        if self.path_prefixes is not None and not get_route_path(scope).startswith(self.path_prefixes):
            return Match.NONE, {}
        return super().matches(scope)
