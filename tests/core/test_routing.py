"""Module routers sit behind a check of their literal path prefixes: a path none of their routes can match is
turned away at once, any other is matched by FastAPI exactly as before."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope

from xingcheng.core.deps import current_principal
from xingcheng.core.routing import GuardedRouter, literal_prefixes
from xingcheng.modules import MODULES

# ---- literal_prefixes ------------------------------------------------------------------------


def _endpoint() -> dict[str, str]:
    return {}


def test_literal_prefixes_are_the_paths_up_to_their_first_parameter() -> None:
    router = APIRouter(prefix="/api/v1/things")
    router.add_api_route("", _endpoint)
    router.add_api_route("/stats", _endpoint)
    router.add_api_route("/{thing_id}", _endpoint)
    router.add_api_route("/{thing_id}/parts/{part}", _endpoint)
    router.add_api_route("/by-code/{code}.json", _endpoint)
    router.add_route("/plain", _endpoint)  # a Starlette route (the router's prefix is not applied to it)

    assert literal_prefixes(router.routes) == {
        "/api/v1/things", "/api/v1/things/stats", "/api/v1/things/", "/api/v1/things/by-code/",
        "/plain",
    }


def test_literal_prefixes_follow_included_routers_with_and_without_a_prefix() -> None:
    innermost = APIRouter(prefix="/deep")
    innermost.add_api_route("/{leaf}", _endpoint)
    inner = APIRouter(prefix="/inner")
    inner.add_api_route("/items/{item_id}", _endpoint)
    inner.include_router(innermost, prefix="/more")
    outer = APIRouter()
    outer.add_api_route("/outer", _endpoint)
    outer.include_router(inner, prefix="/v1")
    outer.include_router(inner)  # the same routes once more, without an include prefix

    assert literal_prefixes(outer.routes) == {
        "/outer",
        "/v1/inner/items/", "/v1/inner/more/deep/",
        "/inner/items/", "/inner/more/deep/",
    }
    assert literal_prefixes(outer.routes, "/root") == {
        "/root/outer", "/root/v1/inner/items/", "/root/v1/inner/more/deep/", "/root/inner/items/",
        "/root/inner/more/deep/",
    }


def test_a_mount_has_no_literal_prefixes_anywhere_in_the_tree() -> None:
    router = APIRouter()
    router.add_api_route("/before", _endpoint)
    router.mount("/static", FastAPI())
    assert any(isinstance(route, Mount) for route in router.routes)
    assert literal_prefixes(router.routes) is None

    outer = APIRouter()
    outer.add_api_route("/fine", _endpoint)
    outer.include_router(router, prefix="/nested")
    assert literal_prefixes(outer.routes) is None
    assert GuardedRouter(outer).path_prefixes is None  # nothing is refused then


def test_a_route_matching_every_path_disables_the_guard() -> None:
    router = APIRouter()
    router.add_api_route("/named", _endpoint)
    router.add_api_route("/{anything:path}", _endpoint)
    guarded = GuardedRouter(router)
    assert guarded.path_prefixes is not None and "/" in guarded.path_prefixes  # "/" starts every path


# ---- GuardedRouter in a small app --------------------------------------------------------------

ASKED: list[str] = []  # paths the counting routes were asked to match


class CountingRoute(APIRoute):
    """An API route that notes every path it is asked to match (to see what the guard spared it)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        ASKED.append(scope["path"])
        return super().matches(scope)


def _need_ticket(x_ticket: str | None = Header(default=None)) -> None:
    if x_ticket != "ok":
        raise HTTPException(status_code=403, detail="no ticket")


def _small_app() -> tuple[FastAPI, GuardedRouter, GuardedRouter]:
    alpha = APIRouter(prefix="/alpha", route_class=CountingRoute)

    @alpha.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, Any]:
        return {"router": "alpha", "item_id": item_id}

    @alpha.post("/items")
    def add_item() -> dict[str, Any]:
        return {"router": "alpha", "added": True}

    beta = APIRouter(prefix="/beta")

    @beta.get("/things")
    def things() -> dict[str, Any]:
        return {"router": "beta"}

    app = FastAPI()
    guarded_alpha = GuardedRouter(alpha)
    guarded_beta = GuardedRouter(beta, dependencies=[Depends(_need_ticket)])
    app.include_router(guarded_alpha)
    app.include_router(guarded_beta)
    return app, guarded_alpha, guarded_beta


def _included(app: FastAPI, router: APIRouter) -> BaseRoute:
    [route] = [r for r in app.router.routes if getattr(r, "original_router", None) is router]
    return route


