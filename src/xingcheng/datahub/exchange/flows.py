"""Delivery flows: paged pulls with an incremental cursor, and push subscriptions (event bus topic or Parquet/Arrow files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.events import Event, event_topic
from xingcheng.core.outbox import publish_after_commit
from xingcheng.core.settings import get_settings
from xingcheng.datahub.catalog.stream import Cursor, end_cursor
from xingcheng.datahub.exchange import delivery as rows
from xingcheng.datahub.exchange import service
from xingcheng.datahub.exchange.models import ShareSubscription
from xingcheng.datahub.exchange.schemas import Channel

EVENT_ROWS = 500  # rows per pushed event: an MQTT message stays well under a megabyte
FILE_ROWS = 65_536  # rows per record batch written to a pushed file (memory bound of a run)
MAX_EVENTS_PER_RUN = 200


def delivery_topic(department: str) -> str:
    """The consumer department's delivery topic, ``xc/events/exchange/delivery/<dept>``."""
    return f"{event_topic('exchange', 'delivery')}/{department}"


def _cursor(text: str | None) -> Cursor:
    try:
        return Cursor.parse(text)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


@dataclass
class Pulled:
    request_id: int
    dataset: str
    purpose: str
    fields: dict[str, str]
    records: int
    cursor: str
    next_cursor: str
    more: bool
    content_hash: str
    delivery_id: int
    format: str
    items: list[dict[str, Any]] = field(default_factory=list)
    body: bytes = b""
    compression: str = "none"


def pull(session: Session, *, request_id: int, consumer: Principal, cursor: str | None, limit: int,
         fmt: str = "json", compression: str | None = None) -> Pulled:
    """The next page after ``cursor`` of an approved request, masked for the consumer, hashed, logged and audited.

    ``compression`` applies to the binary formats (``delivery.COMPRESSIONS``); JSON pages take none.
    """
    consumer.require("exchange:request")
    if fmt == "json" and compression not in (None, "none"):
        raise Invalid(f"JSON pages are not compressed; compression={compression} needs format=arrow or parquet")
    binary: rows.BinaryFormat = "arrow" if fmt == "arrow" else "parquet"
    options = None if fmt == "json" else rows.write_options(binary, compression)
    request = service.get_or_raise(session, request_id=request_id, viewer=consumer)
    start = _cursor(cursor)
    source = service.open_source(session, request=request, consumer=consumer, cursor=start)
    table, after = rows.masked_page(source.decision, service.lake_root(), source.parts, source.schema, start, limit=limit)
    fields = rows.treatments(source.decision, source.schema)
    if fmt == "json":
        items, digest, size = rows.json_items(table)
        body = b""
    else:
        items = []
        options = rows.write_options(binary, compression, source.decision, source.schema)
        body, digest = rows.encode_bytes(table, binary, options)
        size = len(body)
    delivery = service.record_delivery(session, source=source, actor=consumer, channel="pull", fmt=fmt,
                                       records=table.num_rows, size=size, digest=digest, cursor_from=start,
                                       cursor_to=after, fields=fields,
                                       compression=options.compression if options else None)
    request.last_cursor = str(after)
    more = end_cursor(source.parts, start) > after
    return Pulled(request.id, request.dataset_slug, request.purpose, fields, table.num_rows, str(start), str(after), more,
                  digest, delivery.id, fmt, items, body, options.compression if options else "none")


# ---- push subscriptions ----------------------------------------------------------------------


