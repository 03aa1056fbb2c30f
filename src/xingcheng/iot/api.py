"""The sensing platform's JSON API: observation ingest (JSON batch or NDJSON), registry and observation reads.

The latest values of the whole city come as a stream (Arrow IPC or NDJSON) built from Arrow columns;
paged JSON stays for small pages.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date as date_
from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, RowId, require
from xingcheng.core.errors import BadRequest, Invalid, UnsupportedMediaType
from xingcheng.core.schemas import Page
from xingcheng.iot import alerts, ingest, quality, rules, service
from xingcheng.iot.schemas import (
    AggregateBucket,
    AlertAction,
    AlertRaise,
    AlertRead,
    AlertStats,
    AreaAggregates,
    DatastreamRead,
    IngestReport,
    LatestValue,
    ObservationBatch,
    ObservationPoint,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    ThingRead,
)
from xingcheng.iot.store import Interval, ObservationStore, request_store

router = APIRouter(prefix="/api/v1/iot", tags=["iot"])

Store = Annotated[ObservationStore, Depends(request_store, scope="function")]
Reader = Annotated[Principal, Depends(require("iot:read"))]
Writer = Annotated[Principal, Depends(require("iot:write"))]
Handler = Annotated[Principal, Depends(require("alerts:handle"))]
MAX_ITEMS = 50_000
NDJSON = "application/x-ndjson"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
STREAM_ROWS = 65_536  # rows per streamed chunk (one Arrow record batch, or that many NDJSON lines)


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


@router.get("/areas/{division_code}/aggregates", response_model=AreaAggregates, operation_id="iot-area-aggregates")
def area_aggregates(
    session: DbSession, store: Store, reader: Reader,
    division_code: Annotated[str, Path(pattern=r"^\d{6}$")],
    interval: Interval = "1h", start: datetime | None = None, end: datetime | None = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    property: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """avg/min/max/count per bucket over an area's datastreams (the division and those under it; the city's
    code covers the city), one series per observed property; optionally one thing kind or property only."""
    return service.area_aggregates(session, store=store, reader=reader, division_code=division_code,
                                   interval=interval, start=start, end=end, kind=kind, property=property)


LatestFormat = Literal["json", "ndjson", "arrow"]
LATEST_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {
    NDJSON: {"schema": {"type": "string", "description": "one LatestValue per line"}},
    ARROW_STREAM: {"schema": {"type": "string", "format": "binary",
                              "description": "Arrow IPC stream: datastream_id, datastream, phenomenon_time (UTC), result"}},
}}}


def _latest_format(request: Request, wanted: LatestFormat | None) -> LatestFormat:
    if wanted is not None:
        return wanted
    accept = request.headers.get("accept", "")
    return "arrow" if ARROW_STREAM in accept else "ndjson" if NDJSON in accept else "json"


def arrow_chunks(table: pa.Table) -> Iterator[bytes]:
    """The table as an Arrow IPC stream, one record batch at a time."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=STREAM_ROWS):
            writer.write_batch(batch)
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()


def _json_string(column: pa.Array) -> pa.Array:
    """Each value as a JSON string literal; keys rarely need escaping, so check once and quote in bulk."""
    if pc.any(pc.match_substring_regex(column, r'["\\\x00-\x1f]')).as_py():
        return pa.array([json.dumps(v, ensure_ascii=False) for v in column.to_pylist()], pa.string())
    return pc.binary_join_element_wise('"', column, '"', "")


def ndjson_chunks(table: pa.Table) -> Iterator[bytes]:
    """One ``LatestValue`` JSON object per line, built column-wise by Arrow compute (no per-row Python)."""
    for batch in table.to_batches(max_chunksize=STREAM_ROWS):
        result = batch.column("result")
        value = pc.if_else(pc.is_finite(result), pc.cast(result, pa.string()), "null")
        # Naive UTC to text is Arrow's fast path ("2026-11-24 08:00:00.000000"); put the ISO "T" in place.
        text = pc.cast(pc.cast(batch.column("phenomenon_time"), pa.timestamp("us")), pa.string())
        times = pc.utf8_replace_slice(text, start=10, stop=11, replacement="T")
        lines = pc.binary_join_element_wise(
            '{"datastream_id":', pc.cast(batch.column("datastream_id"), pa.string()),
            ',"datastream":', _json_string(batch.column("datastream")),
            ',"phenomenon_time":"', times, 'Z","result":', value, "}\n", "",
        )
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)  # the lines lie back to back in one buffer
        first, last = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
        yield lines.buffers()[2].slice(first, last - first).to_pybytes()


@router.get("/latest", response_model=Page[LatestValue], operation_id="iot-latest-values", responses=LATEST_RESPONSES)
def latest_values(
    request: Request, session: DbSession, store: Store, page: Pagination, _: Reader,
    thing_key: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    division_code: Annotated[str | None, Query(max_length=6)] = None,
    property: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[LatestFormat | None, Query(description=(
        f"json: a page of datastreams (limit/offset); ndjson ({NDJSON}) or arrow ({ARROW_STREAM}): every matching "
        "datastream in one stream, paging ignored. Default: from the Accept header, else json"))] = None,
) -> Any:
    """Each datastream's newest value from the latest-value cache: a page as JSON, or all at once as a stream."""
    wanted = _latest_format(request, format)
    if wanted == "json":
        items, total = service.latest_values(session, store=store, page=page, thing_key=thing_key, kind=kind,
                                             division_code=division_code, property=property)
        return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}
    # Read now, while the request holds the store; stream from the Arrow table in memory afterwards.
    table = service.latest_table(session, store=store, thing_key=thing_key, kind=kind, division_code=division_code,
                                 property=property)
    chunks, media_type = (arrow_chunks(table), ARROW_STREAM) if wanted == "arrow" else (ndjson_chunks(table), NDJSON)
    return StreamingResponse(chunks, media_type=media_type, headers={"X-Total-Count": str(table.num_rows)})


