"""``/api/v1/requests``: intake, the dispatcher queue, department handling, citizen feedback, analytics.

The category list is public (the portal shows it before login); everything else needs a login.
Citizens see and act on their own requests only; staff read all (contacts masked outside the
handling department), dispatchers route and merge, departments handle their own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse

from xingcheng.core.auth import Principal
from xingcheng.core.deps import AppSettings, CurrentPrincipal, DbSession, Pagination, RowId, require
from xingcheng.core.errors import Forbidden, NotFound
from xingcheng.core.identity.models import Department
from xingcheng.governance.requests import analytics, service
from xingcheng.governance.requests.categories import CATEGORIES, by_code
from xingcheng.governance.requests.classifier import get_router
from xingcheng.governance.requests.media import MEDIA_NAME, media_path
from xingcheng.governance.requests.schemas import (
    CATEGORY_PATTERN,
    DEPARTMENT_PATTERN,
    Analytics,
    CategoryRead,
    ConfirmBody,
    DispatchBody,
    MergeBody,
    NoteBody,
    ReopenBody,
    ReplyBody,
    RequestCreate,
    RequestDetail,
    RequestPage,
    RouteQuery,
    RouteRead,
    SlaReport,
    Status,
    TransferBody,
)

public_router = APIRouter(prefix="/api/v1/requests", tags=["requests"])
router = APIRouter(prefix="/api/v1/requests", tags=["requests"])

Dispatcher = Annotated[Principal, Depends(require("requests:dispatch"))]
Handler = Annotated[Principal, Depends(require("requests:handle"))]


def _detail(session: DbSession, request: Any, viewer: Principal) -> dict[str, Any]:
    data = service.to_read(session, request, viewer=viewer)
    data["events"] = list(request.events)
    return data


def _visible(session: DbSession, request_id: int, viewer: Principal) -> Any:
    request = service.get_or_raise(session, request_id=request_id)
    if not viewer.has("requests:read") and (viewer.account_id is None or viewer.account_id != request.citizen_account_id):
        raise Forbidden("this request is not yours")
    return request


@public_router.get("/categories", response_model=list[CategoryRead], operation_id="requests-categories")
def categories() -> Any:
    return [
        {"code": c.code, "name": c.name, "department_code": c.department_code, "sla_days": c.sla_days,
         "group": c.group, "keywords": list(c.keywords)}
        for c in CATEGORIES
    ]


@public_router.get("/media/{name}", operation_id="requests-media", response_class=FileResponse)
def media(settings: AppSettings, name: Annotated[str, Path(pattern=MEDIA_NAME.pattern, max_length=40)]) -> FileResponse:
    """A photo attached to a request (public like the request on Open311; names are unguessable)."""
    path = media_path(settings, name)
    if path is None:
        raise NotFound(f"no photo named {name}")
    return FileResponse(path, media_type="image/png" if name.endswith(".png") else "image/jpeg")


@router.post("", response_model=RequestDetail, status_code=201, operation_id="requests-submit")
def submit(session: DbSession, data: RequestCreate, principal: Annotated[Principal, Depends(require("requests:submit"))]) -> Any:
    request = service.submit(session, data=data, channel="api", submitter=principal)
    return _detail(session, request, principal)


@router.get("", response_model=RequestPage, operation_id="requests-list")
def list_requests(
    session: DbSession, page: Pagination, principal: CurrentPrincipal,
    status: Status | None = None,
    department_code: Annotated[str | None, Query(pattern=DEPARTMENT_PATTERN)] = None,
    category_code: Annotated[str | None, Query(pattern=CATEGORY_PATTERN)] = None,
    division_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")] = None,
) -> Any:
    """Staff see every request; a citizen sees their own."""
    own: int | None = None
    if not principal.has("requests:read"):
        principal.require("requests:submit")
        own = principal.account_id if principal.account_id is not None else -1
    filters = service.Filters(
        status=status, department_code=department_code, category_code=category_code, division_code=division_code,
        q=q, overdue=overdue, citizen_account_id=own,
    )
    items, total = service.list_(session, filters=filters, page=page)
    return {"items": [service.to_read(session, r, viewer=principal) for r in items], "total": total,
            "limit": page.limit, "offset": page.offset}


@router.get("/analytics", response_model=Analytics, operation_id="requests-analytics")
def request_analytics(
    session: DbSession, _: Annotated[Principal, Depends(require("requests:read"))],
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Any:
    return analytics.summary(session, days=days)


@router.post("/route", response_model=RouteRead, operation_id="requests-route")
def route(session: DbSession, body: RouteQuery, _: CurrentPrincipal) -> Any:
    """Which category and department a text would be routed to, and how sure the router is."""
    result = get_router().route(body.text)
    department = session.query(Department).filter(Department.code == result.department_code).one_or_none()
    return {
        "category_code": result.category_code, "category_name": by_code()[result.category_code].name,
        "department_code": result.department_code, "department_name": department.name if department else None,
        "confidence": result.confidence, "queued_for_dispatcher": result.confidence < service.CONFIDENCE_THRESHOLD,
        "alternatives": [{"department_code": d, "probability": p} for d, p in result.alternatives],
    }


@router.post("/sla/run", response_model=SlaReport, operation_id="requests-sla-run")
def run_sla(session: DbSession, _: Dispatcher) -> Any:
    return service.sla_tick(session)


@router.get("/{request_id}", response_model=RequestDetail, operation_id="requests-get")
def get_request(session: DbSession, request_id: RowId, principal: CurrentPrincipal) -> Any:
    return _detail(session, _visible(session, request_id, principal), principal)


@router.post("/{request_id}/dispatch", response_model=RequestDetail, operation_id="requests-dispatch")
def dispatch(session: DbSession, request_id: RowId, body: DispatchBody, actor: Dispatcher) -> Any:
    request = service.dispatch(session, request_id=request_id, department_code=body.department_code,
                               category_code=body.category_code, note=body.note, actor=actor)
    return _detail(session, request, actor)


@router.post("/{request_id}/accept", response_model=RequestDetail, operation_id="requests-accept")
def accept(session: DbSession, request_id: RowId, actor: Handler) -> Any:
    return _detail(session, service.accept(session, request_id=request_id, actor=actor), actor)


@router.post("/{request_id}/transfer", response_model=RequestDetail, operation_id="requests-transfer")
def transfer(session: DbSession, request_id: RowId, body: TransferBody, actor: Handler) -> Any:
    request = service.transfer(session, request_id=request_id, reason=body.reason,
                               to_department_code=body.to_department_code, actor=actor)
    return _detail(session, request, actor)


@router.post("/{request_id}/progress", response_model=RequestDetail, operation_id="requests-progress")
def progress(session: DbSession, request_id: RowId, body: NoteBody, actor: Handler) -> Any:
    return _detail(session, service.record_progress(session, request_id=request_id, note=body.note, actor=actor), actor)


@router.post("/{request_id}/reply", response_model=RequestDetail, operation_id="requests-reply")
def reply(session: DbSession, request_id: RowId, body: ReplyBody, actor: Handler) -> Any:
    return _detail(session, service.reply(session, request_id=request_id, text=body.reply, actor=actor), actor)


@router.post("/{request_id}/confirm", response_model=RequestDetail, operation_id="requests-confirm")
def confirm(session: DbSession, request_id: RowId, body: ConfirmBody, actor: CurrentPrincipal) -> Any:
    request = service.confirm(session, request_id=request_id, satisfaction=body.satisfaction,
                              feedback=body.feedback, actor=actor)
    return _detail(session, request, actor)


@router.post("/{request_id}/reopen", response_model=RequestDetail, operation_id="requests-reopen")
def reopen(session: DbSession, request_id: RowId, body: ReopenBody, actor: CurrentPrincipal) -> Any:
    return _detail(session, service.reopen(session, request_id=request_id, reason=body.reason, actor=actor), actor)


@router.post("/{request_id}/merge", response_model=RequestDetail, operation_id="requests-merge")
def merge(session: DbSession, request_id: RowId, body: MergeBody, actor: Dispatcher) -> Any:
    return _detail(session, service.merge(session, request_id=request_id, into_id=body.into_id, actor=actor), actor)
