"""The caller's inbox, and sending for staff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, RowId, require
from xingcheng.core.notifications import service
from xingcheng.core.notifications.schemas import NotificationCreate, NotificationRead
from xingcheng.core.schemas import Page

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=Page[NotificationRead], operation_id="notifications-list")
def inbox(session: DbSession, principal: CurrentPrincipal, page: Pagination, unread_only: bool = False) -> Any:
    items, total = service.list_for(session, principal=principal, page=page, unread_only=unread_only)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("", response_model=NotificationRead, status_code=201, operation_id="notifications-send")
def send(
    body: NotificationCreate, session: DbSession, principal: Annotated[Principal, Depends(require("notifications:send"))]
) -> Any:
    return service.send(session, source=f"console:{principal.name}", data=body)


@router.post("/{notification_id}/read", response_model=NotificationRead, operation_id="notifications-read")
def read(notification_id: RowId, session: DbSession, principal: CurrentPrincipal) -> Any:
    return service.mark_read(session, principal=principal, notification_id=notification_id)


@router.post("/read-all", operation_id="notifications-read-all")
def read_all(session: DbSession, principal: CurrentPrincipal) -> dict[str, int]:
    return {"marked": service.mark_all_read(session, principal=principal)}
