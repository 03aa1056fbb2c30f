"""The sensing platform's JSON API: observation ingest (JSON batch or NDJSON), registry and observation reads."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, RowId, require
from xingcheng.core.errors import BadRequest, Invalid, UnsupportedMediaType
from xingcheng.core.schemas import Page
from xingcheng.iot import ingest, service
from xingcheng.iot.schemas import (
    AggregateBucket,
    DatastreamRead,
    IngestReport,
    LatestValue,
    ObservationBatch,
    ObservationPoint,
    ThingRead,
)
from xingcheng.iot.store import Interval, ObservationStore, request_store

router = APIRouter(prefix="/api/v1/iot", tags=["iot"])

Store = Annotated[ObservationStore, Depends(request_store, scope="function")]
Reader = Annotated[Principal, Depends(require("iot:read"))]
MAX_ITEMS = 50_000
NDJSON = "application/x-ndjson"


async def observation_items(request: Request) -> list[Any]:
    """The batch's raw items from a JSON envelope or NDJSON lines; a bad NDJSON line is one rejected item."""
    body = await request.body()
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type == NDJSON:
        items: list[Any] = []
        for line in body.splitlines():
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError:
                    items.append(None)
        if len(items) > MAX_ITEMS:
            raise Invalid(f"a batch holds at most {MAX_ITEMS} observations")
        return items
    if content_type != "application/json":
        raise UnsupportedMediaType(f"send application/json or {NDJSON}, not {content_type}")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise BadRequest("the request body is not valid JSON") from exc
    try:
        return ObservationBatch.model_validate(payload).observations
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_input=False)]
        ) from exc


BATCH_BODY = {
    "required": True,
    "content": {"application/json": {"schema": ObservationBatch.model_json_schema()}},
    "description": f"a JSON batch, or one item per line as {NDJSON}",
}


@router.post(
    "/observations", response_model=IngestReport, operation_id="iot-observations-ingest",
    openapi_extra={"requestBody": BATCH_BODY},
)
def ingest_observations(
    session: DbSession, principal: CurrentPrincipal, store: Store, items: Annotated[list[Any], Depends(observation_items)],
) -> Any:
    """Devices (X-API-Key, own datastreams only) or staff with iot:write; one result per item."""
    return ingest.ingest(session, store=store, principal=principal, items=items)


@router.get("/things", response_model=Page[ThingRead], operation_id="iot-things-list")
def list_things(
    session: DbSession, page: Pagination, _: Reader,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    division_code: Annotated[str | None, Query(max_length=6)] = None,
    department_code: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    items, total = service.list_things(session, page=page, kind=kind, division_code=division_code,
                                       department_code=department_code, q=q)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/datastreams", response_model=Page[DatastreamRead], operation_id="iot-datastreams-list")
def list_datastreams(
    session: DbSession, page: Pagination, _: Reader,
    thing_key: Annotated[str | None, Query(max_length=64)] = None,
    property: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    division_code: Annotated[str | None, Query(max_length=6)] = None,
    department_code: Annotated[str | None, Query(max_length=32)] = None,
) -> Any:
    items, total = service.list_datastreams(session, page=page, thing_key=thing_key, property=property, kind=kind,
                                            division_code=division_code, department_code=department_code)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/datastreams/{datastream_id}", response_model=DatastreamRead, operation_id="iot-datastreams-get")
def get_datastream(session: DbSession, datastream_id: RowId, _: Reader) -> Any:
    return service.get_datastream_or_raise(session, datastream_id=datastream_id)


@router.get("/datastreams/{datastream_id}/observations", response_model=list[ObservationPoint],
            operation_id="iot-observations-range")
def read_observations(
    session: DbSession, store: Store, datastream_id: RowId, reader: Reader,
    start: datetime | None = None, end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Any:
    """Raw observations in [start, end), oldest first (default: the last day)."""
    return service.read_observations(session, store=store, reader=reader, datastream_id=datastream_id,
                                     start=start, end=end, limit=limit)


@router.get("/datastreams/{datastream_id}/aggregates", response_model=list[AggregateBucket],
            operation_id="iot-observations-aggregate")
def aggregate_observations(
    session: DbSession, store: Store, datastream_id: RowId, reader: Reader,
    interval: Interval = "15min", start: datetime | None = None, end: datetime | None = None,
) -> Any:
    """avg/min/max/count per 1min/15min/1h/1day bucket (default: the last 7 days)."""
    return service.aggregate_observations(session, store=store, reader=reader, datastream_id=datastream_id,
                                          interval=interval, start=start, end=end)


@router.get("/datastreams/{datastream_id}/latest", response_model=list[ObservationPoint],
            operation_id="iot-observations-latest-n")
def latest_observations(
    session: DbSession, store: Store, datastream_id: RowId, _: Reader, n: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> Any:
    """The newest ``n`` observations, newest first."""
    return service.latest_observations(session, store=store, datastream_id=datastream_id, n=n)


@router.get("/latest", response_model=Page[LatestValue], operation_id="iot-latest-values")
def latest_values(
    session: DbSession, store: Store, page: Pagination, _: Reader,
    thing_key: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    division_code: Annotated[str | None, Query(max_length=6)] = None,
    property: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """Each datastream's newest value from the latest-value cache, a page of datastreams at a time."""
    items, total = service.latest_values(session, store=store, page=page, thing_key=thing_key, kind=kind,
                                         division_code=division_code, property=property)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}