def _scope(path: str, method: str = "GET") -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def test_the_guard_refuses_foreign_paths_and_defers_to_fastapi_for_its_own() -> None:
    app, alpha, beta = _small_app()
    assert set(alpha.path_prefixes or ()) == {"/alpha/items/", "/alpha/items"}
    assert beta.path_prefixes == ("/beta/things",)

    included_alpha = _included(app, alpha)
    ASKED.clear()
    assert included_alpha.matches(_scope("/beta/things"))[0] is Match.NONE
    assert included_alpha.matches(_scope("/gamma/items/1"))[0] is Match.NONE
    assert alpha.matches(_scope("/beta/things"))[0] is Match.NONE
    assert ASKED == []  # refused by the prefix check: no route of the group was asked

    assert included_alpha.matches(_scope("/alpha/other"))[0] is Match.NONE  # the router's prefix is not enough
    assert ASKED == []

    assert included_alpha.matches(_scope("/alpha/items/7"))[0] is Match.FULL
    assert included_alpha.matches(_scope("/alpha/items/7", "DELETE"))[0] is Match.PARTIAL
    assert included_alpha.matches(_scope("/alpha/items/7/more"))[0] is Match.NONE  # passes the check: FastAPI decides
    assert set(ASKED) == {"/alpha/items/7", "/alpha/items/7/more"}


def test_requests_reach_the_right_route_through_guarded_routers() -> None:
    app, _, _ = _small_app()
    with TestClient(app) as client:
        ASKED.clear()
        answer = client.get("/alpha/items/42")
        assert answer.status_code == 200
        assert answer.json() == {"router": "alpha", "item_id": 42}  # the path parameter is parsed and converted
        assert client.post("/alpha/items").json() == {"router": "alpha", "added": True}
        assert client.get("/alpha/items/not-a-number").status_code == 422

        assert client.get("/beta/things", headers={"X-Ticket": "ok"}).json() == {"router": "beta"}
        assert "/beta/things" not in ASKED  # alpha's routes never saw beta's path

        assert client.get("/nowhere").status_code == 404
        assert client.get("/alpha/nothing-here").status_code == 404
        assert client.delete("/alpha/items/1").status_code == 405
        assert client.put("/beta/things", headers={"X-Ticket": "ok"}).status_code == 405


def test_a_dependency_given_to_the_guarded_include_still_runs() -> None:
    app, _, _ = _small_app()
    with TestClient(app) as client:
        refused = client.get("/beta/things")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "no ticket"}
        assert client.get("/beta/things", headers={"X-Ticket": "wrong"}).status_code == 403
        assert client.get("/alpha/items/1").status_code == 200  # alpha's include has no such dependency


def test_guarded_routes_work_under_a_mount_and_with_an_include_prefix() -> None:
    # Starlette matches a mounted app's routes on the path without the mount's prefix; the guard must too.
    inner = FastAPI()
    things = APIRouter(prefix="/things")
    things.add_api_route("/{thing_id}", lambda thing_id: {"thing": thing_id}, methods=["GET"])
    inner.include_router(GuardedRouter(things))
    inner.include_router(GuardedRouter(things, prefix="/v2"))  # an include prefix is part of its literal start
    outer = FastAPI()
    outer.mount("/sub", inner)
    with TestClient(outer) as client:
        assert client.get("/sub/things/7").json() == {"thing": "7"}
        assert client.get("/sub/v2/things/8").json() == {"thing": "8"}
        assert client.get("/sub/other").status_code == 404


# ---- the platform's app ----------------------------------------------------------------------


def _dependency_calls(route: BaseRoute) -> list[Any]:
    context: Any = route.include_context  # type: ignore[attr-defined]
    return [dependency.dependency for dependency in context.dependencies]


def test_every_module_router_of_the_app_is_guarded(api_app: FastAPI) -> None:
    guarded: dict[int, tuple[GuardedRouter, BaseRoute]] = {}
    for route in api_app.router.routes:
        router = getattr(route, "original_router", None)
        if router is not None:
            assert isinstance(router, GuardedRouter), f"a router is included unguarded: {router!r}"
            [inner] = router.routes  # the module router, included as is
            guarded[id(inner.original_router)] = (router, inner)  # type: ignore[attr-defined]

    public = [m.public_router for m in MODULES if m.public_router is not None]
    protected = [m.router for m in MODULES if m.router is not None]
    assert len(guarded) == len(public) + len(protected)
    assert {id(r) for r in public + protected} == set(guarded)
    for module_router in public + protected:
        router, inner = guarded[id(module_router)]
        assert router.path_prefixes is not None, f"unguarded: {sorted(literal_prefixes(module_router.routes) or [])}"
        assert "" not in router.path_prefixes
        assert (current_principal in _dependency_calls(inner)) is (module_router in protected)


def test_a_protected_route_without_a_token_is_401_problem(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/v1/notifications", "/api/v1/registries/persons", "/api/v1/iot/alerts"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 401


def test_routes_of_the_app_are_still_reached(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert "admin" in client.get("/api/v1/auth/me", headers=auth("admin")).json()["roles"]
    assert client.get("/api/v1/notifications", headers=auth("clerk")).status_code == 200
    assert client.get("/api/v1/no-such-module").status_code == 404
