"""Routes for login, the caller's identity, the directory, accounts and device API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from xingcheng.core.auth import Principal
from xingcheng.core.deps import AppSettings, CurrentPrincipal, DbSession, RowId, client_address, reads_first, require
from xingcheng.core.errors import TooManyRequests, Unauthorized
from xingcheng.core.identity import service
from xingcheng.core.identity.schemas import (
    AccountCreate,
    AccountRead,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    DepartmentRead,
    DivisionRead,
    Me,
    RefreshRequest,
    TokenPair,
)

# Login and refresh are the only public identity routes.
public_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
router = APIRouter(prefix="/api/v1", tags=["admin"])


@public_router.post("/token", response_model=TokenPair, operation_id="auth-token")
@reads_first
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, session: DbSession, settings: AppSettings
) -> TokenPair:
    """OAuth2 password flow (RFC 6749 §4.3): username + password → access and refresh tokens."""
    try:
        account = service.authenticate(
            session, username=form.username, password=form.password, settings=settings,
            client=client_address(request),
        )
    except (Unauthorized, TooManyRequests):
        session.commit()  # keep the failed attempt: the lockout counts it
        raise
    return service.issue_tokens(session, account=account, settings=settings)


@public_router.post("/refresh", response_model=TokenPair, operation_id="auth-refresh")
def refresh(body: RefreshRequest, session: DbSession, settings: AppSettings) -> TokenPair:
    return service.refresh_tokens(session, refresh_token=body.refresh_token, settings=settings)


@router.get("/auth/me", response_model=Me, tags=["auth"], operation_id="auth-me")
def me(principal: CurrentPrincipal) -> Me:
    return Me(
        kind=principal.kind, name=principal.name, roles=sorted(principal.roles),
        permissions=sorted(principal.permissions), department_code=principal.department_code,
        division_code=principal.division_code,
    )


@router.get("/admin/divisions", response_model=list[DivisionRead], operation_id="admin-divisions")
def divisions(session: DbSession, _: Annotated[Principal, Depends(require("directory:read"))]) -> Any:
    return service.list_divisions(session)


@router.get("/admin/departments", response_model=list[DepartmentRead], operation_id="admin-departments")
def departments(
    session: DbSession, _: Annotated[Principal, Depends(require("directory:read"))], division_code: str | None = None
) -> Any:
    return service.list_departments(session, division_code=division_code)


def _account_read(account: Any) -> AccountRead:
    return AccountRead(
        id=account.id, username=account.username, display_name=account.display_name, kind=account.kind,
        roles=account.roles, department_code=account.department.code if account.department else None,
        is_active=account.is_active, created_at=account.created_at, last_login_at=account.last_login_at,
    )


@router.get("/admin/users", response_model=list[AccountRead], operation_id="admin-users-list")
def list_users(
    session: DbSession, _: Annotated[Principal, Depends(require("admin:users"))], kind: str | None = None
) -> list[AccountRead]:
    return [_account_read(a) for a in service.list_accounts(session, kind=kind)]


@router.post("/admin/users", response_model=AccountRead, status_code=201, operation_id="admin-users-create")
def create_user(
    body: AccountCreate, session: DbSession, principal: Annotated[Principal, Depends(require("admin:users"))]
) -> AccountRead:
    return _account_read(service.create_account(session, data=body, created_by=principal))


@router.get("/admin/api-keys", response_model=list[ApiKeyRead], operation_id="admin-api-keys-list")
def list_api_keys(session: DbSession, _: Annotated[Principal, Depends(require("admin:keys"))]) -> Any:
    return service.list_api_keys(session)


@router.post("/admin/api-keys", response_model=ApiKeyCreated, status_code=201, operation_id="admin-api-keys-create")
def create_api_key(
    body: ApiKeyCreate, session: DbSession, principal: Annotated[Principal, Depends(require("admin:keys"))]
) -> ApiKeyCreated:
    api_key, secret = service.create_api_key(session, data=body, created_by=principal)
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(api_key).model_dump(), "key": secret})


@router.post("/admin/api-keys/{api_key_id}/revoke", response_model=ApiKeyRead, operation_id="admin-api-keys-revoke")
def revoke_api_key(
    api_key_id: RowId, session: DbSession, principal: Annotated[Principal, Depends(require("admin:keys"))]
) -> Any:
    return service.revoke_api_key(session, api_key_id=api_key_id, revoked_by=principal)