def subscribe(session: Session, *, request_id: int, consumer: Principal, channel: Channel,
              file_format: rows.BinaryFormat | None = None, compression: str | None = None) -> ShareSubscription:
    """A push subscription; a file one may fix its format and codec (None: the defaults, zstd Parquet)."""
    consumer.require("exchange:request")
    _check_encoding(channel, file_format, compression)
    request = service.get_or_raise(session, request_id=request_id, viewer=consumer)
    if consumer.department_code != request.requester_department_code:
        raise Forbidden(f"only staff of the requesting department {request.requester_department_code!r} subscribe")
    if request.status != "approved":
        raise Conflict(f"request #{request.id} is {request.status}: subscribe after approval")
    existing = session.scalar(select(ShareSubscription.id).where(
        ShareSubscription.request_id == request.id, ShareSubscription.channel == channel, ShareSubscription.active))
    if existing is not None:
        raise Conflict(f"subscription #{existing} already pushes request #{request.id} by {channel}")
    subscription = ShareSubscription(request_id=request.id, channel=channel, cursor="", active=True,
                                     created_by=consumer.name, file_format=file_format, compression=compression)
    session.add(subscription)
    session.flush()
    from xingcheng.core.audit import service as audit

    audit.record(session, actor=consumer, action="exchange.subscribe", subject=f"dataset:{request.dataset_slug}",
                 purpose=request.purpose, details={"request_id": request.id, "subscription_id": subscription.id,
                                                   "channel": channel,
                                                   **({"file_format": file_format} if file_format else {}),
                                                   **({"compression": compression} if compression else {})})
    return subscription


def _check_encoding(channel: str, file_format: str | None, compression: str | None) -> None:
    """``Invalid`` unless the format and codec fit the channel, by the rules pulls and runs use (``write_options``)."""
    if channel != "file" and (file_format is not None or compression is not None):
        raise Invalid(f"{channel} subscriptions push JSON events: file_format and compression apply to file pushes")
    if file_format not in (None, "arrow", "parquet"):
        raise Invalid(f"file_format must be arrow or parquet, not {file_format!r}")
    rows.write_options("arrow" if file_format == "arrow" else "parquet", compression)


