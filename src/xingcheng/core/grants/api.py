"""Grant routes: issue and revoke (``grants:manage``), list and read (staff; their department's unless overseers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, RowId, require
from xingcheng.core.grants import service
from xingcheng.core.grants.schemas import GrantCreate, GrantRead, GrantRevoke, GrantStatus
from xingcheng.core.schemas import Page

router = APIRouter(prefix="/api/v1/grants", tags=["grants"])
Manager = Annotated[Principal, Depends(require("grants:manage"))]


@router.post("", response_model=GrantRead, status_code=201, operation_id="grants-create")
def create(body: GrantCreate, session: DbSession, principal: Manager) -> Any:
    return service.create_grant(session, data=body, granted_by=principal)


@router.get("", response_model=Page[GrantRead], operation_id="grants-list")
def list_(
    session: DbSession, principal: CurrentPrincipal, page: Pagination,
    resource_key: Annotated[str | None, Query(max_length=200)] = None,
    grantee_department_code: Annotated[str | None, Query(max_length=32)] = None,
    status: GrantStatus | None = None,
) -> Any:
    items, total = service.list_grants(
        session, viewer=principal, page=page, resource_key=resource_key,
        grantee_department_code=grantee_department_code, state=status,
    )
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/{grant_id}", response_model=GrantRead, operation_id="grants-get")
def read(grant_id: RowId, session: DbSession, principal: CurrentPrincipal) -> Any:
    return service.get_or_raise(session, grant_id=grant_id, viewer=principal)


@router.post("/{grant_id}/revoke", response_model=GrantRead, operation_id="grants-revoke")
def revoke(grant_id: RowId, body: GrantRevoke, session: DbSession, principal: Manager) -> Any:
    return service.revoke_grant(session, grant_id=grant_id, revoked_by=principal, reason=body.reason)
