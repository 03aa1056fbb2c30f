"""Traffic routes (``/api/v1/traffic``): networks, intersections and their plans, interval data,
link states, district/city indices, incidents, retiming and plan application."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, Pagination, require
from xingcheng.governance.traffic import planning, service
from xingcheng.governance.traffic.schemas import (
    KEY_PATTERN,
    ApplyReport,
    AreaIndexRead,
    CityIndexCompare,
    IncidentPage,
    IntersectionPage,
    IntervalIn,
    IntervalReport,
    LinkStateRead,
    NetworkRead,
    PlanCreate,
    PlanPage,
    PlanRead,
    RetimeReport,
    RetimeRequest,
)

router = APIRouter(prefix="/api/v1/traffic", tags=["traffic"])

NetworkKey = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9\-]{0,63}$", description="network key, e.g. wuyi-corridor")]
IntersectionKey = Annotated[str, Path(pattern=KEY_PATTERN, description="controller id, e.g. frzl")]
Reader = Annotated[Principal, Depends(require("traffic:read"))]
Writer = Annotated[Principal, Depends(require("traffic:write"))]
Planner = Annotated[Principal, Depends(require("traffic:plan"))]


@router.get("/networks", response_model=list[NetworkRead], operation_id="traffic-networks-list")
def list_networks(session: DbSession, _reader: Reader) -> Any:
    return service.list_networks(session)


@router.get("/networks/{network}/intersections", response_model=IntersectionPage,
            operation_id="traffic-intersections-list")
def list_intersections(session: DbSession, _reader: Reader, network: NetworkKey, page: Pagination) -> Any:
    items, total = planning.list_intersections(session, network_key=network, page=page)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/networks/{network}/intersections/{key}/plans", response_model=PlanPage,
            operation_id="traffic-plans-list")
def list_plans(session: DbSession, _reader: Reader, network: NetworkKey, key: IntersectionKey, page: Pagination) -> Any:
    items, total = planning.list_plans(session, network_key=network, key=key, page=page)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/networks/{network}/intersections/{key}/plans", response_model=PlanRead, status_code=201,
             operation_id="traffic-plans-create")
def create_plan(session: DbSession, planner: Planner, network: NetworkKey, key: IntersectionKey, data: PlanCreate) -> Any:
    return planning.create_plan(session, network_key=network, key=key,
                                phases=[phase.model_dump() for phase in data.phases], offset_s=data.offset_s,
                                effective_at=data.effective_at, actor=planner)


@router.post("/networks/{network}/intervals", response_model=IntervalReport, operation_id="traffic-intervals-process")
def process_interval(session: DbSession, writer: Writer, network: NetworkKey, data: IntervalIn) -> Any:
    return service.process_interval(
        session, network_key=network, interval_start=data.interval_start, interval_s=data.interval_s,
        readings=[(r.thing_key, r.count, r.occupancy, r.speed_kmh) for r in data.readings], actor=writer)


@router.get("/networks/{network}/links/state", response_model=list[LinkStateRead], operation_id="traffic-link-states")
def link_states(session: DbSession, _reader: Reader, network: NetworkKey,
                interval_start: Annotated[datetime | None, Query(description="default: the latest interval")] = None,
                ) -> Any:
    return service.link_states(session, network_key=network, interval_start=interval_start)


@router.post("/networks/{network}/retime", response_model=RetimeReport, operation_id="traffic-retime")
def retime(session: DbSession, planner: Planner, network: NetworkKey, data: RetimeRequest) -> Any:
    return planning.retime_network(session, network_key=network, at=data.at, coordinate=data.coordinate, actor=planner)


@router.post("/plans/apply", response_model=ApplyReport, operation_id="traffic-plans-apply")
def apply_plans(session: DbSession, planner: Planner,
                now: Annotated[datetime | None, Query(description="apply plans due by then (default: now)")] = None,
                ) -> Any:
    return planning.apply_due_plans(session, now=now, actor=planner)


@router.get("/indices", response_model=list[AreaIndexRead], operation_id="traffic-indices")
def indices(session: DbSession, _reader: Reader,
            area_code: Annotated[str | None, Query(pattern=r"^\d{6}$", description="430100 = city")] = None,
            start: datetime | None = None, end: datetime | None = None,
            limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> Any:
    return service.area_indices(session, area_code=area_code, start=start, end=end, limit=limit)


@router.get("/indices/city", response_model=CityIndexCompare, operation_id="traffic-city-index")
def city_index(session: DbSession, _reader: Reader, at: datetime | None = None) -> Any:
    return service.city_index_compare(session, at=at)


@router.get("/incidents", response_model=IncidentPage, operation_id="traffic-incidents-list")
def incidents(session: DbSession, _reader: Reader, page: Pagination,
              network: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9\-]{0,63}$")] = None,
              status: Annotated[str | None, Query(pattern=r"^(open|closed)$")] = None) -> Any:
    items, total = service.list_incidents(session, page=page, network_key=network, status=status)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}
