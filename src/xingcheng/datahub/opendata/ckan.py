"""The CKAN Action API (read actions), public: ``/api/3/action/<action>`` and CKAN's unversioned ``/api/action/``.

GET (query string) and POST (JSON body or form) both work, as in CKAN. Answers use CKAN's envelope
``{"help", "success", "result"}``; errors ``{"help", "success": false, "error": {"__type", "message",
<parameter>: [...]}}`` — rendered here for both prefixes, so ``ckanapi.RemoteCKAN`` (which calls
``/api/action/``) gets the exceptions it knows (NotFound, ValidationError, NotAuthorized, SearchQueryError).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from xingcheng.core.deps import DbSession
from xingcheng.core.errors import BadRequest, XingchengError
from xingcheng.core.problems import render_error, to_domain_error
from xingcheng.datahub.opendata import actions
from xingcheng.datahub.opendata.search import SearchQueryError

router = APIRouter(tags=["ckan"])
PREFIX = "/api/3/action"
MAX_PARAMS = 100


async def request_params(request: Request) -> dict[str, Any]:
    """Query string merged with a JSON object or form body; repeated keys become lists."""
    params: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        params[key] = values if len(values) > 1 else values[0]
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if "form" in content_type:
            form = await request.form()
            for key in form:
                values = [v for v in form.getlist(key) if isinstance(v, str)]
                if values:
                    params[key] = values if len(values) > 1 else values[0]
        else:
            body = await request.body()
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise BadRequest("the request body is not valid JSON") from None
                if not isinstance(data, dict):
                    raise BadRequest("the request body must be a JSON object of the action's parameters")
                params.update(data)
    if len(params) > MAX_PARAMS:
        raise BadRequest(f"too many parameters (at most {MAX_PARAMS})")
    return params


def _help(request: Request, action: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREFIX}/help_show?name={action}"


async def call(request: Request, session: DbSession, action: str) -> Response:
    try:
        params = await request_params(request)
        base_url = str(request.base_url)
        result = await run_in_threadpool(actions.run, session, action, params, base_url)
    except SearchQueryError as exc:
        body = {"help": _help(request, action), "success": False,
                "error": {"__type": "Search Query Error", "message": f"Search Query is invalid: {exc}"}}
        return JSONResponse(body, status_code=409)
    except Exception as exc:
        err: XingchengError = to_domain_error(exc)
        if err.status >= 500:
            raise
        response = render_error(f"{PREFIX}/{action}", err)
        if isinstance(response, JSONResponse):
            body = json.loads(bytes(response.body))
            body["help"] = _help(request, action)
            return JSONResponse(body, status_code=err.status, headers=dict(err.headers))
        return response
    return JSONResponse({"help": _help(request, action), "success": True, "result": result})


def _route(action: str) -> None:
    summary = (actions.ACTIONS[action].__doc__ or "").strip().splitlines()[0]

    async def endpoint(request: Request, session: DbSession) -> Response:
        return await call(request, session, action)

    endpoint.__name__ = f"ckan_{action}"
    for method, suffix in (("GET", ""), ("POST", "-post")):
        # Not in the OpenAPI document: CKAN answers errors in its own envelope, not problem+json, and
        # documents itself (help_show); the contract is CKAN's Action API.
        router.add_api_route(f"{PREFIX}/{action}", endpoint, methods=[method], operation_id=f"ckan-{action}{suffix}",
                             summary=summary, response_class=JSONResponse, include_in_schema=False)


for _name in actions.ACTIONS:
    _route(_name)


@router.api_route(PREFIX + "/{action}", methods=["GET", "POST"], include_in_schema=False)
async def any_action(action: str, request: Request, session: DbSession) -> Response:
    """Write and unknown actions: refused in the envelope."""
    return await call(request, session, action)


@router.api_route("/api/action/{action}", methods=["GET", "POST"], include_in_schema=False)
async def unversioned_action(action: str, request: Request, session: DbSession) -> Response:
    """CKAN's unversioned path (what ckanapi calls by default)."""
    return await call(request, session, action)
