"""Catalogue routes. Browsing is PUBLIC: citizens and enterprises read the 办事指南 without logging
in (as on the city's 一网通办 portal); only editing a guide needs a login and ``services:manage``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, Pagination, require
from xingcheng.egov.services import service
from xingcheng.egov.services.schemas import (
    ITEM_CODE_PATTERN,
    Audience,
    GuideUpdate,
    ImplementationPage,
    ItemType,
    LifeEventCount,
    ServiceGuide,
    ServiceItemPage,
    ServiceKpis,
)

public_router = APIRouter(prefix="/api/v1/services", tags=["services"])
router = APIRouter(prefix="/api/v1/services", tags=["services"])

ItemCode = Annotated[str, Path(pattern=ITEM_CODE_PATTERN, max_length=32, description="catalogue code, e.g. CS-GJJ-0003")]
DepartmentCode = Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$", description="department code, e.g. gjj")]
DivisionCode = Annotated[str | None, Query(pattern=r"^\d{6}$", description="GB/T 2260 code, e.g. 430104")]


@public_router.get("/items", response_model=ServiceItemPage, operation_id="services-items-list")
def list_items(
    session: DbSession, page: Pagination,
    department_code: DepartmentCode = None,
    life_event: Annotated[str | None, Query(min_length=1, max_length=16, description="e.g. 企业开办")] = None,
    audience: Audience | None = None,
    item_type: ItemType | None = None,
    online: bool | None = None,
    max_visits: Annotated[int | None, Query(ge=0, le=10, description="0 = 零跑动, 1 = 最多跑一次")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=64, description="keywords in name or materials")] = None,
) -> Any:
    filters = service.ItemFilters(
        department_code=department_code, life_event=life_event, audience=audience, item_type=item_type,
        online=online, max_visits=max_visits, q=q,
    )
    items, total, facets = service.search_items(session, filters=filters, page=page)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset, "facets": facets}


@public_router.get("/items/{code}", response_model=ServiceGuide, operation_id="services-items-get")
def get_item(session: DbSession, code: ItemCode) -> Any:
    return service.guide(session, code=code)


@public_router.get("/implementations", response_model=ImplementationPage, operation_id="services-implementations-list")
def list_implementations(
    session: DbSession, page: Pagination,
    item_code: Annotated[str | None, Query(pattern=ITEM_CODE_PATTERN, max_length=32)] = None,
    division_code: DivisionCode = None,
    department_code: DepartmentCode = None,
) -> Any:
    items, total = service.list_implementations(
        session, page=page, item_code=item_code, division_code=division_code, department_code=department_code
    )
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@public_router.get("/life-events", response_model=list[LifeEventCount], operation_id="services-life-events")
def life_events(session: DbSession) -> Any:
    return service.life_events(session)


@public_router.get("/kpis", response_model=ServiceKpis, operation_id="services-kpis")
def kpis(session: DbSession) -> Any:
    return service.kpis(session)


@router.patch("/items/{code}", response_model=ServiceGuide, operation_id="services-items-update")
def update_item_guide(
    session: DbSession, code: ItemCode, data: GuideUpdate,
    editor: Annotated[Principal, Depends(require("services:manage"))],
) -> Any:
    service.update_guide(session, code=code, data=data, editor=editor)
    return service.guide(session, code=code)