# ---- alert rules -----------------------------------------------------------------------------

@router.get("/rules", response_model=Page[RuleRead], operation_id="iot-rules-list")
def list_rules(session: DbSession, page: Pagination, _: Reader, kind: Annotated[str | None, Query(max_length=16)] = None) -> Any:
    items, total = rules.list_rules(session, page=page, kind=kind)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/rules", response_model=RuleRead, status_code=201, operation_id="iot-rules-create")
def create_rule(session: DbSession, data: RuleCreate, actor: Writer) -> Any:
    """A rule evaluated on every ingested batch (threshold, sustained, rate_of_rise, flatline, combination)
    or periodically (silent); parameters are checked per kind and every problem is listed."""
    return rules.create_rule(session, data=data, actor=actor)


@router.get("/rules/{key}", response_model=RuleRead, operation_id="iot-rules-get")
def get_rule(session: DbSession, key: Annotated[str, Path(max_length=64)], _: Reader) -> Any:
    return rules.get_rule_or_raise(session, key)


@router.patch("/rules/{key}", response_model=RuleRead, operation_id="iot-rules-update")
def update_rule(session: DbSession, key: Annotated[str, Path(max_length=64)], data: RuleUpdate, actor: Writer) -> Any:
    return rules.update_rule(session, key=key, data=data, actor=actor)


# ---- alerts ----------------------------------------------------------------------------------

@router.get("/alerts", response_model=Page[AlertRead], operation_id="iot-alerts-list")
def list_alerts(
    session: DbSession, page: Pagination, _: Reader,
    status: Annotated[Literal["live", "open", "acknowledged", "resolved", "closed"] | None, Query()] = None,
    division_code: Annotated[str | None, Query(max_length=6)] = None,
    department_code: Annotated[str | None, Query(max_length=32)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    thing_key: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """Newest first; ``status=live`` means open or acknowledged."""
    items, total = alerts.list_alerts(session, page=page, status=status, division_code=division_code,
                                      department_code=department_code, severity=severity, source=source,
                                      thing_key=thing_key)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/alerts", response_model=AlertRead, status_code=201, operation_id="iot-alerts-raise")
def raise_alert(session: DbSession, data: AlertRaise, actor: Handler) -> Any:
    """Raise an alert by hand (e.g. a phoned-in incident); a live alert with the same dedup_key counts one more occurrence."""
    alert, _ = alerts.raise_alert(session, data, actor=actor)
    return alert


@router.get("/alerts/stats", response_model=AlertStats, operation_id="iot-alerts-stats")
def alert_stats(session: DbSession, _: Reader) -> Any:
    return alerts.alert_stats(session)


@router.get("/alerts/{alert_id}", response_model=AlertRead, operation_id="iot-alerts-get")
def get_alert(session: DbSession, alert_id: RowId, _: Reader) -> Any:
    return alerts.get_alert_or_raise(session, alert_id)


def _transition_route(to: str, verb: str) -> None:
    def move(session: DbSession, alert_id: RowId, actor: Handler, data: AlertAction | None = None) -> Any:
        return alerts.transition(session, alert_id=alert_id, to=to, actor=actor, note=data.note if data else "")

    move.__doc__ = f"Mark the alert {to}; 409 when its status does not allow that."
    router.add_api_route(f"/alerts/{{alert_id}}/{verb}", move, methods=["POST"], response_model=AlertRead,
                         operation_id=f"iot-alerts-{verb}", name=f"iot_alert_{verb}")


for _to, _verb in (("acknowledged", "acknowledge"), ("resolved", "resolve"), ("closed", "close")):
    _transition_route(_to, _verb)


# ---- data quality ----------------------------------------------------------------------------

@router.get("/quality", response_model=quality.QualityReport, operation_id="iot-quality-report")
def quality_report(
    session: DbSession, store: Store, _: Reader,
    date: Annotated[date_ | None, Query(description="Beijing day; default today")] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> Any:
    """Completeness, validity, timeliness, duplicates, stuck and silent sensors for one day, with history."""
    return quality.compute_report(session, store=store, day=date or quality.today(), department_code=department)


@router.post("/quality/reports", response_model=quality.QualityReport, status_code=201,
             operation_id="iot-quality-report-save")
def save_quality_report(
    session: DbSession, store: Store, actor: Writer,
    date: Annotated[date_ | None, Query(description="Beijing day; default today")] = None,
) -> Any:
    """Compute the day's report for every department and keep it in the history (replacing an earlier run)."""
    report = quality.save_daily_report(session, store=store, day=date or quality.today(), actor=actor)
    return report.model_copy(update={"history": quality.history(session)})