def get_subscription(session: Session, *, subscription_id: int, viewer: Principal) -> ShareSubscription:
    subscription = session.get(ShareSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no subscription {subscription_id}")
    service.get_or_raise(session, request_id=subscription.request_id, viewer=viewer)  # visibility
    return subscription


def list_subscriptions(session: Session, *, viewer: Principal) -> list[ShareSubscription]:
    from xingcheng.datahub.exchange.models import ShareRequest

    statement = select(ShareSubscription).join(ShareRequest, ShareRequest.id == ShareSubscription.request_id)
    if not viewer.roles & service.OVERSEERS:
        department = viewer.department_code or ""
        statement = statement.where((ShareRequest.requester_department_code == department)
                                    | (ShareRequest.owner_department_code == department))
    return list(session.scalars(statement.order_by(ShareSubscription.id.desc()).limit(500)))


def push_principal(department: str) -> Principal:
    """The consumer department as the reader of pushed rows: grants are the department's, not a person's."""
    return Principal(kind="staff", name=f"exchange-push:{department}", roles=frozenset({Role.DEPARTMENT_STAFF}),
                     department_code=department)


def _outbox_dir(department: str, request_id: int) -> Path:
    return get_settings().data_dir / "exchange" / "outbox" / department / f"request-{request_id}"


def run_subscription(session: Session, *, subscription: ShareSubscription, now: datetime | None = None,
                     fmt: rows.BinaryFormat | None = None, compression: str | None = None) -> dict[str, Any]:
    """Deliver what arrived since the subscription's cursor; a refused read is kept as ``last_error``.

    A file subscription writes one Parquet file (or, with ``fmt="arrow"``, one Arrow IPC stream) per
    run; ``compression`` as in ``delivery.COMPRESSIONS``. Both default to what the subscription
    stores (``file_format``, ``compression``; unset: zstd Parquet); a format other than the stored one
    given without a codec takes its own default codec. Event deliveries are JSON and take neither.
    """
    now = now or utcnow()
    if subscription.channel != "file" and (fmt is not None or compression is not None):
        raise Invalid(f"subscription #{subscription.id} pushes JSON events: format and compression apply to files")
    stored: rows.BinaryFormat = "arrow" if subscription.file_format == "arrow" else "parquet"
    if subscription.channel == "file" and compression is None and fmt in (None, stored):
        compression = subscription.compression
    fmt = fmt or stored
    rows.write_options(fmt, compression)  # an unknown codec is refused before anything is read
    result: dict[str, Any] = {"subscription_id": subscription.id, "deliveries": 0, "records": 0,
                              "cursor": subscription.cursor, "detail": ""}
    if not subscription.active:
        return {**result, "status": "inactive"}
    request = service.get_or_raise(session, request_id=subscription.request_id, viewer=service_viewer())
    consumer = push_principal(request.requester_department_code)
    start = Cursor.parse(subscription.cursor)
    subscription.last_run_at = now
    try:
        source = service.open_source(session, request=request, consumer=consumer, cursor=start)
    except service.DeliveryRefused as exc:
        subscription.last_error = exc.detail[:500]
        return {**result, "status": "refused", "detail": exc.detail}
    if end_cursor(source.parts, start) == start:
        subscription.last_error = None
        return {**result, "status": "up_to_date"}
    fields = rows.treatments(source.decision, source.schema)
    topic = delivery_topic(request.requester_department_code)
    after = start
    if subscription.channel == "file":
        target_dir = _outbox_dir(request.requester_department_code, request.id)
        target_dir.mkdir(parents=True, exist_ok=True)
        columns = rows.delivered_columns(source.decision, source.schema)
        empty = source.decision.apply_table(source.schema.empty_table().select(columns))
        binary = fmt
        name = f"{now:%Y%m%dT%H%M%S}-{start.batch_id}_{start.row}.{binary}"
        path = target_dir / name
        last = [start]

        def tables() -> Any:
            for table, end in rows.masked_batches(source.decision, service.lake_root(), source.parts, source.schema,
                                                  start, max_rows=FILE_ROWS, prefetch=True):
                last[0] = end
                yield table

        options = rows.write_options(binary, compression, source.decision, source.schema)
        with path.open("wb") as handle:
            records, size, digest = rows.encode(tables(), empty.schema, binary, handle, options)
        after = last[0]
        relative = path.relative_to(get_settings().data_dir).as_posix()
        delivery = service.record_delivery(session, source=source, actor=consumer, channel="file", fmt=binary,
                                           records=records, size=size, digest=digest, cursor_from=start,
                                           cursor_to=after, subscription_id=subscription.id, file=relative,
                                           fields=fields, compression=options.compression)
        _announce(session, topic, request, delivery, {"file": relative})
        result.update(deliveries=1, records=records)
    else:
        for events, (table, end) in enumerate(rows.masked_batches(source.decision, service.lake_root(), source.parts,
                                                                  source.schema, start, max_rows=EVENT_ROWS)):
            if events >= MAX_EVENTS_PER_RUN:
                break
            items, digest, size = rows.json_items(table)
            delivery = service.record_delivery(session, source=source, actor=consumer, channel="event", fmt="json",
                                               records=table.num_rows, size=size, digest=digest, cursor_from=after,
                                               cursor_to=end, subscription_id=subscription.id, fields=fields)
            _announce(session, topic, request, delivery, {"fields": fields, "items": items})
            result["deliveries"] += 1
            result["records"] += table.num_rows
            after = end
    subscription.cursor, subscription.last_error = str(after), None
    return {**result, "status": "delivered", "cursor": str(after)}


def _announce(session: Session, topic: str, request: Any, delivery: Any, extra: dict[str, Any]) -> None:
    publish_after_commit(session, topic, Event(
        type="xingcheng.exchange.delivery", source=service.SOURCE, subject=f"exchange-request:{request.id}",
        data={"delivery_id": delivery.id, "request_id": request.id, "dataset": request.dataset_slug,
              "purpose": request.purpose, "channel": delivery.channel, "format": delivery.format,
              "records": delivery.records, "content_hash": delivery.content_hash, "cursor_from": delivery.cursor_from,
              "cursor_to": delivery.cursor_to, **extra}))


def service_viewer() -> Principal:
    return Principal(kind="system", name="exchange-push", roles=frozenset({Role.DATA_STEWARD}))


def run_due(session: Session, *, viewer: Principal | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Run every active subscription the viewer may see (all of them for the push job)."""
    statement = select(ShareSubscription).where(ShareSubscription.active).order_by(ShareSubscription.id)
    subscriptions = list(session.scalars(statement))
    if viewer is not None and not viewer.roles & service.OVERSEERS:
        mine = {s.id for s in list_subscriptions(session, viewer=viewer)}
        subscriptions = [s for s in subscriptions if s.id in mine]
    return [run_subscription(session, subscription=s, now=now) for s in subscriptions]
